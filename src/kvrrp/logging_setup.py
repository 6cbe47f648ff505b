"""Logging the way keepalived's flags ask: -l to the console, otherwise syslog; -D for detail.

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

SYSLOG_SOCKET = "/dev/log"


class DeferredHandler(logging.Handler):
    """Queue records during a loop iteration; hand them to `target` in the next one."""

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
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        for record in pending:
            self.target.handle(record)
        self.target.flush()

    def close(self) -> None:
        self.flush()
        self.target.close()
        super().close()


def configure(console: bool, detail: bool, ident: str = "Keepalived_vrrp") -> logging.Handler:
    """Route the `kvrrp` and `healthcheck` loggers; returns the handler installed."""
    if console or not os.path.exists(SYSLOG_SOCKET):
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"%(asctime)s {ident}[%(process)d]: %(message)s",
                                               datefmt="%a %b %d %H:%M:%S %Y"))
    else:
        handler = logging.handlers.SysLogHandler(address=SYSLOG_SOCKET,
                                                 facility=logging.handlers.SysLogHandler.LOG_DAEMON)
        handler.setFormatter(logging.Formatter(f"{ident}[%(process)d]: %(message)s"))
    handler = DeferredHandler(handler)
    level = logging.DEBUG if detail else logging.INFO
    for name in ("kvrrp", "healthcheck"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return handler
