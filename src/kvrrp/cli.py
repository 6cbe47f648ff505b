"""Command line: keepalived's flags for the daemon, plus kvrrp's own subcommands.

Subcommands (`packet`, `demo`) are picked off argv[0] so that keepalived-style invocations
(`kvrrp -n -l -f FILE`, `kvrrp -t -f FILE`) parse exactly as keepalived's do.
Each job lives in its own module; this file only routes.
"""
from __future__ import annotations

import argparse
import sys

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kvrrp",
        description="keepalived-compatible VRRP and IPVS daemon. "
        "Subcommands: 'kvrrp packet ...' (decode/encode adverts), 'kvrrp demo' (netns failover lab), "
        "'kvrrp ctl ...' (the same as kvrrpctl: status, maintenance, failover, rs drain ...).",
    )
    p.add_argument("-f", "--use-file", dest="config", default=DEFAULT_CONFIG, help="configuration file")
    p.add_argument("-t", "--config-test", action="store_true", help="check the configuration and exit")
    p.add_argument("--skip-interface-check", action="store_true",
                   help="with -t: do not require the interfaces the configuration names to exist here "
                        "(testing a configuration meant for another host)")
    p.add_argument("--allow-reload-removing-all", action="store_true",
                   help="let a reload apply a configuration with no vrrp_instance (or no virtual_server) "
                        "although the running one has some; refused as a likely accident otherwise")
    p.add_argument("-d", "--dump-conf", action="store_true", help="print the parsed configuration")
    p.add_argument("--format", choices=("json", "keepalived"), default="json", help="format for --dump-conf")
    p.add_argument("-n", "--dont-fork", action="store_true", help="stay in the foreground")
    p.add_argument("-l", "--log-console", action="store_true", help="log to the console")
    p.add_argument("-D", "--log-detail", action="store_true", help="detailed log messages")
    p.add_argument("-p", "--pid", dest="pid_file", default=None, help="pid file")
    p.add_argument("-c", "--checkers_pid", dest="checkers_pid_file", default=None,
                   help="checker process pid file (default: the -p file with -checkers)")
    p.add_argument("--dont-release-vrrp", action="store_true", help="leave VIPs in place on stop")
    p.add_argument("--dont-release-ipvs", action="store_true", help="leave IPVS entries in place on stop")
    p.add_argument("-P", "--vrrp", action="store_true", help="run the VRRP engine only")
    p.add_argument("-C", "--check", action="store_true", help="run the checker (IPVS) only")
    p.add_argument("-i", "--config-id", default=None, help="config id for @id conditional lines (default: short hostname)")
    p.add_argument("--status-port", type=int, default=None,
                   help="serve JSON status (/status) and Prometheus metrics (/metrics) on PORT")
    p.add_argument("--status-address", default="127.0.0.1",
                   help="address the status API listens on (default 127.0.0.1; it has no "
                   "authentication: see docs/operations.md before opening it)")
    p.add_argument("--control-socket", default=None,
                   help="kvrrpctl's Unix socket (default: the pid file with .ctl, e.g. /run/kvrrp.ctl)")
    p.add_argument("-T", "--genhash", action="store_true", help="genhash mode: remaining args are genhash's")
    p.add_argument("-v", "--version", action="store_true", help="print the version")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "packet":
        from kvrrp.packet_cli import main as packet_main

        return packet_main(argv[1:])
    if argv and argv[0] == "ctl":
        from kvrrp.control.cli import main as ctl_main

        return ctl_main(argv[1:])
    if argv and argv[0] == "demo":
        from kvrrp.demo import main as demo_main

        return demo_main(argv[1:])
    if argv and argv[0] in ("-T", "--genhash"):
        from healthcheck.genhash import main as genhash_main

        return genhash_main(argv[1:])

    args = build_parser().parse_args(argv)
    if args.version:
        from kvrrp import __version__

        print(f"kvrrp {__version__}")
        return 0
    if args.config_test:
        from kvrrp.config.cli import run_config_test

        return run_config_test(args.config, config_id=args.config_id, out=sys.stderr,
                               check_interfaces=not args.skip_interface_check)
    if args.dump_conf:
        from kvrrp.config.cli import run_dump_conf

        return run_dump_conf(args.config, config_id=args.config_id, fmt=args.format, out=sys.stdout)
    if args.check:
        from healthcheck.daemon import main as checker_main

        return checker_main(args)
    from kvrrp.daemon import main as daemon_main

    return daemon_main(args)
