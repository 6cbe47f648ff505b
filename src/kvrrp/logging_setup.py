"""Logging the way keepalived's flags ask: -l to the console, otherwise syslog; -D for detail."""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys

SYSLOG_SOCKET = "/dev/log"


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
    level = logging.DEBUG if detail else logging.INFO
    for name in ("kvrrp", "healthcheck"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return handler
