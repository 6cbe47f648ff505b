"""`kvrrp -f FILE`: the VRRP daemon process around the engine.

Order of start: logging; load the configuration (print every diagnostic; refuse to start only
on what keepalived would not run either, LoadResult.blocking, or what the VRRP engine refuses);
take the pid file (refuse a second copy, take over a stale one); daemonize unless -n;
then, in one asyncio loop: the real kernel adapters, a sweep of VIPs a crashed run left behind,
the engine, signal handlers and the optional status API.

Signals (keepalived's): SIGTERM/SIGINT stop (priority-0 adverts, VIPs removed, exit 0); SIGHUP
reloads (unchanged instances keep their state); SIGUSR1 writes the data dump to
/tmp/keepalived.data, SIGUSR2 the stats dump to /tmp/keepalived.stats, SIGRTMIN+2 (keepalived's
SIGJSON) the JSON dump to /tmp/keepalived.json.

Operators: the optional status API (--status-port, --status-address) serves /status and
/metrics (also the checker child's metrics, fetched over its control socket), and the control
socket (kvrrp.control, beside the pid file) serves kvrrpctl.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import sys
import time
from typing import Any, Iterable

from kvrrp.logging_setup import configure as configure_logging
from kvrrp.pidfile import DEFAULT_PID_FILE, AlreadyRunning, PidFile
from kvrrp.status_http import DEFAULT_ADDRESS as DEFAULT_STATUS_ADDRESS

log = logging.getLogger("kvrrp.daemon")

DATA_DUMP = "/tmp/keepalived.data"
STATS_DUMP = "/tmp/keepalived.stats"
JSON_DUMP = "/tmp/keepalived.json"
SIGJSON = signal.SIGRTMIN + 2
TIMER_RESOLUTION = 0.0001  # 100 us wheel ticks: deadlines are rounded up by at most this much
EXIT_CONFIG = 1
EXIT_RUNNING = 1
EXIT_FATAL = 2


def load_config(path: str, config_id: str | None, out=None) -> Any | None:
    """Load and print every diagnostic as it is; None when the configuration has a problem
    keepalived itself would not run with (LoadResult.blocking). Like keepalived, other errors
    (an out-of-range value, an unknown keyword ...) are reported and the bad value ignored.
    The rule is kvrrp.config.runnable's, shared with the checker process."""
    result = parse_config(path, config_id)
    print_diagnostics(result, out)
    return usable_config(result)


def parse_config(path: str, config_id: str | None) -> Any:
    """kvrrp.config.load: pure, safe to run in a worker thread (SIGHUP does)."""
    from kvrrp.config import load

    return load(path, config_id)


def print_diagnostics(result: Any, out=None) -> None:
    from kvrrp.config.runnable import report_diagnostics

    report_diagnostics(result, out)


def usable_config(result: Any) -> Any | None:
    """The configuration, or None when it has blocking problems (or none could be built)."""
    from kvrrp.config.runnable import runnable_config

    return runnable_config(result)


def daemonize() -> None:
    """Classic double fork: detach from the terminal and session, stdio to /dev/null."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def write_dump(path: str, text: str) -> None:
    """Write a dump atomically (readers never see half a file)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


class Daemon:
    """Owns the loop-side pieces: adapters, engine, signal handlers, status server."""

    def __init__(self, args: Any, config: Any) -> None:
        self.args = args
        self.config = config
        self.stopping = asyncio.Event()
        self.engine: Any = None
        self._adapters: list[Any] = []
        self._status: Any = None
        self._reloading = False
        self._transports: Any = None
        self._announcer: Any = None
        self.extras: Any = None
        self.checker: CheckerChild | None = None
        self.control: Any = None
        self._control_server: Any = None
        self._registry: Any = None
        from kvrrp.metrics import TransitionRecorder

        self.transitions = TransitionRecorder()

    # -- life cycle -----------------------------------------------------------------------
    async def run(self) -> int:
        from kvrrp.io.addresses import NetlinkAddressManager, remove_leftovers
        from kvrrp.io.announce import PacketAnnouncer
        from kvrrp.io.clock import MonotonicClock
        from kvrrp.io.netlink import Netlink
        from kvrrp.io.transport import RawTransportFactory
        from kvrrp.vrrp.engine import VrrpEngine
        from kvrrp.vrrp.settings import engine_settings

        loop = asyncio.get_running_loop()
        settings = engine_settings(self.config)
        netlink = Netlink()
        transports = RawTransportFactory(loop, netlink=netlink)
        addresses = NetlinkAddressManager(netlink)
        announcer = PacketAnnouncer()
        self._adapters = [transports, announcer, netlink]
        self._transports, self._announcer = transports, announcer
        from kvrrp.track.wiring import DaemonExtras

        self.extras = DaemonExtras(self.config, loop, netlink)
        self.extras.prepare()  # use_vmac interfaces exist before anything uses them
        removed = remove_leftovers(addresses, _sweepable(settings.instances))
        if removed:
            log.info("cleaned %d virtual address(es) left by a previous run", len(removed))
        self.engine = VrrpEngine(self.config, transports=transports, addresses=addresses,
                                 announcer=announcer, clock=MonotonicClock(),
                                 source_address=transports.local_address, loop=loop,
                                 timer_resolution=TIMER_RESOLUTION)
        self.engine.add_transition_listener(self.transitions)
        self._install_signals(loop)
        try:
            if self.args.status_port:
                await self._start_status()
            await self._start_control()
            try:
                # startup_script, notify scripts/FIFOs/SMTP, trackers (initial FAULTs and weights
                # in place before any instance runs), virtual_routes/rules on MASTER
                await self.extras.start(self.engine)
            except Exception:  # noqa: BLE001 - VRRP itself must still run
                log.exception("starting trackers/notifications failed; VRRP runs without them")
            self.engine.start()
            if wants_checker(self.args, self.config):
                self.checker = CheckerChild(self.args)
                self.checker.start()
            log.info("kvrrp VRRP engine started with %d instance(s)", len(settings.instances))
            # Everything built so far lives until exit: keep the cyclic GC from walking it again
            # and again (a full collection is a latency spike on the failover path).
            gc.collect()
            gc.freeze()
            await self.stopping.wait()
            log.info("Stopping")
        finally:
            # also after an unexpected error: never leave VIPs behind without priority 0
            await self._shutdown()
        log.info("Stopped")
        return 0

    async def _shutdown(self) -> None:
        await self._guarded(self.extras.before_stop())
        await self._stop_control()
        try:
            self.engine.stop()  # priority-0 adverts from masters, VIPs removed
        except Exception:  # noqa: BLE001
            log.exception("stopping the VRRP engine failed")
        # What is left (closing sockets, threads, interpreter teardown) is not urgent; the
        # backups taking over right now on this host or its neighbours' CPU are.
        try:
            os.nice(10)
        except OSError:
            pass
        await self._guarded(self.extras.after_stop())  # notify scripts finish, VMACs go
        if self.checker is not None:
            await self._guarded(self.checker.stop())
        await self._stop_status()
        for adapter in self._adapters:
            try:
                adapter.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                log.debug("closing %r failed", adapter, exc_info=True)

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_signal_handler(signal.SIGTERM, self._on_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._on_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))
        loop.add_signal_handler(signal.SIGUSR1, self.dump, "data")
        loop.add_signal_handler(signal.SIGUSR2, self.dump, "stats")
        loop.add_signal_handler(SIGJSON, self.dump, "json")

    @staticmethod
    async def _guarded(step: Any) -> None:
        try:
            await step
        except Exception:  # noqa: BLE001 - shutdown must go on
            log.exception("shutdown step failed")

    def _on_stop(self, name: str) -> None:
        log.info("Received %s", name)
        self.stopping.set()

    # -- reload and dumps -----------------------------------------------------------------
    async def reload(self) -> None:
        if self._reloading or self.stopping.is_set():
            return
        self._reloading = True
        if self.checker is not None:
            self.checker.reload()  # the checkers reload their part of the same file themselves
        try:
            log.info("Reloading")
            from kvrrp.vrrp.engine import validate_settings
            from kvrrp.vrrp.settings import engine_settings

            # parsing a big configuration takes a while: off the loop, so adverts keep going
            # out and in meanwhile and no backup takes over; applying it happens on the loop
            result = await asyncio.to_thread(parse_config, self.args.config, self.args.config_id)
            print_diagnostics(result, _LogWriter())
            config = usable_config(result)
            if config is None:
                log.error("Reload failed: the new configuration has problems keepalived would not run "
                          "with; keeping the running one")
                return
            try:
                validate_settings(engine_settings(config))
            except ValueError as exc:
                log.error("Reload failed: %s; keeping the running configuration", exc)
                return
            old_config = self.config
            try:
                await self.extras.before_reload(config)
                report = self.engine.apply_config(config)
            except Exception as exc:  # noqa: BLE001 - the running configuration stays
                if isinstance(exc, ValueError):
                    log.error("Reload failed: %s; keeping the running configuration", exc)
                else:
                    log.exception("Reload failed applying the new configuration; keeping the running one")
                await self._resume_extras(old_config)
                return
            await self.extras.after_reload(config)
            self.config = config
            log.info("Reload finished: kept %s, restarted %s, added %s, removed %s",
                     list(report.kept), list(report.restarted), list(report.added), list(report.removed))
        except Exception:  # noqa: BLE001 - a failed reload must leave the daemon running
            log.exception("Reload failed")
        finally:
            self._reloading = False

    async def _resume_extras(self, old_config: Any) -> None:
        """A reload failed after DaemonExtras.before_reload(new): the VMACs made for the new
        configuration go and the notifier and trackers resume with the one still running."""
        try:
            await self.extras.abort_reload(old_config)
        except Exception:  # noqa: BLE001
            log.exception("resuming trackers after the failed reload failed")

    def render(self, kind: str) -> str:
        from kvrrp.vrrp import dump

        if kind == "data":
            return dump.format_data(self.engine)
        if kind == "stats":
            return dump.format_stats(self.engine)
        return json.dumps(self.status(), indent=2, sort_keys=True, default=str) + "\n"

    def status(self) -> dict:
        from kvrrp.vrrp import dump

        snapshot = dump.status(self.engine)
        snapshot["pid"] = os.getpid()
        snapshot["config_file"] = self.args.config
        snapshot["sockets"] = self._transports.stats() if self._transports is not None else {}
        snapshot["announcer"] = dict(self._announcer.stats) if self._announcer is not None else {}
        if self.extras is not None:
            try:
                snapshot.update(self.extras.snapshot())
            except Exception:  # noqa: BLE001 - the status must render even if a part cannot
                log.exception("tracking/notify snapshot failed")
        snapshot["transitions"] = self.transitions.snapshot()
        if self.checker is not None:
            snapshot["checker"] = self.checker.snapshot()
        return snapshot

    async def metrics(self) -> bytes:
        """This process's families, then the checker child's (kvrrp_checker_*, keepalived_lvs_*)
        asked over its control socket: one scrape target for both processes."""
        from kvrrp.metrics import render, vrrp_registry

        if self._registry is None:
            self._registry = vrrp_registry(self.status)
        checker_text = b""
        if self.checker is not None:
            from kvrrp.control.client import ControlError, call_async

            try:
                checker_text = (await call_async(self.checker.control_socket, "metrics", timeout=30.0)).encode()
                self.checker.scraped = True
            except (ControlError, OSError, ValueError) as exc:
                log.debug("checker metrics unavailable: %s", exc)
                self.checker.scraped = False
        return render(self._registry) + checker_text     # kvrrp_checker_up from status()["checker"]

    def dump_path(self, kind: str) -> str:
        """keepalived's default paths, unless global_defs names others (state_dump_file,
        stats_dump_file, json_dump_file), read from the configuration in force."""
        g = self.config.global_defs
        default = {"data": DATA_DUMP, "stats": STATS_DUMP, "json": JSON_DUMP}[kind]
        attr = {"data": "state_dump_file", "stats": "stats_dump_file", "json": "json_dump_file"}[kind]
        return getattr(g, attr, None) or default

    def dump(self, kind: str) -> str | None:
        """Write one dump (the signal handlers' and kvrrpctl dump's path); its path, or None."""
        path = self.dump_path(kind)
        try:
            write_dump(path, self.render(kind))
            log.info("Wrote %s dump to %s", kind, path)
            return path
        except Exception:  # noqa: BLE001
            log.exception("Writing the %s dump to %s failed", kind, path)
            return None

    # -- status API -----------------------------------------------------------------------
    async def _start_status(self) -> None:
        from kvrrp.status_http import StatusServer

        host = getattr(self.args, "status_address", None) or DEFAULT_STATUS_ADDRESS
        self._status = StatusServer(status=self.status, metrics=self.metrics, host=host,
                                    port=self.args.status_port)
        try:
            await self._status.start()
        except OSError as exc:
            log.error("status API on %s:%s unavailable: %s", host, self.args.status_port, exc)
            self._status = None

    async def _stop_status(self) -> None:
        if self._status is not None:
            await self._status.stop()

    # -- control socket (kvrrpctl) ------------------------------------------------------------
    async def _start_control(self) -> None:
        from kvrrp.control.protocol import socket_path
        from kvrrp.control.server import ControlServer
        from kvrrp.control.vrrp_commands import VrrpControl

        pid_file = self.args.pid_file or DEFAULT_PID_FILE
        checker = protocol_socket(checker_pid_file(pid_file)) if wants_checker(self.args, self.config) else None
        self.control = VrrpControl(self, pid_file, checker)
        # maintenance (persisted, or kept over a reload) is in place before an instance starts:
        # it starts straight in FAULT
        self.engine.add_prestart_hook(self.control.prestart)
        path = getattr(self.args, "control_socket", None) or socket_path(pid_file)
        server = ControlServer(path, self.control.handlers())
        try:
            await server.start()
        except OSError as exc:
            log.error("control socket %s unavailable: %s", path, exc)
            return
        self._control_server = server

    async def _stop_control(self) -> None:
        if self.control is not None:
            self.control.cancel_holds()
        if self._control_server is not None:
            await self._guarded(self._control_server.stop())
            self._control_server = None


class CheckerChild:
    """keepalived's process model: without -P, a configuration with virtual_server blocks also
    gets the health checkers, here a `kvrrp -C` child process (own pid file) that the VRRP daemon
    starts, passes SIGHUP to, restarts if it dies (with a back-off) and stops on SIGTERM."""

    RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)

    def __init__(self, args: Any) -> None:
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.pid_file = checker_pid_file(args.pid_file or DEFAULT_PID_FILE)
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.starts = 0
        self.control_socket = protocol_socket(self.pid_file)
        self.scraped: bool | None = None        # did the last /metrics reach the child

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "kvrrp", "-C", "-n", "-f", self.args.config, "-p", self.pid_file]
        if self.args.log_console:
            argv.append("-l")
        if self.args.log_detail:
            argv.append("-D")
        if self.args.config_id:
            argv += ["-i", self.args.config_id]
        return argv

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping:
            started = time.monotonic()
            self.proc = await asyncio.create_subprocess_exec(*self.argv())
            self.starts += 1
            log.info("Starting healthcheck child process, pid=%d", self.proc.pid)
            code = await self.proc.wait()
            if self._stopping:
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
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGHUP)

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except asyncio.TimeoutError:
                log.error("healthcheck child %d did not stop in %.0f s; killing it", proc.pid, timeout)
                proc.kill()
                await proc.wait()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass


def protocol_socket(pid_file: str) -> str:
    from kvrrp.control.protocol import socket_path

    return socket_path(pid_file)


def checker_pid_file(vrrp_pid_file: str) -> str:
    """/run/kvrrp.pid -> /run/kvrrp-checkers.pid (keepalived: keepalived.pid / checkers.pid)."""
    base, ext = os.path.splitext(vrrp_pid_file)
    return f"{base}-checkers{ext or '.pid'}"


def wants_checker(args: Any, config: Any) -> bool:
    return not args.vrrp and bool(getattr(config, "virtual_servers", ()))


class _LogWriter:
    """A file-like that sends config diagnostics to the log during a reload."""

    def write(self, text: str) -> None:
        text = text.strip()
        if text:
            log.warning("%s", text)

    def flush(self) -> None:
        pass


def _sweepable(instances: Iterable[Any]) -> list[Any]:
    """VIPs a crashed run may have left: every instance's, except an address owner's own."""
    specs = []
    for inst in instances:
        if getattr(inst, "priority", 0) >= 255:
            continue
        specs.extend(inst.vips)
        specs.extend(inst.excluded_vips)
    return specs


def main(args: Any) -> int:
    configure_logging(console=args.log_console, detail=args.log_detail)
    config = load_config(args.config, args.config_id)
    if config is None:
        print(f"kvrrp: not starting: {args.config} has problems keepalived would not run with "
              "(see the errors above)", file=sys.stderr)
        return EXIT_CONFIG
    try:
        from kvrrp.vrrp.engine import validate_settings
        from kvrrp.vrrp.settings import engine_settings

        validate_settings(engine_settings(config))
    except ValueError as exc:  # UnsupportedConfig too
        print(f"kvrrp: not starting: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    pidfile = PidFile(args.pid_file or DEFAULT_PID_FILE)
    try:
        pidfile.acquire()
    except AlreadyRunning as exc:
        print(f"kvrrp: {exc}", file=sys.stderr)
        log.error("%s", exc)
        return EXIT_RUNNING
    except OSError as exc:
        print(f"kvrrp: cannot write pid file {pidfile.path}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    try:
        if not args.dont_fork:
            daemonize()
            pidfile.rewrite()
        from kvrrp.io.precise_loop import new_event_loop

        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            rc = runner.run(Daemon(args, config).run())
    except KeyboardInterrupt:
        rc = 0
    except Exception:  # noqa: BLE001 - logged with its traceback, then a non-zero exit
        log.exception("kvrrp: fatal error")
        rc = EXIT_FATAL
    finally:
        pidfile.release()
    # The daemon's state is all gone by now (VIPs removed, pid file released, sockets closed):
    # skip the interpreter's teardown, which on a busy host competes for CPU with the backups
    # taking over.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
