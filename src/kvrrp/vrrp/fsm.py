"""The VRRP state machine (RFC 5798 section 6.4, RFC 3768 section 6.4) as a pure table.

`step(state, event) -> (new_state, actions)`. Every (state, event) pair the protocol defines is
a row of TRANSITIONS; any other pair raises InvalidTransition, so a caller that feeds an event
the protocol has no answer for fails loudly instead of being silently ignored.

Policy the RFC leaves open is decided by the caller *before* the step, by choosing the event:
an advert is classified (classify_advert) into higher / equal-with-higher-address / equal-with-
lower-address / lower / lower-but-preemption-held / priority-zero. Preemption held means
`nopreempt`, or a `preempt_delay` that has not run out: the backup then accepts the lower
priority master exactly like a higher one (RFC 5798 6.4.2 "If Preempt_Mode is False").
Actions are names; the instance's handlers turn them into effects (kvrrp.vrrp.effects) and
timers, each handler getting the event's data (AdvertIn for the advert events).
"""
from __future__ import annotations

import enum
import ipaddress
from typing import NamedTuple


class State(enum.Enum):
    __hash__ = object.__hash__      # identity hash in C: Enum's own hashes the name in Python

    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"
    STOP = "STOP"
    DELETED = "DELETED"      # keepalived: an instance removed by a reload


class Event(enum.Enum):
    __hash__ = object.__hash__      # identity hash in C: Enum's own hashes the name in Python

    STARTUP = "startup"
    STARTUP_OWNER = "startup as address owner"
    STARTUP_FAULT = "startup with a tracker in fault"
    SHUTDOWN = "shutdown"
    DELETE = "removed by reload"
    MASTER_DOWN_TIMER = "master down timer expired"
    MASTER_DOWN_SYNC_HELD = "master down timer expired, sync group not ready"
    ADVER_TIMER = "advert timer expired"
    PREEMPT_DELAY_EXPIRED = "preempt delay expired"
    ADVERT_HIGHER = "received higher priority advert"
    ADVERT_EQUAL_HIGHER_ADDR = "received equal priority advert from a higher address"
    ADVERT_EQUAL_LOWER_ADDR = "received equal priority advert from a lower address"
    ADVERT_LOWER = "received lower priority advert"
    ADVERT_LOWER_PREEMPT_HELD = "received lower priority advert, preemption held"
    ADVERT_PRIORITY_ZERO = "received priority 0 advert"
    ADVERT_OWNER_IGNORES = "received advert, ignored by the address owner"   # owner_ignore_adverts
    TRACK_FAULT = "tracker fault"
    TRACK_RECOVER = "trackers recovered"
    TRACK_RECOVER_OWNER = "trackers recovered, address owner"
    PRIORITY_CHANGED = "effective priority changed"
    SYNC_MASTER = "sync group to MASTER"
    SYNC_BACKUP = "sync group to BACKUP"
    SYNC_FAULT = "sync group to FAULT"
    MAINTENANCE = "maintenance on"                     # kvrrpctl maintenance on (vrrp/operate.py)
    HAND_OVER = "master role handed over"              # kvrrpctl failover (vrrp/operate.py)


class Action(enum.Enum):
    __hash__ = object.__hash__      # identity hash in C: Enum's own hashes the name in Python

    SEND_ADVERT = "send advert"
    SEND_PRIORITY_ZERO = "send priority 0 advert"
    ANSWER_LOWER_PRIORITY = "answer lower priority advert"   # advert (unless lower_prio_no_advert) + GARP
    YIELD_ADVERT = "advert before yielding"                   # only with higher_prio_send_advert
    ADD_VIPS = "add virtual addresses"
    REMOVE_VIPS = "remove virtual addresses"
    START_GARP = "start gratuitous ARP/NA schedule"
    STOP_GARP = "stop gratuitous ARP/NA schedule"
    START_ADVER_TIMER = "start Adver_Timer"
    START_MASTER_DOWN_TIMER = "start Master_Down_Timer"
    START_SKEW_TIMER = "start Master_Down_Timer at Skew_Time"
    ADJUST_MASTER_DOWN_TIMER = "adjust Master_Down_Timer to the new Skew_Time"
    CANCEL_PROTOCOL_TIMER = "cancel Adver_Timer / Master_Down_Timer"
    ACCEPT_MASTER = "record master address, priority and interval"
    RESET_MASTER_INTERVAL = "Master_Adver_Interval := Advertisement_Interval"
    START_PREEMPT_DELAY = "start preempt delay"
    CANCEL_PREEMPT_DELAY = "cancel preempt delay"
    END_PREEMPT_DELAY = "preemption allowed again"
    WAIT_FOR_SYNC_GROUP = "want MASTER, wait for the sync group"


class AdvertIn(NamedTuple):
    """The data of an advert event: who sent it, its priority and interval field, and the
    kernel's receive time (None when the transport gave none). Handlers get it as an argument."""

    src: str
    priority: int
    adver_int: int
    rx_time: float | None = None


class InvalidTransition(Exception):
    """A (state, event) pair outside the protocol's table."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"no VRRP transition for event {event.name} in state {state.name}")
        self.state = state
        self.event = event


A = Action
_BECOME_MASTER = (A.CANCEL_PREEMPT_DELAY, A.RESET_MASTER_INTERVAL, A.SEND_ADVERT, A.ADD_VIPS,
                  A.START_GARP, A.START_ADVER_TIMER)
_BACKUP_FROM_IDLE = (A.RESET_MASTER_INTERVAL, A.START_MASTER_DOWN_TIMER)
_ACCEPT = (A.ACCEPT_MASTER, A.CANCEL_PREEMPT_DELAY, A.START_MASTER_DOWN_TIMER)
_LEAVE_BACKUP = (A.CANCEL_PROTOCOL_TIMER, A.CANCEL_PREEMPT_DELAY)
_RELEASE = (A.CANCEL_PROTOCOL_TIMER, A.STOP_GARP, A.REMOVE_VIPS)
_RELEASE_WITH_ZERO = (A.SEND_PRIORITY_ZERO,) + _RELEASE

S, E = State, Event
TRANSITIONS: dict[tuple[State, Event], tuple[State, tuple[Action, ...]]] = {
    # Initialize (RFC 6.4.1)
    (S.INIT, E.STARTUP): (S.BACKUP, _BACKUP_FROM_IDLE),
    (S.INIT, E.STARTUP_OWNER): (S.MASTER, _BECOME_MASTER),
    (S.INIT, E.STARTUP_FAULT): (S.FAULT, ()),
    (S.INIT, E.SHUTDOWN): (S.STOP, ()),
    (S.INIT, E.DELETE): (S.DELETED, ()),
    # Backup (RFC 6.4.2)
    (S.BACKUP, E.MASTER_DOWN_TIMER): (S.MASTER, _BECOME_MASTER),
    # keepalived vrrp_sync_can_goto_master: wait for the whole group to want MASTER
    (S.BACKUP, E.MASTER_DOWN_SYNC_HELD): (S.BACKUP, (A.WAIT_FOR_SYNC_GROUP, A.START_MASTER_DOWN_TIMER)),
    (S.BACKUP, E.SYNC_MASTER): (S.MASTER, (A.CANCEL_PROTOCOL_TIMER,) + _BECOME_MASTER),
    (S.BACKUP, E.ADVERT_PRIORITY_ZERO): (S.BACKUP, (A.START_SKEW_TIMER,)),
    (S.BACKUP, E.ADVERT_HIGHER): (S.BACKUP, _ACCEPT),
    (S.BACKUP, E.ADVERT_EQUAL_HIGHER_ADDR): (S.BACKUP, _ACCEPT),
    (S.BACKUP, E.ADVERT_EQUAL_LOWER_ADDR): (S.BACKUP, _ACCEPT),
    (S.BACKUP, E.ADVERT_LOWER_PREEMPT_HELD): (S.BACKUP, (A.ACCEPT_MASTER, A.START_PREEMPT_DELAY,
                                                         A.START_MASTER_DOWN_TIMER)),
    # preempt: discard the advert and let Master_Down_Timer run out
    (S.BACKUP, E.ADVERT_LOWER): (S.BACKUP, ()),
    (S.BACKUP, E.PREEMPT_DELAY_EXPIRED): (S.BACKUP, (A.END_PREEMPT_DELAY,)),
    (S.BACKUP, E.PRIORITY_CHANGED): (S.BACKUP, (A.ADJUST_MASTER_DOWN_TIMER,)),
    (S.BACKUP, E.TRACK_FAULT): (S.FAULT, _LEAVE_BACKUP),
    (S.BACKUP, E.SYNC_FAULT): (S.FAULT, _LEAVE_BACKUP),
    (S.BACKUP, E.SHUTDOWN): (S.STOP, _LEAVE_BACKUP),
    (S.BACKUP, E.DELETE): (S.DELETED, _LEAVE_BACKUP),
    (S.BACKUP, E.MAINTENANCE): (S.FAULT, _LEAVE_BACKUP),
    # Master (RFC 6.4.3)
    (S.MASTER, E.ADVER_TIMER): (S.MASTER, (A.SEND_ADVERT, A.START_ADVER_TIMER)),
    (S.MASTER, E.PRIORITY_CHANGED): (S.MASTER, (A.SEND_ADVERT, A.START_ADVER_TIMER)),
    (S.MASTER, E.ADVERT_PRIORITY_ZERO): (S.MASTER, (A.SEND_ADVERT, A.START_ADVER_TIMER)),
    (S.MASTER, E.ADVERT_HIGHER): (S.BACKUP, (A.YIELD_ADVERT,) + _RELEASE + (A.ACCEPT_MASTER, A.START_MASTER_DOWN_TIMER)),
    (S.MASTER, E.ADVERT_EQUAL_HIGHER_ADDR): (S.BACKUP, (A.YIELD_ADVERT,) + _RELEASE + (A.ACCEPT_MASTER, A.START_MASTER_DOWN_TIMER)),
    (S.MASTER, E.ADVERT_EQUAL_LOWER_ADDR): (S.MASTER, (A.ANSWER_LOWER_PRIORITY,)),
    (S.MASTER, E.ADVERT_LOWER): (S.MASTER, (A.ANSWER_LOWER_PRIORITY,)),
    (S.MASTER, E.ADVERT_OWNER_IGNORES): (S.MASTER, ()),
    (S.MASTER, E.TRACK_FAULT): (S.FAULT, _RELEASE_WITH_ZERO),
    (S.MASTER, E.SYNC_FAULT): (S.FAULT, _RELEASE_WITH_ZERO),
    (S.MASTER, E.SYNC_BACKUP): (S.BACKUP, _RELEASE + _BACKUP_FROM_IDLE),
    (S.MASTER, E.SHUTDOWN): (S.STOP, _RELEASE_WITH_ZERO),
    (S.MASTER, E.DELETE): (S.DELETED, _RELEASE_WITH_ZERO),
    # operator actions: out of service like a tracker fault, or back to BACKUP like a restart
    (S.MASTER, E.MAINTENANCE): (S.FAULT, _RELEASE_WITH_ZERO),
    (S.MASTER, E.HAND_OVER): (S.BACKUP, _RELEASE_WITH_ZERO + _BACKUP_FROM_IDLE),
    # Fault (keepalived): adverts are read and ignored, trackers decide when to leave
    (S.FAULT, E.TRACK_FAULT): (S.FAULT, ()),
    (S.FAULT, E.TRACK_RECOVER): (S.BACKUP, _BACKUP_FROM_IDLE),
    (S.FAULT, E.TRACK_RECOVER_OWNER): (S.MASTER, _BECOME_MASTER),
    (S.FAULT, E.SYNC_BACKUP): (S.BACKUP, _BACKUP_FROM_IDLE),
    (S.FAULT, E.PRIORITY_CHANGED): (S.FAULT, ()),
    (S.FAULT, E.ADVERT_HIGHER): (S.FAULT, ()),
    (S.FAULT, E.ADVERT_EQUAL_HIGHER_ADDR): (S.FAULT, ()),
    (S.FAULT, E.ADVERT_EQUAL_LOWER_ADDR): (S.FAULT, ()),
    (S.FAULT, E.ADVERT_LOWER): (S.FAULT, ()),
    (S.FAULT, E.ADVERT_PRIORITY_ZERO): (S.FAULT, ()),
    (S.FAULT, E.SHUTDOWN): (S.STOP, ()),
    (S.FAULT, E.DELETE): (S.DELETED, ()),
    (S.FAULT, E.MAINTENANCE): (S.FAULT, ()),
}
del S, E, A


def step(state: State, event: Event) -> tuple[State, tuple[Action, ...]]:
    """One transition of the table; raises InvalidTransition for a pair outside it."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


def _addr_key(address: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(address)
    return (ip.version, int(ip))


def classify_down_timer(sync_group_ready: bool) -> Event:
    """Master_Down_Timer ran out in BACKUP: take over, or (keepalived's sync groups) wait until
    every other member of the group wants MASTER too."""
    return Event.MASTER_DOWN_TIMER if sync_group_ready else Event.MASTER_DOWN_SYNC_HELD


def classify_advert(state: State, remote_priority: int, local_priority: int,
                    remote_address: str, local_address: str | None,
                    preemption_held: bool, owner_ignores: bool = False) -> Event:
    """Turn a received advert into the FSM event (RFC 5798 6.4.2 / 6.4.3).

    Equal priority is resolved by the primary addresses compared as unsigned integers (RFC
    5798 6.4.3); an unknown local address loses the tie. `preemption_held` only matters to a
    backup: with nopreempt or a running preempt delay it accepts a lower priority master.
    `owner_ignores`: the address owner with owner_ignore_adverts, which as MASTER acts on no advert.
    """
    if owner_ignores and state is State.MASTER:
        return Event.ADVERT_OWNER_IGNORES
    if remote_priority == 0:
        return Event.ADVERT_PRIORITY_ZERO
    if remote_priority > local_priority:
        return Event.ADVERT_HIGHER
    if remote_priority == local_priority:
        if local_address is None or _addr_key(remote_address) > _addr_key(local_address):
            return Event.ADVERT_EQUAL_HIGHER_ADDR
        return Event.ADVERT_EQUAL_LOWER_ADDR
    if state is State.BACKUP and preemption_held:
        return Event.ADVERT_LOWER_PREEMPT_HELD
    return Event.ADVERT_LOWER
