"""No process outlives its script run: the daemon is a child subreaper and kills what scripts leave.

keepalived runs scripts in their own process group and kills the group on a timeout; a
grandchild that calls setsid() leaves the group, survives the script and is inherited by init
- one stray process per run for a vrrp_script doing that. kvrrp marks the daemon (and the
checker process) a child subreaper (prctl(PR_SET_CHILD_SUBREAPER)): every descendant whose
parent dies is re-parented to the daemon instead of init. The daemon knows the processes it
started itself (scripts while they run, the checker child); any other child is the leftover
of a script run that ended, and gets SIGKILL (with its process group, when it leads one) and
is reaped. A leftover that already exited (a zombie) is just reaped. Counted: `killed`,
`reaped`.

Sweeps run right after each script run ends (that is when its leftovers are re-parented), on
SIGCHLD, and every SWEEP_INTERVAL seconds (descendants of a killed leftover arrive a little
later). The reaper only ever waits for the pids it found and did not start, never for -1,
so asyncio's child watcher keeps every exit status of its own processes.

A notify script that must start a long-lived service should hand it to the service manager
(`systemctl start`, `systemd-run`), not background it: a backgrounded process is a leftover.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
from typing import Iterator

log = logging.getLogger("kvrrp.reaper")

PR_SET_CHILD_SUBREAPER = 36
SWEEP_INTERVAL = 1.0

_installed: "OrphanReaper | None" = None


def become_subreaper() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        log.warning("cannot become a child subreaper: %s", os.strerror(err))
        return False
    return True


def children_of(pid: int) -> set[int]:
    """Direct children of ``pid`` (every thread's), from /proc."""
    out: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.update(int(x) for x in fh.read().split())
        except (OSError, ValueError):
            continue
    return out


class OrphanReaper:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, *, kill: bool = True) -> None:
        self.loop = loop
        self.kill = kill
        self.own: set[int] = set()          # processes we started and still wait for
        self.spawning = 0                    # a spawn in progress: its pid is not known yet
        self.killed = 0
        self.reaped = 0
        self.sweeps = 0
        self.subreaper = False
        self._dying: set[int] = set()
        self._timer: asyncio.TimerHandle | None = None

    # -- life cycle -------------------------------------------------------------------------
    def install(self) -> "OrphanReaper":
        global _installed
        self.subreaper = become_subreaper()
        _installed = self
        if self.loop is not None:
            self._timer = self.loop.call_later(SWEEP_INTERVAL, self._tick)
        return self

    def uninstall(self) -> None:
        global _installed
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if _installed is self:
            _installed = None

    def _tick(self) -> None:
        try:
            self.sweep()
        finally:
            if self.loop is not None and _installed is self:
                self._timer = self.loop.call_later(SWEEP_INTERVAL, self._tick)

    # -- bookkeeping of our own processes ---------------------------------------------------
    @contextlib.contextmanager
    def spawn(self) -> Iterator[None]:
        """Around a spawn: no sweep may take the new child (not registered yet) for a leftover."""
        self.spawning += 1
        try:
            yield
        finally:
            self.spawning -= 1

    def register(self, pid: int) -> None:
        self.own.add(pid)

    def forget(self, pid: int) -> None:
        self.own.discard(pid)

    # -- the sweep ----------------------------------------------------------------------------
    def sweep(self) -> int:
        """Kill and reap every child we did not start; returns how many were found."""
        if self.spawning:
            return 0
        self.sweeps += 1
        found = 0
        for pid in children_of(os.getpid()) - self.own:
            found += 1
            if pid not in self._dying:
                if self._exited(pid):
                    continue
                if self.kill:
                    self._kill(pid)
            self._exited(pid)
        return found

    def _kill(self, pid: int) -> None:
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            return
        try:
            if pgid == pid and pgid != os.getpgrp():
                os.killpg(pgid, signal.SIGKILL)     # the leftover leads a group: all of it
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self._dying.add(pid)
        self.killed += 1
        level = logging.WARNING if self.killed <= 10 else logging.DEBUG
        log.log(level, "killed pid %d left behind by a script run (%d so far)", pid, self.killed)

    def _exited(self, pid: int) -> bool:
        """Reap pid if it has exited (it is our child: nobody else waits for it)."""
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            self._dying.discard(pid)
            return True
        if done == 0:
            return False
        if pid not in self._dying:
            self.reaped += 1
        self._dying.discard(pid)
        return True

    def snapshot(self) -> dict:
        return {"subreaper": self.subreaper, "leftovers_killed": self.killed,
                "leftovers_reaped": self.reaped, "sweeps": self.sweeps}


def installed() -> OrphanReaper | None:
    return _installed
