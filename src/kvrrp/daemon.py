"""`kvrrp -f FILE`: the VRRP daemon process around the engine.

Order of start: logging; load the configuration (print every diagnostic; refuse to start only
on what keepalived would not run either, LoadResult.blocking, or what the VRRP engine refuses);
take the pid file (refuse a second copy, take over a stale one); daemonize unless -n;
then, in one asyncio loop: the real kernel adapters, a sweep of VIPs a crashed run left behind,
the engine, signal handlers and the optional status API.

Signals (keepalived's table, kvrrp.signals): STOP (SIGTERM) and SIGINT stop (priority-0 adverts,
VIPs removed, exit 0); RELOAD (SIGHUP) reloads (unchanged instances keep their state, requests
during a reload coalesce into one more); DATA (SIGUSR1) writes the data dump to
/tmp/keepalived.data, STATS (SIGUSR2) the stats dump to /tmp/keepalived.stats, STATS_CLEAR
(SIGRTMAX-1) the stats dump and then zeroes the counters, JSON (SIGRTMIN+2) the JSON dump to
/tmp/keepalived.json, TDUMP (SIGRTMAX) logs the asyncio tasks and threads. RELOAD, DATA and
TDUMP also go to the checker child, as keepalived's parent passes them on. Every other
catchable signal is logged and ignored (kvrrp.signal_handlers).

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
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

from kvrrp.io.lifetime import PARENT_PID_ENV
from kvrrp.io.vip_firewall import VipFirewall
from kvrrp.logging_setup import configure as configure_logging
from kvrrp.options import log_file_path
from kvrrp.pidfile import DEFAULT_PID_FILE, AlreadyRunning, PidFile, remove_pid_dir
from kvrrp.vrrp.accept_mode import AcceptMode, firewall_wanted

log = logging.getLogger("kvrrp.daemon")
WORKER_THREADS = 2   # a reload parse and a /metrics render may overlap

TIMER_RESOLUTION = 0.0001  # 100 us wheel ticks: deadlines are rounded up by at most this much
DBUS_JOIN_WAIT = 2.0       # how long the start waits for the system bus (enable_dbus)
EXIT_CONFIG = 1
EXIT_RUNNING = 1
EXIT_FATAL = 2


def load_config(path: str, config_id: str | None, out: Any = None, *,
                all_config: bool = False) -> Any | None:
    """Load and log every diagnostic as it is (and print it to `out` too when given); None
    when the configuration has a problem keepalived itself would not run with
    (LoadResult.blocking). Like keepalived, other errors (an out-of-range value, an unknown
    keyword ...) are reported and the bad value ignored. The rule is kvrrp.config.runnable's,
    shared with the checker process."""
    result = parse_config(path, config_id, all_config=all_config)
    from kvrrp.config.runnable import report_diagnostics

    report_diagnostics(result, logger=log)
    if out is not None:
        print_diagnostics(result, out)
    return usable_config(result)


def parse_config(path: str, config_id: str | None, interfaces: Any = None, all_config: bool = False) -> Any:
    """kvrrp.config.load: pure, safe to run in a worker thread (SIGHUP does). interfaces: the
    host's interface names, each one the configuration names must exist (None: not checked);
    all_config is keepalived's -e (a missing include is an error)."""
    from kvrrp.config import load
    from kvrrp.config.runnable import all_config as strict_includes

    result = load(path, config_id, interfaces=interfaces)
    return strict_includes(result) if all_config else result


def print_diagnostics(result: Any, out=None) -> None:
    from kvrrp.config.runnable import report_diagnostics

    report_diagnostics(result, out)


def usable_config(result: Any) -> Any | None:
    """The configuration, or None when it has blocking problems (or none could be built)."""
    from kvrrp.config.runnable import runnable_config

    return runnable_config(result)


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
        self.snmp: Any = None        # kvrrp.snmp.vrrp_agent.VrrpSnmpAgent when a MIB is enabled
        self.control: Any = None
        self._control_server: Any = None
        from kvrrp.transition_log import TransitionRecorder

        self.transitions = TransitionRecorder()
        self.accept_mode: AcceptMode | None = None
        self.lvs_sync: Any = None           # kvrrp.vrrp.lvs_sync.LvsSync when lvs_sync_daemon names an instance
        from kvrrp.config.interface_check import host_interfaces
        from kvrrp.reload_guard import ReloadCounters

        self.host_interfaces = host_interfaces   # a seam: tests pass the interfaces they mean
        self.reloads = ReloadCounters()
        self._reload_task: asyncio.Task | None = None
        self._reload_again = False
        self._allow_remove_all = bool(getattr(args, "allow_reload_removing_all", False))
        self.signals: Any = None
        self.reaper: Any = None
        self._addresses: Any = None
        self._netlink: Any = None
        self._address_monitor: Any = None
        self.bgp: Any = None          # kvrrp.bgp.wiring.Announcing (kvrrp_bgp), or None
        self._bgp_guard: Any = None   # the kvrrp.bgp.guard child process
        self.dbus: Any = None                     # kvrrp.dbus.service.DbusService (enable_dbus)
        self._dbus_start: asyncio.Task | None = None
        self._reload_schedule: Any = None
        from kvrrp.reload_files import ConfigSaver

        self.config_saver = ConfigSaver("vrrp")   # config_save_dir
        from kvrrp.sdnotify import Notifier

        self.sd = Notifier()   # systemd Type=notify (no-op without $NOTIFY_SOCKET)
        self.plan: Any = None                     # kvrrp.process_plan.ProcessPlan applied at start
        self.namespace_override: str | None = None   # -s NAME (the configuration's is ignored)
        self._lateness_watch: asyncio.Task | None = None

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
        # off-loop work (a reload's parse, rendering /metrics) runs on at most WORKER_THREADS
        # threads, whatever the request rate: a bounded, known thread count
        loop.set_default_executor(ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="kvrrp-worker"))
        settings = engine_settings(self.config)
        netlink = Netlink()
        transports = RawTransportFactory(loop, netlink=netlink)
        addresses = NetlinkAddressManager(netlink)
        if getattr(self.args, "dont_release_vrrp", False):
            addresses = KeepOnStop(addresses)
        self._addresses = addresses
        self._netlink = netlink
        self._size_netlink_buffers(self.config)
        announcer = PacketAnnouncer()
        transports.set_virtual_addresses(_virtual_addresses(settings.instances))
        self._adapters = [transports, announcer, netlink]
        self._transports, self._announcer = transports, announcer
        from kvrrp.notify import security
        from kvrrp.track.wiring import DaemonExtras

        security.configure(self.config)   # set_supplementary_groups, use_symlink_paths
        self.extras = DaemonExtras(self.config, loop, netlink)
        self.extras.run_bfd = not getattr(self.args, "no_bfd", False)
        self.extras.prepare()  # use_vmac interfaces exist before anything uses them
        removed = remove_leftovers(addresses, _sweepable(settings.instances))
        if removed:
            log.info("cleaned %d virtual address(es) left by a previous run", len(removed))
        count = len(settings.instances)
        del settings, removed  # the engine builds its own; run() lives as long as the daemon
        self.engine = VrrpEngine(self.config, transports=transports, addresses=addresses,
                                 announcer=announcer, clock=MonotonicClock(),
                                 source_address=transports.local_address, loop=loop,
                                 timer_resolution=TIMER_RESOLUTION)
        self.engine.add_transition_listener(self.transitions)
        if self.config.bgp is not None:     # kvrrp.bgp is imported only when configured
            from kvrrp.bgp.wiring import Announcing

            self.bgp = Announcing.for_vrrp(self.config)
            if self.bgp is not None:
                self.engine.add_transition_listener(self._bgp_transition)
        self._install_signals(loop)
        if getattr(self.args, "address_monitoring", False):
            from kvrrp.io.addrmon import AddressMonitor

            from kvrrp.io.sockbuf import RcvBuf

            # -a: every address change logged
            self._address_monitor = AddressMonitor(loop, RcvBuf.from_config(self.config.global_defs,
                                                                            "vrrp_netlink_monitor"))
        from kvrrp.io.reaper import OrphanReaper

        self.reaper = OrphanReaper(loop).install()   # no script leaves a process behind
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
            self._follow_accept_mode([inst.settings for inst in self.engine.instances.values()])
            self._follow_lvs_sync(self.config)
            await self._join_dbus()
            await self._follow_snmp(self.config)   # before start(): the first transitions trap too
            self.engine.start()
            self.config_saver.save_config(self.config)      # config_save_dir
            self._follow_reload_time_file(self.config)
            self._watch_lateness(loop)
            if self.bgp is not None:
                await self._start_bgp(None)
            if wants_checker(self.args, self.config):
                self.checker = CheckerChild(self.args, child_wait_time=self.config.child_wait_time)
                self.checker.extra_env = self._checker_env
                if self.extras.bfd is not None:
                    # BFD_CHECK in the child follows this process's sessions (one speaker per namespace)
                    from kvrrp.bfd.relay import ParentFeed

                    self.checker.bfd_feed = ParentFeed(self.extras.bfd)
                self.checker.on_give_up = lambda: self._on_stop("the checker's death (--dont-respawn)")
                self.checker.start()
            log.info("kvrrp VRRP engine started with %d instance(s)", count)
            if getattr(self.args, "dump_conf", False):
                self._dump_to_log()   # keepalived's -d: the data dump in the log, then run on
            self.sd.ready(f"{count} VRRP instance(s) running")
            self.sd.start_watchdog(loop)
            # Everything built so far lives until exit: keep the cyclic GC from walking it again
            # and again (a full collection is a latency spike on the failover path).
            gc.collect()
            gc.freeze()
            await self.stopping.wait()
            log.info("Stopping")
        finally:
            self.sd.stopping()
            # also after an unexpected error: never leave VIPs behind without priority 0
            await self._shutdown()
        log.info("Stopped")
        return 0

    async def _start_bgp(self, config: Any) -> None:
        """Announcing on (at start: self.bgp made already; after a reload: from `config`)."""
        if config is not None:
            if config.bgp is None:
                return
            from kvrrp.bgp.wiring import Announcing

            self.bgp = Announcing.for_vrrp(config)
            if self.bgp is None:
                return
            self.engine.add_transition_listener(self._bgp_transition)
        self._bgp_feed_states()
        if self.control is not None and self.control.maint.all:
            self.bgp.maintenance(True)
        self.bgp.start()
        await self._start_bgp_guard()

    def _bgp_transition(self, name: str, old: Any, new: Any, reason: str, priority: int) -> None:
        self.bgp.instance_state(name, new.value)

    def _bgp_feed_states(self) -> None:
        for name, inst in self.engine.instances.items():
            self.bgp.instance_state(name, inst.state.value)

    def _checker_env(self) -> dict[str, str]:
        """What a (re)started checker must know: node maintenance (kvrrp.bgp.wiring)."""
        from kvrrp.bgp.wiring import MAINTENANCE_ENV

        on = self.control is not None and self.control.maint.all
        return {MAINTENANCE_ENV: "1" if on else "0"}

    async def _start_bgp_guard(self) -> None:
        """kvrrp.bgp.guard: withdraws this daemon's routes if it dies without doing it itself."""
        from kvrrp.notify.runner import spawn_tracked

        b = self.bgp.bgp
        argv = [sys.executable, "-m", "kvrrp.bgp.guard", str(b.asn), b.vtysh, *([b.vty_socket] if b.vty_socket else [])]
        try:
            self._bgp_guard = await spawn_tracked(argv, env={**os.environ, PARENT_PID_ENV: str(os.getpid())},
                                                  stdin=asyncio.subprocess.DEVNULL)
        except OSError as exc:
            log.error("BGP: cannot start the route guard (%s); a crash would leave the routes in bgpd", exc)

    async def _stop_bgp_guard(self) -> None:
        """Without a withdraw (SIGKILL): the caller withdrew already, or a new guard takes over."""
        guard, self._bgp_guard = self._bgp_guard, None
        if guard is not None and guard.returncode is None:
            guard.kill()
            await guard.wait()

    async def node_maintenance(self, on: bool) -> None:
        """`kvrrpctl maintenance on|off --all`: BGP routes of both processes withdrawn / back."""
        if self.bgp is not None:
            self.bgp.maintenance(on)
        if self.checker is not None and self.config.bgp is not None:
            from kvrrp.control.client import ControlError, call_async

            try:
                await call_async(self.checker.control_socket, "bgp", timeout=10.0, maintenance=on)
            except (ControlError, OSError) as exc:
                log.error("BGP: telling the checker about maintenance failed: %s", exc)

    async def _shutdown(self) -> None:
        if self.bgp is not None:
            # routes go first: the routers move new flows away while this node still serves them
            await self._guarded(self.bgp.shutdown())
            await self._guarded(self._stop_bgp_guard())
        if isinstance(self._addresses, KeepOnStop):
            self._addresses.keeping = True   # -V: VIPs stay where they are
        await self._guarded(self.extras.before_stop())
        await self._stop_control()
        if self.lvs_sync is not None:
            try:
                self.lvs_sync.stop()    # keepalived stops its sync daemon first
            except Exception:  # noqa: BLE001
                log.exception("stopping the IPVS sync daemon failed")
        try:
            self.engine.stop()  # priority-0 adverts from masters, VIPs removed
        except Exception:  # noqa: BLE001
            log.exception("stopping the VRRP engine failed")
        await self._guarded(self._stop_dbus())   # after the STOP signals, as keepalived
        if self.snmp is not None:
            await self._guarded(self.snmp.close())   # after stop(): the STOP traps go out first
        try:
            # the no_accept tables go once the VIPs are gone (and stay with them under -V)
            if self.accept_mode is not None and not isinstance(self._addresses, KeepOnStop):
                self.accept_mode.stop()
        except Exception:  # noqa: BLE001
            log.exception("removing the no_accept firewall tables failed")
        # What is left (closing sockets, threads, interpreter teardown) is not urgent; the
        # backups taking over right now on this host or its neighbours' CPU are.
        if self._lateness_watch is not None:
            self._lateness_watch.cancel()
        from kvrrp.io.process_tuning import reset_realtime

        reset_realtime()   # SCHED_RR (vrrp_rt_priority, max_auto_priority) would void the nice
        try:
            os.nice(10)
        except OSError:
            pass
        await self._guarded(self.extras.after_stop())  # notify scripts finish, VMACs go
        if self.checker is not None:
            await self._guarded(self.checker.stop())
        await self._stop_status()
        self.sd.close()
        if self._address_monitor is not None:
            self._address_monitor.close()
        if self._reload_schedule is not None:
            self._reload_schedule.close()
        if self.reaper is not None:
            self.reaper.sweep()
            self.reaper.uninstall()
        for adapter in self._adapters:
            try:
                adapter.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                log.debug("closing %r failed", adapter, exc_info=True)

    def _watch_lateness(self, loop: asyncio.AbstractEventLoop) -> None:
        """max_auto_priority: realtime scheduling, one step at a time, when the loop runs late."""
        if self.plan is None or not self.plan.escalates:
            return
        from kvrrp.io.process_tuning import Escalator, watch_lateness

        self._lateness_watch = loop.create_task(watch_lateness(Escalator(self.plan, "VRRP")))

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        from kvrrp.signal_handlers import SignalHandlers, log_task_dump

        def tdump() -> None:
            log_task_dump()
            self._pass_to_checker("TDUMP")

        def data() -> None:
            self.dump("data")
            self._pass_to_checker("DATA")

        self.signals = SignalHandlers(loop, {
            "STOP": lambda: self._on_stop("SIGTERM"),
            "INT": (lambda: log.info("Received SIGINT: ignored (--ignore-sigint)"))
            if getattr(self.args, "ignore_sigint", False) else (lambda: self._on_stop("SIGINT")),
            "RELOAD": self.request_reload,
            "DATA": data,
            "STATS": lambda: self.dump("stats"),
            "STATS_CLEAR": lambda: self.dump("stats", clear=True),
            "JSON": lambda: self.dump("json"),
            "TDUMP": tdump,
        }, process="VRRP")
        self.signals.install()

    def _pass_to_checker(self, name: str) -> None:
        if self.checker is not None:
            from kvrrp.signals import signum

            self.checker.send(signum(name))

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
    def request_reload(self) -> None:
        """RELOAD (SIGHUP): start a reload, or - while one runs - make sure exactly one more
        follows it, which reads the file as it is then (the newest), however many requests
        arrived meanwhile."""
        self.reloads.requested += 1
        if self.stopping.is_set():
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
            from kvrrp.reload_guard import refusal
            from kvrrp.vrrp.engine import validate_settings
            from kvrrp.vrrp.settings import engine_settings

            # parsing a big configuration takes a while: off the loop, so adverts keep going
            # out and in meanwhile and no backup takes over; applying it happens on the loop
            interfaces = self.host_interfaces()
            strict = (True,) if getattr(self.args, "all_config", False) else ()
            from kvrrp.reload_files import ReloadLock, reload_file_path

            # reload_file of the configuration in force: there while the new one is read
            with ReloadLock(reload_file_path(self.config.global_defs, self._pid_file())):
                result = await asyncio.to_thread(parse_config, self.args.config, self.args.config_id,
                                                 interfaces, *strict)
            from kvrrp.config.runnable import report_diagnostics

            report_diagnostics(result, logger=log)
            why = refusal(result, self.config, allow_remove_all=self._allow_remove_all,
                          namespace_override=self.namespace_override)
            if why is None and usable_config(result) is None:
                why = "the new configuration has problems keepalived would not run with"
            if why is None:
                try:
                    new_settings = engine_settings(result.config)
                    validate_settings(new_settings)
                except ValueError as exc:
                    why = str(exc)
            if why is not None:
                self._refuse(why)
                return
            config = result.config
            old_config = self.config
            self.config_saver.save_config(config)                                   # config_save_dir
            self.config_saver.save_dump(config.global_defs, False, lambda: self.render("data"))
            try:
                from kvrrp.notify import security

                security.configure(config)   # scripts of the new configuration start its way
                await self.extras.before_reload(config)
                if self.dbus is not None:
                    self.dbus.expect_config(config)
                report = self.engine.apply_config(config)
                self._follow_accept_mode(new_settings.instances, config)
                self._follow_lvs_sync(config)
            except Exception as exc:  # noqa: BLE001 - the running configuration stays
                if isinstance(exc, ValueError):
                    log.error("Reload failed: %s; keeping the running configuration", exc)
                else:
                    log.exception("Reload failed applying the new configuration; keeping the running one")
                self.reloads.finish("failed", str(exc) or type(exc).__name__)
                if self.dbus is not None:
                    self.dbus.expect_config(None)
                await self._resume_extras(old_config)
                return
            if self._transports is not None:
                self._transports.set_virtual_addresses(_virtual_addresses(new_settings.instances))
            await self.extras.after_reload(config)
            self._size_netlink_buffers(config)
            self.config = config
            self.config_saver.save_dump(config.global_defs, True, lambda: self.render("data"))
            self._follow_reload_time_file(config)
            self._retune(config)
            await self._guarded(self._follow_dbus_reload(config))
            await self._follow_snmp(config)
            if self.bgp is not None:
                old_bgp = self.bgp.bgp
                await self.bgp.reload(config)
                self._bgp_feed_states()
                if self.bgp.bgp != old_bgp:
                    await self._stop_bgp_guard()
                    await self._start_bgp_guard()
            else:
                await self._start_bgp(config)          # kvrrp_bgp added by this reload
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

    def _pid_file(self) -> str:
        return getattr(self.args, "pid_file", None) or default_pid_file(getattr(self.args, "namespace", None))

    def _follow_reload_time_file(self, config: Any) -> None:
        """reload_time_file / reload_repeat (kvrrp.reload_schedule): started, kept, moved to
        another file or stopped as the configuration in force says."""
        g = config.global_defs
        path, repeat = getattr(g, "reload_time_file", None), bool(getattr(g, "reload_repeat", False))
        current = self._reload_schedule
        if current is not None and path is not None and os.path.abspath(path) == current.path:
            current.repeat = repeat
            return
        if current is not None:
            current.close()
            self._reload_schedule = None
        if path is not None:
            from kvrrp.reload_schedule import ReloadScheduler

            try:
                self._reload_schedule = ReloadScheduler(asyncio.get_running_loop(), path, repeat,
                                                        self.request_reload)
            except OSError as exc:
                log.error("reload_time_file %s: %s", path, exc.strerror or exc)

    def _size_netlink_buffers(self, config: Any) -> None:
        """vrrp_netlink_cmd_rcv_bufs(_force) on the command sockets, at start and on each
        reload as keepalived's kernel_netlink_set_recv_bufs (io.sockbuf)."""
        from kvrrp.io.sockbuf import RcvBuf

        buf = RcvBuf.from_config(config.global_defs, "vrrp_netlink_cmd")
        if buf is None:
            return
        for target in (self._netlink, self._addresses):
            set_buffer = getattr(target, "set_receive_buffer", None)
            if set_buffer is not None:
                try:
                    set_buffer(buf)
                except Exception:  # noqa: BLE001 - a buffer size must not stop the daemon
                    log.exception("sizing a netlink command socket failed")

    async def _follow_snmp(self, config: Any) -> None:
        """The SNMP subagent (kvrrp.snmp, imported only when a MIB is enabled), started,
        restarted or stopped to match the configuration and -x / -A."""
        wanted = snmp_wanted(self.args, config)
        if self.snmp is None and not wanted:
            return
        try:
            from kvrrp.snmp.vrrp_agent import VrrpSnmpAgent, snmp_settings

            settings = snmp_settings(self.args, config)
            if self.snmp is not None:
                if wanted and settings == self.snmp.settings:
                    self.snmp.reload(config)
                    return
                await self.snmp.close()
                self.snmp = None
            if wanted:
                self.snmp = VrrpSnmpAgent(self.engine, config, settings, version=f"kvrrp {_version()}",
                                          checker_serves_global=wants_checker(self.args, config))
                self.snmp.start()
        except Exception:  # noqa: BLE001 - VRRP itself must run without its SNMP agent
            log.exception("starting the SNMP subagent failed; running without it")
            self.snmp = None

    def _follow_accept_mode(self, instances: Any, config: Any = None) -> None:
        """Masters without Accept_Mode drop traffic to their VIPs (nftables, keepalived's
        tables); set up when a configuration first needs it, re-synced on every reload."""
        config = config or self.config
        if self.accept_mode is None:
            if not firewall_wanted(config, instances):
                return
            g = config.global_defs
            use_ifname = g.dynamic_interfaces if g.nftables_ifindex is None else not g.nftables_ifindex
            firewall = VipFirewall(g.nftables or "keepalived", g.nftables_priority, g.nftables_counters,
                                   use_ifname=use_ifname)
            self.accept_mode = AcceptMode(self.engine, firewall)
            self.accept_mode.start()
            log.info("no_accept instances: VIP traffic dropped while master (nftables table %s)",
                     firewall.table)
        else:
            self.accept_mode.resync()

    def _follow_lvs_sync(self, config: Any) -> None:
        """`lvs_sync_daemon IF INSTANCE` (or `lvs_sync_daemon_interface`): the kernel's IPVS
        sync daemon runs as master while INSTANCE is MASTER, as backup otherwise."""
        if self.lvs_sync is None and config.global_defs.lvs_sync_daemon is None and not any(
                inst.lvs_sync_daemon_interface for inst in config.instances):
            return                      # not configured: the IPVS modules are not even imported
        from kvrrp.vrrp.lvs_sync import LvsSync, sync_plan

        plan = sync_plan(config)
        if plan is not None and plan.instance is None:
            plan = None                 # no instance: the checker runs master and backup both
        if self.lvs_sync is None:
            if plan is None:
                return
            from healthcheck.ipvs_syncd import SyncDaemonKernel

            self.lvs_sync = LvsSync(self.engine, SyncDaemonKernel(netns=config.net_namespace_ipvs), plan)
            self.lvs_sync.start()
        elif plan is None:
            self.lvs_sync.stop()
            self.lvs_sync = None
        else:
            self.lvs_sync.reload(plan)

    def _retune(self, config: Any) -> None:
        """keepalived's restore_priority() on reload: the new vrrp_* knobs and process name."""
        from kvrrp.io import process_tuning
        from kvrrp.process_plan import plan_for

        plan = plan_for(config, "vrrp", getattr(self.args, "umask", None))
        if self.plan is not None and plan != self.plan:
            try:
                process_tuning.reapply(self.plan, plan, "VRRP")
            except Exception:  # noqa: BLE001 - the reload itself has been applied
                log.exception("applying the new process settings failed")
        changed = self.plan is None or (plan.max_auto_priority, plan.min_auto_priority_delay) != \
            (self.plan.max_auto_priority, self.plan.min_auto_priority_delay)
        self.plan = plan
        if changed:
            if self._lateness_watch is not None:
                self._lateness_watch.cancel()
                self._lateness_watch = None
            self._watch_lateness(asyncio.get_running_loop())

    def _refuse(self, why: str) -> None:
        log.error("Reload refused, keeping the running configuration: %s", why)
        self.reloads.finish("refused", why)

    async def _resume_extras(self, old_config: Any) -> None:
        """A reload failed after DaemonExtras.before_reload(new): the VMACs made for the new
        configuration go and the notifier and trackers resume with the one still running."""
        try:
            await self.extras.abort_reload(old_config)
        except Exception:  # noqa: BLE001
            log.exception("resuming trackers after the failed reload failed")

    def status_reload(self) -> dict:
        return self.reloads.as_dict()

    def render(self, kind: str) -> str:
        from kvrrp.vrrp import dump

        if kind == "data":
            from kvrrp.bfd.dump import format_bfd

            return dump.format_data(self.engine) + format_bfd(getattr(self.extras, "bfd", None))
        if kind == "stats":
            return dump.format_stats(self.engine)
        return json.dumps(self.status(), indent=2, sort_keys=True, default=str) + "\n"

    def status(self) -> dict:
        from kvrrp.vrrp import dump

        snapshot = dump.status(self.engine)
        snapshot["pid"] = os.getpid()
        snapshot["version"] = _version()
        snapshot["config_file"] = self.args.config
        snapshot["sockets"] = self._transports.stats() if self._transports is not None else {}
        buffers = getattr(self._transports, "receive_buffers", None)
        snapshot["socket_buffers"] = buffers() if buffers is not None else {}
        snapshot["announcer"] = dict(self._announcer.stats) if self._announcer is not None else {}
        snapshot["reload"] = self.reloads.as_dict()
        snapshot["signals"] = self.signals.snapshot() if self.signals is not None else {}
        snapshot["script_leftovers"] = self.reaper.snapshot() if self.reaper is not None else {}
        if self.extras is not None:
            try:
                snapshot.update(self.extras.snapshot())
            except Exception:  # noqa: BLE001 - the status must render even if a part cannot
                log.exception("tracking/notify snapshot failed")
        snapshot["transitions"] = self.transitions.snapshot()
        if self.dbus is not None:
            snapshot["dbus"] = self.dbus.snapshot()
        if self.snmp is not None:
            snapshot["snmp"] = self.snmp.snapshot()
        if self.checker is not None:
            snapshot["checker"] = self.checker.snapshot()
        if self.bgp is not None:
            snapshot["bgp"] = self.bgp.snapshot()
        return snapshot

    async def metrics(self) -> bytes:
        """This process's families, then the checker child's (kvrrp_checker_*, keepalived_lvs_*)
        asked over its control socket: one scrape target for both processes."""
        from kvrrp.metrics import render, vrrp_registry

        checker_text = b""
        if self.checker is not None:
            from kvrrp.control.client import ControlError, call_async

            try:
                checker_text = (await call_async(self.checker.control_socket, "metrics", timeout=30.0)).encode()
                self.checker.scraped = True
            except (ControlError, OSError, ValueError) as exc:
                log.debug("checker metrics unavailable: %s", exc)
                self.checker.scraped = False
        # the snapshot is taken here, on the loop; turning it into text (the costly part: about
        # 0.1 s per 100 instances on a busy host) runs in a worker thread, so adverts and timers
        # keep their pace during a scrape
        snapshot = self.status()                     # kvrrp_checker_up from snapshot["checker"]
        return await asyncio.to_thread(render, vrrp_registry(lambda: snapshot)) + checker_text

    def _dump_to_log(self) -> None:
        try:
            for line in self.render("data").splitlines():
                log.info("%s", line)
        except Exception:  # noqa: BLE001 - a dump must not stop the daemon
            log.exception("dumping the configuration data failed")

    def dump_path(self, kind: str) -> str:
        """keepalived's default paths, unless global_defs names others (state_dump_file,
        stats_dump_file, json_dump_file), read from the configuration in force."""
        from kvrrp.dump_paths import dump_path

        args = getattr(self, "args", None)
        namespace = getattr(args, "namespace", None) or getattr(self.config, "net_namespace", None)
        return dump_path(kind, self.config.global_defs, namespace, getattr(self.config, "instance_name", None))

    def dump(self, kind: str, clear: bool = False) -> str | None:
        """Write one dump (the signal handlers' and kvrrpctl dump's path); its path, or None."""
        path = self.dump_path(kind)
        try:
            if kind == "stats":
                from kvrrp.vrrp import dump

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

    # -- DBus (enable_dbus) ---------------------------------------------------------------
    def _follow_dbus(self, config: Any) -> None:
        """keepalived's DBus service when the configuration enables it: connecting, exporting
        and owning the name run as a task (VRRP never waits for the bus but at start, at most
        DBUS_JOIN_WAIT)."""
        if not config.global_defs.enable_dbus or self.dbus is not None:
            return
        from kvrrp.dbus.service import DbusService   # dbus-next: only with enable_dbus

        self.dbus = DbusService(self, config, getattr(self.args, "namespace", None),
                                create_instance=bool(getattr(self.args, "dbus_create_instance", False)))
        self.engine.add_transition_listener(self.dbus.on_transition)
        self._dbus_start = asyncio.get_running_loop().create_task(self.dbus.start())

    async def _join_dbus(self) -> None:
        """At start, before the instances run (as keepalived's DBus thread is up before its
        VRRP loop): objects exported, name owned and VrrpStarted sent, so that the instances'
        first transitions are signalled. A bus slower than DBUS_JOIN_WAIT is not waited for:
        it joins when it can and then reports the states as they are."""
        self._follow_dbus(self.config)
        if self._dbus_start is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._dbus_start), DBUS_JOIN_WAIT)
        except asyncio.TimeoutError:
            log.warning("DBus not up after %g s: VRRP starts now, DBus follows when the bus answers",
                        DBUS_JOIN_WAIT)

    async def _follow_dbus_reload(self, config: Any) -> None:
        """A reload: new objects and VrrpReloaded; enable_dbus added or removed starts or stops
        the service (keepalived: dbus_reload / dbus_start / dbus_stop). A service that never
        came up (no bus, name refused) or lost its bus starts afresh, as keepalived's reload
        calls dbus_start again once a start failed."""
        if self.dbus is None:
            self._follow_dbus(config)
        elif not config.global_defs.enable_dbus:
            await self._stop_dbus()
        else:
            if self._dbus_start is not None and not self._dbus_start.done():
                await self._dbus_start
            if self.dbus.running:
                self.dbus.reload(config)
            else:
                await self._stop_dbus()
                self._follow_dbus(config)

    async def _stop_dbus(self) -> None:
        service, self.dbus = self.dbus, None
        if service is None:
            return
        self.engine.remove_transition_listener(service.on_transition)
        if self._dbus_start is not None and not self._dbus_start.done():
            self._dbus_start.cancel()
            try:
                await self._dbus_start
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._dbus_start = None
        await service.stop()

    # -- status API -----------------------------------------------------------------------
    async def _start_status(self) -> None:
        from kvrrp.status_http import DEFAULT_ADDRESS, StatusServer

        host = getattr(self.args, "status_address", None) or DEFAULT_ADDRESS
        self._status = StatusServer(status=self.status, metrics=self.metrics, host=host,
                                    port=self.args.status_port)
        try:
            await self._status.start()
        except OSError as exc:
            from kvrrp.logging_setup import describe_error

            log.error("status API on %s:%s unavailable: %s", host, self.args.status_port, describe_error(exc))
            self._status = None

    async def _stop_status(self) -> None:
        if self._status is not None:
            await self._status.stop()

    # -- control socket (kvrrpctl) ------------------------------------------------------------
    async def _start_control(self) -> None:
        from kvrrp.control.protocol import socket_path
        from kvrrp.control.server import ControlServer
        from kvrrp.control.vrrp_commands import VrrpControl

        pid_file = self.args.pid_file or default_pid_file(getattr(self.args, "namespace", None))
        checker = protocol_socket(checker_pid_path(self.args)) if wants_checker(self.args, self.config) else None
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
        self.control_socket = protocol_socket(self.pid_file)
        self.scraped: bool | None = None        # did the last /metrics reach the child
        self.on_give_up: Any = None   # called when -R forbids a restart
        self.extra_env: Any = None    # () -> dict of variables for each (re)start
        self.bfd_feed: Any = None     # kvrrp.bfd.relay.ParentFeed: BFD states to the child's stdin

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
            from kvrrp.notify.runner import spawn_tracked

            # the child dies with this process (PR_SET_PDEATHSIG), even when it is SIGKILLed
            env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
            if self.extra_env is not None:
                env.update(self.extra_env())
            if self.bfd_feed is not None:
                from kvrrp.bfd.relay import ENV as BFD_ENV

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
    from kvrrp.control.protocol import socket_path

    return socket_path(pid_file)


def checker_pid_path(args: Any) -> str:
    """The checker child's pid file: -c, else the VRRP daemon's (-p) with -checkers."""
    return getattr(args, "checkers_pid_file", None) or checker_pid_file(args.pid_file or DEFAULT_PID_FILE)


def checker_pid_file(vrrp_pid_file: str) -> str:
    """/run/kvrrp.pid -> /run/kvrrp-checkers.pid (keepalived: keepalived.pid / checkers.pid)."""
    base, ext = os.path.splitext(vrrp_pid_file)
    return f"{base}-checkers{ext or '.pid'}"


def snmp_wanted(args: Any, config: Any) -> bool:
    """Does the VRRP process serve SNMP (keepalived: enable_snmp_vrrp / _rfc / _rfcv2 / _rfcv3, or -x)?"""
    g = config.global_defs
    return bool(getattr(args, "snmp", False) or g.enable_snmp_vrrp or g.enable_snmp_rfc or g.enable_snmp_rfcv2
                or g.enable_snmp_rfcv3)


def wants_checker(args: Any, config: Any) -> bool:
    """keepalived's rule: a checker process when the configuration has virtual servers, or
    always with --all; never with -P."""
    if args.vrrp:
        return False
    return bool(getattr(args, "all", False)) or bool(getattr(config, "virtual_servers", ()))


class KeepOnStop:
    """-V/--dont-release-vrrp: the address manager, except that once the daemon stops, removing
    a VIP is skipped (the addresses stay for the next start to take over)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.keeping = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if self.keeping and name.startswith("remove"):
            def kept(*_args: Any, **_kw: Any) -> None:
                return None
            return kept
        return attr


def _virtual_addresses(instances: Iterable[Any]) -> list[str]:
    """Every configured VIP (owner's too): never chosen as an advert's source address."""
    return [spec.address for inst in instances for spec in (*inst.vips, *inst.excluded_vips)]


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
    from kvrrp import lifecycle
    from kvrrp.logging_setup import syslog_ident
    from kvrrp.signal_handlers import ignore_stray_signals_early

    ignore_stray_signals_early()     # no stray signal may kill us before the loop handles them
    if not lifecycle.apply_process_options(args, "kvrrp"):
        return EXIT_FATAL
    cmdline_namespace = getattr(args, "namespace", None)
    targets = _configure_logging(args, cmdline_namespace)
    lifecycle.report_start(args)
    restore_core_pattern = lifecycle.enable_core_dumps(getattr(args, "core_dump_pattern", None)) \
        if getattr(args, "core_dump", False) else (lambda: None)
    # every diagnostic to the log (syslog, file, console), and to a terminal that is not already
    # the console target, so that an interactive start sees them before the daemon detaches
    config = load_config(args.config, args.config_id, None if targets.console else sys.stderr,
                         all_config=getattr(args, "all_config", False))
    if config is None:
        log.error("not starting: %s has problems keepalived would not run with", args.config)
        print(f"kvrrp: not starting: {args.config} has problems keepalived would not run with "
              "(see the errors above)", file=sys.stderr)
        restore_core_pattern()
        return EXIT_CONFIG
    try:
        from kvrrp.vrrp.engine import validate_settings
        from kvrrp.vrrp.settings import engine_settings

        validate_settings(engine_settings(config))
    except ValueError as exc:  # UnsupportedConfig too
        log.error("not starting: %s", exc)
        print(f"kvrrp: not starting: {exc}", file=sys.stderr)
        restore_core_pattern()
        return EXIT_CONFIG
    namespace = lifecycle.enter_config_namespace(args, config, cmdline_namespace)
    if namespace is False:
        restore_core_pattern()
        return EXIT_FATAL
    if namespace != cmdline_namespace:
        log.info("Changing syslog ident to %s", syslog_ident("Keepalived_vrrp", namespace))
        _configure_logging(args, namespace)
    from kvrrp.process_plan import plan_for

    plan = plan_for(config, "vrrp", getattr(args, "umask", None))
    lifecycle.apply_umask(plan.umask)    # before the pid files: they are created with it
    # one pid file path for everything that derives from it (checker's, control socket)
    # keepalived removes the pid directory it made (when empty) at exit; so do we, for ours
    own_pid_dir = None if args.pid_file else os.path.dirname(default_pid_file(namespace, config.use_pid_dir))
    args.pid_file = args.pid_file or default_pid_file(namespace, use_pid_dir=config.use_pid_dir)
    pidfile = PidFile(args.pid_file)
    vrrp_pidfile = PidFile(args.vrrp_pid_file) if getattr(args, "vrrp_pid_file", None) else None
    try:
        pidfile.acquire(write=args.dont_fork)
        if vrrp_pidfile is not None:
            vrrp_pidfile.acquire(write=args.dont_fork)
    except AlreadyRunning as exc:
        print(f"kvrrp: {exc}", file=sys.stderr)
        log.error("%s", exc)
        pidfile.release()
        restore_core_pattern()
        return EXIT_RUNNING
    except OSError as exc:
        print(f"kvrrp: cannot write pid file {exc.filename or pidfile.path}: {exc.strerror or exc}",
              file=sys.stderr)
        log.error("cannot write pid file %s: %s", exc.filename or pidfile.path, exc.strerror or exc)
        pidfile.release()
        restore_core_pattern()
        return EXIT_FATAL
    try:
        if not args.dont_fork:
            started = lifecycle.daemonize()
            pidfile.rewrite()
            if vrrp_pidfile is not None:
                vrrp_pidfile.rewrite()
            started(True)   # the pid files name this process: the starting command may return
        from kvrrp.io import process_tuning
        from kvrrp.io.precise_loop import new_event_loop

        # after the fork (mlockall and SCHED_RESET_ON_FORK do not survive one), before any thread
        process_tuning.apply(plan, "VRRP")
        daemon = Daemon(args, config)
        daemon.plan = plan
        daemon.namespace_override = cmdline_namespace
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            rc = runner.run(daemon.run())
    except KeyboardInterrupt:
        rc = 0
    except Exception:  # noqa: BLE001 - logged with its traceback, then a non-zero exit
        log.exception("kvrrp: fatal error")
        rc = EXIT_FATAL
    finally:
        if vrrp_pidfile is not None:
            vrrp_pidfile.release()
        pidfile.release()
        remove_pid_dir(own_pid_dir)
        restore_core_pattern()
    log.info("Stopped kvrrp v%s", _version())
    # The daemon's state is all gone by now (VIPs removed, pid file released, sockets closed):
    # skip the interpreter's teardown, which on a busy host competes for CPU with the backups
    # taking over.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def default_pid_file(namespace: str | None, use_pid_dir: bool = False) -> str:
    """/run/kvrrp.pid; with use_pid_dir /run/kvrrp/kvrrp.pid; in a namespace (-s NAME or
    net_namespace NAME) /run/kvrrp/NAME/kvrrp.pid. keepalived's layout with kvrrp's names
    (keepalived: /run/keepalived.pid, /run/keepalived/keepalived.pid and, seen from outside its
    mount namespace, /run/keepalived/NAME/keepalived.pid): one pid directory per namespace, so
    that one daemon per namespace can run, and none shared with a keepalived on the same host."""
    run_dir = os.path.dirname(DEFAULT_PID_FILE)
    name = os.path.basename(DEFAULT_PID_FILE)
    if namespace:
        return os.path.join(run_dir, "kvrrp", namespace, name)
    if use_pid_dir:
        return os.path.join(run_dir, "kvrrp", name)
    return DEFAULT_PID_FILE


def _configure_logging(args: Any, namespace: str | None) -> Any:
    from kvrrp.logging_setup import syslog_ident

    log_file = getattr(args, "log_file", None)
    return configure_logging(
        console=args.log_console, detail=args.log_detail, ident=syslog_ident("Keepalived_vrrp", namespace),
        facility=getattr(args, "log_facility", "daemon"), syslog=not getattr(args, "no_syslog", False),
        log_file=log_file_path(log_file, "vrrp") if log_file else None,
        flush_log_file=getattr(args, "flush_log_file", False), dont_fork=args.dont_fork)


def _version() -> str:
    from kvrrp import version

    return version()
