"""SMTP_CHECK: the server greets with 220, answers our HELO with 250; then we QUIT.

keepalived's state machine: connect, read the banner, "HELO <helo_name>", read the reply,
"QUIT". Each step is bounded by connect_timeout.
"""
from __future__ import annotations

import asyncio
import socket

from kvrrp.config.model import SmtpCheck

from healthcheck.checkers.base import CheckContext, CheckResult, Target, os_reason
from healthcheck.checkers.tcp import _abort, tcp_connect


async def _reply(loop: asyncio.AbstractEventLoop, sock: socket.socket, timeout: float) -> int:
    """Read one (possibly multi-line) SMTP reply; return its code."""
    buf = b""
    async with asyncio.timeout(timeout):
        while True:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                raise ConnectionError("connection closed")
            buf += chunk
            if len(buf) > 65536:
                raise ConnectionError("reply too long")
            lines = buf.split(b"\r\n")
            complete = lines[:-1]
            for line in complete:
                if len(line) >= 4 and line[3:4] == b" " or len(line) == 3:
                    try:
                        return int(line[:3])
                    except ValueError:
                        raise ConnectionError(f"bad SMTP reply {line[:40]!r}") from None


async def check(target: Target, ctx: CheckContext) -> CheckResult:
    spec = target.spec
    assert isinstance(spec, SmtpCheck)
    loop = asyncio.get_running_loop()
    try:
        sock = await tcp_connect(target)
    except TimeoutError:
        return CheckResult(False, "timeout")
    except OSError as exc:
        return CheckResult(False, os_reason(exc))
    try:
        code = await _reply(loop, sock, target.timeout)
        if code != 220:
            return CheckResult(False, f"bad banner code {code}")
        helo = spec.helo_name or ctx.hostname
        await loop.sock_sendall(sock, f"HELO {helo}\r\n".encode())
        code = await _reply(loop, sock, target.timeout)
        if code != 250:
            return CheckResult(False, f"HELO refused with {code}")
        await loop.sock_sendall(sock, b"QUIT\r\n")
        return CheckResult(True)
    except TimeoutError:
        return CheckResult(False, "timeout")
    except (OSError, ConnectionError) as exc:
        return CheckResult(False, str(exc))
    finally:
        _abort(sock)
