"""The composition root of the VRRP daemon: the services around the engine in one ordered
table (SERVICES), and the calls of their life cycle (kvrrp.daemon.service) in that order.

    start     each service's start(), in order
    reload    the new file parsed off the loop and judged (refused: nothing changes); each
              prepare_reload(new) in order, the engine applies `new`, each commit_reload(new)
              in order; a prepare that raises or an engine that fails: abort_reload(old) of
              every service prepared, in reverse order, and the running configuration stays
    stop      each withdraw() in reverse order, then each stop() in reverse order (the
              engine's instances stop first of these: priority-0 adverts, VIPs removed)

Requests to reload during a reload coalesce into exactly one more, which reads the file as it
is then. The root also answers for the whole daemon: status, dumps, node maintenance.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Union

from kvrrp import version
from kvrrp.bfd.dump import format_bfd
from kvrrp.config.interface_check import host_interfaces
from kvrrp.config.model import Config
from kvrrp.config.runnable import report_diagnostics
from kvrrp.config.snmp_dump import global_section
from kvrrp.control.client import ControlError, call_async
from kvrrp.daemon import configuration, optional
from kvrrp.daemon.checker_child import CheckerChild
from kvrrp.daemon.optional import Optional
from kvrrp.daemon.service import Service
from kvrrp.daemon.services.accept_mode import AcceptModeFirewall
from kvrrp.daemon.services.adapters import KernelAdapters
from kvrrp.daemon.services.bfd import BfdSessions
from kvrrp.daemon.services.checker import Checker
from kvrrp.daemon.services.config_files import SavedConfigs
from kvrrp.daemon.services.control import ControlSocket
from kvrrp.daemon.services.engine import EngineBuild, EngineRun
from kvrrp.daemon.services.notifier import Notifications
from kvrrp.daemon.services.process_watch import AddressChanges, ScriptReaper
from kvrrp.daemon.services.reload_schedule import ReloadSchedule
from kvrrp.daemon.services.routes import VirtualRoutes
from kvrrp.daemon.services.scripts import GlobalScripts
from kvrrp.daemon.services.signals import Signals
from kvrrp.daemon.services.tracking import Trackers
from kvrrp.daemon.services.tuning import ProcessTuning
from kvrrp.daemon.services.vmacs import VmacInterfaces
from kvrrp.dump_paths import dump_path
from kvrrp.pidfile import DEFAULT_PID_FILE, default_pid_file
from kvrrp.reload_files import ReloadLock, reload_file_path
from kvrrp.reload_guard import ReloadCounters, refusal
from kvrrp.sdnotify import Notifier as SystemdNotifier
from kvrrp.signals import signum
from kvrrp.transition_log import TransitionRecorder
from kvrrp.vrrp import dump
from kvrrp.vrrp.engine import validate_settings
from kvrrp.vrrp.settings import engine_settings

log = logging.getLogger("kvrrp.daemon")
WORKER_THREADS = 2   # a reload parse and a /metrics render may overlap

# The order of the daemon, written once. start: top to bottom; withdraw and stop: bottom to top.
# Why each sits where it does:
SERVICES: tuple[Union[type[Service], Optional], ...] = (
    Signals,               # first: a SIGTERM during the start stops it cleanly (nothing left behind);
                           # a SIGHUP waits for the start to finish, dumps say what exists yet
    KernelAdapters,        # netlink, raw sockets, addresses, announcer: first up, last closed
    ScriptReaper,          # no script may leave a process behind; swept at the very end
    AddressChanges,        # -a: address changes logged
    SavedConfigs,          # config_save_dir: the copy and the pre/post reload dumps
    GlobalScripts,         # script security; startup_script first, shutdown_script last (keepalived's parent)
    VmacInterfaces,        # use_vmac interfaces exist before the engine opens sockets on them
    EngineBuild,           # leftover VIPs swept, the engine built (its instances not running yet)
    optional.STATUS_HTTP,  # --status-port
    ControlSocket,         # kvrrpctl; its maintenance is a prestart hook (closed before the instances stop)
    BfdSessions,           # BFD before what follows it: the trackers and the checker child
    Checker,               # the checker child; stopped once the instances stopped (VIPs moved first)
    Notifications,         # notify scripts / FIFOs / SMTP: listening before the first transition
    VirtualRoutes,         # virtual_routes / rules on MASTER
    Trackers,              # initial FAULTs and weights in place before any instance runs
    ProcessTuning,         # lateness watch; at stop: no realtime, nice 10, once the instances stopped
    AcceptModeFirewall,    # no_accept nftables tables
    optional.SNMP,         # before the instances: their first transitions trap too
    optional.DBUS,         # joined (or given up on) before the instances run
    optional.LVS_SYNC,     # the IPVS sync daemon: stopped before the instances
    EngineRun,             # the instances run; at stop the first to stop (priority 0, VIPs out)
    ReloadSchedule,        # reload_time_file: no timed reload before the instances run
    optional.BGP,          # routes follow the running instances; withdrawn first at stop
)


class Daemon:
    """The loop-side daemon: the services in SERVICES' order and what they share."""

    def __init__(self, args: Any, config: Config) -> None:
        self.args = args
        self.config = config
        self.stopping = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.services: list[Service] = []          # started (or starting), in SERVICES' order
        self._slots: list[tuple[Any, Service | None]] = []
        # what services share, set by the service that owns it
        self.engine: Any = None            # kvrrp.vrrp.engine.VrrpEngine (EngineBuild)
        self.netlink: Any = None           # KernelAdapters: kvrrp.io.netlink.Netlink
        self.transports: Any = None
        self.addresses: Any = None
        self.announcer: Any = None
        self.notifier: Any = None          # Notifications: kvrrp.notify.Notifier
        self.bfd: Any = None               # BfdSessions: kvrrp.bfd.service.BfdService
        self.control: Any = None           # ControlSocket: kvrrp.control.vrrp_commands.VrrpControl
        self.checker: CheckerChild | None = None   # Checker
        self.bgp: Any = None               # Bgp: kvrrp.bgp.wiring.Announcing
        self.transitions = TransitionRecorder()
        self.host_interfaces = host_interfaces   # a seam: tests pass the interfaces they mean
        self.reloads = ReloadCounters()
        self._reloading = False
        self.starting = False                      # run() is starting SERVICES
        self._reload_after_start = False
        self._reload_task: asyncio.Task | None = None
        self._reload_again = False
        self._allow_remove_all = bool(getattr(args, "allow_reload_removing_all", False))
        self.sd = SystemdNotifier()   # systemd Type=notify (no-op without $NOTIFY_SOCKET)
        self.plan: Any = None                     # kvrrp.process_plan.ProcessPlan applied at start
        self.namespace_override: str | None = None   # -s NAME (the configuration's is ignored)

    # -- the order ----------------------------------------------------------------------------
    def _make(self, entry: Any, config: Config) -> Service | None:
        """The service of one SERVICES entry, or None for an optional one not (yet) wanted."""
        if isinstance(entry, Optional):
            if not entry.wanted(self.args, config):
                return None
            entry = entry.load()
        return entry(self)

    # -- life cycle -----------------------------------------------------------------------
    async def run(self) -> int:
        self.loop = asyncio.get_running_loop()
        # off-loop work (a reload's parse, rendering /metrics) runs on at most WORKER_THREADS
        # threads, whatever the request rate: a bounded, known thread count
        self.loop.set_default_executor(ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="kvrrp-worker"))
        try:
            self.starting = True
            await self.start(SERVICES)
            self.starting = False
            if self.stopping.is_set():
                log.info("Stopping before the start finished")
            else:
                await self._serve()
        finally:
            self.sd.stopping()
            # also after an unexpected error: never leave VIPs behind without priority 0
            await self.shutdown()
        log.info("Stopped")
        return 0

    async def _serve(self) -> None:
        """Started: tell systemd, and run until a stop is asked for."""
        if self._reload_after_start:
            self.request_reload()
        count = len(self.engine.instances)
        log.info("kvrrp VRRP engine started with %d instance(s)", count)
        if getattr(self.args, "dump_conf", False):
            self._dump_to_log()   # keepalived's -d: the data dump in the log, then run on
        self.sd.ready(f"{count} VRRP instance(s) running")
        self.sd.start_watchdog(self.loop)
        # Everything built so far lives until exit: keep the cyclic GC from walking it again
        # and again (a full collection is a latency spike on the failover path).
        gc.collect()
        gc.freeze()
        await self.stopping.wait()
        log.info("Stopping")

    async def start(self, entries: Iterable[Union[type[Service], Optional]]) -> None:
        """Each service of `entries` (SERVICES, or a part of it in tests) built and started, in
        order."""
        self.loop = self.loop or asyncio.get_running_loop()
        for entry in entries:
            service = self._make(entry, self.config)
            self._slots.append((entry, service))
            if service is None:
                continue
            self.services.append(service)    # stopped too if its start fails half-way
            try:
                await service.start()
            except Exception:  # noqa: BLE001
                if service.critical:
                    raise
                log.exception("starting the %s failed; VRRP runs without it", service.name)
            if self.stopping.is_set():
                return                        # SIGTERM during the start: what started stops

    async def shutdown(self) -> None:
        """withdraw() of every service, then stop() of every service, both in reverse order;
        a step that fails is logged and the stop goes on."""
        for service in reversed(self.services):
            try:
                await service.withdraw()
            except Exception:  # noqa: BLE001 - the stop must go on
                log.exception("withdrawing the %s failed", service.name)
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - the stop must go on
                log.exception("stopping the %s failed", service.name)
        self.sd.close()

    def on_stop(self, why: str) -> None:
        log.info("Received %s", why)
        self.stopping.set()

    def pass_to_checker(self, name: str) -> None:
        if self.checker is not None:
            self.checker.send(signum(name))

    def pid_file(self) -> str:
        return getattr(self.args, "pid_file", None) or default_pid_file(getattr(self.args, "namespace", None))

    async def node_maintenance(self, on: bool) -> None:
        """`kvrrpctl maintenance on|off --all`: BGP routes of both processes withdrawn / back."""
        if self.bgp is not None:
            self.bgp.maintenance(on)
        if self.checker is not None and self.config.bgp is not None:
            try:
                await call_async(self.checker.control_socket, "bgp", timeout=10.0, maintenance=on)
            except (ControlError, OSError) as exc:
                log.error("BGP: telling the checker about maintenance failed: %s", exc)

    # -- reload -------------------------------------------------------------------------------
    def request_reload(self) -> None:
        """RELOAD (SIGHUP): start a reload, or - while one runs - make sure exactly one more
        follows it, which reads the file as it is then (the newest), however many requests
        arrived meanwhile."""
        self.reloads.requested += 1
        if self.stopping.is_set():
            return
        if self.starting:
            # the running configuration is not in force yet: reload once the start finished
            if not self._reload_after_start:
                log.info("Reload requested while starting: it follows the start")
            self._reload_after_start = True
            return
        if self._reload_task is not None and not self._reload_task.done():
            self.reloads.coalesced += 1
            if not self._reload_again:
                log.info("Reload requested while reloading: one more reload follows this one")
            self._reload_again = True
            return
        self._reload_task = asyncio.get_running_loop().create_task(self._reload_loop())

    async def _reload_loop(self) -> None:
        while True:
            self._reload_again = False
            await self.reload()
            if not self._reload_again or self.stopping.is_set():
                return

    async def reload(self) -> None:
        if self._reloading or self.stopping.is_set():
            return
        self._reloading = True
        self.reloads.started += 1
        self.sd.reloading()
        if self.checker is not None:
            self.checker.reload()  # the checkers reload their part of the same file themselves
        try:
            log.info("Reloading")
            config = await self._read_new_config()
            if config is None:
                return
            try:
                report = await self.apply(config)
            except Exception as exc:  # noqa: BLE001 - the running configuration stays
                if isinstance(exc, ValueError):
                    log.error("Reload failed: %s; keeping the running configuration", exc)
                else:
                    log.exception("Reload failed applying the new configuration; keeping the running one")
                self.reloads.finish("failed", str(exc) or type(exc).__name__)
                return
            self.reloads.finish("applied")
            log.info("Reload finished: kept %s, updated in place %s, restarted %s, added %s, removed %s",
                     list(report.kept), list(getattr(report, "updated", ())), list(report.restarted),
                     list(report.added), list(report.removed))
        except Exception as exc:  # noqa: BLE001 - a failed reload must leave the daemon running
            log.exception("Reload failed")
            self.reloads.finish("failed", str(exc) or type(exc).__name__)
        finally:
            self._reloading = False
            self.sd.ready("reloaded")

    async def _read_new_config(self) -> Config | None:
        """The new configuration, or None when the reload is refused (counted, logged)."""
        # parsing a big configuration takes a while: off the loop, so adverts keep going
        # out and in meanwhile and no backup takes over; applying it happens on the loop
        interfaces = self.host_interfaces()
        strict = (True,) if getattr(self.args, "all_config", False) else ()
        # reload_file of the configuration in force: there while the new one is read
        with ReloadLock(reload_file_path(self.config.global_defs, self.pid_file())):
            result = await asyncio.to_thread(configuration.parse_config, self.args.config, self.args.config_id,
                                             interfaces, *strict)
        report_diagnostics(result, logger=log)
        why = refusal(result, self.config, allow_remove_all=self._allow_remove_all,
                      namespace_override=self.namespace_override)
        if why is None and configuration.usable_config(result) is None:
            why = "the new configuration has problems keepalived would not run with"
        if why is None:
            try:
                validate_settings(engine_settings(result.config))
            except ValueError as exc:
                why = str(exc)
        if why is not None:
            log.error("Reload refused, keeping the running configuration: %s", why)
            self.reloads.finish("refused", why)
            return None
        return result.config

    async def apply(self, config: Config) -> Any:
        """`config` in force: every service prepared, the engine applies it, every service
        follows; the engine's report. Raises when a service refused or the engine failed,
        after every service prepared went back to the running configuration."""
        old_config = self.config
        prepared: list[Service] = []
        try:
            for service in self.services:
                prepared.append(service)
                await service.prepare_reload(config)
            report = self.engine.apply_config(config)
        except Exception:
            await self._abort(prepared, old_config)
            raise
        self.config = config
        await self._commit(config)
        return report

    async def _abort(self, prepared: list[Service], old_config: Config) -> None:
        """Every step runs even if an earlier one fails: the running configuration must keep
        working."""
        for service in reversed(prepared):
            try:
                await service.abort_reload(old_config)
            except Exception:  # noqa: BLE001
                log.exception("returning the %s to the running configuration failed", service.name)

    async def _commit(self, config: Config) -> None:
        """Each running service follows `config`, in order; an optional one that `config` first
        asks for starts, in its place in SERVICES."""
        slots = self._slots or [(None, service) for service in self.services]   # tests: services given
        for i, (entry, service) in enumerate(slots):
            if service is None:
                service = self._make(entry, config)
                if service is None:
                    continue
                self._slots[i] = (entry, service)
                self.services = [s for _, s in self._slots if s is not None]
                try:
                    await service.start()
                except Exception:  # noqa: BLE001 - the reload has been applied
                    log.exception("starting the %s failed", service.name)
                continue
            try:
                await service.commit_reload(config)
            except Exception:  # noqa: BLE001 - the engine runs the new configuration already
                log.exception("the %s could not follow the new configuration", service.name)

    def status_reload(self) -> dict:
        return self.reloads.as_dict()

    # -- status and dumps -----------------------------------------------------------------
    def render(self, kind: str) -> str:
        if kind == "data":
            return (global_section(self.args, self.config, socket.gethostname())
                    + dump.format_data(self.engine) + format_bfd(self.bfd))
        if kind == "stats":
            return dump.format_stats(self.engine)
        return json.dumps(self.status(), indent=2, sort_keys=True, default=str) + "\n"

    def status(self) -> dict:
        snapshot = dump.status(self.engine)
        snapshot["pid"] = os.getpid()
        snapshot["version"] = version()
        snapshot["config_file"] = self.args.config
        snapshot["reload"] = self.reloads.as_dict()
        snapshot.update(self.status_parts())
        snapshot["transitions"] = self.transitions.snapshot()
        return snapshot

    def status_parts(self) -> dict:
        """Every service's part of the status (sockets, tracking, notify, vmacs, checker ...)."""
        parts: dict = {}
        for service in self.services:
            try:
                parts.update(service.snapshot())
            except Exception:  # noqa: BLE001 - the status must render even if a part cannot
                log.exception("the %s's status failed", service.name)
        return parts

    def _dump_to_log(self) -> None:
        try:
            for line in self.render("data").splitlines():
                log.info("%s", line)
        except Exception:  # noqa: BLE001 - a dump must not stop the daemon
            log.exception("dumping the configuration data failed")

    def dump_path(self, kind: str) -> str:
        """keepalived's default paths, unless global_defs names others (state_dump_file,
        stats_dump_file, json_dump_file), read from the configuration in force."""
        args = getattr(self, "args", None)
        namespace = getattr(args, "namespace", None) or getattr(self.config, "net_namespace", None)
        return dump_path(kind, self.config.global_defs, namespace, getattr(self.config, "instance_name", None))

    def dump(self, kind: str, clear: bool = False) -> str | None:
        """Write one dump (the signal handlers' and kvrrpctl dump's path); its path, or None."""
        path = self.dump_path(kind)
        try:
            if kind == "stats":
                text = dump.format_stats(self.engine, clear=clear)
                if clear:
                    log.info("Printing and clearing VRRP stats")
            else:
                text = self.render(kind)
            write_dump(path, text)
            log.info("Wrote %s dump to %s", kind, path)
            return path
        except Exception:  # noqa: BLE001
            log.exception("Writing the %s dump to %s failed", kind, path)
            return None


def write_dump(path: str, text: str) -> None:
    """Write a dump atomically (readers never see half a file)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


__all__ = ["Daemon", "SERVICES", "WORKER_THREADS", "write_dump", "DEFAULT_PID_FILE"]
