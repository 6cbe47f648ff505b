"""RFC 5798 / 3768 timer maths."""
from __future__ import annotations

import pytest

from kvrrp.vrrp import timers


def test_skew_time_v2_is_independent_of_interval():
    assert timers.skew_time(100, 1.0, 2) == pytest.approx(156 / 256)
    assert timers.skew_time(100, 5.0, 2) == pytest.approx(156 / 256)
    assert timers.skew_time(255, 1.0, 2) == pytest.approx(1 / 256)
    assert timers.skew_time(1, 1.0, 2) == pytest.approx(255 / 256)


def test_skew_time_v3_scales_with_master_interval():
    assert timers.skew_time(100, 1.0, 3) == pytest.approx(156 / 256)
    assert timers.skew_time(100, 0.1, 3) == pytest.approx(15.6 / 256)
    assert timers.skew_time(200, 2.0, 3) == pytest.approx(56 * 2 / 256)


def test_master_down_interval():
    assert timers.master_down_interval(100, 1.0, 2) == pytest.approx(3 + 156 / 256)
    assert timers.master_down_interval(150, 0.1, 3) == pytest.approx(0.3 + 106 * 0.1 / 256)
    assert timers.master_down_interval(100, 1.0, 2, down_timer_adverts=5) == pytest.approx(5 + 156 / 256)
    # higher priority -> shorter wait: the best backup takes over first
    assert timers.master_down_interval(200, 1.0, 3) < timers.master_down_interval(100, 1.0, 3)


@pytest.mark.parametrize("bad", [
    lambda: timers.skew_time(256, 1.0, 2),
    lambda: timers.skew_time(-1, 1.0, 3),
    lambda: timers.skew_time(100, 1.0, 4),
    lambda: timers.master_down_interval(100, 1.0, 3, down_timer_adverts=0),
    lambda: timers.wire_interval(0.5, 2),
    lambda: timers.wire_interval(256, 2),
    lambda: timers.wire_interval(41.0, 3),
    lambda: timers.wire_interval(0.001, 3),
])
def test_bad_inputs_raise(bad):
    with pytest.raises(ValueError):
        bad()


def test_wire_interval_round_trip():
    assert timers.wire_interval(1.0, 2) == 1
    assert timers.wire_interval(0.1, 3) == 10
    assert timers.wire_interval(40.95, 3) == 4095
    assert timers.interval_from_wire(10, 3) == pytest.approx(0.1)
    assert timers.interval_from_wire(3, 2) == 3.0


def test_v3_backup_learns_master_interval_v2_does_not():
    assert timers.learned_master_interval(1.0, 50, 3) == pytest.approx(0.5)
    assert timers.learned_master_interval(1.0, 5, 2) == 1.0
    assert timers.learned_master_interval(1.0, 0, 3) == 1.0
