"""Run one script without blocking the event loop, with a timeout that really ends it.

Each script runs in its own process group (as keepalived's setpgid), as its configured user,
with stdin/stdout/stderr on /dev/null and IFS/LD_PRELOAD/LD_LIBRARY_PATH removed from its
environment. At the timeout the whole group gets SIGTERM, and SIGKILL ``kill_grace`` seconds
later if anything is left; a timed-out script counts as a failure. A file without a "#!" line
(ENOEXEC) is handed to /bin/sh, as execvp does; "</dev/tcp/..." checks go to /bin/sh -c.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
from dataclasses import dataclass

from kvrrp.notify.security import CheckedScript

log = logging.getLogger("kvrrp.notify")

_DROPPED_ENV = ("IFS", "LD_PRELOAD", "LD_LIBRARY_PATH")


@dataclass(frozen=True, slots=True)
class RunResult:
    returncode: int | None       # exit status; None when killed by a signal or not started
    signal: int | None = None    # the signal that ended it
    timed_out: bool = False
    error: str | None = None     # could not start it at all

    @property
    def success(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def _spawn(argv: list[str], script: CheckedScript) -> asyncio.subprocess.Process:
    kwargs: dict = dict(stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.DEVNULL, env=_env(), process_group=0,
                        close_fds=True)
    run_as = script.run_as
    if run_as.uid != os.geteuid() or run_as.gid != os.getegid():
        kwargs.update(user=run_as.uid, group=run_as.gid, extra_groups=list(run_as.groups))
    return await spawn_tracked(argv, **kwargs)


async def spawn_tracked(argv: list[str], **kwargs) -> asyncio.subprocess.Process:
    """create_subprocess_exec, known to the daemon's leftover reaper (kvrrp.io.reaper) while it
    runs; once it has exited, whatever it left behind is swept."""
    from kvrrp.io import reaper as reaper_mod

    reaper = reaper_mod.installed()
    if reaper is None:
        return await asyncio.create_subprocess_exec(*argv, **kwargs)
    with reaper.spawn():
        proc = await asyncio.create_subprocess_exec(*argv, **kwargs)
        reaper.register(proc.pid)

    def done(_task: object) -> None:
        reaper.forget(proc.pid)
        reaper.sweep()

    asyncio.ensure_future(proc.wait()).add_done_callback(done)
    return proc


async def run_script(script: CheckedScript, timeout: float | None, extra_args: tuple[str, ...] = (),
                     *, kill_grace: float = 2.0) -> RunResult:
    """Run ``script`` (+ extra_args) to completion or to its timeout."""
    if script.shell:
        command = " ".join(script.argv + extra_args)
        argv = ["/bin/sh", "-c", command]
    else:
        argv = list(script.argv + extra_args)
    try:
        proc = await _spawn(argv, script)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC:
            try:
                proc = await _spawn(["/bin/sh"] + argv, script)
            except OSError as exc2:
                return RunResult(returncode=None, error=f"{argv[0]}: {exc2.strerror}")
        else:
            return RunResult(returncode=None, error=f"{argv[0]}: {exc.strerror}")
    pgid = proc.pid
    try:
        rc = await asyncio.wait_for(proc.wait(), timeout) if timeout else await proc.wait()
    except asyncio.TimeoutError:
        _kill_group(pgid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), kill_grace)
        except asyncio.TimeoutError:
            pass
        _kill_group(pgid, signal.SIGKILL)   # whatever is left of the group, leader or not
        await proc.wait()
        log.info("script %s timed out after %.3gs and was killed", argv[0], timeout)
        return RunResult(returncode=None, signal=-proc.returncode if proc.returncode and proc.returncode < 0 else None,
                         timed_out=True)
    except asyncio.CancelledError:
        _kill_group(pgid, signal.SIGKILL)   # the child watcher reaps it
        raise
    if rc < 0:
        return RunResult(returncode=None, signal=-rc)
    return RunResult(returncode=rc)
