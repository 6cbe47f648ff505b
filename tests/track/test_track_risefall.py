"""Rise/fall counting exactly as keepalived's vrrp_script_child_thread."""
from __future__ import annotations

import pytest

from kvrrp.track.risefall import RiseFall


def feed(rf, seq):
    return [rf.record(x) for x in seq]


def test_first_result_decides_at_once():
    rf = RiseFall(rise=3, fall=2)
    assert rf.healthy is None
    assert rf.record(True) is True and rf.healthy
    rf = RiseFall(rise=3, fall=2)
    assert rf.record(False) is False and rf.healthy is False


def test_fall_needs_consecutive_failures():
    rf = RiseFall(rise=2, fall=3)
    rf.record(True)
    assert feed(rf, [False, False, True, False, False]) == [None, None, None, None, None]
    assert rf.healthy is True          # the success in between reset the fall count
    assert rf.record(False) is False    # third failure in a row


def test_rise_needs_consecutive_successes():
    rf = RiseFall(rise=3, fall=1)
    rf.record(False)
    assert feed(rf, [True, True, False, True, True]) == [None, None, None, None, None]
    assert rf.record(True) is True


def test_init_fail_starts_failed_and_needs_rise():
    rf = RiseFall(rise=2, fall=2, init_fail=True)
    assert rf.healthy is False
    assert feed(rf, [True, True]) == [None, True]


@pytest.mark.parametrize("rise,fall", [(0, 1), (1, 0)])
def test_bad_counts(rise, fall):
    with pytest.raises(ValueError):
        RiseFall(rise=rise, fall=fall)
