"""BFD_CHECK against FRR's bfdd, on the host without kernel IPVS: the checker process (in this
test's process, inside lab node n1's namespace, with the fake IPVS kernel the checker tests
use) runs the BFD session itself, as a standalone `kvrrp -C` does; a cut between n1 and FRR
on n2 takes the real server that BFD_CHECKs the session out of the IPVS table, the other
stays; healing puts it back."""
from __future__ import annotations

import asyncio
import time

import pytest
from frr_bfd_peer import FrrBfd

from healthcheck.daemon import CheckerDaemon
from healthcheck.fakekernel import FakeKernel
from kvrrp.io.netns import entered
from kvrrp.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.frr, pytest.mark.timeout(120)]

VSKEY = "[198.18.0.100]:tcp:80"

CONF = """
bfd_instance to_frr {{
    neighbor_ip {frr}
    source_ip {me}
    min_rx 100
    min_tx 100
    multiplier 3
}}
virtual_server 198.18.0.100 80 {{
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server {frr} 80 {{
        weight 1
        BFD_CHECK {{
            name to_frr
            alpha
        }}
    }}
    real_server 198.18.0.250 80 {{
        weight 1
    }}
}}
"""


async def _until(pred, timeout: float = 15.0) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        await asyncio.sleep(0.01)
    return None


async def test_bfd_check_takes_the_real_server_out_on_a_cut_and_back(tmp_path) -> None:
    with Lab(nodes=2, prefix="kvbfdc", client=False) as lab:
        n1, n2 = lab.nodes
        frr = FrrBfd(lab, n2, n1.ipv4)
        conf = tmp_path / "keepalived.conf"
        conf.write_text(CONF.format(frr=n2.ipv4, me=n1.ipv4))
        kernel = FakeKernel()
        d = CheckerDaemon(str(conf), kernel=kernel)
        with entered(n1.netns):                   # the BFD sockets are opened in n1
            await d.start()
        try:
            frr_rs = f"[{n2.ipv4}]:80"

            def members() -> set[str]:
                return set(kernel.table.weights().get(VSKEY, {}))

            # alpha: out until the session is first Up
            assert frr_rs not in members()
            assert await _until(lambda: frr_rs in members()) is not None, frr.log()
            assert d.status()["bfd"]["source"] == "own sessions"
            assert await _until(lambda: frr.status() == "up") is not None
            lab.partition([n1], [n2])
            took = await _until(lambda: frr_rs not in members())
            assert took is not None, frr.log()
            assert members() == {"[198.18.0.250]:80"}
            print(f"\ncut -> real server out of the IPVS table in {took * 1000:.0f} ms (Detection Time 300 ms)")
            lab.heal()
            assert await _until(lambda: frr_rs in members()) is not None, frr.log()
        finally:
            await d.stop()
