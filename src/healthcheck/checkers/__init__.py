"""The checkers, by keepalived keyword. Each module has ``async def check(target, ctx)``."""
from __future__ import annotations

from typing import Awaitable, Callable

from healthcheck.checkers import dns, file, http, misc, ping, smtp, tcp, udp
from healthcheck.checkers.base import CheckContext, CheckResult, Target, make_target

CheckFn = Callable[[Target, CheckContext], Awaitable[CheckResult]]

CHECKERS: dict[str, CheckFn] = {
    "TCP_CHECK": tcp.check,
    "HTTP_GET": http.check,
    "SSL_GET": http.check,
    "MISC_CHECK": misc.check,
    "SMTP_CHECK": smtp.check,
    "DNS_CHECK": dns.check,
    "UDP_CHECK": udp.check,
    "PING_CHECK": ping.check,
    "FILE_CHECK": file.check,
}

__all__ = ["CHECKERS", "CheckContext", "CheckResult", "Target", "make_target"]
