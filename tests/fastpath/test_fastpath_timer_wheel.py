"""Timer wheel on both implementations: expiry order, cancel, reschedule, far deadlines across
wheel levels, long gaps, past deadlines, next_deadline, and an independent oracle."""
from __future__ import annotations

import math
import random

import pytest


class Oracle:
    """The documented semantics, written the obvious way (a dict and a sort)."""

    def __init__(self, resolution=0.001, start=0.0):
        self.res, self.start = resolution, start
        self.timers = {}
        self.seq = 0

    def time_of(self, tick):
        return self.start + tick * self.res

    def tick(self, deadline):
        t = math.ceil((deadline - self.start) / self.res)
        if self.time_of(t - 1) >= deadline:
            t -= 1
        elif self.time_of(t) < deadline:
            t += 1
        return t

    def schedule(self, key, deadline):
        self.seq += 1
        self.timers[key] = (self.tick(deadline), self.seq)

    def cancel(self, key):
        return self.timers.pop(key, None) is not None

    def advance(self, now):
        due = sorted((v, k) for k, v in self.timers.items() if self.time_of(v[0]) <= now)
        for _, k in due:
            del self.timers[k]
        return [k for _, k in due]


def test_expires_in_tick_order_then_schedule_order(impl):
    w = impl.TimerWheel(0.001)
    w.schedule(1, 0.005)
    w.schedule(2, 0.003)
    w.schedule(3, 0.005)
    w.schedule(4, 0.0025)   # same tick as 0.003 (ticks round up), scheduled later than key 2
    w.schedule(5, 0.001)
    assert w.advance(0.004) == [5, 2, 4]
    assert w.advance(0.010) == [1, 3]
    assert len(w) == 0


def test_never_fires_early_and_fires_on_its_tick(impl):
    w = impl.TimerWheel(0.01)
    w.schedule(7, 1.234)
    assert w.deadline(7) == pytest.approx(1.24)
    assert w.advance(1.2399) == []
    assert w.advance(1.24) == [7]


def test_cancel(impl):
    w = impl.TimerWheel()
    w.schedule(1, 1.0)
    w.schedule(2, 1.0)
    assert w.cancel(1) is True
    assert w.cancel(1) is False
    assert w.cancel(99) is False
    assert 1 not in w and 2 in w
    assert w.advance(2.0) == [2]


def test_reschedule_replaces_and_counts_as_new_scheduling(impl):
    w = impl.TimerWheel()
    w.schedule(1, 0.5)
    w.schedule(2, 0.5)
    w.schedule(1, 0.5)         # same deadline, now scheduled after key 2
    assert len(w) == 2
    assert w.advance(0.5) == [2, 1]
    w.schedule(3, 10.0)
    w.schedule(3, 0.7)         # moved earlier
    assert w.advance(1.0) == [3]
    w.schedule(4, 1.1)
    w.schedule(4, 500.0)       # moved to a higher level
    assert w.advance(499.0) == []
    assert w.advance(500.0) == [4]


@pytest.mark.parametrize("deadline", [0.255, 0.256, 65.535, 65.536, 1e3, 16777.216, 1e6, 4294967.296, 1e9, 3e13])
def test_far_deadlines_spanning_levels(impl, deadline):
    w = impl.TimerWheel(0.001)
    w.schedule(1, deadline)
    w.schedule(2, deadline / 2)
    w.schedule(3, 0.001)
    assert w.next_deadline() == pytest.approx(0.001)
    assert w.advance(0.001) == [3]
    assert w.next_deadline() == pytest.approx(deadline / 2, rel=1e-9, abs=0.001)
    assert w.advance(deadline / 2 - 0.002) == []
    assert w.advance(deadline / 2 + 0.001) == [2]
    assert w.advance(deadline - 0.002) == []
    assert w.advance(deadline + 0.001) == [1]


def test_far_deadlines_walked_in_steps(impl):
    """Many steps across level boundaries, timers at every scale, against the oracle."""
    rnd = random.Random(5)
    w, o = impl.TimerWheel(0.001), Oracle(0.001)
    for key in range(300):
        d = 10 ** rnd.uniform(-3, 5)
        w.schedule(key, d)
        o.schedule(key, d)
    now = 0.0
    while len(w):
        now = now * 1.7 + rnd.uniform(0, 0.01)
        assert w.advance(now) == o.advance(now)
    assert o.timers == {}


def test_long_gap_in_one_advance(impl):
    w = impl.TimerWheel(0.001)
    keys = list(range(1000))
    for k in keys:
        w.schedule(k, 3600.0 + (k % 10) * 0.001)
    out = w.advance(7200.0)      # one call over 7.2 million ticks
    assert sorted(out) == keys
    assert out == sorted(keys, key=lambda k: (k % 10, k))


def test_past_deadlines_fire_on_the_next_advance_in_tick_order(impl):
    w = impl.TimerWheel(0.001)
    assert w.advance(10.0) == []
    w.schedule(1, 5.0)
    w.schedule(2, 1.0)
    w.schedule(3, 10.0)       # exactly now
    w.schedule(4, -3.0)       # before the wheel's start
    assert w.next_deadline() == pytest.approx(-3.0)
    assert w.advance(10.0) == [4, 2, 1, 3]


def test_time_going_backwards_expires_nothing_new(impl):
    w = impl.TimerWheel(0.001)
    w.advance(5.0)
    w.schedule(1, 6.0)
    assert w.advance(1.0) == []
    assert w.advance(6.0) == [1]


def test_next_deadline_drives_advance_exactly(impl):
    """What the daemon does: sleep until next_deadline(), then advance() to it."""
    rnd = random.Random(11)
    w = impl.TimerWheel(0.001, start=1000.0)
    assert w.next_deadline() is None
    expected = {}
    for key in range(500):
        d = 1000.0 + rnd.uniform(0, 30)
        w.schedule(key, d)
        expected[key] = d
    fired = []
    while (nd := w.next_deadline()) is not None:
        assert w.advance(math.nextafter(nd, 0)) == []
        out = w.advance(nd)
        assert out, "advance(next_deadline()) must fire something"
        for k in out:
            assert expected[k] <= nd
        fired += out
    assert sorted(fired) == list(range(500))


def test_next_deadline_tracks_cancel_and_schedule(impl):
    w = impl.TimerWheel(0.001)
    w.schedule(1, 2.0)
    w.schedule(2, 1.0)
    assert w.next_deadline() == pytest.approx(1.0)
    w.cancel(2)
    assert w.next_deadline() == pytest.approx(2.0)
    w.schedule(3, 0.5)
    assert w.next_deadline() == pytest.approx(0.5)
    w.schedule(3, 3.0)
    assert w.next_deadline() == pytest.approx(2.0)


def test_len_contains_deadline_now(impl):
    w = impl.TimerWheel(0.5, start=100.0)
    assert w.resolution == 0.5 and w.start == 100.0 and w.now == 100.0
    w.schedule(-5, 101.2)
    w.schedule(2**63 - 1, 102.0)
    assert len(w) == 2 and -5 in w and 2**63 - 1 in w
    assert "x" not in w and 2**70 not in w and 3 not in w
    assert w.deadline(-5) == 101.5 and w.deadline(3) is None and w.deadline(2**70) is None
    assert w.advance(101.7) == [-5]
    assert w.now == 101.5


def test_many_timers_against_oracle(impl):
    rnd = random.Random(3)
    w, o = impl.TimerWheel(0.001), Oracle(0.001)
    now = 0.0
    for step in range(4000):
        op = rnd.random()
        key = rnd.randrange(2000)
        if op < 0.55:
            d = now + rnd.choice((rnd.uniform(-0.01, 0.01), rnd.uniform(0, 3), rnd.uniform(0, 1000)))
            w.schedule(key, d)
            o.schedule(key, d)
        elif op < 0.8:
            assert w.cancel(key) == o.cancel(key)
        else:
            now += rnd.choice((0.0, 0.0005, rnd.uniform(0, 2), rnd.uniform(0, 200)))
            assert w.advance(now) == o.advance(now)
        assert len(w) == len(o.timers)
    assert w.advance(now + 1e4) == o.advance(now + 1e4)


def test_bad_arguments(impl):
    with pytest.raises(ValueError):
        impl.TimerWheel(0)
    with pytest.raises(ValueError):
        impl.TimerWheel(-1.0)
    with pytest.raises(ValueError):
        impl.TimerWheel(0.001, float("inf"))
    with pytest.raises(TypeError):
        impl.TimerWheel("0.001")
    w = impl.TimerWheel()
    with pytest.raises(ValueError):
        w.schedule(1, float("nan"))
    with pytest.raises(ValueError):
        w.schedule(1, float("inf"))
    with pytest.raises(ValueError):
        w.advance(float("nan"))
    with pytest.raises(TypeError):
        w.schedule(1.5, 1.0)
    with pytest.raises(TypeError):
        w.schedule(1, "1.0")
    with pytest.raises(OverflowError):
        w.schedule(2**63, 1.0)
    with pytest.raises(TypeError):
        w.cancel("1")
    assert len(w) == 0


def test_huge_finite_deadline_is_clamped_not_lost(impl):
    w = impl.TimerWheel(0.001)
    w.schedule(1, 1e300)
    assert 1 in w
    assert w.advance(1e12) == []
    assert w.cancel(1) is True


def test_top_levels_with_whole_second_ticks(impl):
    """Ticks beyond 2**48 and 2**56 live on wheel levels 6 and 7; they cascade down exactly."""
    w, o = impl.TimerWheel(1.0), Oracle(1.0)
    deadlines = [2.0**49 + 3, 2.0**57, 2.0**57 + 1, 2.0**61 + 2.0**40, 2.0**61 + 2.0**40 + 1]
    for key, d in enumerate(deadlines):
        w.schedule(key, d)
        o.schedule(key, d)
    assert w.next_deadline() == 2.0**49 + 3
    for now in (2.0**49 + 2, 2.0**49 + 3, 2.0**57 - 1, 2.0**57, 2.0**57 + 1, 2.0**61, 2.0**61 + 2.0**40,
                2.0**61 + 2.0**40 + 1):
        assert w.advance(now) == o.advance(now), now
    assert len(w) == 0
