"""Logging the way keepalived's flags ask, in keepalived's formats.

- syslog (unless -G): `Keepalived_vrrp[PID]: message` (`_NAMESPACE` appended to the ident with
  -s, as keepalived does), facility from -S (daemon by default);
- console with -l (and -n, as in keepalived: a daemonized process has no console):
  keepalived's `%c: message`, e.g. `Mon Dec  7 12:49:06 2026: Starting ...`;
- a log file with -g: keepalived's `Mon Dec 07 12:49:06.123456789 2026: message`.
- -D gives detail (debug) messages.

Without a syslog socket (a container, this kind of machine) and no other target, messages go to
stderr rather than nowhere. KVRRP_SYSLOG_SOCKET names another socket than /dev/log (tests).

Records are formatted and written at the end of the event-loop iteration that produced them
(DeferredHandler), not in the middle of it: a failover logs several lines between the
Master_Down_Timer firing and the VIP being added and announced, and that work must not wait for
log formatting and write(2) calls. Outside a running loop records go out at once.
"""
from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import sys
import time
from dataclasses import dataclass

SYSLOG_SOCKET = "/dev/log"


class DeferredHandler(logging.Handler):
    """Queue records during a loop iteration; hand them to `target` in the next one.

    At most MAX_PENDING records wait: a burst beyond that (10,000 instances changing state in
    one iteration log 20,000 lines) is written as it comes, MAX_PENDING at a time. A LogRecord
    is about 1.3 KB; 20,000 of them at once were a 26 MB peak whose freed memory the process
    never gave back (docs/scale.md)."""

    MAX_PENDING = 512

    def __init__(self, target: logging.Handler) -> None:
        super().__init__(target.level)
        self.target = target
        self._pending: list[logging.LogRecord] = []
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            self.target.handle(record)
            return
        self._pending.append(record)
        if len(self._pending) >= self.MAX_PENDING:
            self._write_pending()
            return
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        self._write_pending()

    def _write_pending(self) -> None:
        pending, self._pending = self._pending, []
        for record in pending:
            self.target.handle(record)
        self.target.flush()

    def close(self) -> None:
        self.flush()
        self.target.close()
        super().close()


CONSOLE_DATEFMT = "%a %b %e %H:%M:%S %Y"     # strftime %c in the C locale, as keepalived prints


class ConsoleFormatter(logging.Formatter):
    """keepalived's console line: `Mon Dec  7 12:49:06 2026: message`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime(CONSOLE_DATEFMT, time.localtime(record.created))
        return f"{stamp}: {_message(self, record)}"


class LogFileFormatter(logging.Formatter):
    """keepalived's log-file line: `Mon Dec 07 12:49:06.123456789 2026: message`."""

    def format(self, record: logging.LogRecord) -> str:
        lt = time.localtime(record.created)
        ns = int(round((record.created % 1) * 1e9)) % 1_000_000_000
        stamp = f"{time.strftime('%a %b %d %H:%M:%S', lt)}.{ns:09d} {time.strftime('%Y', lt)}"
        return f"{stamp}: {_message(self, record)}"


def _message(fmt: logging.Formatter, record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text = f"{text}\n{fmt.formatException(record.exc_info)}"
    return text


class QuietSysLogHandler(logging.handlers.SysLogHandler):
    """A syslog daemon that went away must not fill stderr with logging tracebacks."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass


class Tee(logging.Handler):
    """One record to every target, each with its own format."""

    def __init__(self, targets: list[logging.Handler]) -> None:
        super().__init__(logging.NOTSET)
        self.targets = targets

    def emit(self, record: logging.LogRecord) -> None:
        for target in self.targets:
            target.handle(record)

    def flush(self) -> None:
        for target in self.targets:
            target.flush()

    def close(self) -> None:
        for target in self.targets:
            target.close()
        super().close()


@dataclass(frozen=True)
class LogTargets:
    """What was opened: the daemon reports it and the tests check it."""

    handler: logging.Handler
    syslog: bool
    console: bool
    log_file: str | None


def syslog_socket() -> str:
    return os.environ.get("KVRRP_SYSLOG_SOCKET") or SYSLOG_SOCKET


def syslog_ident(prog: str, namespace: str | None = None) -> str:
    """keepalived's make_syslog_ident(): `Keepalived_vrrp`, `Keepalived_vrrp_NS` in a namespace."""
    return f"{prog}_{namespace}" if namespace else prog


def configure(console: bool, detail: bool, ident: str = "Keepalived_vrrp", *, facility: str = "daemon",
              syslog: bool = True, log_file: str | None = None, flush_log_file: bool = False,
              dont_fork: bool = True) -> LogTargets:
    """Route the `kvrrp` and `healthcheck` loggers as keepalived's -l/-S/-G/-g/-D ask."""
    targets: list[logging.Handler] = []
    use_syslog = False
    if syslog and os.path.exists(syslog_socket()):
        try:
            sys_handler = QuietSysLogHandler(address=syslog_socket(),
                                             facility=logging.handlers.SysLogHandler.facility_names[facility])
        except OSError:
            sys_handler = None
        if sys_handler is not None:
            sys_handler.append_nul = False
            sys_handler.setFormatter(logging.Formatter(f"{ident}[%(process)d]: %(message)s"))
            targets.append(sys_handler)
            use_syslog = True
    file_path = None
    if log_file:
        try:
            stream = open(log_file, "a", buffering=1, encoding="utf-8", errors="replace")
        except OSError as exc:
            print(f"{ident}: cannot open log file {log_file}: {exc.strerror or exc}", file=sys.stderr)
        else:
            os.set_inheritable(stream.fileno(), False)
            file_handler = logging.StreamHandler(stream)
            file_handler.setFormatter(LogFileFormatter())
            targets.append(file_handler)
            file_path = log_file
    use_console = console and dont_fork
    if use_console or not targets:
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setFormatter(ConsoleFormatter())
        targets.append(console_handler)
        use_console = True
    handler = DeferredHandler(targets[0] if len(targets) == 1 else Tee(targets))
    level = logging.DEBUG if detail else logging.INFO
    for name in ("kvrrp", "healthcheck"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return LogTargets(handler, use_syslog, use_console, file_path)


def describe_error(exc: BaseException) -> str:
    """An exception as an operator-readable text: never `[Errno None] ... None`."""
    if isinstance(exc, OSError):
        parts = []
        if exc.strerror:
            parts.append(str(exc.strerror))
        elif exc.errno:
            parts.append(os.strerror(exc.errno))
        elif exc.args and any(a is not None for a in exc.args):
            parts.append(" ".join(str(a) for a in exc.args if a is not None))
        if exc.filename:
            parts.append(f"({exc.filename})")
        text = " ".join(parts)
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
