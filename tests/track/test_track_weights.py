"""keepalived's weight maths (vrrp_track.c) including reverse, and track_file's rule."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from kvrrp.track.weights import FAULT, INIT, OK, binary_status, check_weight, effective_priority, file_status


@pytest.mark.parametrize("healthy,weight,reverse,expected", [
    (True, -20, False, 0), (False, -20, False, -20),        # seed: weight -20 drops on failure
    (True, 20, False, 20), (False, 20, False, 0),           # positive: bonus while healthy
    (True, 20, True, -20), (False, 20, True, 0),            # reverse positive: penalty while healthy
    (True, -20, True, 0), (False, -20, True, 20),           # reverse negative: bonus while failed
    (True, 0, False, OK), (False, 0, False, FAULT),         # weight 0: fault switch
    (True, 0, True, FAULT), (False, 0, True, OK),           # reverse fault switch
    (None, 0, False, INIT), (None, -5, False, 0), (None, 5, False, 0),
])
def test_binary_status(healthy, weight, reverse, expected):
    assert binary_status(healthy, weight, reverse) == expected


def test_weight_limits():
    assert check_weight(254) == 253 and check_weight(-254) == -253
    with pytest.raises(ValueError):
        check_weight(255)
    with pytest.raises(TypeError):
        check_weight(True)


@pytest.mark.parametrize("value,weight,reverse,expected", [
    (0, 1, False, 0), (5, 1, False, 5), (-10, 1, False, -10), (3, -2, False, -6),
    (3, 2, True, -6), (-300, 1, False, FAULT), (-254, 1, False, FAULT), (-253, 1, False, -253),
    (1000, 1, False, 253), (0, 0, False, OK), (7, 0, False, FAULT), (0, 0, True, FAULT), (7, 0, True, OK),
])
def test_file_status(value, weight, reverse, expected):
    assert file_status(value, weight, reverse) == expected


def test_effective_priority_clamps_and_owner():
    assert effective_priority(100, [-20, 5]) == 85
    assert effective_priority(100, [-200]) == 1
    assert effective_priority(250, [20]) == 254
    assert effective_priority(255, [-50]) == 255
    assert effective_priority(100, [OK, -5, FAULT]) == FAULT
    assert effective_priority(100, [INIT, 3]) == INIT


@given(st.booleans(), st.integers(-253, 253), st.booleans())
def test_swing_between_states_is_abs_weight(healthy, weight, reverse):
    """keepalived moves the total by +-|W| on every change after init (vrrp_track.c)."""
    if weight == 0:
        return
    m = -1 if reverse else 1
    swing = binary_status(True, weight, reverse) - binary_status(False, weight, reverse)
    assert swing == abs(weight) * m
