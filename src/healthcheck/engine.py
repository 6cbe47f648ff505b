"""The checker engine: runs every real server's checkers, folds results through the pure
reducer, and keeps the kernel's IPVS table equal to the desired one.

In-process API (what daemon.py and the IPVS VM tests drive):

    engine = CheckerEngine(config, kernel)        # kernel: PyrouteKernel() or FakeKernel()
    await engine.start()                          # lvs_flush if configured, else dump+converge
    await engine.reload(new_config)               # only changed entries are touched
    engine.table                                  # desired Table now; engine.reconciler.mirror = kernel view
    engine.status()                               # JSON-able states, counters
    await engine.wait_reconciled()                # until the kernel matches the desired table
    await engine.stop(keep=False)                 # omega notifies, remove (or keep) own entries
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Awaitable

from kvrrp.config.model import Config, RealServer, ScriptCall, VirtualServer

from healthcheck.checkers import CHECKERS, CheckContext, Target, make_target
from healthcheck.checkers.http import check_url, urls_of
from healthcheck.checkers.tcp import TcpProber
from healthcheck.health import (
    DOWN,
    UP,
    CheckerState,
    CheckResult,
    RsId,
    VsId,
    declared,
    desired_table,
    vs_desired_dests,
    initial_checker_state,
    initial_states,
    initial_quorum,
    iter_real_servers,
    live_weight,
    rs_alive,
    rs_weight,
    step_checker,
    step_quorum,
    step_url_checker,
)
from healthcheck.ipvs import IpvsKernel, Ownership, Reconciler
from healthcheck.scheduler import CheckScheduler
from healthcheck.ipvs_nftables import auto_fwmarks
from healthcheck.table import Table, TableError, dest_of, group_map, services_of, vs_ident

log = logging.getLogger("kvrrp.healthcheck")

Notifier = Callable[[ScriptCall, str], Awaitable[None]]


@dataclass(slots=True)
class Job:
    key: int
    rid: RsId
    index: int
    target: Target
    vid: VsId
    delay_loop: float = 60.0
    suspendable: bool = False           # its VS has ha_suspend
    fast_tcp: bool = False              # runs on the TcpProber path
    url_count: int = 0                  # HTTP_GET / SSL_GET: urls, asked one per attempt
    runs: int = 0
    failures: int = 0
    last_reason: str = ""
    last_ok: bool | None = None         # the last result (not the reduced up/down state)
    started_at: float = 0.0             # loop time the running check started
    last_duration: float = 0.0          # seconds the last check took
    duration_sum: float = 0.0           # of every completed check (with runs: a mean)


@dataclass(slots=True)
class Counters:
    checks: int = 0
    failures: int = 0
    transitions: int = 0
    reconciles: int = 0
    notifies: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def _fmt_rs(rs: RealServer, vs: VirtualServer) -> str:
    port = rs.port or vs.port
    return f"[{rs.ip}]:{vs.protocol.lower()}:{port}"


def _address_forms(text: str) -> set[str]:
    """The ways an operator may write an address: IP:PORT, [IP]:PORT, IP, FWM N, a name."""
    text = text.strip()
    out = {text, text.lower()}
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        out.add(f"{canonical_ip(host)}:{rest.rsplit(':', 1)[-1]}" if rest else canonical_ip(host))
    elif text.count(":") == 1:
        host, port = text.split(":")
        out.add(f"{canonical_ip(host)}:{port}")
    else:
        out.add(canonical_ip(text))
    return out


def canonical_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def _vs_names(vs: VirtualServer) -> set[str]:
    if vs.fwmark is not None:
        return {f"FWM {vs.fwmark}", f"fwm {vs.fwmark}", f"fwm:{vs.fwmark}"}
    if vs.group is not None:
        return {vs.group}
    ip = canonical_ip(vs.ip)
    return {_fmt_vs(vs), f"{ip}:{vs.port}"}


def _rs_names(rs: RealServer, vs: VirtualServer) -> set[str]:
    ip = canonical_ip(rs.ip)
    port = rs.port or vs.port
    out = {_fmt_rs(rs, vs), f"{ip}:{port}"}
    if not rs.port:
        out.add(ip)
    return out


def _fmt_vs(vs: VirtualServer) -> str:
    if vs.fwmark is not None:
        return f"FWM {vs.fwmark}"
    if vs.group is not None:
        return vs.group
    return f"[{vs.ip}]:{vs.protocol.lower()}:{vs.port}"


class CheckerEngine:
    def __init__(
        self,
        config: Config,
        kernel: IpvsKernel,
        *,
        ctx: CheckContext | None = None,
        concurrency: int = 1024,
        notifier: Notifier | None = None,
        rng: Callable[[], float] = random.random,
        bootstrap_delay: float = 0.0,
        local_addresses: set[str] | None = None,
        state_file: str | None = None,
    ) -> None:
        self.config = config
        self.reconciler = Reconciler(kernel, state_file=state_file)
        self.ctx = ctx or CheckContext()
        self.concurrency = concurrency
        self.notifier = notifier or self._run_notify
        self.rng = rng
        self.bootstrap_delay = bootstrap_delay
        self.local_addresses = local_addresses       # None = not known: never suspend
        self.rs_states: dict[RsId, tuple[CheckerState, ...]] = {}
        self.drained: set[RsId] = set()                # kvrrpctl rs drain: weight 0 until enabled
        # SNMP sets of realServerWeight (keepalived's effective_weight): the weight the checkers'
        # changes apply to instead of the configured one
        self.weight_bases: dict[RsId, int] = {}
        self.quorum: dict[VsId, bool] = {}
        self.jobs: dict[int, Job] = {}
        self.counters = Counters()
        self.table = Table()
        self._next_key = 1
        self._sched: CheckScheduler | None = None
        self._tcp: TcpProber | None = None
        self._tasks: dict[int, asyncio.Task] = {}
        self._vs_by_id: dict[VsId, VirtualServer] = {}
        self._rs_by_id: dict[RsId, tuple[RealServer, VirtualServer]] = {}
        self._vs_services: dict[VsId, list] = {}
        self._key_owners: dict = {}     # service key -> [(VsId, Service)] in config order
        self._dirty_vs: set[VsId] = set()
        self._full_pass = True          # until the first full pass succeeded, and after errors
        self._reported: set[tuple[str, str]] = set()
        self._dirty = asyncio.Event()
        self._clean = asyncio.Event()
        self._reconcile_task: asyncio.Task | None = None
        self._notify_tasks: set[asyncio.Task] = set()
        self._stopping = False
        # called with no argument after start, a reload and every quorum change (kvrrp.bgp)
        self.quorum_listeners: list = []
        self._fifos: list = []
        # BFD_CHECK: event-driven (keepalived's check_bfd.c), no job: bfd_instance name -> the
        # (real server, checker index) pairs it drives, and the last state each session reported
        self.bfd_checks: dict[str, list[tuple[RsId, int]]] = {}
        self.bfd_known: dict[str, bool] = {}
        self._state_listeners: list[Callable[[str, VirtualServer, RealServer | None, bool], None]] = []

    # ------------------------------------------------------------------------------------------
    # life cycle

    async def start(self, *, flush: bool | None = None) -> None:
        self._configure_context(self.config)
        self._sched = CheckScheduler(self._start_job, concurrency=self.concurrency)
        self._tcp = TcpProber(self._sched, self._finish)
        self._index(self.config)
        states, quorum = initial_states(self.config)
        self.rs_states.update(states)
        self.quorum.update(quorum)
        self._open_fifos()
        flush = self.config.global_defs.lvs_flush if flush is None else flush
        await self.reconciler.start(flush=flush)
        await self._apply_timeouts()
        await self._reconcile_now()
        for vs in self.config.virtual_servers:
            self._initial_vs_notifies(vs)
            for rid, rs in iter_real_servers(vs):
                if self.config.global_defs.rs_init_notifies:
                    self._rs_notify(vs, rs, rs_alive(self.rs_states[rid]))
        self._reconcile_task = asyncio.get_running_loop().create_task(self._reconcile_loop())
        self._add_jobs(self.config, set(self.rs_states))
        self._replay_bfd()
        self._quorum_changed()

    async def _apply_timeouts(self) -> None:
        t = self.config.global_defs.lvs_timeouts
        if t is None or (t.tcp, t.tcpfin, t.udp) == (None, None, None):
            return
        try:
            await self.reconciler.kernel.set_timeouts(t.tcp, t.tcpfin, t.udp)
            log.info("IPVS timeouts set: tcp %s tcpfin %s udp %s", t.tcp, t.tcpfin, t.udp)
        except Exception as exc:  # noqa: BLE001 - the table still matters more
            log.error("setting IPVS timeouts (lvs_timeouts) failed: %s", exc)

    async def stop(self, *, keep: bool = False) -> None:
        """Stop checking. omega: run quorum_down (and notify_down) scripts. Then remove
        kvrrp's own IPVS entries (lvs_flush_on_stop: flush everything; keep: leave them)."""
        self._stopping = True
        if self._sched is not None:
            self._sched.close()
        if self._tcp is not None:
            self._tcp.close()
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._reconcile_task is not None:
            self._reconcile_task.cancel()
            await asyncio.gather(self._reconcile_task, return_exceptions=True)
        for vs in self.config.virtual_servers:
            if vs.omega:
                for rid, rs in iter_real_servers(vs):
                    if rs_alive(self.rs_states.get(rid, ())) and rs.notify_down:
                        self._spawn_notify(rs.notify_down, f"{_fmt_rs(rs, vs)} shutdown")
                if self.quorum.get(vs_ident(vs)) and vs.quorum_down:
                    self._spawn_notify(vs.quorum_down, f"{_fmt_vs(vs)} shutdown")
        gd = self.config.global_defs
        await self.reconciler.stop(keep=keep, flush=gd.lvs_flush_on_stop)
        for fifo in self._fifos:
            fifo.close()
        self._fifos = []
        if self._notify_tasks:
            await asyncio.wait(list(self._notify_tasks), timeout=5)
        await self.ctx.close()

    async def reload(self, config: Config) -> None:
        """Apply a new config: unchanged checkers keep their state and schedule, changed or new
        ones start fresh, removed ones stop; only the IPVS entries that differ are touched."""
        assert self._sched is not None
        old_jobs = {(j.rid, j.index): j for j in self.jobs.values()}
        old_specs = {rid: rs.checkers for rid, (rs, _) in self._rs_by_id.items()}
        old_states = self.rs_states
        old_timeouts = self.config.global_defs.lvs_timeouts
        self.config = config
        self._configure_context(config)
        self._index(config)
        new_states: dict[RsId, tuple[CheckerState, ...]] = {}
        keep_rids: set[RsId] = set()
        for vs in config.virtual_servers:
            for rid, rs in iter_real_servers(vs):
                prev = old_states.get(rid)
                if prev is not None and old_specs.get(rid) == rs.checkers:
                    new_states[rid] = prev
                    keep_rids.add(rid)
                else:
                    new_states[rid] = tuple(
                        initial_checker_state(c.alpha or rs.alpha, c.retry) for c in rs.checkers)
        for (rid, _), job in old_jobs.items():
            if rid not in keep_rids:
                self._drop_job(job.key)
            else:
                rs_now, vs_now = self._rs_by_id[rid]
                job.target = make_target(rs_now.checkers[job.index], rs_now, vs_now)
                job.vid = rid[0]
                job.suspendable = vs_now.ha_suspend
        self.rs_states = new_states
        self.drained &= set(new_states)     # a drain outlives a reload while its real server does
        # an SNMP-set weight too (keepalived carries effective_weight over to the new real server)
        self.weight_bases = {rid: w for rid, w in self.weight_bases.items() if rid in new_states}
        old_quorum, self.quorum = self.quorum, {}
        for vs in config.virtual_servers:
            vid = vs_ident(vs)
            if vid in old_quorum:
                # quorum, hysteresis or weights may have changed: step from the old state,
                # with keepalived's logs and quorum_up / quorum_down scripts on a change
                self.quorum[vid] = old_quorum[vid]
                self._update_quorum(vs)
            else:
                self.quorum[vid] = initial_quorum(live_weight(vs, new_states, self.weight_bases), vs.quorum,
                                                  vs.hysteresis)
                self._initial_vs_notifies(vs)
        self._add_jobs(config, set(new_states) - keep_rids)
        self._replay_bfd()
        log.info("Reloaded configuration: %d virtual servers, %d checks", len(config.virtual_servers), len(self.jobs))
        self._quorum_changed()
        if config.global_defs.lvs_timeouts != old_timeouts:
            await self._apply_timeouts()
        try:
            await self.reconciler.resync()  # converge from what the kernel really holds now
        except Exception as exc:  # noqa: BLE001 - reconcile from the mirror then
            log.warning("IPVS dump at reload failed: %s", exc)
        await self._reconcile_now()

    # ------------------------------------------------------------------------------------------
    # checks

    def _configure_context(self, config: Config) -> None:
        gd = config.global_defs
        self.ctx.script_security = gd.enable_script_security
        self.ctx.track_files = {t.name: t.file for t in config.track_files if t.file}
        if self.ctx.default_run_as is None:
            try:
                from kvrrp.notify.security import default_run_as

                self.ctx.default_run_as = default_run_as(gd.script_user, gd.script_group)
            except Exception as exc:  # noqa: BLE001 - reported per script when one runs
                log.warning("default script user: %s", exc)
        if config.ssl is not None and self.ctx.http is None:
            from healthcheck.checkers.http import HttpClients

            self.ctx.http = HttpClients(config.ssl)

    def _index(self, config: Config) -> None:
        self.bfd_checks = {}
        for vs in config.virtual_servers:
            for rid, rs in iter_real_servers(vs):
                for i, spec in enumerate(rs.checkers):
                    if spec.kind == "BFD_CHECK" and getattr(spec, "name", None):
                        self.bfd_checks.setdefault(spec.name, []).append((rid, i))
        self._vs_by_id = {vs_ident(vs): vs for vs in config.virtual_servers}
        groups = group_map(config.virtual_server_groups)
        auto = auto_fwmarks(config)
        self._vs_services = {}
        self._key_owners = {}
        for vs in config.virtual_servers:
            try:
                svcs = services_of(vs, groups, auto)
            except TableError:
                svcs = []               # left out of IPVS; reported when the full table is built
            vid = vs_ident(vs)
            for svc in svcs:
                self._key_owners.setdefault(svc.key, []).append((vid, svc))
            self._vs_services[vid] = svcs
        self._full_pass = True
        self._rs_by_id = {}
        for vs in config.virtual_servers:
            for rid, rs in iter_real_servers(vs):
                self._rs_by_id[rid] = (rs, vs)

    def _add_jobs(self, config: Config, rids: set[RsId]) -> None:
        assert self._sched is not None
        for vs in config.virtual_servers:
            for rid, rs in iter_real_servers(vs):
                if rid not in rids:
                    continue
                for i, spec in enumerate(rs.checkers):
                    if spec.kind == "BFD_CHECK":
                        continue            # driven by set_bfd_state, not scheduled
                    if spec.kind not in CHECKERS:
                        log.warning("%s for %s is not run by the checker process; treated as up",
                                    spec.kind, _fmt_rs(rs, vs))
                        self._force_up(rid, i)
                        continue
                    try:
                        target = make_target(spec, rs, vs)
                    except ValueError as exc:
                        log.error("%s for %s cannot run (%s); treated as up", spec.kind, _fmt_rs(rs, vs), exc)
                        self._force_up(rid, i)
                        continue
                    key = self._next_key
                    self._next_key += 1
                    job = Job(key=key, rid=rid, index=i, target=target, vid=vs_ident(vs),
                              delay_loop=spec.delay_loop, suspendable=vs.ha_suspend,
                              fast_tcp=spec.kind == "TCP_CHECK",
                              url_count=len(urls_of(spec)) if spec.kind in _URL_KINDS else 0)
                    self.jobs[key] = job
                    warmup = spec.warmup if spec.warmup is not None else spec.delay_loop
                    log.info("Activating healthchecker for service %s for VS %s", _fmt_rs(rs, vs), _fmt_vs(vs))
                    self._sched.schedule(key, self.bootstrap_delay + warmup * self.rng())

    def _force_up(self, rid: RsId, index: int) -> None:
        """A checker that never runs must not hold its real server down (alpha included)."""
        states = self.rs_states.get(rid)
        if states is not None and not states[index].is_up:
            self.rs_states[rid] = states[:index] + (CheckerState(is_up=True, has_run=True),) + states[index + 1:]
            self._mark_dirty()

    def _suspended(self, vs: VirtualServer) -> bool:
        if not vs.ha_suspend or self.local_addresses is None or vs.ip is None:
            return False
        return vs.ip not in self.local_addresses

    def set_local_addresses(self, addresses: set[str] | None) -> None:
        """ha_suspend: checkers of a VS whose address is not local are paused."""
        self.local_addresses = addresses

    def _drop_job(self, key: int) -> None:
        assert self._sched is not None
        self._sched.cancel(key)
        if self._tcp is not None:
            self._tcp.abort(key)
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
        job = self.jobs.pop(key)
        by_kind = self.counters.by_kind
        by_kind[job.target.kind] = by_kind.get(job.target.kind, 0) + job.runs

    def _start_job(self, key: int) -> None:
        """Scheduler callback: a check is due."""
        sched = self._sched
        assert sched is not None
        job = self.jobs.get(key)
        if job is None:
            sched.done(key)
            return
        if job.suspendable and self._suspended(self._rs_by_id[job.rid][1]):
            sched.done(key)
            sched.schedule(key, job.delay_loop)
            return
        job.started_at = time.monotonic()
        try:
            if job.fast_tcp and self._tcp is not None:
                self._tcp.start(key, job.target)
            else:
                self._tasks[key] = asyncio.get_running_loop().create_task(self._run_async(key, job))
        except Exception as exc:  # noqa: BLE001 - a failed start is a failed check, rescheduled
            log.exception("starting %s on %s", job.target.kind, job.target.label)
            if self._tcp is not None:
                self._tcp.abort(key)
            self._finish(key, CheckResult(False, f"internal error: {exc!r}"))

    async def _run_async(self, key: int, job: Job) -> None:
        spec = job.target.spec
        try:
            if job.url_count:
                url_it = self.rs_states[job.rid][job.index].url_it
                result = await check_url(job.target, self.ctx, url_it)
            else:
                result = await CHECKERS[spec.kind](job.target, self.ctx)
        except asyncio.CancelledError:
            return
        except Exception as exc:  # noqa: BLE001 - a checker bug is a failed check, not a dead loop
            log.exception("%s on %s raised", spec.kind, job.target.label)
            result = CheckResult(False, f"internal error: {exc!r}")
        if self._tasks.get(key) is asyncio.current_task():
            del self._tasks[key]
        self._finish(key, result)

    def _finish(self, key: int, result: CheckResult) -> None:
        if self._sched is not None:
            self._sched.done(key)
        job = self.jobs.get(key)
        if job is not None and job.started_at:
            job.last_duration = time.monotonic() - job.started_at
            job.duration_sum += job.last_duration
            job.started_at = 0.0
        if job is not None and not self._stopping:
            self.apply_result(key, result)

    def apply_result(self, key: int, result: CheckResult) -> None:
        """Fold one check result into the states (public so tests can drive the reducer path)."""
        job = self.jobs[key]
        c = self.counters
        c.checks += 1
        job.runs += 1
        job.last_ok = result.ok
        states = self.rs_states[job.rid]
        prev = states[job.index]
        if result.ok:
            # steady state (up, and still up): step_checker would return prev unchanged. Not for
            # HTTP_GET / SSL_GET with urls: their state moves on to the next url on a success.
            if not job.url_count and prev.is_up and prev.has_run and not prev.retry_it and (
                    result.weight_delta is None or result.weight_delta == prev.weight_delta):
                if self._sched is not None:
                    self._sched.schedule(key, job.delay_loop)
                return
        else:
            c.failures += 1
            job.failures += 1
        job.last_reason = result.reason
        rs, vs = self._rs_by_id[job.rid]
        spec = rs.checkers[job.index]
        if job.url_count:
            step = step_url_checker(prev, result, url_count=job.url_count, retry=spec.retry,
                                    delay_loop=spec.delay_loop, delay_before_retry=spec.delay_before_retry,
                                    fast_recovery=spec.fast_recovery)
        else:
            step = step_checker(prev, result, retry=spec.retry, delay_loop=spec.delay_loop,
                                delay_before_retry=spec.delay_before_retry)
        _log_check(spec.kind, job.target, result, step, spec)
        if self._sched is not None and not self._stopping:
            self._sched.schedule(key, step.delay)
        self._set_checker_state(job.rid, job.index, step.state, first_run=step.first_run)

    def _set_checker_state(self, rid: RsId, index: int, new: CheckerState, *, first_run: bool) -> None:
        """One checker's new state, and what it changes for its real server: add / remove it
        (notify, quorum, IPVS) or change its weight."""
        states = self.rs_states[rid]
        rs, vs = self._rs_by_id[rid]
        spec = rs.checkers[index]
        c = self.counters
        was_alive = rs_alive(states)
        base = self.weight_bases.get(rid)
        old_weight = rs_weight(rs, states, base)
        states = states[:index] + (new,) + states[index + 1:]
        self.rs_states[rid] = states
        vid = rid[0]
        alive = rs_alive(states)
        if alive != was_alive:
            c.transitions += 1
            verb = ("Enabling" if rs.inhibit_on_failure else "Adding") if alive else \
                   ("Disabling" if rs.inhibit_on_failure else "Removing")
            prep = "of" if rs.inhibit_on_failure else ("to" if alive else "from")
            log.info("%s service %s %s VS %s", verb, _fmt_rs(rs, vs), prep, _fmt_vs(vs))
            self._rs_notify(vs, rs, alive)
            self._update_quorum(vs)
            self._mark_dirty(vid)
        elif first_run and (spec.alpha or rs.alpha):
            self._rs_notify(vs, rs, alive)      # keepalived: alpha checkers notify their first verdict
        elif rs_weight(rs, states, base) != old_weight:
            log.info("Changing weight from %d to %d for %sactive service %s of VS %s", old_weight,
                     rs_weight(rs, states, base), "" if alive else "in", _fmt_rs(rs, vs), _fmt_vs(vs))
            self._update_quorum(vs)
            self._mark_dirty(vid)

    def set_bfd_state(self, name: str, up: bool) -> None:
        """A BFD session's tracked state changed (keepalived's bfd_check_handle_event): every
        BFD_CHECK naming it goes up or down at once - no retry, no delay_loop."""
        self.bfd_known[name] = up
        for rid, index in self.bfd_checks.get(name, ()):
            states = self.rs_states.get(rid)
            if states is None or index >= len(states):
                continue
            prev = states[index]
            if prev.is_up == up and prev.has_run:
                continue
            rs, vs = self._rs_by_id[rid]
            log.info("BFD check of [%s] RS(%s) is %s", name, _fmt_rs(rs, vs), "UP" if up else "DOWN")
            self.counters.checks += 1
            if not up:
                self.counters.failures += 1
            self._set_checker_state(rid, index, CheckerState(is_up=up, has_run=True),
                                    first_run=not prev.has_run)

    def _replay_bfd(self) -> None:
        """After start / reload: checkers (new or kept) learn what the sessions last said."""
        for name, up in list(self.bfd_known.items()):
            self.set_bfd_state(name, up)

    # ------------------------------------------------------------------------------------------
    # quorum, notifies

    def _quorum_changed(self) -> None:
        for callback in list(self.quorum_listeners):
            try:
                callback()
            except Exception:  # noqa: BLE001 - a listener never breaks checking
                log.exception("quorum listener failed")

    def quorum_by(self, key) -> dict:  # noqa: ANN001 - key(VirtualServer) -> hashable
        """key(virtual server) -> has quorum, for every virtual server."""
        return {key(vs): self.quorum.get(vs_ident(vs), True) for vs in self.config.virtual_servers}

    def _update_quorum(self, vs: VirtualServer) -> None:
        vid = vs_ident(vs)
        up = self.quorum.get(vid, True)
        lw = live_weight(vs, self.rs_states, self.weight_bases)
        new = step_quorum(up, lw, vs.quorum, vs.hysteresis)
        if new == up:
            return
        self.quorum[vid] = new
        self._quorum_changed()
        self._fifo(f"VS {_fmt_vs(vs)} {'UP' if new else 'DOWN'}\n")
        self._tell("quorum", vs, None, new)
        if new:
            log.info("Gained quorum %d+%d=%d <= %d for VS %s", vs.quorum, vs.hysteresis,
                     vs.quorum + vs.hysteresis, lw, _fmt_vs(vs))
            if vs.sorry_server is not None:
                log.info("%s sorry server [%s]:%s from VS %s", "Disabling" if vs.sorry_server.inhibit else "Removing",
                         vs.sorry_server.ip, vs.sorry_server.port, _fmt_vs(vs))
            if vs.quorum_up:
                self._spawn_notify(vs.quorum_up, f"quorum up {_fmt_vs(vs)}")
        else:
            log.info("Lost quorum %d-%d=%d > %d for VS %s", vs.quorum, vs.hysteresis,
                     vs.quorum - vs.hysteresis, lw, _fmt_vs(vs))
            if vs.sorry_server is not None:
                log.info("%s sorry server [%s]:%s to VS %s", "Enabling" if vs.sorry_server.inhibit else "Adding",
                         vs.sorry_server.ip, vs.sorry_server.port, _fmt_vs(vs))
            if vs.quorum_down:
                self._spawn_notify(vs.quorum_down, f"quorum down {_fmt_vs(vs)}")

    def _initial_vs_notifies(self, vs: VirtualServer) -> None:
        up = self.quorum[vs_ident(vs)]
        self._fifo(f"VS {_fmt_vs(vs)} {'UP' if up else 'DOWN'}\n")
        if up and vs.quorum_up:
            self._spawn_notify(vs.quorum_up, f"starting with quorum up {_fmt_vs(vs)}")
        elif not up:
            log.info("Starting with quorum down for VS %s", _fmt_vs(vs))
            if vs.quorum_down and vs.sorry_server is not None:
                self._spawn_notify(vs.quorum_down, f"starting with quorum down {_fmt_vs(vs)}")

    def _open_fifos(self) -> None:
        """notify_fifo and lvs_notify_fifo get keepalived's "VS ... UP" / "RS ... DOWN" lines."""
        from kvrrp.notify.fifo import FifoWriter

        gd = self.config.global_defs
        paths = {f.path: label for f, label in ((gd.notify_fifo, "notify_fifo"),
                                                (gd.lvs_notify_fifo, "lvs_notify_fifo")) if f is not None}
        for path, label in paths.items():
            fifo = FifoWriter(path, label)
            try:
                fifo.open(asyncio.get_running_loop())
            except OSError as exc:
                log.error("%s %s: %s", label, path, exc)
                continue
            self._fifos.append(fifo)

    def _fifo(self, line: str) -> None:
        for fifo in self._fifos:
            fifo.write_line(line)

    def add_state_listener(self, callback: Callable[[str, VirtualServer, RealServer | None, bool], None]) -> None:
        """callback(kind, vs, rs, up) where keepalived notifies: kind "rs" with a real server's
        verdict (as notify_up / notify_down run), "quorum" with rs None when a virtual server
        gains or loses its quorum (the SNMP traps)."""
        self._state_listeners.append(callback)

    def remove_state_listener(self, callback: Callable[[str, VirtualServer, RealServer | None, bool], None]) -> None:
        if callback in self._state_listeners:
            self._state_listeners.remove(callback)

    def _tell(self, kind: str, vs: VirtualServer, rs: RealServer | None, up: bool) -> None:
        for callback in list(self._state_listeners):
            try:
                callback(kind, vs, rs, up)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the checks
                log.exception("state listener %r failed", callback)

    def _rs_notify(self, vs: VirtualServer, rs: RealServer, alive: bool) -> None:
        self._fifo(f"RS {_fmt_rs(rs, vs)} {_fmt_vs(vs)} {'UP' if alive else 'DOWN'}\n")
        self._tell("rs", vs, rs, alive)
        script = rs.notify_up if alive else rs.notify_down
        if script is not None:
            self._spawn_notify(script, f"{'up' if alive else 'down'} {_fmt_rs(rs, vs)}")

    def _spawn_notify(self, script: ScriptCall, why: str) -> None:
        self.counters.notifies += 1
        task = asyncio.get_running_loop().create_task(self.notifier(script, why))
        self._notify_tasks.add(task)
        task.add_done_callback(self._notify_tasks.discard)

    async def _run_notify(self, script: ScriptCall, why: str) -> None:
        from kvrrp.notify.runner import run_script
        from kvrrp.notify.security import ScriptRefused, vet_script

        try:
            checked = vet_script(script, self.ctx.default_run_as, self.ctx.script_security)
        except ScriptRefused as exc:
            log.warning("notify script for %s not run: %s", why, exc)
            return
        res = await run_script(checked, 30.0)
        if not res.success:
            log.info("notify script %s (%s) ended: %s", script.command, why, res)

    # ------------------------------------------------------------------------------------------
    # reconcile

    def _mark_dirty(self, vid: VsId | None = None) -> None:
        if vid is None:
            self._full_pass = True
        else:
            self._dirty_vs.add(vid)
        self._clean.clear()
        self._dirty.set()

    async def _reconcile_loop(self) -> None:
        backoff = 0.0
        while True:
            await self._dirty.wait()
            await asyncio.sleep(backoff)    # 0: just coalesce a burst of transitions into one pass
            errors = self.reconciler.counters["errors"]
            try:
                if self._full_pass:
                    await self._reconcile_now()
                else:
                    await self._reconcile_dirty()
            except Exception:  # noqa: BLE001 - keep checking even if IPVS is unhappy
                log.exception("IPVS reconcile failed")
                self._full_pass = True
                self._dirty.set()
                errors = -1
            # a kernel that keeps refusing is retried with backoff, not in a tight loop
            failed = errors < 0 or self.reconciler.counters["errors"] > errors
            backoff = min(5.0, max(0.25, backoff * 2)) if failed else 0.0

    async def _reconcile_dirty(self) -> None:
        """Rebuild and apply only the services of virtual servers whose state changed: the
        cost of a pass is O(changed services), whatever the size of the table."""
        self._dirty.clear()
        dirty, self._dirty_vs = self._dirty_vs, set()
        keys = {svc.key for vid in dirty for svc in self._vs_services.get(vid, ())}
        try:
            for key in keys:
                self._refill_service(key)
        except TableError:
            self._mark_dirty()          # the full pass reports the virtual server and leaves it out
            return
        self.counters.reconciles += 1
        result = await self.reconciler.reconcile_services(self.table, keys)
        for op in result.applied:
            log.info("IPVS: %s", op)
        if not result.ok:
            self._dirty_vs |= dirty
            self._dirty.set()
        elif not self._dirty.is_set():
            self._clean.set()

    def _refill_service(self, key) -> None:
        """The desired entry of one service, from every virtual server that declares it (in
        config order, as desired_table() merges them: the last one's attributes, all dests)."""
        owners = self._key_owners.get(key, ())
        if not owners:
            return
        entry = None
        dests: dict = {}
        for vid, svc in owners:
            vs = self._vs_by_id[vid]
            for d in vs_desired_dests(vs, self.rs_states, self.quorum.get(vid, True), key, self.drained,
                                      self.weight_bases):
                dests[d.key] = d
            entry = self.table.add_service(svc)
        assert entry is not None
        entry.dests = dests

    async def _reconcile_now(self) -> None:
        self._dirty.clear()
        self._dirty_vs.clear()
        errors: list[tuple[str, str]] = []
        desired = desired_table(self.config, self.rs_states, self.quorum, errors, self.drained, self.weight_bases)
        services, dests = declared(self.config)
        for vs_key, reason in errors:
            if (vs_key, reason) not in self._reported:
                self._reported.add((vs_key, reason))
                log.error("VS %s left out of IPVS: %s", vs_key, reason)
        self.table = desired
        self.counters.reconciles += 1
        result = await self.reconciler.reconcile(desired, Ownership(services, dests))
        for op in result.applied:
            log.info("IPVS: %s", op)
        if result.ok and not self._dirty.is_set():
            self._clean.set()
        elif not result.ok:
            self._full_pass = True
            self._dirty.set()
        if result.ok:
            self._full_pass = False

    async def drain_notifies(self, timeout: float | None = 10.0) -> None:
        """Wait for the notify scripts started so far to finish."""
        if self._notify_tasks:
            await asyncio.wait(list(self._notify_tasks), timeout=timeout)

    async def wait_reconciled(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._clean.wait(), timeout)

    # ------------------------------------------------------------------------------------------
    # status

    def status(self) -> dict[str, Any]:
        out = []
        for vs in self.config.virtual_servers:
            vid = vs_ident(vs)
            servers = []
            for rid, rs in iter_real_servers(vs):
                st = self.rs_states.get(rid, ())
                jobs = self._jobs_by_rid.get(rid, {})
                checkers = []
                for i, s in enumerate(st):
                    row = {"up": s.is_up, "has_run": s.has_run, "retry_it": s.retry_it}
                    job = jobs.get(i)
                    if job is not None:
                        row.update(kind=job.target.kind, runs=job.runs, failures=job.failures,
                                   last_ok=job.last_ok, last_reason=job.last_reason,
                                   last_duration=job.last_duration, duration_sum=job.duration_sum)
                    checkers.append(row)
                servers.append({
                    "address": _fmt_rs(rs, vs), "alive": rs_alive(st),
                    "weight": 0 if rid in self.drained else rs_weight(rs, st, self.weight_bases.get(rid)),
                    "configured_weight": rs.weight, "drained": rid in self.drained, "checkers": checkers,
                })
            out.append({"virtual_server": _fmt_vs(vs), "quorum_up": self.quorum.get(vid, True),
                        "live_weight": live_weight(vs, self.rs_states, self.weight_bases),
                        "real_servers": servers})
        c = self.counters
        return {"virtual_servers": out,
                "counters": {"checks": c.checks, "failures": c.failures, "transitions": c.transitions,
                             "reconciles": c.reconciles, "notifies": c.notifies, "by_kind": self._by_kind()},
                "ipvs": dict(self.reconciler.counters)}

    @property
    def _jobs_by_rid(self) -> dict[RsId, dict[int, Job]]:
        out: dict[RsId, dict[int, Job]] = {}
        for job in self.jobs.values():
            out.setdefault(job.rid, {})[job.index] = job
        return out

    def kernel_keys(self) -> dict[tuple[str, str], list[tuple[Any, Any]]]:
        """(VS text, RS text) as status() names them -> the (ServiceKey, DestKey) entries that
        real server is in the kernel as (several for a virtual_server_group)."""
        out: dict[tuple[str, str], list[tuple[Any, Any]]] = {}
        for vs in self.config.virtual_servers:
            for svc in self._vs_services.get(vs_ident(vs), ()):
                for _rid, rs in iter_real_servers(vs):
                    try:
                        dest = dest_of(rs, vs, 0, svc.key)
                    except TableError:
                        continue
                    out.setdefault((_fmt_vs(vs), _fmt_rs(rs, vs)), []).append((svc.key, dest.key))
        return out

    # ------------------------------------------------------------------------------------------
    # operator: drain / enable (kvrrpctl rs ...)

    def find_real_server(self, vs_text: str, rs_text: str) -> tuple[RsId, RealServer, VirtualServer]:
        """The real server an operator names: VS as IP:PORT, [IP]:PORT, [IP]:PROTO:PORT, FWM N
        or a virtual_server_group name; RS as IP:PORT or [IP]:PORT (port optional when the
        real server has none). ValueError says what was not found."""
        vs_want, rs_want = _address_forms(vs_text), _address_forms(rs_text)
        vss = [vs for vs in self.config.virtual_servers if _vs_names(vs) & vs_want]
        if not vss:
            raise ValueError(f"no virtual_server {vs_text!r} (known: "
                             f"{', '.join(_fmt_vs(v) for v in self.config.virtual_servers) or 'none'})")
        for vs in vss:
            for rid, rs in iter_real_servers(vs):
                if _rs_names(rs, vs) & rs_want:
                    return rid, rs, vs
        raise ValueError(f"no real_server {rs_text!r} in virtual_server {vs_text!r}")

    def set_drained(self, vs_text: str, rs_text: str, drained: bool) -> dict[str, Any]:
        rid, rs, vs = self.find_real_server(vs_text, rs_text)
        was = rid in self.drained
        if drained:
            self.drained.add(rid)
        else:
            self.drained.discard(rid)
        if was != drained:
            log.info("%s real server %s of VS %s by the operator", "Draining" if drained else "Enabling",
                     _fmt_rs(rs, vs), _fmt_vs(vs))
            self._mark_dirty(rid[0])
        st = self.rs_states.get(rid, ())
        weight = 0 if drained else rs_weight(rs, st, self.weight_bases.get(rid))
        return {"virtual_server": _fmt_vs(vs), "real_server": _fmt_rs(rs, vs), "drained": drained,
                "alive": rs_alive(st), "weight": weight, "changed": was != drained}

    # SNMP: realServerWeight (kvrrp.snmp.check_set), keepalived's check_snmp_realserver_weight
    def set_weight(self, rid: RsId, weight: int) -> int | None:
        """The real server's weight becomes `weight` now (keepalived's update_svr_wgt: its
        effective weight; a checker's later weight change applies on top of it); the quorum
        and IPVS follow. Returns what restore_weight() takes to undo it."""
        old = self.weight_bases.get(rid)
        states = self.rs_states.get(rid, ())
        self._set_weight_base(rid, weight - sum(c.weight_delta for c in states))
        return old

    def restore_weight(self, rid: RsId, base: int | None) -> None:
        """Undo set_weight (None: the configured weight again)."""
        self._set_weight_base(rid, base)

    def _set_weight_base(self, rid: RsId, base: int | None) -> None:
        rs, vs = self._rs_by_id[rid]
        states = self.rs_states.get(rid, ())
        old = rs_weight(rs, states, self.weight_bases.get(rid))
        if base is None:
            self.weight_bases.pop(rid, None)
        else:
            self.weight_bases[rid] = base
        new = rs_weight(rs, states, base)
        if new != old:
            log.info("Changing weight from %d to %d for %sactive service %s of VS %s", old, new,
                     "" if rs_alive(states) else "in", _fmt_rs(rs, vs), _fmt_vs(vs))
            self._update_quorum(vs)
            self._mark_dirty(rid[0])

    def _by_kind(self) -> dict[str, int]:
        """Checks run per checker type (jobs count their own runs; removed jobs were folded
        into counters.by_kind when they went away, so the totals never go backwards)."""
        out = dict(self.counters.by_kind)
        for job in self.jobs.values():
            out[job.target.kind] = out.get(job.target.kind, 0) + job.runs
        return out

    def rs_is_alive(self, ip: str, port: int, vs_key: str | None = None) -> bool:
        """Convenience for tests: is the real server ip:port (of VS key) alive?"""
        for rid, st in self.rs_states.items():
            if rid[1] == ip and rid[2] == port and (vs_key is None or rid[0][0] == vs_key):
                return rs_alive(st)
        raise KeyError(f"{ip}:{port}")


_URL_KINDS = ("HTTP_GET", "SSL_GET")
_NAMES = {"TCP_CHECK": "TCP connection", "HTTP_GET": "HTTP_GET", "SSL_GET": "SSL_GET",
          "SMTP_CHECK": "SMTP connection", "DNS_CHECK": "DNS_CHECK", "UDP_CHECK": "UDP_CHECK",
          "PING_CHECK": "PING_CHECK", "MISC_CHECK": "Misc check", "FILE_CHECK": "FILE_CHECK"}


def _log_check(kind: str, target: Target, result: CheckResult, step, spec) -> None:
    label = target.label
    if step.transition == UP:
        if kind == "TCP_CHECK":
            log.info("TCP connection to %s success.", label)
        else:
            log.info("%s to %s success.", _NAMES.get(kind, kind), label)
    elif step.transition == DOWN:
        if spec.retry and not step.first_run:
            log.info("%s on service %s failed after %d retries (%s).", kind, label, spec.retry, result.reason)
        else:
            log.info("%s on service %s failed (%s).", kind, label, result.reason)
    elif not result.ok and (spec.log_all_failures or step.retrying):
        log.info("%s on service %s failed (%s)%s.", kind, label, result.reason,
                 ", will retry" if step.retrying else "")
