"""UDP_CHECK: send ``payload`` (hex; random bytes when unset). With ``require_reply`` a reply
within connect_timeout is needed, its length within [min_reply_length, max_reply_length] and
its start matching ``reply_pattern`` (hex, X nibbles match anything). Without it, success
means no ICMP port-unreachable came back within connect_timeout (as keepalived).
"""
from __future__ import annotations

import asyncio
import os
import socket

from kvrrp.config.model import UdpCheck

from healthcheck.checkers.base import CheckContext, CheckResult, Target, open_bound_socket, os_reason


def pattern_matches(pattern: str, data: bytes) -> bool:
    pattern = "".join(pattern.split())
    if len(pattern) % 2:
        pattern += "X"
    if len(data) * 2 < len(pattern):
        return False
    hexdata = data.hex()
    return all(p in "xX" or p.lower() == h for p, h in zip(pattern, hexdata))


async def check(target: Target, ctx: CheckContext) -> CheckResult:
    spec = target.spec
    assert isinstance(spec, UdpCheck)
    loop = asyncio.get_running_loop()
    try:
        payload = bytes.fromhex(spec.payload) if spec.payload else os.urandom(16)
    except ValueError:
        return CheckResult(False, f"bad payload hex {spec.payload!r}")
    try:
        sock = open_bound_socket(target, socket.SOCK_DGRAM)
    except OSError as exc:
        return CheckResult(False, str(exc))
    try:
        await loop.sock_connect(sock, target.sockaddr)
        await loop.sock_sendall(sock, payload)
        try:
            async with asyncio.timeout(target.timeout):
                data = await loop.sock_recv(sock, 65536)
        except TimeoutError:
            if spec.require_reply:
                return CheckResult(False, "no reply")
            return CheckResult(True)
        if spec.require_reply:
            if not spec.min_reply_length <= len(data) <= spec.max_reply_length:
                return CheckResult(False, f"reply length {len(data)} out of range")
            if spec.reply_pattern and not pattern_matches(spec.reply_pattern, data):
                return CheckResult(False, "reply does not match pattern")
        return CheckResult(True)
    except OSError as exc:      # ECONNREFUSED: the ICMP port unreachable
        return CheckResult(False, os_reason(exc))
    finally:
        sock.close()
