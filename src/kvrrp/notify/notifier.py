"""Notifier: turns the engine's state transitions into notify scripts, FIFO lines and SMTP
alerts, for instances and for sync groups.

* Per instance (and per group) the notifications run in transition order, one at a time: the
  state's own script (notify_master / _backup / _fault / _stop / _deleted) and then the
  generic ``notify`` script called with ``INSTANCE|GROUP name STATE priority``. Each script has
  a timeout (``script_timeout``, default 30 s) after which its process group is killed.
  Different instances notify concurrently; nothing waits on the event loop.
* FIFO lines (notify_fifo and vrrp_notify_fifo) are written at the moment of the transition,
  in order, in keepalived's format; SMTP alerts are queued to a background sender.
* A sync group's state is derived from its members' transitions: FAULT as soon as one member
  is in FAULT, MASTER / BACKUP / STOP when all members are, as keepalived's sync code ends up.
* An instance the engine reports DELETED (gone after a reload) notifies DELETED when it has
  ``notify_deleted``, else FAULT (keepalived's backward-compatible default).
* A master that answers a lower priority advert (the engine's MASTER_RX_LOWER_PRI event) runs
  ``notify_master_rx_lower_pri`` (no arguments, queued behind the instance's other scripts) and
  writes ``INSTANCE "name" MASTER_RX_LOWER_PRI priority`` to the FIFOs, as keepalived does.
* Scripts are checked once, at start/reload, by the script-security rules (security.py); a
  refused script is logged with its reason and never run.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import sys
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from kvrrp.config.effective import vrrp_smtp_alert
from kvrrp.config.model import Config, ScriptCall, SyncGroup, VrrpInstance
from kvrrp.notify.fifo import FifoWriter, format_line
from kvrrp.notify.runner import RunResult, run_script
from kvrrp.notify.security import CheckedScript, RunAs, ScriptRefused, default_run_as, vet_script
from kvrrp.notify.serial import KeyedSerial

if TYPE_CHECKING:
    from kvrrp.notify.smtp import SmtpAlerter

log = logging.getLogger("kvrrp.notify")

NOTIFIED_STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")


def state_name(state: Any) -> str:
    """The engine's State enum (or a string) as keepalived prints it."""
    value = getattr(state, "value", state)
    # interned: member_state keeps one per instance, and there are only a handful of states
    return sys.intern(str(value).upper())


# the by_state of every target without per-state scripts (most of them, at thousands of instances)
_NO_SCRIPTS: Mapping[str, CheckedScript] = MappingProxyType({})


@dataclass(slots=True)
class _Target:
    """The scripts of one instance or group, checked and ready (one per instance: slots)."""

    kind: str                                   # INSTANCE | GROUP
    name: str
    by_state: Mapping[str, CheckedScript] = field(default_factory=lambda: _NO_SCRIPTS)
    generic: CheckedScript | None = None
    smtp: bool = False
    notify_deleted: bool = False
    rx_lower_pri: CheckedScript | None = None    # notify_master_rx_lower_pri (instances only)


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """A record of one notify script run (kept for tests and the status API)."""

    target: str
    argv: tuple[str, ...]
    result: RunResult


def _outputs_identity(config: Config) -> tuple:
    g = config.global_defs
    return (g.notify_fifo, g.vrrp_notify_fifo, g.notification_email, g.notification_email_from,
            g.smtp_server, g.smtp_server_port, g.smtp_helo_name, g.smtp_connect_timeout,
            g.router_id, g.script_user, g.script_group, g.enable_script_security)


class Notifier:
    def __init__(self, engine: Any, config: Config, *, script_timeout: float = 30.0,
                 hostname: str | None = None, history: int = 1000, max_concurrent_scripts: int = 64) -> None:
        self.engine = engine
        self.config = config
        self.script_timeout = script_timeout
        self.hostname = hostname or socket.gethostname()
        self.history_limit = history
        self.history: list[ScriptRun] = []
        self.refused: dict[str, str] = {}
        self.serial = KeyedSerial()
        # thousands of instances changing at once must not fork thousands of scripts at once;
        # order per instance is kept by the serial queues, this only bounds parallelism
        self.max_concurrent_scripts = max_concurrent_scripts
        self._slots: asyncio.Semaphore | None = None
        self.instances: dict[str, _Target] = {}
        self.groups: dict[str, _Target] = {}
        self.members: dict[str, list[str]] = {}       # group -> member instance names
        self.group_of: dict[str, str] = {}
        self.member_state: dict[str, str] = {}
        self.group_state: dict[str, str] = {}
        self.fifos: list[FifoWriter] = []
        self.fifo_scripts: list[asyncio.subprocess.Process] = []
        self.smtp: SmtpAlerter | None = None
        self._listening = False

    # -- configuration --------------------------------------------------------------------

    def _check(self, owner: str, call: ScriptCall | None, default: RunAs | None) -> CheckedScript | None:
        if call is None or not call.argv:
            return None
        security = self.config.global_defs.enable_script_security
        try:
            return vet_script(call, default, security)
        except ScriptRefused as exc:
            self.refused[f"{owner}: {call.command}"] = str(exc)
            log.error("(%s) notify script %r disabled: %s", owner, call.command, exc)
            return None

    def _target(self, kind: str, obj: VrrpInstance | SyncGroup, default: RunAs | None) -> _Target:
        g = self.config.global_defs
        t = _Target(kind=kind, name=obj.name)
        by_state = {}
        for state in NOTIFIED_STATES:
            call = getattr(obj, f"notify_{state.lower()}", None)
            checked = self._check(obj.name, call, default)
            if checked is not None:
                by_state[state] = checked
        if by_state:
            t.by_state = by_state
        t.generic = self._check(obj.name, obj.notify, default)
        t.rx_lower_pri = self._check(obj.name, getattr(obj, "notify_master_rx_lower_pri", None), default)
        t.smtp = vrrp_smtp_alert(obj.smtp_alert, g)
        t.notify_deleted = bool(getattr(obj, "notify_deleted_enabled", False) or getattr(obj, "notify_deleted", None))
        return t

    def _configure(self, config: Config) -> None:
        self.config = config
        self.refused = {}
        g = config.global_defs
        try:
            default = default_run_as(g.script_user, g.script_group)
        except ScriptRefused as exc:
            log.error("script_user: %s - notify scripts without their own user will not run", exc)
            default = None
        self.instances = {i.name: self._target("INSTANCE", i, default) for i in config.instances}
        self.groups = {sg.name: self._target("GROUP", sg, default) for sg in config.sync_groups}
        self.members = {sg.name: [m for m in sg.group] for sg in config.sync_groups}
        self.group_of = {m: sg for sg, ms in self.members.items() for m in ms}
        for gname in list(self.group_state):
            if gname not in self.groups:
                del self.group_state[gname]

    def _open_outputs(self, loop: asyncio.AbstractEventLoop) -> None:
        g = self.config.global_defs
        for label, spec in (("notify_fifo", g.notify_fifo), ("vrrp_notify_fifo", g.vrrp_notify_fifo)):
            if spec is None:
                continue
            writer = FifoWriter(spec.path, label)
            try:
                writer.open(loop)
            except OSError as exc:
                log.error("%s %s cannot be opened: %s", label, spec.path, exc.strerror or exc)
                continue
            self.fifos.append(writer)
            if spec.script is not None:
                self._start_fifo_script(label, spec, loop)
        if g.notification_email and g.smtp_server:
            from kvrrp.notify.smtp import SmtpAlerter  # only a configured alerter pays for email.*

            router_id = g.router_id or self.hostname
            mail_from = g.notification_email_from or f"keepalived@{self.hostname}"
            self.smtp = SmtpAlerter(g.smtp_server, g.smtp_server_port, g.smtp_helo_name or self.hostname,
                                    mail_from, tuple(g.notification_email), g.smtp_connect_timeout)
            self.router_id = router_id

    def _start_fifo_script(self, label: str, spec, loop: asyncio.AbstractEventLoop) -> None:
        g = self.config.global_defs
        try:
            default = default_run_as(g.script_user, g.script_group)
            checked = vet_script(spec.script, default, g.enable_script_security,
                                 user=spec.script.user or spec.user, group=spec.script.group or spec.group)
        except ScriptRefused as exc:
            log.error("%s script disabled: %s", label, exc)
            return

        async def launch() -> None:
            from kvrrp.notify.runner import _spawn
            proc = await _spawn(list(checked.argv) + [spec.path], checked)
            self.fifo_scripts.append(proc)

        loop.create_task(launch())

    async def _close_outputs(self) -> None:
        for w in self.fifos:
            w.close()
        self.fifos = []
        for proc in self.fifo_scripts:
            if proc.returncode is None:
                try:
                    proc.terminate()
                except ProcessLookupError:
                    pass
                try:
                    await asyncio.wait_for(proc.wait(), 2.0)
                except asyncio.TimeoutError:
                    proc.kill()
                    await proc.wait()
        self.fifo_scripts = []
        if self.smtp is not None:
            await self.smtp.drain(self.config.global_defs.smtp_connect_timeout)
            await self.smtp.close()
            self.smtp = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._configure(self.config)
        self._open_outputs(asyncio.get_running_loop())
        if not self._listening:
            self.engine.add_transition_listener(self.on_transition)
            if hasattr(self.engine, "add_event_listener"):
                self.engine.add_event_listener(self.on_event)
            self._listening = True

    async def reload(self, new_config: Config) -> None:
        """Call before ``engine.apply_config(new_config)``: instances the reload adds notify
        from their first transition, and instances it removes keep their old scripts for the
        STOP/DELETED transitions the engine reports while retiring them."""
        retiring = {n: t for n, t in self.instances.items() if new_config.instance(n) is None}
        reopen = _outputs_identity(self.config) != _outputs_identity(new_config)
        if reopen:
            await self._close_outputs()
        self._configure(new_config)
        for name, target in retiring.items():
            self.instances.setdefault(name, target)
        if reopen:                 # unchanged FIFOs keep their buffered lines and fifo script
            self._open_outputs(asyncio.get_running_loop())

    async def stop(self, timeout: float = 10.0) -> None:
        """Let queued notifications (the STOP ones included) finish, up to ``timeout``."""
        if not await self.serial.drain(timeout):
            log.warning("notify scripts still running after %.3gs at shutdown - killing them", timeout)
            await self.serial.cancel_all()
        await self._close_outputs()

    # -- transitions ------------------------------------------------------------------------

    def on_transition(self, instance_name: str, old_state: Any, new_state: Any, reason: str,
                      effective_priority: int) -> None:
        new = state_name(new_state)
        self.member_state[instance_name] = new
        if new in NOTIFIED_STATES:
            self._notify_instance(instance_name, new, effective_priority)
        group = self.group_of.get(instance_name)
        if group is not None:
            self._update_group(group)

    def on_event(self, instance_name: str, event: str, state: Any, effective_priority: int) -> None:
        """The engine's non-transition events; MASTER_RX_LOWER_PRI is keepalived's
        send_event_notify: the notify_master_rx_lower_pri script and a FIFO line. (PRIORITY
        reaches us through the tracking supervisor's priority_changed.)"""
        if event != "MASTER_RX_LOWER_PRI":
            return
        t = self.instances.get(instance_name)
        if t is None:
            return
        line = format_line("INSTANCE", instance_name, event, effective_priority)
        for w in self.fifos:
            w.write_line(line)
        if t.rx_lower_pri is not None:
            self._submit(f"{t.kind}:{t.name}", [(t.rx_lower_pri, ())])

    def priority_changed(self, instance_name: str, state: Any, effective_priority: int) -> None:
        """An instance's effective priority moved (tracking). With notify_priority_changes
        (or global vrrp_notify_priority_changes) the FIFOs get keepalived's MASTER_PRIORITY /
        BACKUP_PRIORITY line; other states are not reported, as keepalived."""
        inst = self.config.instance(instance_name)
        if inst is None:
            return
        enabled = inst.notify_priority_changes
        if enabled is None:
            enabled = self.config.global_defs.vrrp_notify_priority_changes
        name = state_name(state)
        if not enabled or name not in ("MASTER", "BACKUP"):
            return
        line = format_line("INSTANCE", instance_name, f"{name}_PRIORITY", effective_priority)
        for w in self.fifos:
            w.write_line(line)

    def _update_group(self, group: str) -> None:
        states = [self.member_state.get(m) for m in self.members.get(group, ())]
        if not states:
            return
        if "FAULT" in states:
            new = "FAULT"
        elif len(set(states)) == 1 and states[0] in ("MASTER", "BACKUP", "STOP"):
            new = states[0]
        else:
            return
        if self.group_state.get(group) == new:
            return
        self.group_state[group] = new
        self._notify_group(group, new)

    def _notify_instance(self, name: str, state: str, priority: int) -> None:
        t = self.instances.get(name)
        if t is None:
            return
        if state == "DELETED" and not t.notify_deleted:
            state = "FAULT"            # keepalived's old way to notify a deletion
        self._emit(t, state, priority)

    def _notify_group(self, name: str, state: str) -> None:
        t = self.groups.get(name)
        if t is None:
            return
        log.info("VRRP_Group(%s) notifying %s", name, state)
        self._emit(t, state, 0)

    def _emit(self, t: _Target, state: str, priority: int) -> None:
        line = format_line(t.kind, t.name, state, priority)
        for w in self.fifos:
            w.write_line(line)
        scripts: list[tuple[CheckedScript, tuple[str, ...]]] = []
        own = t.by_state.get(state)
        if own is not None:
            scripts.append((own, ()))
        if t.generic is not None:
            scripts.append((t.generic, (t.kind, t.name, state, str(priority))))
        if scripts:
            self._submit(f"{t.kind}:{t.name}", scripts)
        if t.smtp and self.smtp is not None:
            g = self.config.global_defs
            if not (g.no_email_faults and state == "FAULT"):
                from kvrrp.notify.smtp import vrrp_alert

                alert = vrrp_alert(self.router_id, t.kind, t.name, state)
                if alert is not None:
                    self.smtp.alert(alert)

    def _submit(self, key: str, scripts: list[tuple[CheckedScript, tuple[str, ...]]]) -> None:
        """Queue scripts behind the earlier ones of the same instance/group (one at a time)."""
        async def job(scripts=scripts, key=key) -> None:
            if self._slots is None:
                self._slots = asyncio.Semaphore(self.max_concurrent_scripts)
            for script, args in scripts:
                async with self._slots:
                    result = await run_script(script, self.script_timeout, args)
                self._record(key, script.argv + args, result)

        self.serial.submit(key, job)

    def _record(self, key: str, argv: tuple[str, ...], result: RunResult) -> None:
        if result.error:
            log.warning("(%s) notify script %s could not run: %s", key, argv[0], result.error)
        elif result.timed_out:
            log.warning("(%s) notify script %s timed out after %.3gs and was killed", key, argv[0], self.script_timeout)
        elif result.returncode:
            log.info("(%s) notify script %s exited with status %d", key, argv[0], result.returncode)
        self.history.append(ScriptRun(target=key, argv=argv, result=result))
        if len(self.history) > self.history_limit:
            del self.history[: len(self.history) - self.history_limit]

    def snapshot(self) -> dict:
        return {
            "group_state": dict(self.group_state),
            "pending_scripts": self.serial.pending(),
            "scripts_completed": self.serial.completed,
            "refused_scripts": dict(self.refused),
            "fifo": [{"path": w.path, "written": w.lines_written, "dropped": w.lines_dropped} for w in self.fifos],
            "smtp": {"sent": self.smtp.sent, "failed": self.smtp.failed} if self.smtp else None,
        }
