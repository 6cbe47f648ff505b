"""`kvrrp -f FILE` as a process: the order of start, pid files, daemonizing, exit codes.

Order of start: stray signals ignored; process options; logging; load the configuration (print
every diagnostic; refuse to start only on what keepalived would not run either,
LoadResult.blocking, or what the VRRP engine refuses); the configuration's network namespace;
the umask; take the pid file (refuse a second copy, take over a stale one); daemonize unless -n;
the process tuning (after the fork: mlockall and SCHED_RESET_ON_FORK do not survive one); then
the composition root (kvrrp.daemon.root.Daemon) runs in one asyncio loop until it stops.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from kvrrp import lifecycle, version
from kvrrp.daemon.configuration import load_config
from kvrrp.daemon.root import Daemon
from kvrrp.io import process_tuning
from kvrrp.io.precise_loop import new_event_loop
from kvrrp.logging_setup import configure as configure_logging
from kvrrp.logging_setup import syslog_ident
from kvrrp.options import log_file_path
from kvrrp.pidfile import AlreadyRunning, PidFile, default_pid_file, remove_pid_dir
from kvrrp.process_plan import plan_for
from kvrrp.signal_handlers import ignore_stray_signals_early
from kvrrp.vrrp.engine import validate_settings
from kvrrp.vrrp.settings import engine_settings

log = logging.getLogger("kvrrp.daemon")

EXIT_CONFIG = 1     # the configuration cannot run
EXIT_RUNNING = 1    # another copy holds the pid file
EXIT_FATAL = 2      # the process could not be set up, or failed while running


def main(args: Any) -> int:
    ignore_stray_signals_early()     # no stray signal may kill us before the loop handles them
    if not lifecycle.apply_process_options(args, "kvrrp"):
        return EXIT_FATAL
    cmdline_namespace = getattr(args, "namespace", None)
    targets = configure_process_logging(args, cmdline_namespace)
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
        configure_process_logging(args, namespace)
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
    log.info("Stopped kvrrp v%s", version())
    # The daemon's state is all gone by now (VIPs removed, pid file released, sockets closed):
    # skip the interpreter's teardown, which on a busy host competes for CPU with the backups
    # taking over.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def configure_process_logging(args: Any, namespace: str | None) -> Any:
    """Logging as the options ask (console, detail, syslog ident per namespace, facility, file)."""
    log_file = getattr(args, "log_file", None)
    return configure_logging(
        console=args.log_console, detail=args.log_detail, ident=syslog_ident("Keepalived_vrrp", namespace),
        facility=getattr(args, "log_facility", "daemon"), syslog=not getattr(args, "no_syslog", False),
        log_file=log_file_path(log_file, "vrrp") if log_file else None,
        flush_log_file=getattr(args, "flush_log_file", False), dont_fork=args.dont_fork)
