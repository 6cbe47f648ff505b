"""Operator actions on one VRRP instance: maintenance and hand-over (kvrrpctl).

Both are FSM events (fsm.Event.MAINTENANCE / HAND_OVER) plus a tracker entry that keeps the
instance where the operator put it, so everything that already respects trackers (start-up,
reload's inherit_trackers, sync groups, the status dumps) respects these too:

- maintenance: the MAINTENANCE key is a tracker fault. A master sends priority 0 and removes
  its VIPs (like a tracker fault), a backup leaves BACKUP; the instance stays in FAULT until
  maintenance is turned off, whatever its other trackers say.
- hand-over: a master sends priority 0, removes its VIPs and becomes a BACKUP that waits a full
  Master_Down_Interval (fsm row MASTER/HAND_OVER), so the best backup takes over at its
  Skew_Time. For the hold time the HAND_OVER key is a weight that brings the effective
  priority down to 1: any other router wins the election and this one does not preempt; if no
  other router answers, it becomes master again after Master_Down_Interval (nobody is left
  without the VIPs). When the hold ends (end_hand_over) the normal rules apply again: with
  preemption and a higher priority it takes the role back.
"""
from __future__ import annotations

from kvrrp.vrrp.fsm import Event, State
from kvrrp.vrrp.instance import OWNER_PRIORITY, TrackerStatus, VrrpInstanceRuntime

MAINTENANCE = "operator:maintenance"
HAND_OVER = "operator:hand-over"
# lower than any configured priority plus tracker weights can raise it: the effective priority
# is clamped to 1 (instance.effective_priority)
HAND_OVER_WEIGHT = -10 * OWNER_PRIORITY


class OperateError(ValueError):
    """An operator action this instance cannot take (said why)."""


def in_maintenance(inst: VrrpInstanceRuntime) -> bool:
    return MAINTENANCE in inst.tracker_faults


def handing_over(inst: VrrpInstanceRuntime) -> bool:
    return HAND_OVER in inst.tracker_weights


def set_maintenance(inst: VrrpInstanceRuntime, on: bool) -> bool:
    """Put the instance into maintenance or take it out; False when nothing changed."""
    if on == in_maintenance(inst):
        return False
    if on:
        if inst.state in (State.MASTER, State.BACKUP, State.FAULT):
            # the fault entry first: the FSM step below is the transition, and a sync group
            # partner that asks this instance to recover finds it faulted
            inst.mark_fault(MAINTENANCE)
            inst.dispatch(Event.MAINTENANCE)
        else:
            inst.set_tracker(MAINTENANCE, TrackerStatus.FAULT)   # INIT: starts in FAULT
    else:
        inst.set_tracker(MAINTENANCE, TrackerStatus.OK)          # FAULT -> BACKUP if nothing else faults
    return True


def hand_over(inst: VrrpInstanceRuntime) -> None:
    """Give up the master role now; the caller ends the hold with end_hand_over()."""
    if inst.state is not State.MASTER:
        raise OperateError(f"{inst.name} is {inst.state.value}, not MASTER: nothing to hand over")
    if inst.settings.priority >= OWNER_PRIORITY:
        raise OperateError(f"{inst.name} is the address owner (priority 255) and would take the "
                           "role straight back; use maintenance instead")
    inst.dispatch(Event.HAND_OVER)
    inst.set_tracker(HAND_OVER, HAND_OVER_WEIGHT)


def end_hand_over(inst: VrrpInstanceRuntime) -> bool:
    """The hold is over: the instance's own priority counts again. False if it was not held."""
    if not handing_over(inst):
        return False
    inst.set_tracker(HAND_OVER, TrackerStatus.OK)
    return True
