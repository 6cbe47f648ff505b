"""The VRRP process's SNMP subagent: which MIBs it registers, its view, its traps.

As keepalived's VRRP process: KEEPALIVED-MIB's vrrp branch with enable_snmp_vrrp (and its
global branch too, unless the checker process serves it), VRRP-MIB with enable_snmp_rfcv2 (or
enable_snmp_rfc), VRRPv3-MIB with enable_snmp_rfcv3 (or enable_snmp_rfc); -x turns all of them
on, -A names the master's socket over snmp_socket. With enable_traps each state transition
sends vrrpInstanceStateChange (and vrrpSyncGroupStateChange when the group's state changes),
a new master vrrpTrapNewMaster / vrrpv3NewMaster; every bad advert sends vrrpTrapAuthFailure
(v2 authentication) or vrrpv3ProtoError (TTL, version, checksum) as keepalived does, from the
engine's drop listener; the subagent's bounded queue is what stands between a flood of bad
adverts and the master agent. Sets of the writable instance columns go to kvrrp.snmp.vrrp_set.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from kvrrp.snmp import agentx, settx, vrrp_mib, vrrp_set
from kvrrp.snmp import vrrp_route_mib as rm
from kvrrp.snmp import vrrp_tracking_mib as tm
from kvrrp.snmp.agentx import VarBind
from kvrrp.snmp.mibview import MibView, SubtreeViews
from kvrrp.snmp.subagent import Subagent
from kvrrp.snmp.vrrp_mib import Host

log = logging.getLogger("kvrrp.snmp")

VIEW_TTL = 1.0      # a walk is hundreds of GetNexts: one build of a table serves them all (a
                    # transition rebuilds at once; counters and learned masters lag by <= 1 s)
SLICE = 100         # instances tabulated between two turns of the event loop
PROTO_ERRORS = ("ip_ttl", "version", "checksum")     # what keepalived reports (RFC 6527 reasons 1-3)


@dataclass(frozen=True)
class SnmpSettings:
    vrrp: bool
    checker: bool
    rfcv2: bool
    rfcv3: bool
    traps: bool
    socket: str | None

    @property
    def vrrp_process_wanted(self) -> bool:
        return self.vrrp or self.rfcv2 or self.rfcv3


def snmp_settings(args: Any, config: Any) -> SnmpSettings:
    g = config.global_defs
    every = bool(getattr(args, "snmp", False))
    return SnmpSettings(vrrp=every or g.enable_snmp_vrrp, checker=every or g.enable_snmp_checker,
                        rfcv2=every or g.enable_snmp_rfc or g.enable_snmp_rfcv2,
                        rfcv3=every or g.enable_snmp_rfc or g.enable_snmp_rfcv3, traps=g.enable_traps,
                        socket=getattr(args, "snmp_agent_socket", None) or g.snmp_socket)


class VrrpSnmpAgent:
    def __init__(self, engine: Any, config: Any, settings: SnmpSettings, *, checker_serves_global: bool,
                 version: str, retry: float = 5.0, ping_interval: float = 15.0) -> None:
        self.engine = engine
        self.config = config
        self.settings = settings
        self.version = version
        self.serves_global = settings.vrrp and not (checker_serves_global and settings.checker)
        self.subagent = Subagent(settings.socket, self._subtrees(), self.view, setter=self._check_set,
                                 retry=retry, ping_interval=ping_interval)
        self.host = Host(ifindex=_IfIndexCache().get, ticks=self._ticks)
        self._plan_of: tuple[Any, Any] | None = None
        self._tables = self._views()
        self._member_states: dict[str, str] = {}
        self._group_states: dict[str, str] = {}
        self._master_reason: dict[str, int] = {}
        self._group_reason: dict[str, int] = {}
        self._proto_error: dict[str, int] = {}
        self.traps_sent: dict[str, int] = {}

    def _subtrees(self) -> list[tuple[tuple[int, ...], str]]:
        out = []
        if self.serves_global:
            out.append((vrrp_mib.GLOBAL, "Keepalived"))
        if self.settings.vrrp:
            out.append((vrrp_mib.VRRP, "KEEPALIVED-VRRP"))
        if self.settings.rfcv2:
            out.append((vrrp_mib.RFC2787, "VRRP"))
        if self.settings.rfcv3:
            out.append((vrrp_mib.RFC6527, "VRRPV3"))
        return out

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        log.info("Starting SNMP subagent")
        self.engine.add_transition_listener(self.on_transition)
        if self.settings.rfcv3 or (self.settings.traps and self.settings.rfcv2):
            self.engine.add_drop_listener(self.on_drop)
        self.subagent.start()

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.engine.remove_transition_listener(self.on_transition)
        with contextlib.suppress(ValueError):
            self.engine.remove_drop_listener(self.on_drop)
        await self.subagent.close()

    def reload(self, config: Any) -> None:
        self.config = config
        self._tables.invalidate()
        names = {i.name for i in config.instances}
        for d in (self._member_states, self._master_reason, self._proto_error):
            for name in [n for n in d if n not in names]:
                del d[name]

    def snapshot(self) -> dict:
        return {**self.subagent.snapshot(), "traps": dict(self.traps_sent)}

    # -- the view -----------------------------------------------------------------------------
    def _ticks(self, mono: float | None) -> int:
        if mono is None:
            return 0
        # the engine's clock is time.monotonic (io.clock.MonotonicClock), as the subagent's
        return max(0, int((mono - self.subagent.started) * 100)) & 0xFFFFFFFF

    def _views(self) -> SubtreeViews:
        m = vrrp_mib
        parts: list = []
        if self.serves_global:
            parts.append((m.GLOBAL, lambda: MibView(m.global_rows(self.config, self.host, self.version))))
        if self.settings.vrrp:
            models = lambda: {x.name: x for x in self.config.instances}   # noqa: E731
            parts += [
                (m.VRRP + (1,), lambda: self._groups(1)),       # vrrpSyncGroupTable
                (m.VRRP + (2,), lambda: self._groups(2)),       # vrrpSyncGroupMemberTable
                (m.VRRP + (3,), lambda: self._sliced(
                    [], lambda i, inst, ms: m.one_instance_rows(i, inst, ms.get(inst.name), self.config), models)),
                (m.VRRP + (6,), lambda: self._sliced(
                    m.static_address_rows(self.config, self.host),
                    lambda i, inst, _: m.one_address_rows(i, inst, self.host))),
                (m.VRRP + (7,), lambda: self._routes(7)),      # vrrpRouteTable
                (m.VRRP + (8,), lambda: self._routes(8)),      # vrrpRuleTable
                (m.VRRP + (11,), lambda: self._routes(11)),    # vrrpRouteNextHopTable
            ]
            for table in (4, 5, 12, 17, 20):                   # an instance's tracked objects
                parts.append((m.VRRP + (table,), lambda t=table: self._tracked(t)))
            for table in (14, 15, 16, 19, 22):                 # a sync group's tracked objects
                parts.append((m.VRRP + (table,), lambda t=table: self._only(
                    tm.group_tracked_rows(self.config), t)))
            for table in (9, 13, 18, 21):                      # vrrp_script, track_file, bfd, process
                parts.append((m.VRRP + (table,), lambda t=table: self._only(
                    tm.object_rows(self.config, self._plan(), self._tracker_state()), t)))
        if self.settings.rfcv2:
            parts.append((m.RFC2787, lambda: self._sliced(
                m.rfc2787_scalars(self.engine, self.config),
                lambda _i, inst, _: m.rfc2787_instance_rows(inst, self.host))))
        if self.settings.rfcv3:
            parts.append((m.RFC6527, lambda: self._sliced(
                m.rfc6527_scalars(self.engine), lambda _i, inst, _: m.rfc6527_instance_rows(
                    inst, self.host, self._master_reason.get(inst.name, 0), self._proto_error.get(inst.name, 0)))))
        return SubtreeViews(parts, VIEW_TTL)

    def _plan(self) -> Any:
        """The tracking plan (keepalived's pruning applied) of the configuration served."""
        if self._plan_of is None or self._plan_of[0] is not self.config:
            from kvrrp.track.plan import build_plan

            self._plan_of = (self.config, build_plan(self.config))
        return self._plan_of[1]

    def _tracker_state(self) -> Any:
        """The running trackers' state for the result columns (nothing known, init / 0, when
        the supervisor cannot be read, e.g. half way through a reload)."""
        try:
            return tm.TrackerState.of(getattr(self.engine, "tracking", None))
        except Exception:  # noqa: BLE001 - the tables must answer whatever the trackers do
            log.exception("SNMP: reading the trackers' state failed")
            return tm.TrackerState()

    @staticmethod
    def _only(rows: list, table: int) -> MibView:
        n = len(vrrp_mib.VRRP)
        return MibView(r for r in rows if r[0][n] == table)

    async def _tracked(self, table: int) -> MibView:
        n = len(vrrp_mib.VRRP)
        context = lambda: tm.instance_bindings(self._plan())   # noqa: E731
        return await self._sliced([], lambda i, inst, own: [
            r for r in tm.one_instance_tracked_rows(i, own.get(inst.name, ()), self.config) if r[0][n] == table],
            context)

    async def _routes(self, table: int) -> MibView:
        """vrrpRouteTable / vrrpRuleTable / vrrpRouteNextHopTable: static ones (instance 0),
        then each instance's, set while it is MASTER (kvrrp installs them then)."""
        from kvrrp.config.rtnames import RtNames

        n = len(vrrp_mib.VRRP)
        names = RtNames.from_config(self.config.global_defs)
        ifindex = self.host.ifindex
        rows = [r for r in rm.route_rows(0, self.config.static_routes, True, names, ifindex)
                + rm.rule_rows(0, self.config.static_rules, True, names) if r[0][n] == table]
        models = {x.name: x for x in self.config.instances}

        def one(i: int, inst: Any, _: Any) -> list:
            model = models.get(inst.name)
            if model is None:
                return []
            up = vrrp_mib.state_name(inst.state) == "MASTER"
            found = rm.rule_rows(i, model.virtual_rules, up, names) if table == 8 else \
                rm.route_rows(i, model.virtual_routes, up, names, ifindex)
            return [r for r in found if r[0][n] == table]
        return await self._sliced(rows, one)

    def _groups(self, table: int) -> MibView:
        n = len(vrrp_mib.VRRP)
        return MibView(r for r in vrrp_mib.sync_group_rows(self.engine, self.config) if r[0][n] == table)

    async def _sliced(self, rows: list, per_instance: Any, context: Any = lambda: None) -> MibView:
        """A table's rows, SLICE instances at a time with the loop running between slices
        (thousands of instances take a few hundred ms to tabulate: adverts must not wait)."""
        ctx = context()
        for i, inst in enumerate(list(self.engine.instances.values()), 1):
            rows.extend(per_instance(i, inst, ctx))
            if i % SLICE == 0:
                await asyncio.sleep(0)
        return MibView(rows)

    def view(self) -> SubtreeViews:
        return self._tables

    # -- traps --------------------------------------------------------------------------------
    def _send(self, kind: str, varbinds: list) -> None:
        self.traps_sent[kind] = self.traps_sent.get(kind, 0) + 1
        self.subagent.notify(varbinds)

    def on_transition(self, name: str, old: Any, new: Any, reason: str, priority: int) -> None:
        self._tables.invalidate()
        state = vrrp_mib.state_name(new)
        if state == "MASTER":
            code = vrrp_mib.MASTER_REASON.get(reason, 1)
            group = self._group_of(name)
            if reason == "sync group to MASTER" and group is not None:
                code = self._group_reason.get(group, code)   # pulled along: the member's reason that led
            elif group is not None:
                self._group_reason[group] = code
            self._master_reason[name] = code
        elif vrrp_mib.state_name(old) == "MASTER":
            self._master_reason[name] = 0
        if not self.settings.traps:
            return
        inst = self.engine.instances.get(name)
        model = self.config.instance(name)
        rid = vrrp_mib.router_id(self.config, self.host)
        if self.settings.vrrp and state != "INIT":
            self._send("vrrpInstanceStateChange", vrrp_mib.instance_state_trap(
                name, new, model is not None and model.state == "MASTER", rid))
        if inst is not None and state == "MASTER":
            if self.settings.rfcv2 and vrrp_mib.suitable_rfc2787(inst):
                self._send("vrrpTrapNewMaster", vrrp_mib.new_master_trap(inst, self.host))
            if self.settings.rfcv3 and vrrp_mib.suitable_rfc6527(inst):
                self._send("vrrpv3NewMaster", vrrp_mib.v3_new_master_trap(inst, self.host,
                                                                          self._master_reason[name]))
        if self.settings.vrrp:
            self._member_states[name] = state
            self._group_trap(name, rid)

    def _group_of(self, name: str) -> str | None:
        return next((g.name for g in self.config.sync_groups if name in g.group), None)

    def _group_trap(self, name: str, rid: str) -> None:
        for group in self.config.sync_groups:
            if name not in group.group:
                continue
            state = vrrp_mib.group_state([self._member_states.get(m) for m in group.group])
            if state is not None and self._group_states.get(group.name) != state:
                self._group_states[group.name] = state
                self._send("vrrpSyncGroupStateChange", vrrp_mib.sync_group_state_trap(group.name, state, rid))

    def on_drop(self, name: str, reason: str, src: str) -> None:
        """One advert an instance refused: keepalived's per-packet vrrpTrapAuthFailure (v2
        authentication) / vrrpv3ProtoError (TTL, version, checksum), and the RFC 6527
        vrrpv3StatisticsProtoErrReason column, which it keeps with or without traps."""
        inst = self.engine.instances.get(name)
        if inst is None:
            return
        if reason in vrrp_mib.AUTH_ERROR:
            if self.settings.traps and self.settings.rfcv2 and vrrp_mib.suitable_rfc2787(inst):
                self._send("vrrpTrapAuthFailure", vrrp_mib.auth_failure_trap(inst, self.host, src, reason))
        elif reason in PROTO_ERRORS and self.settings.rfcv3 and vrrp_mib.suitable_rfc6527(inst):
            code = vrrp_mib.PROTO_ERROR[reason]
            if self._proto_error.get(name) != code:
                self._proto_error[name] = code
                self._tables.invalidate()
            if self.settings.traps:
                self._send("vrrpv3ProtoError", vrrp_mib.v3_proto_error_trap(inst, self.host, reason))

    # -- sets ---------------------------------------------------------------------------------
    def _check_set(self, vb: VarBind):
        """TestSet of one varbind (kvrrp.snmp.vrrp_set); a committed change shows in the very
        next Get (the tables are rebuilt)."""
        result = vrrp_set.check(self.engine, vb) if self.settings.vrrp else agentx.NOT_WRITABLE
        return settx.refreshing(result, self._tables.invalidate)


class _IfIndexCache:
    """ifindex by name, looked up once per name (a VMAC or a renamed link re-reads on a miss)."""

    def __init__(self) -> None:
        self._known: dict[str, int] = {}

    def get(self, name: str) -> int:
        idx = self._known.get(name)
        if idx is None:
            idx = vrrp_mib.if_nametoindex(name)
            if idx:
                self._known[name] = idx
        return idx
