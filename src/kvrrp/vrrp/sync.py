"""vrrp_sync_group: instances that change state together (keepalived vrrp_sync.c).

If one member goes to FAULT, every member goes to FAULT; if one goes to BACKUP, the members
that are MASTER (and those in FAULT only because of the group) go to BACKUP; a member whose
Master_Down_Timer runs out becomes MASTER only when every other member wants MASTER too (or
already is), and then pulls the whole group to MASTER. A member in FAULT because of its own
trackers holds the whole group in FAULT until it recovers.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kvrrp.vrrp.fsm import TRANSITIONS, Event, State

if TYPE_CHECKING:
    from kvrrp.vrrp.instance import VrrpInstanceRuntime

log = logging.getLogger("kvrrp.vrrp")


class SyncGroup:
    def __init__(self, name: str, members: list[VrrpInstanceRuntime]) -> None:
        self.name = name
        self.members = members
        self.state = State.INIT
        self.syncing = False
        for m in members:
            m.sync = self

    def others(self, inst: VrrpInstanceRuntime) -> list[VrrpInstanceRuntime]:
        return [m for m in self.members if m is not inst]

    def any_own_fault(self) -> bool:
        return any(m.own_fault for m in self.members)

    def allows_master(self, inst: VrrpInstanceRuntime) -> bool:
        if self.state is State.MASTER:
            return True
        return all(m.want_master or m.state is State.MASTER for m in self.others(inst))

    def allows_recover(self, inst: VrrpInstanceRuntime) -> bool:
        return not any(m.own_fault for m in self.others(inst))

    def followers(self, inst: VrrpInstanceRuntime, new: State) -> list[tuple[VrrpInstanceRuntime, Event]]:
        """The (member, event) pairs that make the rest of the group follow inst into `new`."""
        others = self.others(inst)
        if new is State.FAULT:
            moves = [(m, Event.SYNC_FAULT) for m in others if m.state in (State.BACKUP, State.MASTER)]
        elif new is State.BACKUP:
            moves = [(m, Event.SYNC_BACKUP) for m in others
                     if m.state is State.MASTER or (m.state is State.FAULT and not m.own_fault)]
        elif new is State.MASTER:
            moves = [(m, Event.SYNC_MASTER) for m in others if m.state is State.BACKUP]
        else:
            return []
        if new is not self.state:
            log.info("VRRP_Group(%s) Syncing instances to %s state", self.name, new.value)
            self.state = new
        return moves

    def follow(self, inst: VrrpInstanceRuntime, new: State) -> None:
        """Apply followers(); re-entrant transitions of the followers do not sync again."""
        if self.syncing:
            return
        self.syncing = True
        try:
            for member, event in self.followers(inst, new):
                if (member.state, event) in TRANSITIONS:   # it may have moved meanwhile
                    member.dispatch(event)
        finally:
            self.syncing = False

    def reconcile(self) -> None:
        """After members started together (following was off meanwhile): FAULT wins, then
        MASTER (an address owner member pulls the rest), like keepalived's vrrp_init_state."""
        if self.syncing:
            return
        states = {m.state for m in self.members}
        if State.FAULT in states:
            target, event, movable = State.FAULT, Event.SYNC_FAULT, (State.BACKUP, State.MASTER)
        elif State.MASTER in states:
            target, event, movable = State.MASTER, Event.SYNC_MASTER, (State.BACKUP,)
        else:
            self.recompute_state()
            return
        self.syncing = True
        try:
            for m in self.members:
                if m.state in movable:
                    m.dispatch(event)
        finally:
            self.syncing = False
        self.state = target

    def recompute_state(self) -> None:
        """After a reload: the group state is the members' common state, if they share one."""
        states = {m.state for m in self.members}
        self.state = states.pop() if len(states) == 1 else State.INIT
