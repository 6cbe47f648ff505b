"""`kvrrp -f FILE`: the VRRP daemon process around the engine.

Order of start: logging; load the configuration (print every diagnostic, refuse to start on
errors); take the pid file (refuse a second copy, take over a stale one); daemonize unless -n;
then, in one asyncio loop: the real kernel adapters, a sweep of VIPs a crashed run left behind,
the engine, signal handlers and the optional status API.

Signals (keepalived's): SIGTERM/SIGINT stop (priority-0 adverts, VIPs removed, exit 0); SIGHUP
reloads (unchanged instances keep their state); SIGUSR1 writes the data dump to
/tmp/keepalived.data, SIGUSR2 the stats dump to /tmp/keepalived.stats, SIGRTMIN+2 (keepalived's
SIGJSON) the JSON dump to /tmp/keepalived.json.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any, Iterable

from kvrrp.logging_setup import configure as configure_logging
from kvrrp.pidfile import DEFAULT_PID_FILE, AlreadyRunning, PidFile

log = logging.getLogger("kvrrp.daemon")

DATA_DUMP = "/tmp/keepalived.data"
STATS_DUMP = "/tmp/keepalived.stats"
JSON_DUMP = "/tmp/keepalived.json"
SIGJSON = signal.SIGRTMIN + 2
EXIT_CONFIG = 1
EXIT_RUNNING = 1
EXIT_FATAL = 2


def load_config(path: str, config_id: str | None, out=sys.stderr) -> Any | None:
    """Load and print diagnostics; None when the configuration has errors."""
    from kvrrp.config import load
    from kvrrp.config.diagnostics import ERROR, FATAL

    result = load(path, config_id)
    bad = False
    for diag in result.diagnostics:
        print(diag.format(), file=out)
        if diag.severity in (ERROR, FATAL):
            bad = True
    if bad or result.config is None:
        return None
    return result.config


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
        removed = remove_leftovers(addresses, _sweepable(settings.instances))
        if removed:
            log.info("cleaned %d virtual address(es) left by a previous run", len(removed))
        self.engine = VrrpEngine(settings, transports=transports, addresses=addresses,
                                 announcer=announcer, clock=MonotonicClock(), loop=loop)
        self._install_signals(loop)
        if self.args.status_port:
            await self._start_status()
        self.engine.start()
        log.info("kvrrp VRRP engine started with %d instance(s)", len(settings.instances))
        await self.stopping.wait()
        log.info("Stopping")
        await _maybe_await(self.engine.shutdown())
        await self._stop_status()
        for adapter in self._adapters:
            try:
                adapter.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                log.debug("closing %r failed", adapter, exc_info=True)
        log.info("Stopped")
        return 0

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_signal_handler(signal.SIGTERM, self._on_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._on_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))
        loop.add_signal_handler(signal.SIGUSR1, self._dump, DATA_DUMP, "data")
        loop.add_signal_handler(signal.SIGUSR2, self._dump, STATS_DUMP, "stats")
        loop.add_signal_handler(SIGJSON, self._dump, JSON_DUMP, "json")

    def _on_stop(self, name: str) -> None:
        log.info("Received %s", name)
        self.stopping.set()

    # -- reload and dumps -----------------------------------------------------------------
    async def reload(self) -> None:
        if self._reloading or self.stopping.is_set():
            return
        self._reloading = True
        try:
            log.info("Reloading")
            from kvrrp.vrrp.settings import engine_settings

            config = load_config(self.args.config, self.args.config_id, out=_LogWriter())
            if config is None:
                log.error("Reload failed: the new configuration has errors; keeping the running one")
                return
            try:
                settings = engine_settings(config)
            except ValueError as exc:
                log.error("Reload failed: %s; keeping the running configuration", exc)
                return
            report = await _maybe_await(self.engine.apply_config(settings))
            self.config = config
            log.info("Reload finished%s", f": {report}" if report else "")
        except Exception:  # noqa: BLE001 - a failed reload must leave the daemon running
            log.exception("Reload failed")
        finally:
            self._reloading = False

    def render(self, kind: str) -> str:
        if kind == "data":
            return self.engine.dump_data()
        if kind == "stats":
            return self.engine.dump_stats()
        return json.dumps(self.engine.dump_json(), indent=2, sort_keys=True, default=str) + "\n"

    def _dump(self, path: str, kind: str) -> None:
        try:
            write_dump(path, self.render(kind))
            log.info("Wrote %s dump to %s", kind, path)
        except Exception:  # noqa: BLE001
            log.exception("Writing the %s dump to %s failed", kind, path)

    # -- status API -----------------------------------------------------------------------
    async def _start_status(self) -> None:
        from kvrrp.status_http import StatusServer

        self._status = StatusServer(status=self.engine.dump_json, metrics=self.engine.metrics_text,
                                    port=self.args.status_port)
        try:
            await self._status.start()
        except OSError as exc:
            log.error("status API on 127.0.0.1:%s unavailable: %s", self.args.status_port, exc)
            self._status = None

    async def _stop_status(self) -> None:
        if self._status is not None:
            await self._status.stop()


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


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


def main(args: Any) -> int:
    configure_logging(console=args.log_console, detail=args.log_detail)
    config = load_config(args.config, args.config_id)
    if config is None:
        print(f"kvrrp: not starting: {args.config} has errors", file=sys.stderr)
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
        return asyncio.run(Daemon(args, config).run())
    except KeyboardInterrupt:
        return 0
    finally:
        pidfile.release()
