"""TCP_CHECK: a connect within connect_timeout is success.

Straight on the loop's socket primitives (no transport/protocol objects) because this check
runs thousands of times a second. The socket is closed with SO_LINGER 0 (a RST, as HAProxy's
checks do) so that thousands of checks per second do not pile up TIME_WAIT and exhaust the
local port range.
"""
from __future__ import annotations

import asyncio
import socket
import struct

from healthcheck.checkers.base import CheckContext, CheckResult, Target, open_bound_socket, os_reason

_LINGER0 = struct.pack("ii", 1, 0)
SUCCESS = CheckResult(True)


async def tcp_connect(target: Target) -> socket.socket:
    """Connected non-blocking socket, or an OSError / TimeoutError."""
    loop = asyncio.get_running_loop()
    sock = open_bound_socket(target, socket.SOCK_STREAM)
    try:
        async with asyncio.timeout(target.timeout):
            await loop.sock_connect(sock, target.sockaddr)
    except BaseException:
        _abort(sock)
        raise
    return sock


def _abort(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
    except OSError:
        pass
    sock.close()


async def check(target: Target, ctx: CheckContext) -> CheckResult:
    try:
        sock = await tcp_connect(target)
    except TimeoutError:
        return CheckResult(False, "timeout")
    except OSError as exc:
        return CheckResult(False, os_reason(exc))
    _abort(sock)
    return SUCCESS
