"""PING_CHECK: one ICMP / ICMPv6 echo request, success on the matching echo reply within
connect_timeout. Uses an unprivileged ping socket (SOCK_DGRAM, IPPROTO_ICMP[V6]) when
net.ipv4.ping_group_range allows it, else a raw socket (root)."""
from __future__ import annotations

import asyncio
import itertools
import os
import socket
import struct

from healthcheck.checkers.base import CheckContext, CheckResult, Target, open_bound_socket, os_reason

ICMP_ECHO, ICMP_ECHOREPLY = 8, 0
ICMP6_ECHO, ICMP6_ECHOREPLY = 128, 129
_seq = itertools.count(1)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    t = ICMP_ECHO if family == 4 else ICMP6_ECHO
    head = struct.pack("!BBHHH", t, 0, 0, ident, seq)
    if family == 6:
        return head + payload           # the kernel fills in the ICMPv6 checksum
    c = checksum(head + payload)
    return struct.pack("!BBHHH", t, 0, c, ident, seq) + payload


def is_reply(family: int, data: bytes, raw: bool, ident: int | None, seq: int) -> bool:
    if raw and family == 4:
        if len(data) < 20:
            return False
        data = data[(data[0] & 0x0F) * 4:]
    if len(data) < 8:
        return False
    t, _, _, rid, rseq = struct.unpack_from("!BBHHH", data)
    want = ICMP_ECHOREPLY if family == 4 else ICMP6_ECHOREPLY
    return t == want and rseq == seq and (ident is None or rid == ident)


def _open(target: Target) -> tuple[socket.socket, bool]:
    proto = socket.IPPROTO_ICMP if target.family == 4 else socket.IPPROTO_ICMPV6
    try:
        return open_bound_socket(target, socket.SOCK_DGRAM, proto), False
    except PermissionError:
        return open_bound_socket(target, socket.SOCK_RAW, proto), True


async def check(target: Target, ctx: CheckContext) -> CheckResult:
    loop = asyncio.get_running_loop()
    try:
        sock, raw = _open(target)
    except OSError as exc:
        return CheckResult(False, f"cannot open ICMP socket: {os_reason(exc)}")
    seq = next(_seq) & 0xFFFF
    ident = os.getpid() & 0xFFFF
    try:
        # ping sockets rewrite the id to their own port number: match on sequence there
        packet = echo_request(target.family, ident, seq, b"kvrrp-ping-check")
        async with asyncio.timeout(target.timeout):
            # ICMP has no port; a raw IPv6 socket refuses anything but 0 (or its protocol) there
            dest = (target.host, 0) if target.family == 4 else (target.host, 0, 0, 0)
            await loop.sock_sendto(sock, packet, dest)
            while True:
                data = await loop.sock_recv(sock, 2048)
                if is_reply(target.family, data, raw, ident if raw else None, seq):
                    return CheckResult(True)
    except TimeoutError:
        return CheckResult(False, "timeout")
    except OSError as exc:
        return CheckResult(False, os_reason(exc))
    finally:
        sock.close()
