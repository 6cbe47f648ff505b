"""`lvs_sync_daemon`: the kernel's IPVS connection sync daemon follows a VRRP instance.

keepalived (vrrp.c, vrrp_scheduler.c, vrrp_daemon.c, check_daemon.c):
* `lvs_sync_daemon IF INSTANCE [id ID] [maxlen LEN] [port PORT] [ttl TTL] [group IP]` in
  global_defs, or the deprecated `lvs_sync_daemon_interface IF` inside a vrrp_instance: the
  VRRP process runs a *backup* sync daemon while that instance is not MASTER (from its start,
  and in FAULT), and when it becomes MASTER stops the backup daemon and starts a *master* one;
  leaving MASTER reverses that. At shutdown it stops the daemon it runs. The sync id defaults
  to the instance's VRID with `lvs_sync_daemon`, to 0 with `lvs_sync_daemon_interface`.
* `lvs_sync_daemon IF` without an instance: the checker process runs master and backup
  daemons both (sync id 0 unless given) for its whole life.
* A reload that changes the daemon's settings stops it and starts it with the new ones.
Kernel errors (EEXIST "Daemon has already run", ESRCH "No daemon is running", ENODEV...) are
logged and counted; VRRP goes on.

The decisions are here; the kernel commands are healthcheck.ipvs_syncd's.
"""
from __future__ import annotations

import dataclasses
import errno
import logging
from typing import Any, Protocol

from healthcheck.ipvs_wire import SYNC_BACKUP, SYNC_MASTER, SyncDaemon
from kvrrp.vrrp.fsm import State

log = logging.getLogger("kvrrp.lvs_sync")

_WHY = {errno.EEXIST: "Daemon has already run", errno.ESRCH: "No daemon is running"}


class SyncKernel(Protocol):
    def start(self, daemon: SyncDaemon) -> None: ...
    def stop(self, state: int, sync_id: int = 0) -> None: ...


def role_name(state: int) -> str:
    return {SYNC_MASTER: "master", SYNC_BACKUP: "backup"}.get(state, f"state {state}")


@dataclasses.dataclass(frozen=True)
class SyncPlan:
    """What the configuration asks for: the instance that drives the role (None: master and
    backup both, in the checker) and the daemon's settings (its `state` is filled per role)."""
    instance: str | None
    daemon: SyncDaemon

    def role(self, state: int) -> SyncDaemon:
        return dataclasses.replace(self.daemon, state=state)


def sync_plan(config: Any) -> SyncPlan | None:
    """The configuration's sync daemon, resolved as keepalived does, or None."""
    g = config.global_defs.lvs_sync_daemon
    if g is not None:
        sync_id = g.sync_id
        if g.instance is not None:
            inst = next((i for i in config.instances if i.name == g.instance), None)
            if inst is None:
                return None     # keepalived: "Unable to find vrrp instance" - config cleared
            if sync_id is None:
                sync_id = inst.vrid or 0
        daemon = SyncDaemon(0, g.interface, sync_id or 0, g.maxlen, g.port, g.ttl, g.group)
        return SyncPlan(g.instance, daemon)
    for inst in config.instances:
        ifname = getattr(inst, "lvs_sync_daemon_interface", None)
        if ifname:
            return SyncPlan(inst.name, SyncDaemon(0, ifname, 0))
    return None


class SyncDaemonRunner:
    """Runs the kernel sync daemon(s) a plan asks for; counts and logs kernel errors."""

    def __init__(self, kernel: SyncKernel, plan: SyncPlan) -> None:
        self.kernel = kernel
        self.plan = plan
        self.running: int | None = None         # the role this runner started (VRRP side)
        self.errors = 0
        self.commands = 0

    def _start(self, state: int, quiet: bool = False) -> bool:
        daemon = self.plan.role(state)
        self.commands += 1
        try:
            self.kernel.start(daemon)
        except (OSError, ValueError) as exc:
            self._failed(f"starting the {role_name(state)} sync daemon on {daemon.ifname} "
                         f"(sync id {daemon.sync_id})", exc, quiet)
            return False
        log.info("IPVS: %s sync daemon started on %s, sync id %d", role_name(state), daemon.ifname,
                 daemon.sync_id)
        return True

    def _stop(self, state: int, quiet: bool = False) -> None:
        self.commands += 1
        try:
            self.kernel.stop(state, self.plan.daemon.sync_id)
        except OSError as exc:
            self._failed(f"stopping the {role_name(state)} sync daemon", exc, quiet)
            return
        log.info("IPVS: %s sync daemon stopped", role_name(state))

    def _failed(self, what: str, exc: Exception, quiet: bool) -> None:
        if quiet:
            return              # keepalived's ignore_error: clearing what may not be there
        self.errors += 1
        code = getattr(exc, "errno", None)
        log.error("IPVS: %s failed: %s", what, _WHY.get(code, str(exc)) if code else exc)

    # -- the VRRP process: one role, following the instance --------------------------------------
    def take_role(self, state: int) -> None:
        """MASTER: stop backup, start master; else stop master, start backup (ipvs_syncd_master
        / ipvs_syncd_backup). A failed start is logged and not retried, as in keepalived."""
        if self.running == state:
            return
        if self.running is not None:
            self._stop(self.running)
        self._start(state)
        self.running = state

    def begin(self, state: int) -> None:
        """First start: what an earlier run left (a SIGKILLed daemon) is cleared first."""
        self._stop(SYNC_MASTER, quiet=True)
        self._stop(SYNC_BACKUP, quiet=True)
        self._start(state)
        self.running = state

    def retune(self, plan: SyncPlan, state: int) -> None:
        """Reload: changed settings -> stop and start again; then the role `state` runs and the
        other one does not (keepalived's reload sequence)."""
        changed = plan.daemon != self.plan.daemon
        self.plan = plan
        if changed and self.running is not None:
            self._stop(self.running, quiet=True)
            self.running = None
        if self.running != state:
            if self.running is not None:
                self._stop(self.running, quiet=True)
            self._start(state)
            self.running = state
        self._stop(SYNC_BACKUP if state == SYNC_MASTER else SYNC_MASTER, quiet=True)

    def end(self) -> None:
        if self.running is not None:
            self._stop(self.running)
            self.running = None

    # -- the checker process: both roles, no instance ---------------------------------------------
    def start_both(self) -> None:
        self._stop(SYNC_MASTER, quiet=True)
        self._stop(SYNC_BACKUP, quiet=True)
        self._start(SYNC_MASTER)
        self._start(SYNC_BACKUP)

    def stop_both(self) -> None:
        self._stop(SYNC_MASTER, quiet=True)
        self._stop(SYNC_BACKUP, quiet=True)


def role_for(state: Any) -> int:
    return SYNC_MASTER if state is State.MASTER else SYNC_BACKUP


class LvsSync:
    """The VRRP process's side: the sync daemon follows the named instance's state."""

    def __init__(self, engine: Any, kernel: SyncKernel, plan: SyncPlan) -> None:
        assert plan.instance is not None
        self.engine = engine
        self.runner = SyncDaemonRunner(kernel, plan)

    @property
    def plan(self) -> SyncPlan:
        return self.runner.plan

    def _state(self) -> Any:
        inst = self.engine.instances.get(self.plan.instance)
        return inst.state if inst is not None else State.BACKUP

    def start(self) -> None:
        """Before the engine starts its instances: INIT counts as backup, as in keepalived's
        vrrp_init_state."""
        self.engine.add_transition_listener(self._on_transition)
        self.runner.begin(role_for(self._state()))

    def _on_transition(self, name: str, old: Any, new: Any, reason: str, priority: int) -> None:
        if name != self.plan.instance or new in (State.STOP, State.DELETED):
            return
        self.runner.take_role(role_for(new))

    def reload(self, plan: SyncPlan) -> None:
        self.runner.retune(plan, role_for(self._state()))

    def stop(self) -> None:
        try:
            self.engine.remove_transition_listener(self._on_transition)
        except ValueError:
            pass
        self.runner.end()
        close = getattr(self.runner.kernel, "close", None)
        if close is not None:
            close()
