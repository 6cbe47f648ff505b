"""The BFD service with in-memory sockets and a simulated clock: sessions come up, drops are
counted by reason, listeners hear up/down, a reload keeps unchanged sessions."""
from __future__ import annotations

import random

from kvrrp.bfd.packet import DOWN, UP, Control
from kvrrp.bfd.service import DROP_REASONS, BfdService
from kvrrp.config.model import BfdInstance
from kvrrp.io.bfd_sockets import Datagram


class FakeNet:
    def __init__(self) -> None:
        self.receivers: dict[str, object] = {}       # our address -> on_datagram
        self.cut = False

    def sockets_for(self, address: str) -> "FakeSockets":
        return FakeSockets(self, address)


class FakeSender:
    def __init__(self, net: FakeNet, src: str, neighbor: str, port: int, ttl: int) -> None:
        self.net, self.src, self.neighbor, self.port, self.ttl = net, src, neighbor, port, ttl
        self.sent: list[bytes] = []
        self.errors = 0
        self.closed = False

    def send(self, payload: bytes) -> None:
        self.sent.append(payload)
        rx = self.net.receivers.get(self.neighbor)
        if rx is not None and not self.net.cut:
            rx(Datagram(family=4, src=self.src, src_port=49152, dst=self.neighbor, ttl=self.ttl,
                        port=self.port, payload=payload))

    def close(self) -> None:
        self.closed = True


class FakeSockets:
    def __init__(self, net: FakeNet, address: str) -> None:
        self.net, self.address = net, address
        self.senders: list[FakeSender] = []

    def open_receiver(self, family, port, on_datagram):
        self.net.receivers[self.address] = on_datagram
        return lambda: self.net.receivers.pop(self.address, None)

    def open_sender(self, family, source, neighbor, port, ttl):
        s = FakeSender(self.net, source or self.address, neighbor, port, ttl)
        self.senders.append(s)
        return s


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def pair(a_extra=None, b_extra=None):
    net, clock = FakeNet(), Clock()
    a_cfg = BfdInstance(name="to_b", neighbor_ip="198.18.0.2", source_ip="198.18.0.1", min_rx=100, min_tx=100,
                        multiplier=3, **(a_extra or {}))
    b_cfg = BfdInstance(name="to_a", neighbor_ip="198.18.0.1", source_ip="198.18.0.2", min_rx=100, min_tx=100,
                        multiplier=3, **(b_extra or {}))
    a = BfdService([a_cfg], sockets=net.sockets_for("198.18.0.1"), clock=clock, rng=random.Random(1).random)
    b = BfdService([b_cfg], sockets=net.sockets_for("198.18.0.2"), clock=clock, rng=random.Random(2).random)
    a.start()
    b.start()
    return net, clock, a, b


def run(clock, services, until):
    while True:
        nexts = [d for d in (s.next_deadline() for s in services) if d is not None]
        if not nexts or min(nexts) > until:
            clock.t = until
            return
        clock.t = max(clock.t, min(nexts))
        for s in services:
            s.run_due(clock.t)


def test_sessions_come_up_and_listeners_hear_it(caplog):
    net, clock, a, b = pair()
    heard = []
    a.add_listener(lambda name, up: heard.append((clock.t, name, up)))
    assert a.is_up("to_b") is False and a.is_up("nope") is None
    run(clock, [a, b], 5.0)
    assert a.is_up("to_b") and b.is_up("to_a")
    assert [h[1:] for h in heard] == [("to_b", True)]
    snap = a.snapshot()["sessions"]["to_b"]
    assert snap["state"] == "Up" and snap["tx_interval_us"] == 100_000 and snap["detection_time_us"] == 300_000
    # single hop: sent with TTL 255 to port 3784
    sender = net.receivers and a.sockets.senders[0]
    assert (sender.ttl, sender.port) == (255, 3784)
    net.cut = True
    cut = clock.t
    run(clock, [a, b], cut + 1.0)
    assert heard[-1][1:] == ("to_b", False) and heard[-1][0] - cut <= 0.3 + 1e-9
    assert "(to_b) BFD expired after 300 ms without a packet (Detection Time 300 ms)" in caplog.text
    net.cut = False
    run(clock, [a, b], clock.t + 4.0)
    assert heard[-1][1:] == ("to_b", True)


def _inject(svc, *, src="198.18.0.2", ttl=255, port=3784, **fields):
    base = dict(state=DOWN, my_discr=77, your_discr=0, desired_min_tx=1_000_000, required_min_rx=100_000,
                detect_mult=3)
    base.update(fields)
    svc._on_datagram(Datagram(family=4, src=src, src_port=50000, dst="198.18.0.1", ttl=ttl, port=port,
                              payload=Control(**base).encode()))


def test_drops_are_counted_by_reason():
    net, clock, a, b = pair()
    local = a.sessions["to_b"].session.local_discr
    _inject(a, your_discr=local ^ 1, state=UP)
    _inject(a, src="198.18.0.9")                              # no session for this neighbour
    _inject(a, src="198.18.0.9", your_discr=local, state=UP)  # right discriminator, wrong neighbour
    _inject(a, ttl=254)                                        # GTSM: one hop away is too far
    _inject(a, port=4784)                                      # a single-hop session on the multihop port
    a._on_datagram(Datagram(4, "198.18.0.2", 50000, "198.18.0.1", 255, 3784, b"\x20" * 10))
    assert set(a.drops) == set(DROP_REASONS)
    assert {k: v for k, v in a.drops.items() if v} == {
        "unknown_discriminator": 1, "unknown_session": 1, "wrong_source": 1, "ttl": 1, "wrong_port": 1, "runt": 1}
    assert a.sessions["to_b"].session.state == DOWN


def test_max_hops_widens_the_ttl_check():
    net, clock, a, b = pair(a_extra={"max_hops": 2})
    _inject(a, ttl=253)
    assert a.drops["ttl"] == 0 and a.sessions["to_b"].session.state != DOWN
    _inject(a, ttl=252, my_discr=78)
    assert a.drops["ttl"] == 1


def test_passive_pair_stays_silent_and_an_active_side_brings_it_up():
    net, clock, a, b = pair(a_extra={"passive": True}, b_extra={"passive": True})
    run(clock, [a, b], 5.0)
    assert not a.is_up("to_b") and a.sockets.senders[0].sent == []
    b.reload([BfdInstance(name="to_a", neighbor_ip="198.18.0.1", source_ip="198.18.0.2", min_rx=100,
                          min_tx=100, multiplier=3)])
    run(clock, [a, b], 10.0)
    assert a.is_up("to_b") and b.is_up("to_a")


def test_reload_keeps_unchanged_sessions_and_drops_removed_ones():
    net, clock, a, b = pair()
    run(clock, [a, b], 5.0)
    entry = a.sessions["to_b"]
    a.reload([BfdInstance(name="to_b", neighbor_ip="198.18.0.2", source_ip="198.18.0.1", min_rx=100, min_tx=50,
                          multiplier=3)])
    assert a.sessions["to_b"] is entry and entry.session.state == UP and entry.session.settings.min_tx == 50_000
    run(clock, [a, b], 7.0)
    assert a.is_up("to_b")
    heard = []
    a.add_listener(lambda name, up: heard.append((name, up)))
    # a new neighbour is a new session: its followers hear that it is no longer known up
    a.reload([BfdInstance(name="to_b", neighbor_ip="198.18.0.3", source_ip="198.18.0.1")])
    assert heard == [("to_b", False)] and a.sessions["to_b"] is not entry and entry.sender.closed
    sender = a.sessions["to_b"].sender
    a.reload([])
    assert a.sessions == {} and sender.closed and "198.18.0.1" not in net.receivers
    assert heard == [("to_b", False)]                  # that one was never up: nothing more


def test_invalid_instances_are_refused_with_reasons(caplog):
    svc = BfdService([BfdInstance(name="x"), BfdInstance(name="y", neighbor_ip="198.18.0.2", source_ip="::1"),
                      BfdInstance(name="z", neighbor_ip="198.18.0.2"),
                      BfdInstance(name="z2", neighbor_ip="198.18.0.2")],
                     sockets=FakeNet().sockets_for("198.18.0.1"), clock=Clock())
    svc.start()
    assert svc.names() == {"z"}
    text = caplog.text
    assert "x has no neighbor" in text and "not of the same family" in text and "duplicate" in text


def test_multihop_uses_port_4784_both_ways():
    net, clock = FakeNet(), Clock()
    cfg = dict(min_rx=100, min_tx=100, multiplier=3, multihop=True, max_hops=-1)
    a = BfdService([BfdInstance(name="to_b", neighbor_ip="198.18.0.2", source_ip="198.18.0.1", **cfg)],
                   sockets=net.sockets_for("198.18.0.1"), clock=clock, rng=random.Random(1).random)
    b = BfdService([BfdInstance(name="to_a", neighbor_ip="198.18.0.1", source_ip="198.18.0.2", **cfg)],
                   sockets=net.sockets_for("198.18.0.2"), clock=clock, rng=random.Random(2).random)
    a.start()
    b.start()
    assert a.sockets.senders[0].port == 4784
    run(clock, [a, b], 5.0)
    assert a.is_up("to_b") and b.is_up("to_a")
    _inject(a, port=3784, my_discr=99)                  # a multihop session ignores the single-hop port
    assert a.drops["wrong_port"] == 1
    _inject(a, port=4784, ttl=3, my_discr=99, your_discr=a.sessions["to_b"].session.local_discr, state=UP)
    assert a.drops["ttl"] == 0                          # max_hops -1: no TTL check


def test_prometheus_families_from_the_status_snapshot():
    from prometheus_client.parser import text_string_to_metric_families

    from kvrrp.metrics import render, vrrp_registry

    net, clock, a, b = pair()
    run(clock, [a, b], 5.0)
    _inject(a, ttl=1)
    text = render(vrrp_registry(lambda: {"bfd": a.snapshot()})).decode()
    m = {(s.name, frozenset(s.labels.items())): s.value
         for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert m[("kvrrp_bfd_session_up", frozenset({"name": "to_b", "neighbor": "198.18.0.2"}.items()))] == 1
    assert m[("kvrrp_bfd_session_state", frozenset({"name": "to_b"}.items()))] == 3
    assert m[("kvrrp_bfd_session_ups_total", frozenset({"name": "to_b"}.items()))] == 1
    assert m[("kvrrp_bfd_packets_sent_total", frozenset({"name": "to_b"}.items()))] == a.sessions["to_b"].session.sent
    assert m[("kvrrp_bfd_packets_dropped_total", frozenset({"reason": "ttl"}.items()))] == 1


def test_data_dump_in_keepalived_words():
    from kvrrp.bfd.dump import format_bfd

    net, clock, a, b = pair()
    run(clock, [a, b], 5.0)
    text = format_bfd(a)
    assert text.startswith("------< BFD Data >------\n BFD Instance = to_b\n   Neighbor IP = 198.18.0.2\n")
    assert "   local state = Up\n" in text and "   Detection multiplier = 3\n" in text
    assert "   local detection time = 300000 us\n" in text
    assert format_bfd(None) == "" and format_bfd(BfdService([], sockets=FakeSockets(FakeNet(), "x"))) == ""
