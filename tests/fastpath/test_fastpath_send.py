"""The steady-state send path: InstanceSlot.set_adverts, fire_adverts and SocketSender.

fire_adverts must do for an expired Adver_Timer exactly what the state machine does in MASTER
(send to every target, count, remember when, re-arm adver_int after its deadline on the advert
grid), skip what the instance would skip, stop at the first key it must leave to Python, and
keep the wire in key order.
Every test runs on both implementations, on raw sockets over loopback (root).
"""
from __future__ import annotations

import math
import socket
import time

import pytest
from hypothesis import given, settings, strategies as st

LO = "127.0.0.1"
NOW = 1000.0
TS = 8


def _pair():
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)     # as io.transport sets it
    rx.bind((LO, 0))
    rx.setblocking(False)
    return rx, tx


def _drain(rx):
    time.sleep(0.05)
    out = []
    while True:
        try:
            data = rx.recv(65535)
        except BlockingIOError:
            return out
        ihl = (data[0] & 0x0F) * 4
        out.append((data[8], socket.inet_ntoa(data[12:16]), data[ihl:]))


def _slot(impl, wheel, uid, sender, payloads, ttl=None, adver_int=1.0):
    slot = impl.InstanceSlot(wheel, uid * TS)
    slot.configure(3, 4, False, 0, b"", 0, socket.inet_aton("198.18.0.100"))
    slot.set_adverts(sender, adver_int, [(p, LO, LO, ttl) for p in payloads])
    return slot


def test_fire_adverts_sends_counts_and_rearms(impl):
    rx, tx = _pair()
    errors = []
    try:
        sender = impl.SocketSender(tx, 4, socket.if_nametoindex("lo"), lambda *e: errors.append(e))
        wheel = impl.TimerWheel(resolution=0.0001, start=0.0)
        a = _slot(impl, wheel, 0, sender, [b"advert-a"])
        b = _slot(impl, wheel, 1, sender, [b"advert-b1", b"advert-b2"], ttl=64, adver_int=0.5)
        assert a.fast_tx and b.targets[1] == (b"advert-b2", LO, socket.inet_aton(LO), 64)
        a.schedule(NOW)
        b.schedule(NOW)
        keys = wheel.advance(NOW)
        assert keys == [0, 8]
        assert impl.fire_adverts(keys, 0, NOW, [a, b], TS) == 2
        assert [(ttl, src, p) for ttl, src, p in _drain(rx)] == [
            (255, LO, b"advert-a"), (64, LO, b"advert-b1"), (64, LO, b"advert-b2")]
        assert (a.advert_sent, a.fast_sent, a.last_sent, b.advert_sent) == (1, 1, NOW, 1)
        assert a.deadline == NOW + 1.0 and b.deadline == NOW + 0.5 and math.isnan(a.down_started)
        assert wheel.deadline(0) == pytest.approx(NOW + 1.0) and wheel.deadline(8) == pytest.approx(NOW + 0.5)
        assert (sender.sent, sender.send_errors, errors) == (3, 0, [])
    finally:
        rx.close()
        tx.close()


def test_fire_adverts_rearms_from_the_deadline_not_the_late_wakeup(impl):
    """A wake-up late by L must not push every later advert back by L (that was a steady
    1-2 % deficit on the wire at 0.1 s): the next deadline is the batch's earliest deadline plus
    adver_int; only a timer already more than an interval late starts again from now (no burst)."""
    rx, tx = _pair()
    try:
        sender = impl.SocketSender(tx, 4, socket.if_nametoindex("lo"), None)
        wheel = impl.TimerWheel(resolution=0.0001, start=0.0)
        a = _slot(impl, wheel, 0, sender, [b"advert-a"], adver_int=0.1)
        a.schedule(NOW)
        late = NOW + 0.004
        assert impl.fire_adverts(wheel.advance(late), 0, late, [a], TS) == 1
        assert a.deadline == pytest.approx(NOW + 0.1) and a.last_sent == late
        very_late = NOW + 0.1 + 0.25          # the next one woke up more than an interval late
        assert impl.fire_adverts(wheel.advance(very_late), 0, very_late, [a], TS) == 1
        assert a.deadline == pytest.approx(very_late + 0.1)
        assert len(_drain(rx)) == 2 and a.advert_sent == 2
        # deadlines within one grid step come out on the same grid point: one batch from then on
        b = _slot(impl, wheel, 1, sender, [b"advert-b"], adver_int=0.1)
        a.schedule(NOW + 1.0001)
        b.schedule(NOW + 1.0015)
        at = NOW + 1.003
        assert impl.fire_adverts(wheel.advance(at), 0, at, [a, b], TS) == 2
        assert a.deadline == pytest.approx(NOW + 1.102) and b.deadline == pytest.approx(NOW + 1.102)
    finally:
        rx.close()
        tx.close()


@pytest.mark.parametrize("deadline,adver_int,expected", [
    (1000.0, 0.1, 1000.1),          # on the grid: exactly one interval later, no drift
    (1000.0001, 0.1, 1000.102),     # off the grid: up to the next 2 ms step, once
    (1000.0, 1.0, 1001.0),
    (5.0, 0.01, 5.01),              # short intervals: the step is a tenth of the interval
    (5.0002, 0.01, 5.011),
])
def test_next_advert_deadline_is_on_the_grid(impl, deadline, adver_int, expected):
    assert impl.next_advert_deadline(deadline, adver_int) == pytest.approx(expected, abs=1e-9)


def test_fire_adverts_stops_at_what_python_must_do_and_skips_what_was_rearmed(impl):
    rx, tx = _pair()
    try:
        sender = impl.SocketSender(tx, 4, socket.if_nametoindex("lo"))
        wheel = impl.TimerWheel(resolution=0.0001, start=0.0)
        a = _slot(impl, wheel, 0, sender, [b"a"])
        off = _slot(impl, wheel, 1, None, [b"never"])          # not in the steady state
        late = _slot(impl, wheel, 2, sender, [b"late"])
        late.schedule(NOW + 5)                                  # re-armed after the wheel fired it
        a.schedule(NOW)
        slots = [a, off, late]
        assert not off.fast_tx and off.targets == ()
        # a GARP timer (kind 2) of instance 0, then a protocol key whose slot is off
        assert impl.fire_adverts([0, 2], 0, NOW, slots, TS) == 1
        assert impl.fire_adverts([16, 8, 0], 0, NOW, slots, TS) == 1      # late skipped, off stops it
        assert late.advert_sent == 0 and late.deadline == NOW + 5
        assert impl.fire_adverts([24, 0], 0, NOW, slots, TS) == 0            # unknown instance
        assert impl.fire_adverts([0], 1, NOW, slots, TS) == 1                # start past the end
        assert [p for _, _, p in _drain(rx)] == [b"a"]
        assert a.advert_sent == 1
    finally:
        rx.close()
        tx.close()


def test_send_errors_are_counted_and_reported(impl):
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    errors = []
    sender = impl.SocketSender(tx, 4, socket.if_nametoindex("lo"), lambda *e: errors.append(e))
    wheel = impl.TimerWheel(resolution=0.0001, start=0.0)
    slot = _slot(impl, wheel, 0, sender, [b"x"])
    tx.close()
    slot.schedule(NOW)
    assert impl.fire_adverts(wheel.advance(NOW), 0, NOW, [slot], TS) == 1
    assert sender.send_errors == 1 and sender.sent == 0
    assert len(errors) == 1 and errors[0][1] == LO and errors[0][0] > 0
    assert slot.advert_sent == 1        # like Python: the instance counts the advert it sent


def test_bad_targets(impl):
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    try:
        sender = impl.SocketSender(tx, 4, 1)
        slot = impl.InstanceSlot(impl.TimerWheel(), 0)
        slot.configure(3, 4, False, 0, b"", 0, b"")
        with pytest.raises(ValueError):
            slot.set_adverts(sender, 1.0, [(b"x", "fe80::1", None, None)])
        with pytest.raises(ValueError):
            slot.set_adverts(sender, 1.0, [(b"x", LO, None, 300)])
        with pytest.raises(TypeError):
            slot.set_adverts(object(), 1.0, [(b"x", LO, None, None)])
        slot.set_adverts(sender, 1.0, [])
        assert not slot.fast_tx
        with pytest.raises(ValueError):
            impl.SocketSender(tx, 5, 1)
    finally:
        tx.close()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), max_size=12),
       st.lists(st.sampled_from(["fast", "off", "late", "cancelled"]), min_size=4, max_size=4),
       st.integers(0, 3))
def test_parity_same_keys_same_decisions(both, key_parts, modes, start):
    results = []
    for impl in both:
        tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
        try:
            sender = impl.SocketSender(tx, 4, socket.if_nametoindex("lo"))
            wheel = impl.TimerWheel(resolution=0.0001, start=0.0)
            slots = []
            for uid, mode in enumerate(modes):
                slot = _slot(impl, wheel, uid, None if mode == "off" else sender, [b"p%d" % uid])
                if mode == "late":
                    slot.schedule(NOW + 1)
                elif mode != "cancelled":
                    slot.schedule(NOW)
                slots.append(slot)
            keys = [uid * TS + kind for uid, kind in key_parts]
            done = impl.fire_adverts(keys, start, NOW, slots, TS)
            results.append((done, sender.sent, [(s.armed, s.deadline, s.advert_sent, s.last_sent) for s in slots]))
        finally:
            tx.close()
    (d1, n1, s1), (d2, n2, s2) = results
    assert d1 == d2 and n1 == n2
    for x, y in zip(s1, s2):
        assert x[0] == y[0] and x[2] == y[2]
        assert (x[1] == y[1]) or (math.isnan(x[1]) and math.isnan(y[1]))
        assert (x[3] == y[3]) or (math.isnan(x[3]) and math.isnan(y[3]))
