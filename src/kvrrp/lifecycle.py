"""Process start-up around the daemons, as keepalived does it: umask, core dumps, network
namespace (-s, or the configuration's net_namespace), the start banner, and daemonizing so
that the pid file already holds the final process's pid when the command that started it
returns (what `Type=forking` and init scripts read).
"""
from __future__ import annotations

import logging
import os
import resource
import shlex
import sys
from typing import Any, Callable

from kvrrp import version

log = logging.getLogger("kvrrp.daemon")

CORE_PATTERN = "/proc/sys/kernel/core_pattern"


def daemonize() -> Callable[[bool], None]:
    """Double fork: detach from the terminal and session, stdio to /dev/null.

    The process that called this waits until the final process calls the returned function
    (after writing its pid file), then exits 0 (or 1 if the final process failed or died
    first): `kvrrp -f FILE` returns only once /run/kvrrp.pid names the daemon."""
    rfd, wfd = os.pipe()
    if os.fork() > 0:
        os.close(wfd)
        answer = b""
        while True:
            chunk = os.read(rfd, 16)
            if not chunk:
                break
            answer += chunk
        os._exit(0 if answer.startswith(b"ok") else 1)
    os.close(rfd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)

    def started(ok: bool = True) -> None:
        nonlocal wfd
        if wfd < 0:
            return
        try:
            os.write(wfd, b"ok" if ok else b"failed")
        except OSError:
            pass
        os.close(wfd)
        wfd = -1

    return started


def apply_umask(mask: int | None) -> None:
    if mask is not None:
        os.umask(mask)


def enable_core_dumps(pattern: str | None) -> Callable[[], None]:
    """-m: no limit on core file size; -M PATN: also set the kernel's core_pattern, which is
    put back at exit (returned function) as keepalived does."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError) as exc:
        log.warning("cannot lift the core file size limit: %s", getattr(exc, "strerror", None) or exc)
    if pattern is None:
        return lambda: None
    try:
        with open(CORE_PATTERN) as fh:
            original = fh.read().rstrip("\n")
        with open(CORE_PATTERN, "w") as fh:
            fh.write(pattern)
    except OSError as exc:
        log.warning("cannot set %s: %s", CORE_PATTERN, exc.strerror or exc)
        return lambda: None

    def restore() -> None:
        try:
            with open(CORE_PATTERN, "w") as fh:
                fh.write(original)
        except OSError as exc:
            log.warning("cannot restore %s: %s", CORE_PATTERN, exc.strerror or exc)

    return restore


def apply_process_options(args: Any, prog: str) -> bool:
    """keepalived's -u and -s for a whole process, before anything else opens a socket: the
    umask, then the network namespace. False, after saying why on stderr, when the namespace
    cannot be entered."""
    apply_umask(getattr(args, "umask", None))
    namespace = getattr(args, "namespace", None)
    if namespace:
        try:
            enter_namespace(namespace)
        except OSError as exc:
            print(f"{prog}: cannot enter network namespace {namespace}: {exc.strerror or exc}", file=sys.stderr)
            return False
    return True


def enter_namespace(name: str) -> None:
    """-s NAME: the whole process (and every thread and child started later) in network
    namespace NAME, as created by `ip netns add NAME`."""
    from kvrrp.io.netns import NETNS_RUN_DIR, _setns

    fd = os.open(os.path.join(NETNS_RUN_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
    finally:
        os.close(fd)


def enter_config_namespace(args: Any, config: Any, cmdline: str | None) -> str | None | bool:
    """keepalived's start: -s NAME overrides the configuration's net_namespace (and says so);
    otherwise the process enters net_namespace NAME before it opens any socket. The namespace
    the daemon runs in (None: the one it was started in), or False after reporting a failure.
    args.namespace names it afterwards (pid files, the checker child's -s, syslog ident)."""
    wanted = config.net_namespace
    if cmdline:
        if wanted and wanted != cmdline:
            log.info("Overriding config net_namespace '%s' with command line namespace '%s'", wanted, cmdline)
        return cmdline
    if not wanted:
        return None
    try:
        enter_namespace(wanted)
    except OSError as exc:
        log.error("Unable to set network namespace %s - exiting (%s)", wanted, exc.strerror or exc)
        print(f"kvrrp: cannot enter network namespace {wanted}: {exc.strerror or exc}", file=sys.stderr)
        return False
    args.namespace = wanted
    return wanted


def banner(argv: list[str], config: str, what: str = "kvrrp") -> list[str]:
    """keepalived's first lines: version, kernel, command line, configuration file."""
    uname = os.uname()
    return [
        f"Starting {what} v{version()} (keepalived-compatible)",
        f"Running on {uname.sysname} {uname.release} {uname.version} (Python {sys.version.split()[0]})",
        "Command line: " + " ".join(shlex.quote(a) for a in argv),
        f"Configuration file {config}",
    ]


def report_start(opts: Any, what: str = "kvrrp") -> None:
    for line in banner(["kvrrp", *getattr(opts, "argv", [])], opts.config, what):
        log.info("%s", line)
    for note in getattr(opts, "no_effect", ()):
        log.warning("%s", note)
