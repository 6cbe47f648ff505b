"""`kvrrp -t` and `kvrrp --dump-conf`.

Exit codes of `-t` follow keepalived's config test (lib/scheduler.h KEEPALIVED_CHK_EXIT_*):

  0  configuration is clean
  4  configuration unusable: main file missing/unreadable (keepalived: CONFIG_FILE_NOT_FOUND)
  5  configuration has errors (or warnings keepalived also fails on, such as unknown keywords)
  6  scripts would run without enable_script_security (keepalived: CONFIG_SECURITY_ERROR);
     like keepalived, this wins over 5 when both apply

Warnings that keepalived does not count (kvrrp-only notices such as "'X' is ignored by kvrrp
(why) - ignoring", config.support) are printed but leave the exit code at 0; the summary line
then says how many keywords kvrrp ignores rather than a bare "configuration OK".
"""
from __future__ import annotations

import sys
from typing import TextIO

from kvrrp.config.diagnostics import FATAL
from kvrrp.config.dump import to_json, to_keepalived
from kvrrp.config.loader import load
from kvrrp.config.support import IGNORED

EXIT_OK = 0
EXIT_UNUSABLE = 4
EXIT_ERRORS = 5
EXIT_SECURITY = 6


def exit_code(diagnostics) -> int:
    if any(d.severity == FATAL for d in diagnostics):
        return EXIT_UNUSABLE
    # keepalived keeps the highest config_err_t value seen, and CONFIG_SECURITY_ERROR is the
    # highest: a security problem wins over ordinary errors.
    failing = [d for d in diagnostics if d.fails_test]
    if any(d.code == "security" for d in failing):
        return EXIT_SECURITY
    if failing:
        return EXIT_ERRORS
    return EXIT_OK


def sorted_diagnostics(diagnostics, files=()):
    """In reading order: by file (in the order files were read), line, column; the few
    diagnostics without a place come last."""
    order = {f: i for i, f in enumerate(files)}

    def key(d):
        if d.loc is None:
            return (1, 0, 0, 0)
        return (0, order.get(d.loc.file, len(order)), d.loc.line, d.loc.col)

    return sorted(diagnostics, key=key)


def run_config_test(path: str, config_id: str | None = None, out: TextIO = sys.stderr,
                    all_config: bool = False, check_interfaces: bool = True) -> int:
    """check_interfaces: every interface the configuration names must exist in this network
    namespace (config.interface_check); False for a configuration meant for another host.
    all_config: keepalived's -e, an include matching no file is an error."""
    interfaces = None
    if check_interfaces:
        from kvrrp.config.interface_check import host_interfaces

        interfaces = host_interfaces()
    res = load(path, config_id, interfaces=interfaces)
    namespace = getattr(res.config, "net_namespace", None)
    if interfaces is not None and namespace:
        # keepalived -t enters net_namespace first: its interfaces are the ones that count
        res = _load_in_namespace(res, namespace, path, config_id, out)
    if all_config:
        from kvrrp.config.runnable import all_config as strict_includes

        res = strict_includes(res)
    for d in sorted_diagnostics(res.diagnostics, res.files):
        print(d.format(), file=out)
    code = exit_code(res.diagnostics)
    n_err = sum(1 for d in res.diagnostics if d.severity != "warning")
    n_warn = len(res.diagnostics) - n_err
    summary = "configuration OK" if code == EXIT_OK else "configuration has problems"
    n_ignored = sum(1 for d in res.diagnostics if d.code == IGNORED)
    if n_ignored:
        summary += f" ({n_ignored} keyword(s) ignored by kvrrp, see above)"
    print(f"{path}: {summary}: {n_err} error(s), {n_warn} warning(s); "
          f"{len(res.config.instances)} vrrp_instance(s), {len(res.config.virtual_servers)} virtual_server(s)"
          f" [exit {code}]", file=out)
    return code


def _load_in_namespace(res, namespace: str, path: str, config_id: str | None, out: TextIO):
    from kvrrp.config.interface_check import host_interfaces
    from kvrrp.io.netns import entered

    try:
        with entered(namespace):
            interfaces = host_interfaces()
    except OSError as exc:
        print(f"Unable to set network namespace {namespace} ({exc.strerror or exc}): interfaces "
              "checked in this namespace", file=out)
        return res
    return load(path, config_id, interfaces=interfaces)


def run_dump_conf(path: str, config_id: str | None = None, fmt: str = "json", out: TextIO = sys.stdout) -> int:
    res = load(path, config_id)
    for d in res.diagnostics:
        print(d.format(), file=sys.stderr)
    if any(d.severity == FATAL for d in res.diagnostics):
        return EXIT_UNUSABLE
    if fmt == "keepalived":
        out.write(to_keepalived(res.config))
    elif fmt == "json":
        out.write(to_json(res.config) + "\n")
    else:
        print(f"unknown dump format '{fmt}' (json or keepalived)", file=sys.stderr)
        return 2
    return EXIT_OK
