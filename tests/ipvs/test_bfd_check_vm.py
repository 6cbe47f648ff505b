"""BFD_CHECK end to end on a real IPVS kernel, inside the VM: a `kvrrp` daemon in its default
mode runs the BFD session (the VRRP daemon is the one BFD speaker of its namespace) and feeds
its state to the checker child over the child's stdin; the child takes the real server out of
the kernel's table when the session fails and puts it back when it recovers.

The BFD peer is kvrrp's own BFD service run by this test inside real server 1's namespace
(FRR against kvrrp is tests/interop/test_interop_frr_bfd*.py, on the host).
"""
from __future__ import annotations

import time

import pytest
from ipvs_lab import MARGIN, START, VIPS, KvrrpProcess, Lab, in_netns, ipvsadm_table, until

from kvrrp.bfd.service import BfdService
from kvrrp.config.model import BfdInstance

pytestmark = pytest.mark.usefixtures("clean_ipvs")

VIP = VIPS[0]


@pytest.fixture
def lab():
    lab = Lab(hosts=2).build()
    yield lab
    lab.destroy()


def config(lab: Lab) -> str:
    # 300 ms x 3: the emulated guest is slow, and this test is about the path, not the speed
    return f"""
global_defs {{
    router_id kvrrp_bfd_vm
}}
bfd_instance to_rs1 {{
    neighbor_ip {lab.rs_addr(1)}
    source_ip 198.19.1.1
    min_rx 300
    min_tx 300
    multiplier 3
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface {lab.tag}cl
    virtual_router_id 52
    priority 100
    advert_int 1
    virtual_ipaddress {{
        198.18.0.13/32
    }}
}}
virtual_server {VIP} 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {lab.rs_addr(1)} 8080 {{
        weight 1
        BFD_CHECK {{
            name to_rs1
            alpha
        }}
    }}
    real_server {lab.rs_addr(2)} 8080 {{
        weight 1
    }}
}}
"""


async def test_bfd_check_through_the_checker_child_on_real_ipvs(lab, tmp_path):
    peer = BfdService([BfdInstance(name="to_director", neighbor_ip="198.19.1.1", source_ip=lab.rs_addr(1),
                                   min_rx=300, min_tx=300, multiplier=3)])
    with in_netns(lab.ns("rs1")):                 # the peer's sockets live in rs1's namespace
        peer.start()
    conf, pid, logf = tmp_path / "k.conf", tmp_path / "k.pid", tmp_path / "k.log"
    conf.write_text(config(lab))
    daemon = KvrrpProcess(["-n", "-l", "-D", "-f", str(conf), "-p", str(pid)], logf)

    def log() -> str:
        return f"peer {peer.snapshot()}; {daemon.log()}"

    rs1, rs2 = f"{lab.rs_addr(1)}:8080", f"{lab.rs_addr(2)}:8080"

    def members() -> set[str]:
        return set(ipvsadm_table().get(f"TCP {VIP}:80 rr", {}))

    try:
        # alpha: real server 1 joins once the session is Up
        await until(lambda: members() == {rs1, rs2}, START, "the session comes up and rs1 joins", log, 0.1)
        assert peer.is_up("to_director")
        lab.set_host_link(1, False)
        cut = time.monotonic()
        await until(lambda: members() == {rs2}, MARGIN, "rs1 leaves when the session fails", log, 0.1)
        took = time.monotonic() - cut
        text = logf.read_text()
        assert "(to_rs1) BFD Up -> Down (local diagnostic: Control Detection Time Expired" in text
        assert f"BFD check of [to_rs1] RS([{lab.rs_addr(1)}]:tcp:8080) is DOWN" in text
        print(f"\nlink cut -> rs1 out of the kernel's IPVS table in {took * 1000:.0f} ms (Detection Time 900 ms, "
              "emulated guest)")
        lab.set_host_link(1, True)
        await until(lambda: members() == {rs1, rs2}, MARGIN, "rs1 back when the session recovers", log, 0.1)
    finally:
        status = daemon.stop()
        peer.stop()
    assert status == 0, log()
