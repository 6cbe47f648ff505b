"""TrackingSupervisor: runs every tracker the config names and tells the engine what each
binding contributes (``engine.set_tracker(instance, key, status)``), only when it changes.

Lifecycle (the daemon's side):  ``sup = kvrrp.track.attach(engine, config, loop)``;
``await sup.start()`` before the engine starts its instances (so initial FAULTs and priorities
are in place: every vrrp_script has run once, or reached its timeout, when start() returns);
``await sup.reload(new_config)`` on SIGHUP, *after* ``engine.apply_config(new_config)`` (so
added instances exist; unchanged scripts keep running and keep their rise/fall state, so an
unchanged config causes no status change at all); ``await sup.stop()``.

So that instances a reload adds (or restarts) start on known tracker state instead of passing
through BACKUP first: ``await sup.prepare_reload(new_config)`` *before* apply_config builds the
new trackers (new scripts run once) without pushing anything, ``engine.add_prestart_hook(
sup.prestart)`` lets the engine ask for the states of the instances it is about to start, and
``reload(new_config)`` then finishes (pushes every binding, starts the trackers).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from kvrrp.config.model import Config, TrackProcess, VrrpScript
from kvrrp.notify.security import CheckedScript, RunAs, ScriptRefused, default_run_as, vet_script
from kvrrp.track import weights
from kvrrp.track.files import FileWatcher, initialise_file
from kvrrp.track.interfaces import InterfaceWatcher
from kvrrp.track.plan import BFD, FILE, INTERFACE, PROCESS, SCRIPT, Binding, Plan, build_plan
from kvrrp.track.processes import ProcessSpec, ProcessWatcher
from kvrrp.track.script import ScriptTracker

log = logging.getLogger("kvrrp.track")


class TrackerSink(Protocol):
    """What the supervisor needs from the VRRP engine."""

    def set_tracker(self, instance_name: str, key: str, status: Any) -> None: ...


def engine_status(status: weights.Status) -> Any:
    """Our status in the engine's vocabulary (kvrrp.vrrp.instance.TrackerStatus). The engine
    has no INIT: a fault-switch whose script has not reported yet holds the instance in FAULT,
    the safe reading of "not known to be healthy"."""
    if isinstance(status, int):
        return status
    from kvrrp.vrrp.instance import TrackerStatus
    return TrackerStatus.OK if status == weights.OK else TrackerStatus.FAULT


def _script_identity(vs: VrrpScript) -> tuple:
    return (vs.script.argv if vs.script else None, vs.interval, vs.timeout, vs.rise, vs.fall,
            vs.user, vs.group, vs.init_fail)


def process_spec(tp: TrackProcess) -> ProcessSpec:
    quorum, quorum_max = tp.quorum, tp.quorum_max
    if tp.process and len(tp.process) > 15 and not (tp.full_command or tp.params):
        log.warning("vrrp_track_process %s: the kernel keeps only 15 characters of a process name, "
                    "%r can never match - use full_command", tp.name, tp.process)
    if quorum_max == 0:            # keepalived: quorum_max 0 means "must not be running"
        quorum = 0
    return ProcessSpec(name=tp.name, process=tp.process or "", params=tuple(tp.params),
                       param_match=tp.param_match, full_command=tp.full_command,
                       quorum=quorum, quorum_max=quorum_max, fork_delay=tp.fork_delay,
                       terminate_delay=tp.terminate_delay)


@dataclass
class _ScriptEntry:
    identity: tuple
    tracker: ScriptTracker


class TrackingSupervisor:
    def __init__(self, engine: TrackerSink, config: Config, loop: asyncio.AbstractEventLoop | None = None,
                 *, process_scan_interval: float = 1.0, first_run_wait: float | None = None,
                 bfd: Any = None) -> None:
        self.engine = engine
        # kvrrp.bfd.service.BfdService (run by the daemon, shared with the checker relay): its
        # sessions' up/down moves the track_bfd bindings
        self.bfd: Any = None
        if bfd is not None:
            self.attach_bfd(bfd)
        self.config = config
        self.loop = loop
        self.process_scan_interval = process_scan_interval
        self.first_run_wait = first_run_wait
        self.plan: Plan = Plan((), ())
        self.refused: dict[str, str] = {}          # vrrp_script name -> why it does not run
        self.scripts: dict[str, _ScriptEntry] = {}
        self.interfaces: InterfaceWatcher | None = None
        self.files: FileWatcher | None = None
        self.processes: ProcessWatcher | None = None
        self._sent: dict[tuple[str, str], Any] = {}
        self.updates = 0
        self._started = False
        self._holding = False
        self._resend = False
        self._priority_listeners: list = []
        self._prepared: Config | None = None

    # -- status computation -------------------------------------------------------------

    def status_of(self, b: Binding) -> weights.Status | None:
        """The binding's current contribution; None when its tracker is not running."""
        if b.kind == SCRIPT:
            entry = self.scripts.get(b.target)
            if entry is None:
                return None
            return weights.binary_status(entry.tracker.healthy, b.weight, b.reverse)
        if b.kind == INTERFACE:
            up = self.interfaces.is_up(b.target) if self.interfaces else False
            return weights.binary_status(up, b.weight, b.reverse)
        if b.kind == FILE:
            wf = self.files.files.get(b.target) if self.files else None
            if wf is None:
                return None
            return weights.file_status(wf.value, b.weight, b.reverse)
        if b.kind == PROCESS:
            if self.processes is None or b.target not in self.processes.states:
                return None
            return weights.binary_status(self.processes.have_quorum(b.target), b.weight, b.reverse)
        if b.kind == BFD:
            up = self.bfd.is_up(b.target) if self.bfd is not None else None
            if up is None:
                return None                # no such session runs (a bfd_instance the service refused)
            return weights.binary_status(up, b.weight, b.reverse)
        raise ValueError(f"unknown tracker kind {b.kind!r}")

    def _push(self, bindings: tuple[Binding, ...] | list[Binding]) -> None:
        for b in bindings:
            status = self.status_of(b)
            if status is None:
                continue
            k = (b.instance, b.key)
            if k in self._sent and self._sent[k] == status:
                continue
            self._sent[k] = status
            self.updates += 1
            log.debug("(%s) tracker %s -> %s", b.instance, b.key, status)
            self._send(b.instance, b.key, status)

    def attach_bfd(self, bfd: Any) -> None:
        """Follow `bfd`'s sessions (a BfdService: is_up(name), add_listener(cb(name, up)))."""
        self.bfd = bfd
        bfd.add_listener(lambda name, up: self._changed(BFD, name))

    def add_priority_listener(self, callback) -> None:
        """callback(instance_name, state, effective_priority) when a tracker change moved an
        instance's effective priority (the notifier's MASTER_PRIORITY / BACKUP_PRIORITY)."""
        self._priority_listeners.append(callback)

    def _runtime(self, instance: str) -> Any:
        instances = getattr(self.engine, "instances", None)
        return instances.get(instance) if hasattr(instances, "get") else None

    def _send(self, instance: str, key: str, status: weights.Status) -> None:
        rt = self._runtime(instance)
        before = getattr(rt, "effective_priority", None)
        try:
            self.engine.set_tracker(instance, key, engine_status(status))
        except KeyError:
            # the engine does not (or no longer) run this instance: reload ordering
            log.warning("(%s) tracker %s: instance unknown to the engine", instance, key)
            return
        after = getattr(rt, "effective_priority", None)
        if before is not None and after != before:
            for cb in list(self._priority_listeners):
                try:
                    cb(instance, getattr(rt, "state", None), after)
                except Exception:
                    log.exception("priority listener failed for (%s)", instance)

    def _changed(self, kind: str, target: str) -> None:
        if self._holding:           # (re)configuring: everything is pushed once at the end
            return
        self._push([b for b in self.plan.bindings if b.kind == kind and b.target == target])

    # -- building --------------------------------------------------------------------------

    def _check_script(self, vs: VrrpScript, default: RunAs | None, security: bool) -> CheckedScript:
        if vs.script is None or not vs.script.argv:
            raise ScriptRefused(f"vrrp_script {vs.name} has no script")
        return vet_script(vs.script, default, security, user=vs.user, group=vs.group)

    def _build_scripts(self, config: Config, plan: Plan, keep: dict[str, _ScriptEntry]) -> dict[str, _ScriptEntry]:
        g = config.global_defs
        try:
            default = default_run_as(g.script_user, g.script_group)
        except ScriptRefused as exc:
            log.error("script_user: %s - scripts without their own user will not run", exc)
            default = None
        out: dict[str, _ScriptEntry] = {}
        self.refused = {}
        for name in sorted(plan.targets(SCRIPT)):
            vs = config.script(name)
            assert vs is not None          # the plan only names defined scripts
            ident = _script_identity(vs)
            old = keep.get(name)
            if old is not None and old.identity == ident:
                out[name] = old
                continue
            try:
                checked = self._check_script(vs, default, g.enable_script_security)
            except ScriptRefused as exc:
                self.refused[name] = str(exc)
                log.error("VRRP_Script(%s) disabled: %s", name, exc)
                continue
            tracker = ScriptTracker(name, checked, interval=vs.interval, timeout=vs.timeout,
                                    rise=vs.rise, fall=vs.fall, init_fail=vs.init_fail,
                                    on_change=lambda healthy, n=name: self._changed(SCRIPT, n))
            out[name] = _ScriptEntry(identity=ident, tracker=tracker)
        return out

    async def _start_watchers(self, config: Config, plan: Plan) -> None:
        loop = self.loop or asyncio.get_running_loop()
        names = plan.targets(INTERFACE)
        if names:
            from kvrrp.io.sockbuf import RcvBuf
            from kvrrp.track.interfaces import link_options

            delays, polled = link_options(config, names)
            self.interfaces = InterfaceWatcher(names, lambda n, up: self._changed(INTERFACE, n),
                                               RcvBuf.from_config(config.global_defs, "vrrp_netlink_monitor"),
                                               delays=delays, polled=polled)
            await self.interfaces.start()
        file_names = plan.targets(FILE)
        if file_names:
            self.files = FileWatcher(lambda n, v: self._changed(FILE, n))
            for tf in config.track_files:
                if tf.name not in file_names:
                    continue
                if not tf.file:
                    log.error("track_file %s has no file - ignoring", tf.name)
                    continue
                if tf.init_file and not self._started:
                    initialise_file(tf.file, tf.init_value, tf.init_overwrite)
                self.files.add(tf.name, tf.file)
            self.files.start(loop)
        proc_names = plan.targets(PROCESS)
        specs = [process_spec(tp) for tp in config.track_processes if tp.name in proc_names and tp.process]
        for tp in config.track_processes:
            if tp.name in proc_names and not tp.process:
                log.error("track process '%s' process name not specified - ignoring", tp.name)
        if specs:
            self.processes = ProcessWatcher(specs, lambda n, q: self._changed(PROCESS, n),
                                            scan_interval=self.process_scan_interval)
            await self.processes.start()

    async def _stop_watchers(self) -> None:
        if self.interfaces is not None:
            await self.interfaces.stop()
            self.interfaces = None
        if self.files is not None:
            self.files.close()
            self.files = None
        if self.processes is not None:
            await self.processes.stop()
            self.processes = None

    async def _first_runs(self, entries: list[_ScriptEntry]) -> None:
        """Run new scripts once (bounded by their timeouts) so instances start on known health."""
        if not entries:
            return
        runs = [e.tracker.run_once() for e in entries]
        wait = self.first_run_wait
        if wait is None:
            wait = max(e.tracker.timeout + e.tracker.kill_grace for e in entries) + 1.0
        try:
            await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), wait)
        except asyncio.TimeoutError:
            log.warning("some vrrp_scripts did not finish their first run in %.3gs", wait)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._apply(self.config, initial=True)
        self._started = True

    async def _apply(self, config: Config, initial: bool) -> None:
        self._holding = True
        try:
            await self._reconfigure(config)
        finally:
            self._holding = False
        await self._finish_apply()

    async def _finish_apply(self) -> None:
        if self._resend:
            self._sent = {k: v for k, v in self._sent.items() if k not in
                          {(b.instance, b.key) for b in self.plan.bindings}}
            self._resend = False
        self._push(self.plan.bindings)
        for e in self.scripts.values():
            e.tracker.start()          # no-op for trackers already running

    async def _reconfigure(self, config: Config) -> None:
        plan = build_plan(config)
        for w in plan.warnings:
            log.warning("%s", w)
        old_scripts = self.scripts
        new_scripts = self._build_scripts(config, plan, old_scripts)
        for name, entry in old_scripts.items():
            if new_scripts.get(name) is not entry:
                await entry.tracker.stop()
        fresh = [e for n, e in new_scripts.items() if old_scripts.get(n) is not e]
        await self._stop_watchers()
        self.config = config
        self.plan = plan
        self.scripts = new_scripts
        await self._first_runs(fresh)
        await self._start_watchers(config, plan)
        live = {(b.instance, b.key) for b in plan.bindings}
        for (inst, key), old in list(self._sent.items()):
            if (inst, key) not in live:
                del self._sent[(inst, key)]
                if config.instance(inst) is not None and old != 0 and old != weights.OK:
                    self._send(inst, key, weights.OK if isinstance(old, str) else 0)

    async def prepare_reload(self, new_config: Config) -> None:
        """Before engine.apply_config(new_config): build the new config's trackers (new scripts
        run once, bounded by their timeouts) and hold every push until reload(); prestart()
        serves the new plan's states meanwhile."""
        self._holding = True
        try:
            await self._reconfigure(new_config)
        except BaseException:
            self._holding = False
            raise
        self._prepared = new_config

    def prestart(self, instance_names: tuple[str, ...]) -> None:
        """The engine's prestart hook: put the current state of every binding of these
        instances (about to start) in place, so one whose tracker is down starts in FAULT."""
        wanted = set(instance_names)
        for b in self.plan.bindings:
            if b.instance not in wanted:
                continue
            status = self.status_of(b)
            if status is None:
                continue
            try:
                self.engine.set_tracker(b.instance, b.key, engine_status(status))
            except KeyError:
                continue
            self._sent[(b.instance, b.key)] = status

    async def reload(self, new_config: Config) -> None:
        # The engine rebuilds instances whose config changed with no tracker state, and we
        # cannot tell which: send every binding again (a repeat is a no-op in the engine).
        self._resend = True
        if self._prepared is not None and self._prepared is new_config:
            self._prepared = None
            self._holding = False
            await self._finish_apply()
            return
        self._prepared = None
        await self._apply(new_config, initial=False)

    async def stop(self) -> None:
        for entry in self.scripts.values():
            await entry.tracker.stop()
        self.scripts = {}
        await self._stop_watchers()

    # -- observability ---------------------------------------------------------------------

    def snapshot(self) -> dict:
        """For the status API / data dump: every tracker's state and every binding's status."""
        return {
            "scripts": {n: {"healthy": e.tracker.healthy, "running": e.tracker.running, "runs": e.tracker.runs,
                            "failures": e.tracker.failures, "timeouts": e.tracker.timeouts,
                            "skipped": e.tracker.skipped} for n, e in self.scripts.items()},
            "refused_scripts": dict(self.refused),
            "interfaces": dict(self.interfaces.reported) if self.interfaces else {},
            "linkbeat": dict(self.interfaces.polled) if self.interfaces else {},
            "files": {n: f.value for n, f in self.files.files.items()} if self.files else {},
            "processes": {n: {"count": s.count, "quorum": s.quorum}
                          for n, s in self.processes.states.items()} if self.processes else {},
            "bfd": {n: self.bfd.is_up(n) for n in sorted(self.plan.targets(BFD))} if self.bfd else {},
            "bindings": [{"instance": i, "key": k, "status": s} for (i, k), s in sorted(self._sent.items())],
        }
