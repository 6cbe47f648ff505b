"""The checker child: keepalived's process model, in which a configuration with
virtual_server blocks (or --all) also runs the health checkers, here a `kvrrp -C` process with
its own pid file that the VRRP daemon starts, passes SIGHUP / DATA / TDUMP to, restarts when it
dies (with a back-off; never with -R) and stops on SIGTERM."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from typing import Any, Callable

from kvrrp.bfd.relay import ENV as BFD_ENV
from kvrrp.bfd.relay import ParentFeed
from kvrrp.control.protocol import socket_path
from kvrrp.io.lifetime import PARENT_PID_ENV
from kvrrp.notify.runner import spawn_tracked
from kvrrp.pidfile import DEFAULT_PID_FILE

log = logging.getLogger("kvrrp.daemon")


class CheckerChild:
    """One supervised `kvrrp -C` process."""

    RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
    STOP_WAIT = 10.0

    def __init__(self, args: Any, child_wait_time: int | None = None) -> None:
        self.args = args
        # child_wait_time: how long a stop waits for the child before SIGKILL (keepalived's
        # default is 5 s; kvrrp keeps 10 s when it is not set: removing a big IPVS table takes time)
        self.wait_time = float(child_wait_time) if child_wait_time is not None else self.STOP_WAIT
        self.proc: asyncio.subprocess.Process | None = None
        self.pid_file = checker_pid_path(args)
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.starts = 0
        self.control_socket = socket_path(self.pid_file)
        self.scraped: bool | None = None        # did the last /metrics reach the child
        self.on_give_up: Callable[[], None] | None = None   # called when -R forbids a restart
        self.extra_env: Callable[[], dict[str, str]] | None = None   # variables for each (re)start
        self.bfd_feed: ParentFeed | None = None   # BFD states to the child's stdin

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "kvrrp", "-C", "-n", "-f", self.args.config, "-p", self.pid_file]
        if self.args.log_console:
            argv.append("-l")
        if self.args.log_detail:
            argv.append("-D")
        if self.args.config_id:
            argv += ["-i", self.args.config_id]
        if getattr(self.args, "allow_reload_removing_all", False):
            argv.append("--allow-reload-removing-all")
        a = self.args
        if getattr(a, "log_facility", "daemon") != "daemon":
            argv += ["-S", a.log_facility]
        if getattr(a, "no_syslog", False):
            argv.append("-G")
        if getattr(a, "log_file", None):
            argv.append(f"--log-file={a.log_file}")
        if getattr(a, "flush_log_file", False):
            argv.append("--flush-log-file")
        if getattr(a, "dont_release_ipvs", False):
            argv.append("-I")
        if getattr(a, "no_bfd", False):
            argv.append("-B")
        if getattr(a, "namespace", None):
            argv += ["-s", a.namespace]
        if getattr(a, "snmp", False):
            argv.append("-x")
        if getattr(a, "snmp_agent_socket", None):
            argv += ["-A", a.snmp_agent_socket]
        return argv

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping:
            started = time.monotonic()
            # the child dies with this process (PR_SET_PDEATHSIG), even when it is SIGKILLed
            env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
            if self.extra_env is not None:
                env.update(self.extra_env())
            if self.bfd_feed is not None:
                env[BFD_ENV] = "1"
                self.proc = await spawn_tracked(self.argv(), env=env, stdin=asyncio.subprocess.PIPE)
                self.bfd_feed.attach(self.proc.stdin)
            else:
                self.proc = await spawn_tracked(self.argv(), env=env)
            self.starts += 1
            log.info("Starting healthcheck child process, pid=%d", self.proc.pid)
            code = await self.proc.wait()
            if self._stopping:
                return
            if getattr(self.args, "dont_respawn", False):
                # keepalived -R: a dead child is not restarted, the whole daemon stops
                log.critical("Healthcheck child process(%d) died: Exiting", self.proc.pid)
                if self.on_give_up is not None:
                    self.on_give_up()
                return
            failures = 0 if time.monotonic() - started > 60 else failures + 1
            delay = self.RESTART_DELAYS[min(failures, len(self.RESTART_DELAYS)) - 1] if failures else 1.0
            log.error("Healthcheck child process (pid %d) exited with status %s; restarting in %.0f s",
                      self.proc.pid, code, delay)
            await asyncio.sleep(delay)

    def snapshot(self) -> dict:
        running = self.proc is not None and self.proc.returncode is None
        return {"pid": self.proc.pid if running else None, "starts": self.starts,
                "control_socket": self.control_socket, "scraped": self.scraped}

    def reload(self) -> None:
        self.send(signal.SIGHUP)

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)

    async def stop(self, timeout: float | None = None) -> None:
        timeout = self.wait_time if timeout is None else timeout
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except asyncio.TimeoutError:
                log.error("Healthcheck process failed to die - forcing termination (pid %d, waited %.0f s)",
                          proc.pid, timeout)
                proc.kill()
                await proc.wait()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass


def protocol_socket(pid_file: str) -> str:
    return socket_path(pid_file)


def checker_pid_path(args: Any) -> str:
    """The checker child's pid file: -c, else the VRRP daemon's (-p) with -checkers."""
    return getattr(args, "checkers_pid_file", None) or checker_pid_file(args.pid_file or DEFAULT_PID_FILE)


def checker_pid_file(vrrp_pid_file: str) -> str:
    """/run/kvrrp.pid -> /run/kvrrp-checkers.pid (keepalived: keepalived.pid / checkers.pid)."""
    base, ext = os.path.splitext(vrrp_pid_file)
    return f"{base}-checkers{ext or '.pid'}"


def wants_checker(args: Any, config: Any) -> bool:
    """keepalived's rule: a checker process when the configuration has virtual servers, or
    always with --all; never with -P."""
    if args.vrrp:
        return False
    return bool(getattr(args, "all", False)) or bool(getattr(config, "virtual_servers", ()))
