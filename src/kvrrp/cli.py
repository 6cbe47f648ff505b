"""Command line: keepalived's flags for the daemon, plus kvrrp's own subcommands.

Subcommands (`packet`, `demo`) are picked off argv[0]; everything else is keepalived's command
line, parsed by kvrrp.options exactly as keepalived's getopt_long() call parses it, so the
arguments in /etc/default/keepalived, a unit file or a container's command work unchanged.
Each job lives in its own module; this file only routes.
"""
from __future__ import annotations

import os
import sys

from kvrrp.options import Options, parse, usage

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"


def version_text() -> str:
    from kvrrp import version

    uname = os.uname()
    return (f"kvrrp v{version()} (keepalived-compatible: keepalived 2.4's configuration and command line)\n\n"
            "Copyright(C) the kvrrp authors; GPL-2.0-or-later\n\n"
            f"Running on {uname.sysname} {uname.release} {uname.version}\n"
            f"Python {sys.version.split()[0]}\n")


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

    opts = parse(argv)
    for warning in opts.warnings:
        print(warning, file=sys.stderr)
    if opts.genhash:
        from healthcheck.genhash import main as genhash_main

        return genhash_main(opts.genhash_argv)
    if opts.unexpected:
        # keepalived prints these and carries on
        print("Unexpected argument(s): " + " ".join(opts.unexpected), file=sys.stderr)
    if opts.errors:
        for error in opts.errors:
            print(error, file=sys.stderr)
        return 1
    return run(opts)


def run(opts: Options) -> int:
    if opts.help:
        sys.stderr.write(usage(_prog()))
        return 0
    if opts.version:
        sys.stderr.write(version_text())   # keepalived prints its version to stderr too
        return 0
    if opts.signum is not None:
        from kvrrp.signals import signum

        try:
            number = signum(opts.signum)
        except (KeyError, ValueError):
            print(f"Unknown sigfunc {opts.signum}", file=sys.stderr)
            return 1
        print(number)
        return 0
    if opts.umask is not None:
        os.umask(opts.umask)
    if opts.config_test:
        from kvrrp.config.cli import run_config_test

        if opts.config_test_log:
            try:
                fd = os.open(opts.config_test_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                print(f"Unable to open config-test log file {opts.config_test_log}: {exc.strerror}",
                      file=sys.stderr)
                return 1
            os.dup2(fd, 2)
            os.close(fd)
        return run_config_test(opts.config, config_id=opts.config_id, out=sys.stderr,
                               all_config=opts.all_config, check_interfaces=not opts.skip_interface_check)
    if opts.dump_conf and opts.format is not None:
        # kvrrp's own tool mode: the parsed configuration on stdout, then exit
        from kvrrp.config.cli import run_dump_conf

        return run_dump_conf(opts.config, config_id=opts.config_id, fmt=opts.format, out=sys.stdout)
    if opts.check:
        from healthcheck.daemon import main as checker_main

        return checker_main(opts)
    from kvrrp.daemon import main as daemon_main

    return daemon_main(opts)


def _prog() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "kvrrp" if not name or name.endswith(".py") else name
