"""The checker process (keepalived's -C / Keepalived_healthcheckers child).

`kvrrp -C -f FILE` -> main(args). Loads the config, keeps IPVS in step with the health checks
(healthcheck.engine), reloads on SIGHUP (only changed entries are touched), removes its own
IPVS entries on SIGTERM/SIGINT (kept when KVRRP_KEEP_IPVS=1 or args.dont_release_ipvs), dumps
its state as JSON on SIGUSR1.

In-process use (tests, the IPVS VM tier) - no separate process needed:

    d = CheckerDaemon("/path/keepalived.conf", kernel=None)   # None: real IPVS via pyroute2
    await d.start()            # raises ConfigLoadError / OSError (no IPVS) on failure
    await d.reload()           # re-read the file; False (old config kept) when it has problems
                               # keepalived would not run with; other errors logged, value ignored
    d.engine                   # healthcheck.engine.CheckerEngine (status(), table, reconciler)
    await d.stop(keep=False)
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any

from kvrrp.config.model import Config
from kvrrp.io.lifetime import die_with_parent, parent_from_environment

from healthcheck.engine import CheckerEngine
from healthcheck.ipvs import IpvsKernel
from healthcheck.ipvs_netlink import PyrouteKernel

log = logging.getLogger("kvrrp.healthcheck")

DEFAULT_PID_FILE = "/run/kvrrp_checkers.pid"
DUMP_FILE = "/tmp/keepalived_check.json"
ADDRESS_POLL = 2.0


class ConfigLoadError(RuntimeError):
    pass


def load_config(path: str, config_id: str | None) -> Config:
    """The VRRP daemon's rule (kvrrp.config.load_runnable): every diagnostic logged, the bad
    values ignored as keepalived does; only what keepalived would not run raises."""
    from kvrrp.config import load_runnable

    config = load_runnable(path, config_id, logger=log)
    if config is None:
        raise ConfigLoadError(f"{path}: the configuration has problems keepalived would not run with")
    return config


async def local_addresses() -> set[str]:
    """Addresses configured on this host (for ha_suspend), read through netlink."""
    from pyroute2 import AsyncIPRoute

    out: set[str] = set()
    async with AsyncIPRoute() as ipr:
        async for msg in await ipr.get_addr():
            addr = msg.get_attr("IFA_ADDRESS") or msg.get_attr("IFA_LOCAL")
            if addr:
                out.add(addr)
    return out


def _checker_bfds(config: Any) -> list:
    """keepalived: a bfd_instance with only 'vrrp' sends no events to the checker process."""
    return [b for b in config.bfd_instances if b.checker]


class CheckerDaemon:
    def __init__(self, config_path: str, config_id: str | None = None, *, kernel: IpvsKernel | None = None,
                 keep_on_stop: bool = False, concurrency: int = 1024, dump_file: str = DUMP_FILE,
                 state_file: str | None = None, allow_remove_all: bool = False, snmp: bool = False,
                 snmp_socket: str | None = None, sync_kernel: Any = None, fwmark_tables: Any = None) -> None:
        """sync_kernel: healthcheck.ipvs_syncd.SyncDaemonKernel or a fake; by default the real
        one when the checker opens the real IPVS kernel itself (kernel=None). fwmark_tables:
        healthcheck.ipvs_nftables.IpvsFwmarkTables (nftables_ipvs), by default likewise."""
        self.config_path = config_path
        self.config_id = config_id
        self.kernel = kernel
        self.keep_on_stop = keep_on_stop
        self.concurrency = concurrency
        self.dump_file = dump_file
        self.state_file = state_file        # IPVS ownership across restarts (None: not kept)
        self.engine: CheckerEngine | None = None
        self._addr_task: asyncio.Task | None = None
        self._stop_event = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._reload_waiting = False
        self._handlers = False
        self._signal_tasks: set[asyncio.Task] = set()
        from kvrrp.reload_guard import ReloadCounters

        self.reloads = ReloadCounters()
        self.allow_remove_all = allow_remove_all
        self.signals: Any = None
        self.reaper: Any = None
        self.bgp: Any = None          # kvrrp.bgp.wiring.Announcing (kvrrp_bgp), or None
        self.sync_kernel: Any = sync_kernel
        self.fwmark_tables: Any = fwmark_tables
        self.syncd: Any = None              # kvrrp.vrrp.lvs_sync.SyncDaemonRunner, if configured
        self.on_config: Any = None          # called with each configuration loaded (before IPVS opens)
        self.bfd: Any = None          # kvrrp.bfd.service.BfdService when this process runs the sessions
        self.bfd_feed: Any = None     # kvrrp.bfd.relay.ChildFeed when the VRRP daemon runs them
        self.run_bfd = True           # False with -B: no sessions of our own
        self.snmp_option = snmp                # -x: serve the MIB whatever enable_snmp_checker says
        self.snmp_socket = snmp_socket         # -A: over global_defs' snmp_socket
        self.snmp: Any = None                  # kvrrp.snmp.check_agent.CheckerSnmpAgent when enabled
        self.snmp_started_on: str | None = None     # the socket self.snmp was started with

    async def start(self) -> None:
        config = load_config(self.config_path, self.config_id)
        from kvrrp.notify import security

        security.configure(config)      # set_supplementary_groups, use_symlink_paths
        if self.on_config is not None:
            self.on_config(config)
        if self.kernel is None:
            if config.bgp is not None and not config.bgp.ipvs:
                # kvrrp_bgp ipvs off: anycast of services running on this host itself, no LVS;
                # the table the checks compute is kept in memory (same semantics, no kernel)
                from healthcheck.fakekernel import FakeKernel

                self.kernel = FakeKernel()
                log.info("kvrrp_bgp ipvs off: no kernel IPVS, the virtual server table is kept in memory")
            else:
                from kvrrp.io.sockbuf import RcvBuf

                # lvs_netlink_cmd_rcv_bufs(_force): the checker's netlink command socket is its IPVS one;
                # net_namespace_ipvs: that socket in that namespace (keepalived's libipvs does so)
                rcvbuf = RcvBuf.from_config(config.global_defs, "lvs_netlink_cmd")
                self.kernel = await PyrouteKernel(netns=config.net_namespace_ipvs, rcvbuf=rcvbuf).open()
                if self.sync_kernel is None:
                    from healthcheck.ipvs_syncd import SyncDaemonKernel

                    self.sync_kernel = SyncDaemonKernel(netns=config.net_namespace_ipvs)
                if self.fwmark_tables is None:
                    from healthcheck.ipvs_nftables import IpvsFwmarkTables

                    self.fwmark_tables = IpvsFwmarkTables()
        self._follow_sync_daemons(config)
        self._follow_fwmark_tables(config)
        self.engine = CheckerEngine(config, self.kernel, concurrency=self.concurrency,
                                    state_file=self.state_file)
        if any(vs.ha_suspend for vs in config.virtual_servers):
            self.engine.set_local_addresses(await local_addresses())
            self._addr_task = asyncio.get_running_loop().create_task(self._poll_addresses())
        await self._follow_snmp(config)     # before the first verdicts: their traps are queued
        await self.engine.start()
        await self._start_bfd(config)
        self._start_bgp(config)
        log.info("Checker started: %d virtual servers, %d checks", len(config.virtual_servers), len(self.engine.jobs))

    def _start_bgp(self, config: Config) -> None:
        """Anycast announcing (kvrrp.bgp) fed by the engine's quorum changes."""
        if config.bgp is None:
            return
        from kvrrp.bgp.announcer import service_key
        from kvrrp.bgp.wiring import Announcing

        self.bgp = Announcing.for_checker(config)
        if self.bgp is None or self.engine is None:
            return
        engine = self.engine
        engine.quorum_listeners.append(lambda: self.bgp.quorums(engine.quorum_by(service_key)))
        self.bgp.quorums(engine.quorum_by(service_key))
        self.bgp.start()

    async def _start_bfd(self, config: Any) -> None:
        """BFD_CHECK's source of session states: the VRRP daemon that started us (its pipe on
        our stdin), else our own sessions for the bfd_instances meant for the checker."""
        import os

        from kvrrp.bfd.relay import ENV, ChildFeed

        assert self.engine is not None
        if os.environ.pop(ENV, None):
            self.bfd_feed = ChildFeed(self.engine.set_bfd_state)
            await self.bfd_feed.start(0)
            return
        from kvrrp.bfd.service import BfdService

        if not self.run_bfd:
            if config.bfd_instances:
                log.warning("BFD disabled (-B): BFD_CHECKs get no session state")
            return
        self.bfd = BfdService(_checker_bfds(config))
        self.bfd.add_listener(self.engine.set_bfd_state)
        self.bfd.start()
    def _snmp_socket(self, config: Config) -> str | None:
        return self.snmp_socket or config.global_defs.snmp_socket

    async def _follow_snmp(self, config: Config) -> None:
        """The SNMP subagent (kvrrp.snmp, imported only when wanted), started, restarted on
        another socket or stopped to match enable_snmp_checker / snmp_socket and -x / -A, at
        start and on each reload (as the VRRP process's subagent follows its keywords)."""
        wanted = self.snmp_option or config.global_defs.enable_snmp_checker
        socket = self._snmp_socket(config)
        if self.snmp is not None:
            if wanted and socket == self.snmp_started_on:
                self.snmp.reload()          # same session: the tables show the new configuration
                return
            log.info("SNMP: %s", "the agent socket changed, reconnecting" if wanted else "disabled by the reload")
            try:
                await self.snmp.close()
            except Exception:  # noqa: BLE001 - a broken session must not stop the reload
                log.exception("closing the SNMP subagent failed")
            self.snmp = None
        if not wanted:
            return
        try:
            from kvrrp import __version__
            from kvrrp.snmp.check_agent import CheckerSnmpAgent

            self.snmp = CheckerSnmpAgent(self.engine, socket=socket, version=f"kvrrp {__version__}")
            self.snmp.start()
            self.snmp_started_on = socket
        except Exception:  # noqa: BLE001 - the checks must run without their SNMP agent
            log.exception("starting the SNMP subagent failed; running without it")
            self.snmp = None

    def _follow_fwmark_tables(self, config: Config) -> None:
        """nftables_ipvs: the marks that send a virtual_server_group's ranges to its fwmark
        service (the engine builds that service from the same allocation)."""
        if self.fwmark_tables is None:
            if config.global_defs.nftables_ipvs is not None:
                log.warning("nftables_ipvs: no nftables with this IPVS kernel adapter")
            return
        self.fwmark_tables.apply(config)

    def _follow_sync_daemons(self, config: Config) -> None:
        """`lvs_sync_daemon IF` without a VRRP instance: master and backup sync daemons both,
        for the checker's whole life (keepalived's checker_ipvs_syncd_needed); with an instance
        the VRRP process runs them."""
        from kvrrp.vrrp.lvs_sync import SyncDaemonRunner, sync_plan

        plan = sync_plan(config)
        if plan is not None and plan.instance is not None:
            plan = None
        if self.syncd is not None and (plan is None or plan != self.syncd.plan):
            self.syncd.stop_both()
            self.syncd = None
        if plan is None or self.syncd is not None:
            return
        if self.sync_kernel is None:
            log.warning("lvs_sync_daemon: no IPVS sync daemon control with this IPVS kernel adapter")
            return
        self.syncd = SyncDaemonRunner(self.sync_kernel, plan)
        self.syncd.start_both()

    async def _poll_addresses(self) -> None:
        while True:
            await asyncio.sleep(ADDRESS_POLL)
            try:
                addrs = await local_addresses()
            except Exception as exc:  # noqa: BLE001 - keep the last known set
                from kvrrp.logging_setup import describe_error

                log.warning("reading local addresses: %s", describe_error(exc))
                continue
            if self.engine is not None:
                self.engine.set_local_addresses(addrs)

    async def reload(self) -> bool:
        async with self._reload_lock:           # SIGHUPs in a burst reload one after another
            return await self._reload()

    async def _reload(self) -> bool:
        """The VRRP daemon's rule (kvrrp.reload_guard): any error, or a configuration without a
        virtual_server replacing one with some (unless allow_remove_all), is refused."""
        from kvrrp.config import load
        from kvrrp.config.runnable import report_diagnostics, runnable_config
        from kvrrp.reload_guard import refusal

        log.info("Reloading configuration %s", self.config_path)
        self.reloads.started += 1
        try:
            result = await asyncio.to_thread(load, self.config_path, self.config_id)
            report_diagnostics(result, logger=log)
            running = self.engine.config if self.engine is not None else None
            why = refusal(result, running, allow_remove_all=self.allow_remove_all, part="checker")
            if why is None and runnable_config(result) is None:
                why = "the configuration has problems keepalived would not run with"
        except OSError as exc:
            why = str(exc)
        if why is not None:
            log.error("Reload refused, keeping the running configuration: %s", why)
            self.reloads.finish("refused", why)
            return False
        assert self.engine is not None
        try:
            from kvrrp.notify import security

            security.configure(result.config)
            if self.on_config is not None:
                self.on_config(result.config)    # the checker_* knobs of the new configuration
            if self.bgp is not None:
                await self.bgp.reload(result.config)
            await self.engine.reload(result.config)
            if self.bgp is None:
                self._start_bgp(result.config)      # kvrrp_bgp added by this reload
            self._follow_sync_daemons(result.config)
            self._follow_fwmark_tables(result.config)
            await self._follow_snmp(result.config)
        except Exception as exc:  # noqa: BLE001 - the checker keeps running
            log.exception("Reload failed")
            self.reloads.finish("failed", str(exc) or type(exc).__name__)
            return False
        if self.bfd is not None:
            self.bfd.reload(_checker_bfds(result.config))
        self.reloads.finish("applied")
        return True

    async def stop(self, keep: bool | None = None) -> None:
        if self.bgp is not None:
            # routes go first: the routers move new flows away while IPVS still serves them
            try:
                await self.bgp.shutdown()
            except Exception:  # noqa: BLE001 - the IPVS cleanup still has to run
                log.exception("BGP: withdrawing on stop failed")
        if self._addr_task is not None:
            self._addr_task.cancel()
            await asyncio.gather(self._addr_task, return_exceptions=True)
        keep = self.keep_on_stop if keep is None else keep
        if self.snmp is not None and not keep and self.engine is not None:
            self.snmp.shutdown_traps()       # keepalived sends them as it clears the services
        if self.bfd is not None:
            self.bfd.stop()
        if self.bfd_feed is not None:
            await self.bfd_feed.stop()
        if self.syncd is not None:
            self.syncd.stop_both()
            self.syncd = None
        keep = self.keep_on_stop if keep is None else keep
        if self.engine is not None:
            await self.engine.stop(keep=keep)
        if self.snmp is not None:
            await self.snmp.close()
            self.snmp = None
        if self.fwmark_tables is not None:
            if not keep:                # kept IPVS entries keep their marks
                self.fwmark_tables.remove()
            self.fwmark_tables.close()
        if self.sync_kernel is not None and hasattr(self.sync_kernel, "close"):
            self.sync_kernel.close()
        if self.kernel is not None:
            await self.kernel.close()
        log.info("Checker stopped")

    def status(self) -> dict[str, Any]:
        """The engine's status plus what reloads and signals did (the status API serves it)."""
        assert self.engine is not None
        status: dict[str, Any] = dict(self.engine.status())
        status["reload"] = self.reloads.as_dict()
        status["signals"] = self.signals.snapshot() if self.signals is not None else {}
        status["script_leftovers"] = self.reaper.snapshot() if self.reaper is not None else {}
        status["bfd"] = {"source": "own sessions" if self.bfd is not None else
                         ("the VRRP daemon" if self.bfd_feed is not None else None),
                         "states": dict(self.engine.bfd_known),
                         "sessions": self.bfd.snapshot() if self.bfd is not None else None}
        if self.snmp is not None:
            status["snmp"] = self.snmp.snapshot()
        if self.bgp is not None:
            status["bgp"] = self.bgp.snapshot()
        return status

    def dump(self) -> str:
        assert self.engine is not None
        status = self.status()
        status["ipvs_table"] = self.engine.reconciler.mirror.weights()
        with open(self.dump_file, "w") as f:
            json.dump(status, f, indent=2)
        log.info("State dumped to %s", self.dump_file)
        return self.dump_file

    def _on_sighup(self) -> None:
        """RELOAD: requests arriving while one waits to run fold into it (it reads the newest
        file); one running plus one waiting at most, like the VRRP daemon."""
        self.reloads.requested += 1
        if self._reload_waiting:
            self.reloads.coalesced += 1
            return
        self._reload_waiting = True

        async def run() -> None:
            async with self._reload_lock:
                self._reload_waiting = False
                await self._reload()

        task = asyncio.get_running_loop().create_task(run())
        self._signal_tasks.add(task)
        task.add_done_callback(self._signal_tasks.discard)

    def install_signal_handlers(self) -> None:
        """keepalived's checker process: STOP (SIGTERM) and SIGINT stop, RELOAD (SIGHUP)
        reloads, DATA (SIGUSR1) dumps state as JSON, TDUMP logs the tasks; STATS, STATS_CLEAR,
        JSON and every other catchable signal are logged and ignored (kvrrp.signal_handlers)."""
        from kvrrp.signal_handlers import SignalHandlers, log_task_dump

        self.signals = SignalHandlers(asyncio.get_running_loop(), {
            "STOP": self._stop_event.set, "INT": self._stop_event.set, "RELOAD": self._on_sighup,
            "DATA": self.dump, "TDUMP": log_task_dump}, process="checker")
        self.signals.install()
        self._handlers = True

    async def run_until_signalled(self) -> None:
        if not self._handlers:
            self.install_signal_handlers()
        await self._stop_event.wait()
        log.info("Stopping")


def raise_fd_limit(want: int = 65536) -> None:
    """Up to ``concurrency`` checks hold a socket each, plus scripts and netlink: lift the soft
    descriptor limit (often 1024 for services) towards the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open file limit from %d: %s", soft, exc)


def _daemonize() -> None:
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def pid_file_path(args: Any) -> str:
    return getattr(args, "checkers_pid_file", None) or getattr(args, "pid_file", None) or DEFAULT_PID_FILE


async def _run(args: Any) -> int:
    keep = bool(getattr(args, "dont_release_ipvs", False)) or os.environ.get("KVRRP_KEEP_IPVS") == "1"
    state_file = os.path.splitext(pid_file_path(args))[0] + ".ipvs.json"
    daemon = CheckerDaemon(args.config, getattr(args, "config_id", None), keep_on_stop=keep,
                           state_file=state_file,
                           allow_remove_all=bool(getattr(args, "allow_reload_removing_all", False)),
                           snmp=bool(getattr(args, "snmp", False)), snmp_socket=getattr(args, "snmp_agent_socket", None))
    tuning = CheckerTuning(args)
    daemon.on_config = tuning.apply
    daemon.run_bfd = not getattr(args, "no_bfd", False)
    try:
        await daemon.start()
    except ConfigLoadError as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("IPVS: cannot initialise the kernel interface (is ip_vs loaded?): %s", exc)
        return 1
    from kvrrp.control.protocol import socket_path
    from kvrrp.control.server import ControlServer

    from healthcheck.control import CheckerControl
    from healthcheck.metrics import CheckerMetrics

    metrics = CheckerMetrics(daemon.engine, bgp=lambda: daemon.bgp.snapshot() if daemon.bgp is not None else None)
    control = ControlServer(getattr(args, "control_socket", None) or socket_path(pid_file_path(args)),
                            CheckerControl(daemon, metrics).handlers())
    try:
        await control.start()
    except OSError as exc:
        log.error("control socket %s unavailable: %s", control.path, exc)
        control = None
    status = None
    port = getattr(args, "status_port", None)
    if port:
        from kvrrp.status_http import DEFAULT_ADDRESS, StatusServer

        host = getattr(args, "status_address", None) or DEFAULT_ADDRESS
        status = StatusServer(daemon.status, metrics.render, host=host, port=port)
        try:
            await status.start()
        except OSError as exc:
            log.error("status API on %s:%d: %s", host, port, exc)
            status = None
    from kvrrp.io.reaper import OrphanReaper

    daemon.reaper = OrphanReaper(asyncio.get_running_loop()).install()   # MISC_CHECK leftovers
    try:
        await daemon.run_until_signalled()
    finally:
        if daemon.bgp is not None:
            # the routes first, before anything else stops (kvrrp.bgp; stop() would do it later)
            try:
                await daemon.bgp.shutdown()
            except Exception:  # noqa: BLE001 - the rest of the shutdown still runs
                log.exception("BGP: withdrawing on stop failed")
        daemon.reaper.uninstall()
        if control is not None:
            await control.stop()
        if status is not None:
            await status.stop()
        await daemon.stop()
    return 0


class CheckerTuning:
    """What the checker process does to itself once its configuration is read (before any
    socket): enter `net_namespace` when started without -s, then the checker_* knobs (process
    name, nice, SCHED_RR, CPU affinity, mlockall, RLIMIT_RTTIME) and the automatic realtime
    escalation (kvrrp.process_plan, kvrrp.io.process_tuning)."""

    def __init__(self, args: Any) -> None:
        self.args = args
        self.watch: asyncio.Task | None = None
        self.plan: Any = None

    def apply(self, config: Any) -> None:
        """At start, and after each reload (keepalived's restore_priority: the new knobs)."""
        from kvrrp.io import process_tuning
        from kvrrp.process_plan import plan_for

        if self.plan is not None:
            plan = plan_for(config, "checker", getattr(self.args, "umask", None))
            if plan != self.plan:
                process_tuning.reapply(self.plan, plan, "Checker")
                self.plan = plan
            return

        if config.net_namespace and not getattr(self.args, "namespace", None):
            from kvrrp.lifecycle import enter_namespace

            try:
                enter_namespace(config.net_namespace)
            except OSError as exc:
                raise ConfigLoadError(f"Unable to set network namespace {config.net_namespace} - exiting "
                                      f"({exc.strerror or exc})") from None
            self.args.namespace = config.net_namespace
        plan = self.plan = plan_for(config, "checker", getattr(self.args, "umask", None))
        process_tuning.apply(plan, "Checker")
        if plan.escalates:
            escalator = process_tuning.Escalator(plan, "Checker")
            self.watch = asyncio.get_running_loop().create_task(process_tuning.watch_lateness(escalator))


def main(args: Any) -> int:
    from kvrrp import lifecycle
    from kvrrp.logging_setup import configure, syslog_ident
    from kvrrp.options import log_file_path
    from kvrrp.signal_handlers import ignore_stray_signals_early

    ignore_stray_signals_early()
    parent = parent_from_environment()
    if parent is not None and not die_with_parent(parent):
        print("kvrrp -C: the VRRP daemon that started this checker is gone; not starting", file=sys.stderr)
        return 0

    if not lifecycle.apply_process_options(args, "kvrrp -C"):
        return 2
    namespace = getattr(args, "namespace", None)
    log_file = getattr(args, "log_file", None)
    configure(bool(getattr(args, "log_console", False)), bool(getattr(args, "log_detail", False)),
              ident=syslog_ident("Keepalived_healthcheckers", namespace),
              facility=getattr(args, "log_facility", "daemon"), syslog=not getattr(args, "no_syslog", False),
              log_file=log_file_path(log_file, "check") if log_file else None,
              flush_log_file=bool(getattr(args, "flush_log_file", False)),
              dont_fork=bool(getattr(args, "dont_fork", True)))
    if getattr(args, "check", False) and getattr(args, "argv", None):
        lifecycle.report_start(args, "kvrrp checker")
    raise_fd_limit()
    if not getattr(args, "dont_fork", False):
        _daemonize()
    from kvrrp.pidfile import AlreadyRunning, PidFile

    pid = PidFile(pid_file_path(args))
    try:
        pid.acquire()
    except AlreadyRunning as exc:
        log.error("%s", exc)
        return 1
    try:
        return asyncio.run(_run(args))
    finally:
        pid.release()
