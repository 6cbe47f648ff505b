"""The real UDP adapter (kvrrp.io.bfd_sockets) between two lab namespaces, IPv4 and IPv6
(2001:2::/48, the IPv6 benchmarking range): two kvrrp BFD services in this process, each with
its sockets opened inside its node's namespace, come Up; the receive side reads TTL / hop
limit and the destination from the kernel (GTSM: a sender with TTL 254 is dropped as `ttl`);
a cut is detected."""
from __future__ import annotations

import asyncio
import time

import pytest

from kvrrp.bfd.service import BfdService
from kvrrp.config.model import BfdInstance
from kvrrp.io.bfd_sockets import UdpSockets
from kvrrp.io.netns import entered
from kvrrp.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.timeout(60)]


async def _until(pred, timeout: float = 10.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return pred()


class _Ttl254(UdpSockets):
    def open_sender(self, family, source, neighbor, port, ttl):
        return super().open_sender(family, source, neighbor, port, 254)


@pytest.mark.parametrize("family", [4, 6])
async def test_two_services_over_real_sockets(family: int) -> None:
    with Lab(nodes=2, prefix="kvbfds", client=False) as lab:
        n1, n2 = lab.nodes
        if family == 4:
            a1, a2 = n1.ipv4, n2.ipv4
        else:
            a1, a2 = "2001:2::bfd:1", "2001:2::bfd:2"
            lab.run(n1, ["ip", "-6", "addr", "add", f"{a1}/64", "dev", "eth0", "nodad"])
            lab.run(n2, ["ip", "-6", "addr", "add", f"{a2}/64", "dev", "eth0", "nodad"])
        timers = dict(min_rx=50, min_tx=50, multiplier=3)
        s1 = BfdService([BfdInstance(name="to2", neighbor_ip=a2, source_ip=a1, **timers)])
        s2 = BfdService([BfdInstance(name="to1", neighbor_ip=a1, source_ip=a2, **timers)])
        with entered(n1.netns):
            s1.start()
        with entered(n2.netns):
            s2.start()
        try:
            assert await _until(lambda: s1.is_up("to2") and s2.is_up("to1")), (s1.snapshot(), s2.snapshot())
            # Up first runs at the slow rate (1 s x 3); the Poll/Final sequence then moves both
            # sides to the negotiated timers (RFC 5880 6.8.3), a round trip later
            assert await _until(lambda: s1.snapshot()["sessions"]["to2"]["detection_time_us"] == 150_000), \
                s1.snapshot()
            assert sum(s1.snapshot()["drops"].values()) == 0
            lab.partition([n1], [n2])
            assert await _until(lambda: not s1.is_up("to2") and not s2.is_up("to1"), 5.0)
            lab.heal()
            assert await _until(lambda: s1.is_up("to2") and s2.is_up("to1"))
            # GTSM: replace n2's speaker by one that sends with TTL / hop limit 254
            s2.stop()
            s3 = BfdService([BfdInstance(name="to1", neighbor_ip=a1, source_ip=a2, **timers)],
                            sockets=_Ttl254(asyncio.get_running_loop()))
            with entered(n2.netns):
                s3.start()
            try:
                assert await _until(lambda: s1.drops["ttl"] >= 2, 5.0), s1.snapshot()
                assert not s1.is_up("to2")
            finally:
                s3.stop()
        finally:
            s1.stop()
            s2.stop()
