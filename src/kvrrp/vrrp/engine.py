"""VrrpEngine: every VRRP instance of a config, one timer wheel, one socket per (interface, family).

The engine owns the instances, routes each Received to its instance by (ifname, family, VRID),
runs the receive checks, and executes the instances' actions through the io.ports seams
(TransportFactory/Transport, AddressManager, Announcer, Clock). All timers of all instances
live in ONE kvrrp.fastpath.TimerWheel; a single asyncio TimerHandle is armed for its earliest
deadline (or, with drive_timers=False, the caller calls run_due() itself - tests do this with
a fake clock). apply_config() implements SIGHUP: unchanged instances keep running untouched.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from kvrrp import fastpath
from kvrrp.io.clock import MonotonicClock
from kvrrp.io.ports import AddressManager, Announcer, Clock, Received, Transport, TransportFactory
from kvrrp.vrrp.effects import AddAddress, Announce, InstanceEvent, RemoveAddress, SendAdvert, Transitioned
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.garp import GarpPacer
from kvrrp.vrrp.instance import TIMER_SLOTS, TrackerStatus, VrrpInstanceRuntime
from kvrrp.vrrp.receive import peek_vrid, validate
from kvrrp.vrrp.reload_plan import IN_PLACE, KEPT, RESTART, classify
from kvrrp.vrrp.settings import EngineSettings, InstanceSettings, engine_settings
from kvrrp.vrrp.sync import SyncGroup

log = logging.getLogger("kvrrp.vrrp")

TransitionListener = Callable[[str, State, State, str, int], None]
EventListener = Callable[[str, str, State, int], None]
DropListener = Callable[[str, str, str], None]
PrestartHook = Callable[[tuple[str, ...]], None]
SourceResolver = Callable[[str, int], "str | None"]
_MAX_TIMER_ROUNDS = 64      # bound on re-running timers that handlers schedule at "now"
SOURCE_CHECK_INTERVAL = 1.0  # seconds between looks at the source addresses prebuilt adverts carry


@dataclass(frozen=True, slots=True)
class ReloadResult:
    kept: tuple[str, ...]
    restarted: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    updated: tuple[str, ...] = ()       # changed, applied in place (vrrp.reload_plan)


def _routes_for(instances: Iterable[InstanceSettings]) -> dict[tuple[str, int, int], str]:
    routes: dict[tuple[str, int, int], str] = {}
    names: set[str] = set()
    for s in instances:
        if s.name in names:
            raise ValueError(f"vrrp_instance {s.name} defined twice")
        names.add(s.name)
        key = (s.vrrp_ifname, s.family, s.vrid)
        if key in routes:
            raise ValueError(f"({s.name}) VRID {s.vrid} on {s.ifname} IPv{s.family} already used by "
                             f"({routes[key]})")
        routes[key] = s.name
    return routes


def validate_settings(settings: EngineSettings) -> None:
    """Raise ValueError for what keepalived's VRRP process refuses to start with: an instance
    name used twice, or two instances with one VRID on the same interface and family."""
    _routes_for(settings.instances)


class VrrpEngine:
    """All VRRP instances of one configuration.

    config: a kvrrp.config.model.Config or an EngineSettings.
    transports / addresses / announcer: the io.ports adapters (fakes in tests).
    clock: io.ports.Clock (default time.monotonic).
    source_address(ifname, family) -> str | None: our primary address on an interface (IPv6:
        the link-local one); used as the VRRPv3 checksum source, for own-packet detection and
        the equal-priority tie-break when unicast_src_ip is not configured.
    drive_timers: arm an asyncio TimerHandle (start() must then run inside a loop, or pass
        loop=); False means the caller calls run_due() whenever next_deadline() is reached.
    raise_errors: re-raise errors from adapters/listeners/instances instead of logging them
        (tests use it so a bug cannot hide behind a log line).
    """

    def __init__(self, config, *, transports: TransportFactory, addresses: AddressManager,
                 announcer: Announcer, clock: Clock | None = None,
                 source_address: SourceResolver | None = None, drive_timers: bool = True,
                 loop: asyncio.AbstractEventLoop | None = None, timer_resolution: float = 0.0001,
                 raise_errors: bool = False) -> None:
        self._transport_factory = transports
        self._address_manager = addresses
        self._announcer = announcer
        self._clock = clock or MonotonicClock()
        self._resolve_source = source_address
        self._drive = drive_timers
        self._raise_errors = raise_errors
        self._loop = loop
        self._wheel = fastpath.TimerWheel(resolution=timer_resolution, start=self._clock.monotonic())
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self._listeners: list[TransitionListener] = []
        self._event_listeners: list[EventListener] = []
        self._drop_listeners: list[DropListener] = []
        self._transports: dict[tuple[str, int], Transport] = {}
        self._ttl_capable: dict[tuple[str, int], bool] = {}
        self._vmac_bases: set[tuple[str, int, int]] = set()
        self._prestart_hooks: list[PrestartHook] = []
        self._instances: dict[str, VrrpInstanceRuntime] = {}
        self._by_uid: dict[int, VrrpInstanceRuntime] = {}
        self._routes: dict[tuple[str, int, int], VrrpInstanceRuntime] = {}
        # per (interface, family): the instances' fast-path slots by VRID; the raw sockets run
        # steady-state adverts through them without calling back into Python
        self._rx_tables: dict[tuple[str, int], fastpath.ReceiveTable] = {}
        # per (interface, family): the socket's fastpath.SocketSender, when the transport has one;
        # MASTERs on it send their prebuilt adverts from fastpath.fire_adverts (run_due)
        self._senders: dict[tuple[str, int], object] = {}
        self._slots: list = []                   # InstanceSlot by uid, for fire_adverts
        self._sources: dict[tuple[str, int], str | None] = {}    # source addresses seen, by interface
        self._sources_checked = float("-inf")
        self._groups: dict[str, SyncGroup] = {}
        self._next_uid = 0
        self.started = False
        self._delayed_start = 0.0
        self.drops: dict[str, int] = {}     # drops before an instance was identified
        self.tracking: Any = None            # kvrrp.track's supervisor once attached (SNMP reads it)
        self.settings = engine_settings(config)
        # GARP/NA spacing per interface and per garp_group, shared by every instance
        self.garp_pacer = GarpPacer(self.settings.garp_groups, self.settings.vmac_bases)
        _routes_for(self.settings.instances)
        for s in self.settings.instances:
            self._new_instance(s)
        self._rebuild_indexes()

    # ================================================================== public API
    @property
    def instances(self) -> Mapping[str, VrrpInstanceRuntime]:
        return self._instances

    @property
    def sync_groups(self) -> Mapping[str, SyncGroup]:
        return self._groups

    def instance(self, name: str) -> VrrpInstanceRuntime:
        try:
            return self._instances[name]
        except KeyError:
            raise KeyError(f"no vrrp_instance named {name!r}") from None

    def add_transition_listener(self, callback: TransitionListener) -> None:
        """callback(instance_name, old_state, new_state, reason, effective_priority), called
        after the transition's actions ran (VIPs are present when it reports MASTER)."""
        self._listeners.append(callback)

    def remove_transition_listener(self, callback: TransitionListener) -> None:
        self._listeners.remove(callback)

    def add_event_listener(self, callback: EventListener) -> None:
        """callback(instance_name, event, state, effective_priority) for events that are not
        transitions: "MASTER_RX_LOWER_PRI" (a master answered a lower priority advert -
        keepalived's notify_master_rx_lower_pri) and "PRIORITY" (effective priority changed)."""
        self._event_listeners.append(callback)

    def remove_event_listener(self, callback: EventListener) -> None:
        self._event_listeners.remove(callback)

    def add_drop_listener(self, callback: DropListener) -> None:
        """callback(instance_name, reason, source) for every advert an instance refused
        (kvrrp.vrrp.receive's reason names): keepalived sends its SNMP auth-failure and
        protocol-error traps per packet from the same place."""
        self._drop_listeners.append(callback)

    def remove_drop_listener(self, callback: DropListener) -> None:
        self._drop_listeners.remove(callback)

    def add_prestart_hook(self, callback: PrestartHook) -> None:
        """callback(instance_names) right before those instances start - at start() and for
        the instances apply_config() restarts or adds - while engine.set_tracker() on them
        only records (nothing is dispatched), so trackers can put their current state in place
        and an instance whose tracker is down starts straight in FAULT (no BACKUP first)."""
        self._prestart_hooks.append(callback)

    def remove_prestart_hook(self, callback: PrestartHook) -> None:
        self._prestart_hooks.remove(callback)

    def start(self) -> None:
        if self.started:
            return
        if self._drive and self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError("VrrpEngine.start() drives its timers with asyncio: call it inside a "
                                   "running event loop, pass loop=, or use drive_timers=False") from None
        self.started = True
        self._delayed_start = self._clock.monotonic() + self.settings.startup_delay
        if self.settings.startup_delay:
            log.info("Delaying VRRP startup for %g seconds", self.settings.startup_delay)
        self._sync_transports()
        self._prepare_host_actions(self._instances.values())
        self._run_prestart(tuple(self._instances))
        self._start_instances(list(self._instances.values()))
        self._arm()

    def stop(self) -> None:
        """Masters send priority 0 and release their VIPs; every instance enters STOP."""
        if not self.started:
            return
        for group in self._groups.values():
            group.syncing = True        # a stopping group must not drag members around
        for inst in list(self._instances.values()):
            self._guard(inst.shutdown)
        for transport in self._transports.values():
            self._guard(transport.close)
        self._transports.clear()
        self._senders.clear()
        self._ttl_capable.clear()
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._armed_at = None
        self.started = False

    def apply_config(self, config, initial_trackers: Mapping[str, Mapping[object, "int | TrackerStatus"]]
                     | None = None) -> ReloadResult:
        """SIGHUP: keep unchanged instances as they are (state, timers, counters), restart
        changed ones, stop (DELETED) removed ones, start new ones. A config that cannot be
        applied raises ValueError before anything changes.

        initial_trackers: {instance name: {tracker key: status}} set on restarted and added
        instances before they start (the prestart hooks run after it); entries for other
        instances are applied as ordinary set_tracker() calls once the reload is done."""
        new = engine_settings(config)
        _routes_for(new.instances)
        wanted = {s.name: s for s in new.instances}
        kept, updated, restarted, added = [], [], [], []
        removed = [n for n in self._instances if n not in wanted]
        for name, s in wanted.items():
            cur = self._instances.get(name)
            if cur is None:
                added.append(name)
            else:
                {KEPT: kept, IN_PLACE: updated, RESTART: restarted}[classify(cur.settings, s)].append(name)
        # build the new runtimes first: a settings error must leave the running engine intact
        fresh = {name: self._new_instance(wanted[name], register=False) for name in restarted + added}
        self.garp_pacer.configure(new.garp_groups, new.vmac_bases)
        for group in self._groups.values():
            group.syncing = True
        for name in removed:
            self._retire(self._instances.pop(name), delete=True)
        for name in restarted:
            old = self._instances.pop(name)
            self._retire(old, delete=False)
            # trackers report changes only: a restarted instance keeps what they said
            fresh[name].inherit_trackers(old)
        ordered = {s.name: self._instances.get(s.name) or fresh[s.name] for s in new.instances}
        self._instances = ordered
        for inst in ordered.values():
            self._by_uid[inst.uid] = inst
        self.settings = new
        self._rebuild_indexes()
        for name in updated:
            self._guard(self._instances[name].update_settings, wanted[name])
        for group in self._groups.values():
            group.recompute_state()
        starting = tuple(restarted + added)
        for name in starting:
            for key, status in (initial_trackers or {}).get(name, {}).items():
                self._instances[name].set_tracker(key, status)
        if self.started:
            self._sync_transports()
            self._prepare_host_actions([self._instances[n] for n in starting])
            self._run_prestart(starting)
            self._start_instances([self._instances[n] for n in starting])
            self._arm()
        for name, statuses in (initial_trackers or {}).items():
            if name in self._instances and name not in starting:
                for key, status in statuses.items():
                    self.set_tracker(name, key, status)
        log.info("reload: %d kept, %d updated in place, %d restarted, %d added, %d removed",
                 len(kept), len(updated), len(restarted), len(added), len(removed))
        return ReloadResult(tuple(kept), tuple(restarted), tuple(added), tuple(removed), tuple(updated))

    def set_tracker(self, instance_name: str, key: object, status: int | TrackerStatus) -> None:
        """A tracker's state for one instance: an int weight delta (keepalived: the weight when
        the script succeeds / fails as configured, already signed), or FAULT / OK."""
        self.instance(instance_name).set_tracker(key, status)
        self._arm()

    # operator actions (kvrrpctl); the rules are in kvrrp.vrrp.operate
    def set_maintenance(self, instance_name: str, on: bool) -> bool:
        from kvrrp.vrrp import operate

        changed = operate.set_maintenance(self.instance(instance_name), on)
        self._arm()
        return changed

    def hand_over(self, instance_name: str) -> None:
        from kvrrp.vrrp import operate

        operate.hand_over(self.instance(instance_name))
        self._arm()

    def end_hand_over(self, instance_name: str) -> bool:
        from kvrrp.vrrp import operate

        ended = operate.end_hand_over(self.instance(instance_name))
        self._arm()
        return ended

    # SNMP writes (kvrrp.snmp.vrrp_set), as keepalived's vrrp_snmp.c write handlers
    def set_base_priority(self, instance_name: str, priority: int) -> int:
        """An instance's base priority (1..255) until the next reload; returns the previous one."""
        old = self.instance(instance_name).set_base_priority(priority)
        self._arm()
        return old

    def set_preempt(self, instance_name: str, on: bool) -> bool:
        """An instance's preempt (keepalived: nopreempt cleared / set) until the next reload;
        returns the previous value."""
        old = self.instance(instance_name).set_preempt(on)
        self._arm()
        return old

    def send_garp(self, instance_name: str) -> bool:
        """One gratuitous ARP / unsolicited NA for each of a MASTER's addresses (VIPs and
        excluded VIPs); nothing in another state, as keepalived sends only while its VIPs are
        set. True when sent (DBus SendGarp)."""
        inst = self.instance(instance_name)
        if inst.state is not State.MASTER:
            return False
        self.apply(inst, inst.garp.announce_once())
        self._arm()
        return True

    def on_receive(self, rx: Received) -> None:
        """Transport callback: validate one advert and hand it to its instance. Never raises."""
        try:
            table = self._rx_tables.get((rx.ifname, rx.family))
            if table is not None and table.accept(rx.src, rx.dst, rx.ttl, rx.payload, rx.rx_time,
                                                  self._clock.monotonic()):
                return      # the steady state: the fast path restarted Master_Down_Timer
            self._receive(rx)
        except Exception:      # a bug must not kill the socket reader
            if self._raise_errors:
                raise
            log.exception("error handling VRRP packet from %s on %s", rx.src, rx.ifname)
            self._count_drop("internal_error")
        self._arm()

    def run_due(self) -> int:
        """Fire every timer due at the clock's current time; returns how many fired."""
        fired = 0
        for _ in range(_MAX_TIMER_ROUNDS):
            now = self._clock.monotonic()
            keys = self._wheel.advance(now)
            if not keys:
                break
            if self._senders and now - self._sources_checked >= SOURCE_CHECK_INTERVAL:
                self._check_sources(now)
            i, n = 0, len(keys)
            while i < n:
                # steady-state adverts of MASTERs: sent and re-armed in the fast path, in order
                done = fastpath.fire_adverts(keys, i, now, self._slots, TIMER_SLOTS)
                fired += done - i
                if done == n:
                    break
                key = keys[done]
                inst = self._by_uid.get(key // TIMER_SLOTS)
                if inst is not None:
                    fired += 1
                    self._guard(inst.on_timer, key % TIMER_SLOTS)
                i = done + 1
        self._arm()
        return fired

    def _check_sources(self, now: float) -> None:
        """Prebuilt adverts carry our source address: when an interface's changes (looked up at
        most every SOURCE_CHECK_INTERVAL, as the transport caches it), rebuild its instances'."""
        self._sources_checked = now
        if self._resolve_source is None:
            return
        for inst in self._instances.values():
            if not inst.fast.fast_tx or inst.settings.unicast_src_ip:
                continue
            key = (inst.settings.ifname, inst.settings.family)
            if key not in self._sources:
                self._sources[key] = self._resolve_source(*key)
        changed = set()
        for key in list(self._sources):
            found = self._resolve_source(*key)
            if found != self._sources[key]:
                self._sources[key] = found
                changed.add(key)
        for inst in self._instances.values():
            if (inst.settings.ifname, inst.settings.family) in changed:
                self._guard(inst.source_changed)

    def next_deadline(self) -> float | None:
        return self._wheel.next_deadline()

    # ================================================================== InstanceContext
    @property
    def wheel(self) -> fastpath.TimerWheel:
        return self._wheel

    def now(self) -> float:
        return self._clock.monotonic()

    def fast_sender(self, inst: VrrpInstanceRuntime) -> object | None:
        return self._senders.get((inst.settings.vrrp_ifname, inst.settings.family))

    def schedule(self, key: int, deadline: float) -> None:
        self._wheel.schedule(key, deadline)

    def cancel(self, key: int) -> None:
        self._wheel.cancel(key)

    def _send(self, inst: VrrpInstanceRuntime, payload: bytes, dst: str, src: str | None) -> None:
        s = inst.settings
        key = (s.vrrp_ifname, s.family)
        transport = self._transports.get(key)
        if transport is None:
            inst.stats.send_errors += 1
            return
        try:
            if s.unicast_ttl is not None and self._transport_takes_ttl(key, transport, inst):
                transport.send(payload, dst, src, ttl=s.unicast_ttl)
            else:
                transport.send(payload, dst, src)
        except OSError as exc:
            inst.stats.send_errors += 1
            log.warning("(%s) Cant send advert to %s (%s)", inst.name, dst, exc)
        except Exception:     # an adapter bug must not stop the instance's timers
            if self._raise_errors:
                raise
            inst.stats.send_errors += 1
            log.exception("(%s) transport failed sending to %s", inst.name, dst)

    def apply(self, inst: VrrpInstanceRuntime, effects) -> None:
        """Carry out an instance's effects, in order (kvrrp.vrrp.effects)."""
        for effect in effects:
            kind = type(effect)
            if kind is SendAdvert:
                self._send(inst, effect.payload, effect.dst, effect.src)
            elif kind is AddAddress:
                self._guard(self._address_manager.add, effect.spec)
            elif kind is RemoveAddress:
                self._guard(self._address_manager.remove, effect.spec)
            elif kind is Announce:
                announce = (self._announcer.gratuitous_arp if effect.family == 4
                            else self._announcer.unsolicited_na)
                self._guard(announce, effect.ifname, effect.address)
            elif kind is Transitioned:
                self._transitioned(inst, effect.old, effect.new, effect.reason)
            elif kind is InstanceEvent:
                self._instance_event(inst, effect.name)
            else:
                raise TypeError(f"unknown effect {effect!r}")

    def source_address(self, inst: VrrpInstanceRuntime) -> str | None:
        if self._resolve_source is None:
            return None
        return self._resolve_source(inst.settings.ifname, inst.settings.family)

    def delayed_start(self) -> float:
        return self._delayed_start

    def _transitioned(self, inst: VrrpInstanceRuntime, old: State, new: State, reason: str) -> None:
        for callback in list(self._listeners):
            try:
                callback(inst.name, old, new, reason, inst.effective_priority)
            except Exception:
                if self._raise_errors:
                    raise
                log.exception("transition listener failed for (%s)", inst.name)
        if inst.sync is not None:
            inst.sync.follow(inst, new)

    def _instance_event(self, inst: VrrpInstanceRuntime, event: str) -> None:
        for callback in list(self._event_listeners):
            try:
                callback(inst.name, event, inst.state, inst.effective_priority)
            except Exception:
                if self._raise_errors:
                    raise
                log.exception("event listener failed for (%s)", inst.name)

    def sync_allows_master(self, inst: VrrpInstanceRuntime) -> bool:
        return inst.sync is None or inst.sync.allows_master(inst)

    def sync_allows_recover(self, inst: VrrpInstanceRuntime) -> bool:
        return inst.sync is None or inst.sync.allows_recover(inst)

    # ================================================================== internals
    def _transport_takes_ttl(self, key: tuple[str, int], transport: Transport, inst: VrrpInstanceRuntime) -> bool:
        """Whether this transport's send() has the optional ttl argument (io.ports.Transport);
        an adapter without it sends with TTL 255 and we say so once."""
        capable = self._ttl_capable.get(key)
        if capable is None:
            try:
                params = inspect.signature(transport.send).parameters
                capable = "ttl" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
            except (TypeError, ValueError):
                capable = False
            self._ttl_capable[key] = capable
            if not capable:
                log.warning("(%s) unicast_ttl %d not applied: the transport on %s cannot set a TTL, "
                            "adverts keep TTL 255", inst.name, inst.settings.unicast_ttl, key[0])
        return capable

    def _prepare_host_actions(self, instances: Iterable[VrrpInstanceRuntime]) -> None:
        """Let adapters that can (the optional prepare() of the netlink address manager and
        the packet announcer) build their netlink messages and GARP / NA frames now, so a
        takeover only sends them."""
        specs = [spec for inst in instances for spec in inst.settings.vips + inst.settings.excluded_vips]
        prepare_addresses = getattr(self._address_manager, "prepare", None)
        if prepare_addresses is not None:
            self._guard(prepare_addresses, specs)
        prepare_frames = getattr(self._announcer, "prepare", None)
        if prepare_frames is not None:
            for spec in specs:
                self._guard(prepare_frames, spec.ifname, spec.address, spec.family)

    def _run_prestart(self, names: tuple[str, ...]) -> None:
        if not names:
            return
        for callback in list(self._prestart_hooks):
            try:
                callback(names)
            except Exception:
                if self._raise_errors:
                    raise
                log.exception("prestart hook failed")

    def _new_instance(self, s: InstanceSettings, register: bool = True) -> VrrpInstanceRuntime:
        inst = VrrpInstanceRuntime(s, self._next_uid, self)
        self._next_uid += 1
        if register:
            self._instances[s.name] = inst
            self._by_uid[inst.uid] = inst
        return inst

    def _retire(self, inst: VrrpInstanceRuntime, delete: bool) -> None:
        self._guard(inst.shutdown, delete)
        self._by_uid.pop(inst.uid, None)

    def _rebuild_indexes(self) -> None:
        self._routes = {(i.settings.vrrp_ifname, i.settings.family, i.settings.vrid): i
                        for i in self._instances.values()}
        # a VMAC instance's VRID on its base interface: copies of adverts the VMAC also got
        self._vmac_bases = {(i.settings.ifname, i.settings.family, i.settings.vrid) for i in self._instances.values()
                            if i.settings.vrrp_ifname != i.settings.ifname}
        for table in self._rx_tables.values():
            table.clear()
        for (ifname, family, vrid), inst in self._routes.items():
            self._rx_table(ifname, family).set(vrid, inst.fast)
        self._slots = [None] * self._next_uid
        for inst in self._instances.values():
            self._slots[inst.uid] = inst.fast
        for inst in self._instances.values():
            inst.sync = None
        self._groups = {}
        for g in self.settings.sync_groups:
            members = [self._instances[m] for m in g.members if m in self._instances]
            self._groups[g.name] = SyncGroup(g.name, members)

    def _start_instances(self, instances: list[VrrpInstanceRuntime]) -> None:
        """Start instances with sync following off, then settle each group they belong to."""
        groups = {id(i.sync): i.sync for i in instances if i.sync is not None}
        for group in groups.values():
            group.syncing = True
        try:
            for inst in instances:
                group_fault = inst.sync is not None and inst.sync.any_own_fault()
                self._guard(inst.start, group_fault)
        finally:
            for group in groups.values():
                group.syncing = False
        for group in groups.values():
            self._guard(group.reconcile)

    def _sync_transports(self) -> None:
        wanted: dict[tuple[str, int], str | None] = {}
        for inst in self._instances.values():
            s = inst.settings
            group = None if s.is_unicast else s.group
            keys = [(s.vrrp_ifname, s.family)]
            if s.vrrp_ifname != s.ifname:
                # the base interface's socket too: its address is the advert source, and
                # the copies of peers' adverts it hears are counted (vmac_base_copy)
                keys.append((s.ifname, s.family))
            for key in keys:
                if key not in wanted or (wanted[key] is None and group is not None):
                    wanted[key] = group
                elif group is not None and wanted[key] != group:
                    log.warning("(%s) multicast group %s differs from %s already used on %s; "
                                "one socket per interface listens to the first", s.name, group, wanted[key], key[0])
        for key in [k for k in self._transports if k not in wanted]:
            self._guard(self._transports.pop(key).close)
            self._ttl_capable.pop(key, None)
            self._senders.pop(key, None)
        for key, group in wanted.items():
            if key not in self._transports:
                ifname, family = key
                try:
                    self._transports[key] = self._transport_factory.open(ifname, family, self.on_receive, group)
                except Exception as exc:
                    log.error("cannot open VRRP socket on %s IPv%d: %s", ifname, family, exc)
                    continue
                # a transport that reads the kernel itself (io.transport) runs the steady state
                # through the table, in C, on time.monotonic(): only with our clock on that scale
                transport = self._transports[key]
                attach = getattr(transport, "attach_receive_table", None)
                if attach is not None and isinstance(self._clock, MonotonicClock):
                    attach(self._rx_table(ifname, family))
                    sender = transport.fast_sender()
                    if sender is not None:
                        self._senders[key] = sender
        self._size_receive_buffers()

    def _size_receive_buffers(self) -> None:
        """Each socket's receive buffer from the shares of the instances it receives for
        (kernel_rx_buf_size / vrrp_rx_bufs_policy, as keepalived sums them per socket)."""
        shares: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for inst in self._instances.values():
            s = inst.settings
            if s.rx_buf_share[0]:
                shares.setdefault((s.vrrp_ifname, s.family), []).append(s.rx_buf_share)
        for key, transport in self._transports.items():
            set_shares = getattr(transport, "set_rx_shares", None)
            if set_shares is not None:
                self._guard(set_shares, shares.get(key, ()))

    def _rx_table(self, ifname: str, family: int) -> fastpath.ReceiveTable:
        table = self._rx_tables.get((ifname, family))
        if table is None:
            table = self._rx_tables[(ifname, family)] = fastpath.ReceiveTable(family)
        return table

    def _receive(self, rx: Received) -> None:
        """Route a packet the fast path left to receive.validate and carry out its verdict."""
        vrid = peek_vrid(rx.payload)
        key = (rx.ifname, rx.family, vrid)
        inst = self._routes.get(key) if vrid is not None else None
        verdict = validate(rx, inst, key in self._vmac_bases)
        if verdict.old_checksum:
            inst.switch_to_old_unicast_checksum(rx.src)
        if verdict.reason is None:
            inst.on_advert(rx, verdict.advert)
        elif inst is not None:
            inst.dropped(verdict.reason, rx.src)
            for callback in self._drop_listeners:
                self._guard(callback, inst.name, verdict.reason, rx.src)
        else:
            self._count_drop(verdict.reason)
            if verdict.reason == "unknown_vrid" and self.settings.log_unknown_vrids:
                log.info("(%s): Unknown VRID %d received from %s", rx.ifname, vrid, rx.src)

    def _count_drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            if self._raise_errors:
                raise
            log.exception("error in %s", getattr(fn, "__qualname__", fn))

    def _arm(self) -> None:
        if not self._drive or self._loop is None or not self.started:
            return
        deadline = self._wheel.next_deadline()
        if deadline == self._armed_at and self._handle is not None:
            return
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed_at = deadline
        if deadline is None:
            return
        delay = max(0.0, deadline - self._clock.monotonic())
        self._handle = self._loop.call_later(delay, self._wake)

    def _wake(self) -> None:
        self._handle = None
        self._armed_at = None
        self.run_due()
