"""Weight maths of keepalived's trackers, as pure functions.

A tracker (script, interface, file, process) is bound to an instance with a weight W in
-253..253 and an optional ``reverse`` flag (multiplier m = -1, else +1). What the binding
contributes to the instance, as keepalived computes it (vrrp_track.c):

* W == 0: the binding is a fault switch. Not ``reverse``: a failed tracker puts the instance in
  FAULT. ``reverse``: a *healthy* tracker does (an interface that is up, a process that runs).
* W > 0: a healthy tracker adds W * m to the priority, a failed one adds nothing.
* W < 0: a failed tracker adds W * m, a healthy one adds nothing.

So ``weight -20`` takes 20 off while the check fails; ``weight 20`` gives 20 while it passes;
``weight 20 reverse`` takes 20 off while it passes; ``weight -20 reverse`` gives 20 while it fails.

A tracker that has not reported yet (a vrrp_script before its first run) contributes nothing,
and for W == 0 holds the instance in its initial state (INIT), as keepalived does.

track_file has its own rule: the file holds a number N; with W != 0 the contribution is
N * W * m, clamped to -254..253, and -254 or less means FAULT; with W == 0 a non-zero N means
FAULT (``reverse``: a zero N means FAULT).
"""
from __future__ import annotations

from typing import Final, Union

# What a tracker binding reports to the engine: a priority delta, or one of these markers.
FAULT: Final = "FAULT"     # the instance must be in FAULT while this holds
OK: Final = "OK"           # a fault-switch binding (weight 0) that is healthy
INIT: Final = "INIT"       # a fault-switch binding whose tracker has not reported yet

Status = Union[int, str]

WEIGHT_MIN: Final = -253
WEIGHT_MAX: Final = 253
FILE_FAULT_AT: Final = -254


def check_weight(weight: int) -> int:
    """keepalived accepts -254..254 but turns +-254 into +-253; anything else is an error."""
    if not isinstance(weight, int) or isinstance(weight, bool):
        raise TypeError(f"weight must be an int, not {type(weight).__name__}")
    if weight in (-254, 254):
        return WEIGHT_MIN if weight < 0 else WEIGHT_MAX
    if not WEIGHT_MIN <= weight <= WEIGHT_MAX:
        raise ValueError(f"weight {weight} outside -254..254")
    return weight


def binary_status(healthy: bool | None, weight: int, reverse: bool = False) -> Status:
    """Contribution of a tracker that is healthy or failed (None: not yet known)."""
    weight = check_weight(weight)
    multiplier = -1 if reverse else 1
    if weight == 0:
        if healthy is None:
            return INIT
        # reverse turns the switch round: a healthy tracker is the fault
        return OK if healthy != reverse else FAULT
    if healthy is None:
        return 0
    if healthy and weight > 0:
        return weight * multiplier
    if not healthy and weight < 0:
        return weight * multiplier
    return 0


def file_status(value: int, weight: int, reverse: bool = False) -> Status:
    """Contribution of a track_file whose file holds ``value``."""
    weight = check_weight(weight)
    multiplier = -1 if reverse else 1
    if weight == 0:
        failed = value != 0 if not reverse else value == 0
        return FAULT if failed else OK
    status = value * weight * multiplier
    if status <= FILE_FAULT_AT:
        return FAULT
    return min(status, WEIGHT_MAX)


def effective_priority(base_priority: int, statuses: "list[Status] | tuple[Status, ...]") -> int | str:
    """What keepalived's effective priority is for these contributions (a reference for tests
    and for the engine): FAULT if any binding says so, INIT if any holds it, else the base plus
    the deltas clamped to 1..254. An address owner (255) never changes priority."""
    if any(s == FAULT for s in statuses):
        return FAULT
    if any(s == INIT for s in statuses):
        return INIT
    if base_priority == 255:
        return 255
    total = base_priority + sum(s for s in statuses if isinstance(s, int))
    return max(1, min(254, total))
