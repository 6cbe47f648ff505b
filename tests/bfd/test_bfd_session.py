"""The RFC 5880 session state machine and timers, pure: two sessions wired back to back on a
simulated clock (no sockets, no sleeping)."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from kvrrp.bfd.packet import (ADMIN_DOWN, DIAG_EXPIRED, DIAG_NEIGHBOR_DOWN, DOWN, INIT, UP, Control,
                              decode)
from kvrrp.bfd.session import Session, SessionSettings


def make(name, discr, *, min_rx=100_000, min_tx=100_000, idle=1_000_000, mult=3, passive=False, seed=1):
    rng = random.Random(seed).random
    return Session(SessionSettings(name, min_rx, min_tx, idle, mult, passive), discr, 0.0, rng)


class Wire:
    """Two sessions and a clock; `link` False drops everything in both directions."""

    def __init__(self, a: Session, b: Session) -> None:
        self.a, self.b = a, b
        self.now = 0.0
        self.link = True
        self.events: list[tuple[float, str, int, int, bool]] = []
        self.max_gap = {a: 0.0, b: 0.0}
        self._last_tx = {a: None, b: None}

    def _deliver(self, src: Session, dst: Session, periodic: bool) -> None:
        data = src.packet().encode()
        src.transmitted(self.now, periodic=periodic)
        if periodic and src.state == UP and self._last_tx[src] is not None:
            self.max_gap[src] = max(self.max_gap[src], self.now - self._last_tx[src])
        self._last_tx[src] = self.now if src.state == UP else None
        if not self.link:
            return
        pkt = decode(data)
        assert isinstance(pkt, Control)
        out = dst.receive(pkt, self.now)
        assert out.drop is None
        for ch in out.changes:
            self.events.append((self.now, dst.settings.name, ch.old, ch.new, ch.tracked_changed))
        if out.send_now:
            self._deliver(dst, src, periodic=False)

    def run(self, until: float) -> None:
        while True:
            cands = []
            for s, o in ((self.a, self.b), (self.b, self.a)):
                if s.tx_deadline is not None:
                    cands.append((s.tx_deadline, 0, s, o))
                if s.detect_deadline is not None:
                    cands.append((s.detect_deadline, 1, s, o))
            if not cands:
                self.now = until
                return
            at, kind, s, o = min(cands, key=lambda c: (c[0], c[1]))
            if at > until:
                self.now = until
                return
            self.now = max(self.now, at)
            if kind == 0:
                self._deliver(s, o, periodic=True)
            else:
                out = s.expire(self.now)
                for ch in out.changes:
                    self.events.append((self.now, s.settings.name, ch.old, ch.new, ch.tracked_changed))


def test_three_way_handshake_comes_up_and_stays_up():
    w = Wire(make("a", 11), make("b", 22, seed=2))
    w.run(5.0)
    assert w.a.state == UP and w.b.state == UP
    assert w.a.tracked_up and w.b.tracked_up
    assert w.a.remote_discr == 22 and w.b.remote_discr == 11
    # both pass through Init (or straight Down -> Up on the other's Init) and never fall back
    assert all(new != DOWN for _, _, _, new, _ in w.events)
    # Up: the negotiated 100 ms, jittered to 75-100 % (RFC 6.8.7)
    assert w.a.tx_interval == 100_000
    assert w.a.detection_time == 300_000
    assert 0.0 < w.max_gap[w.a] <= 0.1 + 1e-9


def test_link_cut_expires_within_detection_time_and_recovers():
    w = Wire(make("a", 11), make("b", 22, seed=2))
    w.run(3.0)
    assert w.a.state == UP
    w.link = False
    cut = w.now
    w.run(cut + 1.0)
    downs = [(t, n) for t, n, old, new, tr in w.events if new == DOWN and old == UP]
    assert {n for _, n in downs} == {"a", "b"}
    for t, _ in downs:
        assert t - cut <= 0.3 + 1e-9            # Detect Mult 3 x 100 ms
    assert w.a.local_diag == DIAG_EXPIRED and not w.a.tracked_up
    assert w.a.remote_discr == 0
    w.link = True
    w.run(w.now + 4.0)                            # idle transmission is 1 s: up again within ~2 s
    assert w.a.state == UP and w.b.state == UP


def test_neighbor_down_signal_takes_us_down_with_diag_3():
    a, b = make("a", 11), make("b", 22, seed=2)
    w = Wire(a, b)
    w.run(3.0)
    pkt = Control(state=DOWN, my_discr=22, your_discr=11, desired_min_tx=1_000_000,
                  required_min_rx=100_000, detect_mult=3, diag=DIAG_EXPIRED)
    out = a.receive(pkt, w.now)
    assert [c.new for c in out.changes] == [DOWN] and out.changes[0].tracked_changed
    assert a.local_diag == DIAG_NEIGHBOR_DOWN and not a.tracked_up


def test_neighbor_admin_down_is_not_a_failure_for_trackers():
    a, b = make("a", 11), make("b", 22, seed=2)
    w = Wire(a, b)
    w.run(3.0)
    pkt = Control(state=ADMIN_DOWN, my_discr=22, your_discr=11, desired_min_tx=1_000_000,
                  required_min_rx=100_000, detect_mult=3, diag=7)
    out = a.receive(pkt, w.now)
    assert a.state == DOWN and a.local_diag == DIAG_NEIGHBOR_DOWN
    assert not out.changes[0].tracked_changed and a.tracked_up


def test_passive_side_waits_to_be_spoken_to():
    a = make("a", 11, passive=True)
    assert a.tx_deadline is None
    b = make("b", 22, passive=True, seed=2)
    w = Wire(a, b)
    w.run(5.0)
    assert a.state == DOWN and b.state == DOWN and a.sent == 0 and b.sent == 0
    c = make("c", 33, seed=3)                     # one active side is enough
    w2 = Wire(a, c)
    w2.run(5.0)
    assert a.state == UP and c.state == UP


def test_passive_stops_sending_when_the_peer_disappears():
    a, c = make("a", 11, passive=True), make("c", 33, seed=3)
    w = Wire(a, c)
    w.run(3.0)
    w.link = False
    w.run(w.now + 1.0)
    assert a.state == DOWN and a.remote_discr == 0 and a.tx_deadline is None


def test_poll_is_answered_with_final_and_ends_the_sequence():
    a = make("a", 11)
    pkt = Control(state=DOWN, my_discr=22, your_discr=0, desired_min_tx=1_000_000,
                  required_min_rx=100_000, detect_mult=3, poll=True)
    out = a.receive(pkt, 0.5)
    assert out.send_now and a.packet().final and not a.packet().poll
    a.transmitted(0.5, periodic=False)
    assert not a.packet().final
    # going Up with min_tx below the idle rate starts our own poll, ended by the peer's Final
    a.receive(Control(state=INIT, my_discr=22, your_discr=11, desired_min_tx=1_000_000,
                      required_min_rx=100_000, detect_mult=3), 0.6)
    assert a.state == UP and a.packet().poll
    a.receive(Control(state=UP, my_discr=22, your_discr=11, desired_min_tx=100_000,
                      required_min_rx=100_000, detect_mult=3, final=True), 0.7)
    assert not a.packet().poll


def test_advertised_intervals_follow_state():
    a = make("a", 11, min_tx=50_000, idle=2_000_000)
    assert a.packet().desired_min_tx == 2_000_000          # not Up: idle_tx (>= 1 s)
    assert a.packet().required_min_rx == 100_000
    a.receive(Control(state=INIT, my_discr=22, your_discr=11, desired_min_tx=1_000_000,
                      required_min_rx=10_000, detect_mult=5), 0.0)
    assert a.state == UP and a.packet().desired_min_tx == 50_000
    assert a.tx_interval == 50_000                          # max(ours, the remote's min rx)
    assert a.detection_time == 5 * 1_000_000                # remote mult x max(our rx, its tx)


def test_remote_min_rx_zero_stops_periodic_transmission():
    a = make("a", 11)
    a.receive(Control(state=DOWN, my_discr=22, your_discr=0, desired_min_tx=1_000_000,
                      required_min_rx=0, detect_mult=3), 0.0)
    assert a.tx_deadline is None
    # a Poll is still answered with Final at once
    out = a.receive(Control(state=DOWN, my_discr=22, your_discr=0, desired_min_tx=1_000_000,
                            required_min_rx=0, detect_mult=3, poll=True), 0.1)
    assert out.send_now and a.packet().final


def test_auth_and_admin_down_are_drops():
    a = make("a", 11)
    pkt = Control(state=DOWN, my_discr=22, your_discr=0, desired_min_tx=1_000_000,
                  required_min_rx=100_000, detect_mult=3, auth=True)
    assert a.receive(pkt, 0.0).drop == "auth_unsupported"
    a.admin_down(0.0)
    assert a.state == ADMIN_DOWN and a.tx_deadline is None
    assert a.receive(Control(state=DOWN, my_discr=22, your_discr=0, desired_min_tx=1_000_000,
                             required_min_rx=100_000, detect_mult=3), 0.1).drop == "admin_down"


def test_zero_discriminator_refused():
    with pytest.raises(ValueError):
        make("a", 0)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 10), st.integers(30_000, 300_000), st.integers(30_000, 300_000),
       st.integers(0, 2**31), st.floats(0.2, 1.5))
def test_any_timing_comes_up_and_detects_a_cut_within_detection_time(mult, rx, tx, seed, cut_at):
    """Whatever the timers, a cut is seen within the Detection Time of each side's last
    received packet, and never before a packet is really missing."""
    a = make("a", 11, min_rx=rx, min_tx=tx, mult=mult, seed=seed)
    b = make("b", 22, min_rx=tx, min_tx=rx, mult=mult, seed=seed + 1)
    w = Wire(a, b)
    w.run(3.0)
    assert a.state == UP and b.state == UP
    w.run(3.0 + cut_at)
    assert a.state == UP and b.state == UP                  # no false expiry while the link works
    w.link = False
    cut = w.now
    w.run(cut + max(a.detection_time, b.detection_time) / 1e6 + 0.1)
    for s in (a, b):
        assert s.state == DOWN
        t = next(t for t, n, old, new, _ in w.events if n == s.settings.name and old == UP and t >= cut)
        assert t - cut <= s.detection_time / 1e6 + 1e-9 or s.detection_time == 0


def test_a_late_send_does_not_push_the_following_ones_back():
    a, b = make("a", 1), make("b", 2)
    w = Wire(a, b)
    w.run(3.0)
    assert a.state == UP
    due = a.tx_deadline
    late = due + 0.06                      # the loop ran 60 ms behind (a 100 ms interval)
    a.transmitted(late)
    # spaced from when it was due (75-100 ms after `due`) but at least 75 ms after the late send
    assert a.tx_deadline >= late + 0.075 - 1e-9
    assert a.tx_deadline <= due + 0.100 + 1e-9 or a.tx_deadline == pytest.approx(late + 0.075)
    on_time = make("c", 3)
    on_time.tx_deadline = 1.0
    on_time.transmitted(1.0)               # on time: the usual jittered 75-100 %
    assert 1.0 + 0.0 <= on_time.tx_deadline <= 1.0 + 1.0 + 1e-9


@given(st.floats(0.0, 0.3), st.integers(0, 1000))
@settings(max_examples=200, deadline=None)
def test_spacing_never_below_rfc_minimum_after_a_late_send(late_by, seed):
    a = make("a", 1, seed=seed)
    w = Wire(a, make("b", 2))
    w.run(3.0)
    due = a.tx_deadline
    a.transmitted(due + late_by)
    gap = a.tx_deadline - (due + late_by)
    assert gap >= 0.075 - 1e-9 and a.tx_deadline - due <= max(0.100, late_by + 0.075) + 1e-9
