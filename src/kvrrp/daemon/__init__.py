"""The VRRP daemon (`kvrrp -f FILE`), in layers:

process.py        the process: options, logging, pid files, daemonizing, exit codes, main()
configuration.py  reading the configuration: diagnostics, what refuses a start or a reload
root.py           the composition root: the services in order (SERVICES), start / reload /
                  stop, status and dumps
service.py        the life cycle every service follows
services/         one module per service around the VRRP engine
optional.py       the services imported only when configured (status HTTP, SNMP, DBus, ...)
checker_child.py  the checker child process (`kvrrp -C`) and its supervision
"""
from __future__ import annotations

from kvrrp.daemon.checker_child import CheckerChild, checker_pid_file, checker_pid_path, wants_checker
from kvrrp.daemon.configuration import load_config, parse_config, usable_config
from kvrrp.daemon.optional import snmp_wanted
from kvrrp.daemon.process import EXIT_CONFIG, EXIT_FATAL, EXIT_RUNNING, main
from kvrrp.daemon.root import SERVICES, WORKER_THREADS, Daemon
from kvrrp.pidfile import default_pid_file

__all__ = ["CheckerChild", "Daemon", "EXIT_CONFIG", "EXIT_FATAL", "EXIT_RUNNING", "SERVICES", "WORKER_THREADS",
           "checker_pid_file", "checker_pid_path", "default_pid_file", "load_config", "main", "parse_config",
           "snmp_wanted", "usable_config", "wants_checker"]
