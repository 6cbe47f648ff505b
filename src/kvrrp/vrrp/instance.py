"""One VRRP instance at run time: priorities, the state machine's actions, adverts.

The instance does no I/O itself. Each fsm.Action's handler gets the event's data (the advert
being handled, if any) and returns effects (kvrrp.vrrp.effects: adverts to send, addresses to
add or remove, GARP/NA to send, transitions and events to report), which the engine carries out
through InstanceContext.apply. The context otherwise gives the clock, timers on the shared
wheel and the few facts the instance asks for. Timer keys are `uid * TIMER_SLOTS + kind`, so one wheel
serves every instance and a key tells the engine whom to wake.
"""
from __future__ import annotations

import enum
import ipaddress
import logging
import math
import time
from dataclasses import replace
from types import MappingProxyType
from typing import Iterable, Mapping, Protocol

from kvrrp import fastpath
from kvrrp.io.ports import Received
from kvrrp.vrrp import auth_hmac, fsm, timers
from kvrrp.vrrp.effects import AddAddress, Announce, Effect, InstanceEvent, RemoveAddress, SendAdvert, Transitioned
from kvrrp.vrrp.fsm import Action, Event, State
from kvrrp.vrrp.garp import GARP_TIMERS, GarpSchedule
from kvrrp.vrrp.receive import InstanceView
from kvrrp.vrrp.settings import CHECKSUM_COMPAT_CONFIG, OWNER_PRIORITY, InstanceSettings
from kvrrp.vrrp.stats import InstanceStats

log = logging.getLogger("kvrrp.vrrp")

TIMER_SLOTS = 8
T_PROTOCOL = 0          # Adver_Timer (master) or Master_Down_Timer (backup): never both
T_PREEMPT = 1
# slots 2..5: kvrrp.vrrp.garp (GARP_TIMERS)
_EARLY_TOLERANCE = 1e-6      # the wheel never fires early; a later deadline means rescheduled
# A receive time older than this is not used as a timer's origin (see _timer_origin)
_RX_TIME_MAX_AGE = 0.05

RUNNING = (State.BACKUP, State.MASTER, State.FAULT)
NO_UNICAST_PEER = "unicast_fault_no_peer"      # a fault no tracker can clear

# Non-transition events for engine.add_event_listener (keepalived notify_master_rx_lower_pri,
# and the FIFO's MASTER_PRIORITY / BACKUP_PRIORITY lines of notify_priority_changes)
EVENT_MASTER_RX_LOWER_PRI = "MASTER_RX_LOWER_PRI"
EVENT_PRIORITY = "PRIORITY"


# Most instances never have a tracker fault or weight, nor a timer besides T_PROTOCOL: they
# share these empty containers (an empty set is 216 B, a dict 64 B, per instance) and get their
# own only on a change (copy on write: tracking events are rare, the containers tiny).
_NO_FAULTS: frozenset = frozenset()
_NO_WEIGHTS: Mapping = MappingProxyType({})


class TrackerStatus(enum.Enum):
    """A tracker that is not a weight: FAULT puts the instance in FAULT, OK clears it."""

    OK = "OK"
    FAULT = "FAULT"


FAULT = TrackerStatus.FAULT
OK = TrackerStatus.OK


class _Preempt(enum.Enum):
    IDLE = 0
    RUNNING = 1
    EXPIRED = 2


class InstanceContext(Protocol):
    wheel: object       # the engine's fastpath.TimerWheel (the instance's slot restarts timers on it)

    def now(self) -> float: ...
    def fast_sender(self, inst: "VrrpInstanceRuntime") -> object | None: ...
    def schedule(self, key: int, deadline: float) -> None: ...
    def cancel(self, key: int) -> None: ...
    def apply(self, inst: "VrrpInstanceRuntime", effects: Iterable[Effect]) -> None: ...
    def source_address(self, inst: "VrrpInstanceRuntime") -> str | None: ...
    def delayed_start(self) -> float: ...
    def sync_allows_master(self, inst: "VrrpInstanceRuntime") -> bool: ...
    def sync_allows_recover(self, inst: "VrrpInstanceRuntime") -> bool: ...


def checksum_without_pseudo_header(payload: bytes) -> bytes:
    """RFC 9568 / keepalived v3_checksum_as_v2: the v3 checksum over the VRRP message alone."""
    msg = bytearray(payload)
    msg[6:8] = b"\0\0"
    msg[6:8] = fastpath.inet_checksum(msg).to_bytes(2, "big")
    return bytes(msg)


def effective_priority(base: int, weights: dict[object, int]) -> int:
    """keepalived: base + sum of tracker weights, clamped to 1..254; the owner stays 255."""
    if base == OWNER_PRIORITY:
        return OWNER_PRIORITY
    return max(1, min(OWNER_PRIORITY - 1, base + sum(weights.values())))


class VrrpInstanceRuntime:
    """Run-time state of one vrrp_instance."""

    # Slots, not a __dict__: with more than 30 attributes CPython 3.11 gives up key sharing and
    # each instance carried two 792 B dicts (1.6 KB, 16 MB at K = 10,000; docs/scale.md).
    __slots__ = ("settings", "name", "uid", "ctx", "state", "stats", "tracker_weights", "tracker_faults",
                 "effective_priority", "master_adver_int", "master_address", "master_priority",
                 "want_master", "vips_set", "last_transition", "sync", "_preempt", "_pinned_priority",
                 "_owner_waiting", "_deadlines", "_down_skew_only", "fast", "garp", "_advert_cache",
                 "_wire_interval", "_advert_packed", "_view", "old_unicast_checksum", "hmac",
                 "_fast_capable", "_master_packed", "_tx_built")

    def __init__(self, settings: InstanceSettings, uid: int, ctx: InstanceContext) -> None:
        self.settings = settings
        self.name = settings.name
        self.uid = uid
        self.ctx = ctx
        self.state = State.INIT
        self.stats = InstanceStats()
        # read-only views: change them through set_tracker / mark_fault
        self.tracker_weights: Mapping[object, int] = _NO_WEIGHTS
        self.tracker_faults: frozenset[object] = _NO_FAULTS
        if settings.fault_no_peer:
            # keepalived unicast_fault_no_peer: FAULT instead of falling back to multicast
            self.mark_fault(NO_UNICAST_PEER)
        if settings.config_fault:
            self.mark_fault(settings.config_fault)   # no tracker can clear it either
        self.effective_priority = settings.priority
        self.master_adver_int = settings.adver_int
        self.master_address: str | None = None
        self.master_priority: int | None = None
        self.want_master = False            # down timer ran out but the sync group held us back
        self.vips_set = False
        self.last_transition: float | None = None
        self.sync = None                    # kvrrp.vrrp.sync.SyncGroup, set by the engine
        self._preempt = _Preempt.IDLE
        self._owner_waiting = False
        # timers other than T_PROTOCOL; Adver_Timer / Master_Down_Timer (its deadline and when
        # it started) live in the fast path's slot, which restarts it for steady-state adverts
        self._deadlines: dict[int, float] | None = None     # None while no such timer runs
        self._down_skew_only = False
        self.fast = fastpath.InstanceSlot(ctx.wheel, uid * TIMER_SLOTS + T_PROTOCOL)
        self.stats.attach(self.fast)
        self.garp = GarpSchedule(settings, self, self.stats, getattr(ctx, "garp_pacer", None), ctx.now)
        # the last advert encoded, (priority, dst, src, payload): a master sends the same one
        # every time (its steady state is prebuilt in the fast path's slot anyway), so one entry
        # instead of a dict and a key tuple (~150 B per instance)
        self._advert_cache: tuple[int, str, str | None, bytes] | None = None
        self._wire_interval = timers.wire_interval(settings.adver_int, settings.version)
        self._advert_packed = tuple(ipaddress.ip_address(a).packed for a in settings.advert_addresses)
        self._view: InstanceView | None = None
        # pre-1.3.6 keepalived unicast checksum (multicast group in the pseudo-header): from the
        # start with old_unicast_checksum, or once a peer's advert only verifies that way
        self.old_unicast_checksum = (settings.old_unicast_checksum_possible
                                     and settings.unicast_checksum_compat == CHECKSUM_COMPAT_CONFIG)
        self.hmac = auth_hmac.from_config(settings.auth_hmac)
        self._fast_capable = self._configure_fast()
        self._master_packed: tuple[str | None, bytes] = (None, b"")
        self._tx_built: tuple | None = None       # what the slot's prebuilt adverts were made from
        # keepalived: an SNMP set that makes a non-owner's base priority 255 leaves the effective
        # priority where it was, and trackers no longer move it (they skip an owner)
        self._pinned_priority: int | None = None

    # ------------------------------------------------------------------ queries
    @property
    def last_advert_sent(self) -> float | None:
        sent = self.fast.last_sent
        return None if math.isnan(sent) else sent

    @property
    def own_fault(self) -> bool:
        return bool(self.tracker_faults)

    @property
    def own_address(self) -> str | None:
        return self.settings.unicast_src_ip or self.ctx.source_address(self)

    def switch_to_old_unicast_checksum(self, src: str) -> None:
        """keepalived's auto mode: a peer sent the old unicast checksum; answer in kind."""
        if self.old_unicast_checksum:
            return
        self.old_unicast_checksum = True
        self._advert_cache = None
        log.info("(%s) Setting unicast VRRPv3 checksum to old version (advert from %s)", self.name, src)

    def master_down_interval(self) -> float:
        s = self.settings
        return timers.master_down_interval(self.effective_priority, self.master_adver_int, s.version,
                                           s.down_timer_adverts)

    def skew_time(self) -> float:
        return timers.skew_time(self.effective_priority, self.master_adver_int, self.settings.version)

    def deadline(self, kind: int = T_PROTOCOL) -> float | None:
        if kind == T_PROTOCOL:
            return self.fast.deadline if self.fast.armed else None
        return self._deadlines.get(kind) if self._deadlines else None

    # ------------------------------------------------------------------ the fast path's slot
    def _configure_fast(self) -> bool:
        """Give the slot what never changes; False when adverts must always reach Python
        (v3_checksum_as_v2, per-peer TTL ranges of check_unicast_src)."""
        s = self.settings
        compat = ipaddress.ip_address(s.compat_group).packed if s.old_unicast_checksum_possible else b""
        self.fast.configure(s.version, s.family, s.is_unicast, s.auth_type,
                            s.auth_pass if s.auth_type else b"", self._wire_interval if s.version == 2 else 0,
                            b"".join(self._advert_packed), compat)
        # auth_hmac: the C path verifies no trailer and signs nothing, so every advert goes through
        # Python (receive.validate, advert_payload)
        return (not s.v3_checksum_as_v2 and not (s.is_unicast and s.check_unicast_src and s.unicast_peer_ttl)
                and self.hmac is None)

    def _refresh_fast(self) -> None:
        """Push what the fast path needs to decide whether the next advert from the current
        master is the steady state: accepting it would only restart Master_Down_Timer (BACKUP,
        no preempt delay to start or cancel, no sync group hold-back or Skew_Time to undo)."""
        s = self.settings
        interval_field = round(self.master_adver_int * 100) if s.version == 3 else 0
        fast_rx = (self._fast_capable and self.state is State.BACKUP and self.master_address is not None
                   and bool(self.master_priority) and not self.want_master and not self._owner_waiting
                   and not self._down_skew_only and self._preempt is _Preempt.IDLE
                   and (s.version == 2 or interval_field / 100.0 == self.master_adver_int))
        master = b""
        if self.master_address is not None:
            if self._master_packed[0] != self.master_address:
                self._master_packed = (self.master_address, ipaddress.ip_address(self.master_address).packed)
            master = self._master_packed[1]
        self.fast.update(fast_rx, master, self.master_priority or 0, interval_field, self.effective_priority,
                         (not s.preempt) and s.preempt_delay <= 0, self.ctx.delayed_start(),
                         self.master_down_interval(), self.old_unicast_checksum)
        self._refresh_fast_adverts()

    def _refresh_fast_adverts(self) -> None:
        """A MASTER on a socket the fast path can send on: prebuild its adverts (rebuilt only
        when priority, source address, checksum form or socket change), so an expired
        Adver_Timer sends them and re-arms in C (fastpath.fire_adverts)."""
        sender = self.ctx.fast_sender(self) if self.state is State.MASTER and self._fast_capable else None
        if sender is None:
            if self.fast.fast_tx:
                self.fast.set_adverts(None, 0.0, ())
            self._tx_built = None
            return
        s = self.settings
        src = self.own_address
        built = (self.effective_priority, src, self.old_unicast_checksum, id(sender))
        if built == self._tx_built and self.fast.fast_tx:
            return
        targets = []
        if src is not None:
            for dst in (s.unicast_peers if s.is_unicast else (s.group,)):
                try:
                    payload = self.advert_payload(self.effective_priority, dst, src)
                except ValueError:
                    payload = None
                if payload is None:          # the Python path counts and logs it
                    targets = []
                    break
                targets.append((payload, dst, s.unicast_src_ip or src, s.unicast_ttl))
        self.fast.set_adverts(sender if targets else None, s.adver_int, targets)
        self._tx_built = built if targets else None

    def source_changed(self) -> None:
        """The engine saw our interface's source address change: rebuild prebuilt adverts."""
        self._tx_built = None
        self._refresh_fast_adverts()

    # ------------------------------------------------------------------ lifecycle
    def start(self, group_fault: bool = False) -> None:
        if self.own_fault or group_fault:
            self.dispatch(Event.STARTUP_FAULT)
        elif self.settings.is_owner and self.ctx.delayed_start() <= self.ctx.now():
            self.dispatch(Event.STARTUP_OWNER)
        else:
            # an owner under vrrp_startup_delay waits as BACKUP, then takes over at once (keepalived)
            self._owner_waiting = self.settings.is_owner
            self.dispatch(Event.STARTUP)

    def shutdown(self, delete: bool = False) -> None:
        if self.state in (State.STOP, State.DELETED):
            return
        self.dispatch(Event.DELETE if delete else Event.SHUTDOWN)
        for kind in list(self._deadlines or ()):
            self._cancel(kind)
        self._cancel(T_PROTOCOL)
        self.garp.stop()

    # ------------------------------------------------------------------ the state machine
    def dispatch(self, event: Event, advert: fsm.AdvertIn | None = None) -> list[Effect]:
        """One step of the state machine: every action's handler gets `advert` (the event's data,
        for the advert events) and returns its effects; the engine carries them out. Returns
        every effect of the step (tests assert them)."""
        old = self.state
        new, actions = fsm.step(old, event)
        # becoming MASTER: the advert, VIPs and GARPs go first, the log lines right after
        log_first = new is not old and new is not State.MASTER
        if new is not old:
            self.state = new
            if log_first:
                self._log_transition(old, new, event)
        effects: list[Effect] = []
        for action in actions:
            done = self._ACTIONS[action](self, advert)
            if done:
                effects.extend(done)
        self.ctx.apply(self, effects)
        if new is not old:
            if not log_first:
                self._log_transition(old, new, event)
            self.stats.transitions += 1
            self.last_transition = self.ctx.now()
            if new is State.MASTER:
                self.stats.become_master += 1
                self.want_master = False
                self._owner_waiting = False
            elif old is State.MASTER:
                self.stats.release_master += 1
            report = Transitioned(old, new, event.value)
            self.ctx.apply(self, (report,))
            effects.append(report)
        self._refresh_fast()
        return effects

    def _log_transition(self, old: State, new: State, event: Event) -> None:
        # keepalived's own line first (operators and scripts grep for it), then the reason
        if event is Event.MASTER_DOWN_TIMER:
            log.info("(%s) Receive advertisement timeout", self.name)
        if new in (State.STOP, State.DELETED):
            log.info("(%s) Entering %s STATE", self.name, new.value)
        elif old is State.INIT and new is not State.MASTER:
            log.info("(%s) Entering %s STATE (init)", self.name, new.value)
        else:
            log.info("(%s) Entering %s STATE", self.name, new.value)
        log.info("(%s) %s -> %s: %s (effective priority %d)", self.name, old.value, new.value, event.value,
                 self.effective_priority)

    # ------------------------------------------------------------------ timers
    def _schedule(self, kind: int, delay: float) -> None:
        self._schedule_at(kind, self.ctx.now() + delay)

    def _schedule_at(self, kind: int, deadline: float, started: float = math.nan) -> None:
        """started: when a Master_Down_Timer / Skew_Time began (NaN for other timers)."""
        if kind == T_PROTOCOL:
            self.fast.schedule(deadline, started)
            return
        if self._deadlines is None:
            self._deadlines = {}
        self._deadlines[kind] = deadline
        self.ctx.schedule(self.uid * TIMER_SLOTS + kind, deadline)

    @staticmethod
    def _timer_origin(now: float, advert: fsm.AdvertIn | None) -> float:
        """When a timer restarted by the advert being handled starts: the kernel's receive
        time when the transport gave one (the RFC timers run from the advert's arrival, so our
        own wake-up latency is not added to a failover), else now. A receive time from the
        future (clock trouble) or older than _RX_TIME_MAX_AGE (a stalled process working off a
        queue: newer adverts may be right behind) is not trusted."""
        rx_time = advert.rx_time if advert is not None else None
        if rx_time is None or rx_time > now or now - rx_time > _RX_TIME_MAX_AGE:
            return now
        return rx_time

    def _cancel(self, kind: int) -> None:
        if kind == T_PROTOCOL:
            self.fast.cancel()
        elif self._deadlines and self._forget_deadline(kind) is not None:
            self.ctx.cancel(self.uid * TIMER_SLOTS + kind)

    def _forget_deadline(self, kind: int) -> float | None:
        deadline = self._deadlines.pop(kind, None)
        if not self._deadlines:
            self._deadlines = None
        return deadline

    # TimerSlots for the GARP schedule
    def schedule_timer(self, kind: int, delay: float) -> None:
        self._schedule(kind, delay)

    def cancel_timer(self, kind: int) -> None:
        self._cancel(kind)

    def timer_armed(self, kind: int) -> bool:
        return self.deadline(kind) is not None

    def on_timer(self, kind: int) -> None:
        deadline = self.deadline(kind)
        if deadline is None or deadline > self.ctx.now() + _EARLY_TOLERANCE:
            return      # cancelled or rescheduled after the wheel handed it out
        if kind == T_PROTOCOL:
            self.fast.fired()
        else:
            self._forget_deadline(kind)
        try:
            self._on_timer(kind)
        finally:
            self._refresh_fast()

    def _on_timer(self, kind: int) -> None:
        if kind == T_PROTOCOL:
            self._protocol_timer()
        elif kind == T_PREEMPT:
            self.dispatch(Event.PREEMPT_DELAY_EXPIRED)
        elif kind in GARP_TIMERS and self.state is State.MASTER:
            self.ctx.apply(self, self.garp.on_timer(kind))

    def _protocol_timer(self) -> None:
        if self.state is State.MASTER:
            self.dispatch(Event.ADVER_TIMER)
        elif self.state is State.BACKUP:
            ready = self.sync is None or self.ctx.sync_allows_master(self)
            self.dispatch(fsm.classify_down_timer(ready))     # logs "Receive advertisement timeout"

    # ------------------------------------------------------------------ trackers
    def set_tracker(self, key: object, status: int | TrackerStatus) -> None:
        """A tracker's state: an int weight delta (0 = no effect), FAULT or OK."""
        try:
            self._set_tracker(key, status)
        finally:
            self._refresh_fast()

    def _set_tracker(self, key: object, status: int | TrackerStatus) -> None:
        was_fault = self.own_fault
        if status is TrackerStatus.FAULT:
            self.mark_fault(key)
            self._set_weight(key, None)
        elif status is TrackerStatus.OK:
            self._clear_fault(key)
            self._set_weight(key, None)
        elif isinstance(status, int) and not isinstance(status, bool):
            self._clear_fault(key)
            self._set_weight(key, status)
        else:
            raise ValueError(f"tracker status must be an int weight, FAULT or OK, got {status!r}")
        old_prio = self.effective_priority
        if self._pinned_priority is None:
            self.effective_priority = effective_priority(self.settings.priority, self.tracker_weights)
        if old_prio != self.effective_priority:
            log.info("(%s) Changing effective priority from %d to %d", self.name, old_prio, self.effective_priority)
            self._advert_cache = None
            self.ctx.apply(self, (InstanceEvent(EVENT_PRIORITY),))
        if self.state not in RUNNING:
            return
        if self.own_fault and not was_fault:
            self.dispatch(Event.TRACK_FAULT)
        elif was_fault and not self.own_fault and self.state is State.FAULT:
            self.try_recover()
        elif old_prio != self.effective_priority:
            self.dispatch(Event.PRIORITY_CHANGED)

    def mark_fault(self, key: object) -> None:
        """Record a fault only (no transition: set_tracker does both)."""
        if key not in self.tracker_faults:
            self.tracker_faults = self.tracker_faults | {key}

    def _clear_fault(self, key: object) -> None:
        if key in self.tracker_faults:
            self.tracker_faults = (self.tracker_faults - {key}) or _NO_FAULTS

    def _set_weight(self, key: object, weight: int | None) -> None:
        """Set a tracker's weight, or drop it (None)."""
        if weight is None and key not in self.tracker_weights:
            return
        weights = dict(self.tracker_weights)
        if weight is None:
            del weights[key]
        else:
            weights[key] = weight
        self.tracker_weights = weights or _NO_WEIGHTS

    def inherit_trackers(self, old: "VrrpInstanceRuntime") -> None:
        """Before start: take over the tracker states a previous runtime of this instance had."""
        self.tracker_weights = {**self.tracker_weights, **old.tracker_weights} or _NO_WEIGHTS
        self.tracker_faults = (self.tracker_faults
                               | {k for k in old.tracker_faults if k != NO_UNICAST_PEER}) or _NO_FAULTS
        self.effective_priority = effective_priority(self.settings.priority, self.tracker_weights)

    def update_settings(self, new: InstanceSettings, why: str = " (reload)") -> None:
        """Reload in place (vrrp.reload_plan: only changes that keep the instance's identity
        and socket): state, timers and counters stay; a master adds/removes changed VIPs and
        advertises a new priority at once. `why` ends the priority change's log line."""
        try:
            self._update_settings(new, why)
        finally:
            self._refresh_fast()

    def _update_settings(self, new: InstanceSettings, why: str) -> None:
        old, self.settings = self.settings, new
        self.garp.settings = new
        self._advert_cache = None
        self._view = None
        self._advert_packed = tuple(ipaddress.ip_address(a).packed for a in new.advert_addresses)
        self.hmac = auth_hmac.from_config(new.auth_hmac, self.hmac)
        # the fast path's copy: addresses, authentication, peers and TTL checks may have changed
        self._fast_capable = self._configure_fast()
        self._tx_built = None
        if self.vips_set:
            old_specs, new_specs = old.vips + old.excluded_vips, new.vips + new.excluded_vips
            changes: list[Effect] = [RemoveAddress(spec) for spec in old_specs if spec not in new_specs]
            for spec in new_specs:
                if spec not in old_specs:
                    changes += (AddAddress(spec), Announce(spec.ifname, spec.family, spec.address))
            self.ctx.apply(self, changes)
        old_prio = self.effective_priority
        if new.priority != OWNER_PRIORITY:
            self._pinned_priority = None
        if self._pinned_priority is None:
            self.effective_priority = effective_priority(new.priority, self.tracker_weights)
        if old_prio != self.effective_priority:
            log.info("(%s) Changing effective priority from %d to %d%s", self.name, old_prio,
                     self.effective_priority, why)
            self.ctx.apply(self, (InstanceEvent(EVENT_PRIORITY),))
            if self.state in RUNNING:
                self.dispatch(Event.PRIORITY_CHANGED)

    # ------------------------------------------------------------------ operator changes (SNMP)
    def set_base_priority(self, priority: int) -> int:
        """keepalived's SNMP write of vrrpInstanceBasePriority: the base priority becomes
        `priority` and the effective one is recomputed with the trackers' weights (clamped to
        1..254), so a MASTER's next advert carries it and a BACKUP compares received adverts
        with it; a reload brings the configured value back. As in keepalived, making a
        non-owner's base 255 keeps its effective priority (keepalived's recomputation skips
        an owner). Returns the previous base priority."""
        if not 1 <= priority <= OWNER_PRIORITY:
            raise ValueError(f"({self.name}) priority {priority} outside 1..255")
        old = self.settings.priority
        log.info("(%s) base priority changed from %d to %d via SNMP.", self.name, old, priority)
        if priority == OWNER_PRIORITY and old != OWNER_PRIORITY:
            self._pinned_priority = self.effective_priority
        self.update_settings(replace(self.settings, priority=priority), why="")
        return old

    def set_preempt(self, on: bool) -> bool:
        """keepalived's SNMP write of vrrpInstancePreempt (its nopreempt flag); the next
        lower-priority advert a BACKUP receives is judged with it. Returns the previous value."""
        old = self.settings.preempt
        log.info("(%s) preemption %s with SNMP", self.name, "enabled" if on else "disabled")
        self.update_settings(replace(self.settings, preempt=bool(on)), why="")
        return old

    def try_recover(self) -> bool:
        """Leave FAULT if our trackers and the sync group allow it."""
        if self.state is not State.FAULT or self.own_fault:
            return False
        if self.sync is not None and not self.ctx.sync_allows_recover(self):
            return False
        self.dispatch(Event.TRACK_RECOVER_OWNER if self.settings.is_owner else Event.TRACK_RECOVER)
        return True

    # ------------------------------------------------------------------ receiving
    def receive_view(self, own: str | None) -> InstanceView:
        view = self._view
        if view is None or view.master_address != self.master_address or (own is not None and own not in view.own_addresses):
            s = self.settings
            view = InstanceView(settings=s, vip_set=frozenset(self._advert_packed),
                                wire_interval=self._wire_interval,
                                own_addresses=frozenset(a for a in (own, s.unicast_src_ip) if a),
                                master_address=self.master_address)
            self._view = view
        return view

    def on_advert(self, rx: Received, advert) -> None:
        """Feed an advert that passed every receive check (kvrrp.vrrp.receive.validate) to the FSM."""
        try:
            self._on_advert(rx, advert)
        finally:
            self._refresh_fast()

    def _on_advert(self, rx: Received, advert) -> None:
        self.stats.advert_rcvd += 1
        if advert.priority == 0:
            self.stats.pri_zero_rcvd += 1
        s = self.settings
        held = (not s.preempt) or (s.preempt_delay > 0 and self._preempt is not _Preempt.EXPIRED)
        event = fsm.classify_advert(self.state, advert.priority, self.effective_priority, rx.src,
                                    self.own_address, held, s.is_owner and s.owner_ignore_adverts)
        self._log_advert(event, rx.src, advert.priority)
        self.dispatch(event, fsm.AdvertIn(rx.src, advert.priority, advert.adver_int, rx.rx_time))

    def dropped(self, reason: str, src: str) -> None:
        """Count an advert receive.validate dropped, and log it: keepalived logs every bad
        advert, but a flood must not flood the log - the 1st, 10th, 100th ... are logged."""
        self.stats.count_drop(reason)
        count = self.stats.drops[reason]
        if reason == "not_running":
            return
        if str(count).rstrip("0") == "1":
            log.info("(%s) dropped advert from %s: %s (%d so far)", self.name, src, reason, count)
        else:
            log.debug("(%s) dropped advert from %s: %s", self.name, src, reason)

    def _log_advert(self, event: Event, src: str, prio: int) -> None:
        if self.state is State.MASTER:
            if event is Event.ADVERT_HIGHER:
                log.info("(%s) Master received advert from %s with higher priority %d, ours %d",
                         self.name, src, prio, self.effective_priority)
            elif event is Event.ADVERT_EQUAL_HIGHER_ADDR:
                log.info("(%s) Master received advert from %s with same priority %d but higher IP address than ours",
                         self.name, src, prio)
            elif event in (Event.ADVERT_LOWER, Event.ADVERT_EQUAL_LOWER_ADDR):
                log.info("(%s) Received advert from %s with lower priority %d, ours %d%s", self.name, src, prio,
                         self.effective_priority, "" if self.settings.lower_prio_no_advert else ", forcing new election")
            elif event is Event.ADVERT_PRIORITY_ZERO:
                log.debug("(%s) Master received priority 0 message", self.name)
        elif self.state is State.BACKUP:
            if event is Event.ADVERT_LOWER:
                log.info("(%s) received lower priority (%d) advert from %s - discarding", self.name, prio, src)
            elif event is Event.ADVERT_PRIORITY_ZERO:
                log.info("(%s) Backup received priority 0 advertisement", self.name)

    # ------------------------------------------------------------------ sending
    def advert_payload(self, priority: int, dst: str, src: str | None) -> bytes | None:
        cached = self._advert_cache
        if cached is not None and cached[0] == priority and cached[1] == dst and cached[2] == src:
            return self._signed(cached[3], dst, src)
        key_src = src
        s = self.settings
        if s.version == 3 and src is None:
            if not s.v3_checksum_as_v2:
                return None
            src = "0.0.0.0"        # not part of this checksum
        # the pseudo-header's destination: the peer, or the group for the old unicast checksum
        csum_dst = s.compat_group if self.old_unicast_checksum else dst
        payload = fastpath.encode_advert(
            s.version, s.vrid, priority, self._advert_packed, self._wire_interval, family=s.family,
            auth_type=s.auth_type, auth_data=s.auth_pass if s.version == 2 else b"",
            src=src if s.version == 3 else None, dst=csum_dst if s.version == 3 else None)
        if s.v3_checksum_as_v2:
            payload = checksum_without_pseudo_header(payload)
        self._advert_cache = (priority, dst, key_src, payload)
        return self._signed(payload, dst, src)

    def _signed(self, payload: bytes, dst: str, src: str | None) -> bytes | None:
        """auth_hmac: the advert with a fresh trailer (never cached: each carries a new sequence).
        IPv6: the checksum is redone over PDU and trailer, as keepalived's kernel computes it."""
        hm = self.hmac
        if hm is None or not hm.signs:
            return payload
        if src is None:
            return None          # the HMAC binds the source address: wait until we have one
        s = self.settings
        out = payload + hm.sign(payload, s.family, s.version, s.vrid, src, time.time())
        if s.family == 6:
            zeroed = out[:6] + b"\0\0" + out[8:]
            csum = fastpath.inet_checksum(zeroed, fastpath.pseudo_sum_ipv6(ipaddress.ip_address(src).packed,
                                                                        ipaddress.ip_address(dst).packed, len(zeroed)))
            out = zeroed[:6] + csum.to_bytes(2, "big") + zeroed[8:]
        return out

    def send_advert(self, priority: int) -> list[Effect]:
        """The adverts to send now, to every peer or the group (counted as sent here: the engine
        counts a failed send in send_errors)."""
        s = self.settings
        src = self.own_address
        targets = s.unicast_peers if s.is_unicast else (s.group,)
        out: list[Effect] = []
        for dst in targets:
            try:
                payload = self.advert_payload(priority, dst, src)
            except ValueError as exc:        # e.g. an unusable source address from the kernel
                self.stats.send_errors += 1
                log.warning("(%s) cannot build advert for %s: %s", self.name, dst, exc)
                continue
            if payload is None:
                self.stats.send_errors += 1
                log.warning("(%s) no source address on %s yet, advert not sent", self.name, s.ifname)
                continue
            # with a VMAC the advert leaves the macvlan but from the base interface's address:
            # pin it, the macvlan has no address of its own
            out.append(SendAdvert(payload, dst, s.unicast_src_ip or (src if s.vrrp_ifname != s.ifname else None)))
        if out:
            self.fast.sent(self.ctx.now())
            if priority == 0:
                self.stats.pri_zero_sent += 1
        return out

    # ------------------------------------------------------------------ actions
    # each gets the event's data (the advert being handled, or None) and returns its effects

    def _a_send_advert(self, advert: fsm.AdvertIn | None) -> list[Effect]:
        return self.send_advert(self.effective_priority)

    def _a_send_zero(self, advert: fsm.AdvertIn | None) -> list[Effect]:
        sent = self.send_advert(0)
        log.info("(%s) sent 0 priority", self.name)
        return sent

    def _a_answer_lower(self, advert: fsm.AdvertIn | None) -> list[Effect]:
        out: list[Effect] = [InstanceEvent(EVENT_MASTER_RX_LOWER_PRI)]
        if not self.settings.lower_prio_no_advert:
            out += self.send_advert(self.effective_priority)
        out += self.garp.on_lower_priority_advert()
        return out

    def _a_yield_advert(self, advert: fsm.AdvertIn | None) -> list[Effect]:
        if self.settings.higher_prio_send_advert:
            return self.send_advert(self.effective_priority)
        return []

    def _a_add_vips(self, advert: fsm.AdvertIn | None) -> list[Effect]:
        self.vips_set = True
        return [AddAddress(spec) for spec in self.settings.vips + self.settings.excluded_vips]

    def _a_remove_vips(self, advert: fsm.AdvertIn | None) -> list[Effect]:
        if not self.vips_set:
            return []
        self.vips_set = False
        return [RemoveAddress(spec) for spec in self.settings.vips + self.settings.excluded_vips]

    def _a_start_garp(self, advert: fsm.AdvertIn | None) -> list[Effect]:
        return self.garp.on_become_master()

    def _a_stop_garp(self, advert: fsm.AdvertIn | None) -> None:
        self.garp.stop()

    def _a_start_adver_timer(self, advert: fsm.AdvertIn | None) -> None:
        self._schedule(T_PROTOCOL, self.settings.adver_int)

    def _start_down_timer(self, advert: fsm.AdvertIn | None) -> None:
        # vrrp_startup_delay holds every takeover (ReceiveTable.accept does the same in the fast path)
        begin = max(self._timer_origin(self.ctx.now(), advert), self.ctx.delayed_start())
        self._down_skew_only = self._owner_waiting
        interval = self.skew_time() if self._owner_waiting else self.master_down_interval()
        self._schedule_at(T_PROTOCOL, begin + interval, begin)

    def _a_start_skew_timer(self, advert: fsm.AdvertIn | None) -> None:
        begin = self._timer_origin(self.ctx.now(), advert)
        self._down_skew_only = True
        self._schedule_at(T_PROTOCOL, begin + self.skew_time(), begin)

    def _a_adjust_down_timer(self, advert: fsm.AdvertIn | None) -> None:
        # keepalived vrrp_set_effective_priority: move the running timer by the Skew_Time change
        started = self.fast.down_started
        if math.isnan(started) or not self.fast.armed:
            return
        interval = self.skew_time() if self._down_skew_only else self.master_down_interval()
        self.fast.schedule(started + interval, started)

    def _a_cancel_protocol_timer(self, advert: fsm.AdvertIn | None) -> None:
        self._cancel(T_PROTOCOL)

    def _a_accept_master(self, advert: fsm.AdvertIn | None) -> None:
        # only the advert events carry this action (fsm.TRANSITIONS), so advert is never None
        self.master_address = advert.src
        self.master_priority = advert.priority
        self.want_master = False
        self.master_adver_int = timers.learned_master_interval(self.master_adver_int, advert.adver_int,
                                                               self.settings.version)

    def _a_reset_master_interval(self, advert: fsm.AdvertIn | None) -> None:
        self.master_adver_int = self.settings.adver_int

    def _a_start_preempt_delay(self, advert: fsm.AdvertIn | None) -> None:
        delay = self.settings.preempt_delay
        if delay > 0 and self._preempt is _Preempt.IDLE:
            log.info("(%s) start preempt delay (%g s)", self.name, delay)
            self._preempt = _Preempt.RUNNING
            self._schedule_at(T_PREEMPT, self._timer_origin(self.ctx.now(), advert) + delay)

    def _a_cancel_preempt_delay(self, advert: fsm.AdvertIn | None) -> None:
        if self._preempt is _Preempt.RUNNING:
            log.debug("(%s) stop preempt delay", self.name)
        self._preempt = _Preempt.IDLE
        self._cancel(T_PREEMPT)

    def _a_end_preempt_delay(self, advert: fsm.AdvertIn | None) -> None:
        log.info("(%s) preempt delay expired", self.name)
        self._preempt = _Preempt.EXPIRED

    def _a_wait_for_sync_group(self, advert: fsm.AdvertIn | None) -> None:
        self.want_master = True
        log.info("(%s) master down but sync group %s not ready, staying BACKUP", self.name, self.sync.name)

    _ACTIONS = {
        Action.SEND_ADVERT: _a_send_advert,
        Action.SEND_PRIORITY_ZERO: _a_send_zero,
        Action.ANSWER_LOWER_PRIORITY: _a_answer_lower,
        Action.YIELD_ADVERT: _a_yield_advert,
        Action.ADD_VIPS: _a_add_vips,
        Action.REMOVE_VIPS: _a_remove_vips,
        Action.START_GARP: _a_start_garp,
        Action.STOP_GARP: _a_stop_garp,
        Action.START_ADVER_TIMER: _a_start_adver_timer,
        Action.START_MASTER_DOWN_TIMER: _start_down_timer,
        Action.START_SKEW_TIMER: _a_start_skew_timer,
        Action.ADJUST_MASTER_DOWN_TIMER: _a_adjust_down_timer,
        Action.CANCEL_PROTOCOL_TIMER: _a_cancel_protocol_timer,
        Action.ACCEPT_MASTER: _a_accept_master,
        Action.RESET_MASTER_INTERVAL: _a_reset_master_interval,
        Action.START_PREEMPT_DELAY: _a_start_preempt_delay,
        Action.CANCEL_PREEMPT_DELAY: _a_cancel_preempt_delay,
        Action.END_PREEMPT_DELAY: _a_end_preempt_delay,
        Action.WAIT_FOR_SYNC_GROUP: _a_wait_for_sync_group,
    }


assert set(VrrpInstanceRuntime._ACTIONS) == set(Action), "every fsm.Action needs a handler"
