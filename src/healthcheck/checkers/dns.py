"""DNS_CHECK: one query over UDP (built here, no resolver library); success is an answer with
our id, the QR bit set and RCODE 0 (NOERROR), as keepalived's check_dns.c."""
from __future__ import annotations

import asyncio
import random
import socket
import struct

from kvrrp.config.model import DnsCheck

from healthcheck.checkers.base import CheckContext, CheckResult, Target, open_bound_socket, os_reason

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33, "ANY": 255}


def encode_name(name: str) -> bytes:
    name = name.rstrip(".")
    out = b""
    if name:
        for label in name.split("."):
            raw = label.encode("idna") if not label.isascii() else label.encode()
            if not 0 < len(raw) < 64:
                raise ValueError(f"bad DNS label {label!r} in {name!r}")
            out += bytes([len(raw)]) + raw
    if len(out) + 1 > 255:
        raise ValueError(f"DNS name too long: {name!r}")
    return out + b"\x00"


def build_query(qid: int, name: str, qtype: str) -> bytes:
    code = QTYPES.get(qtype.upper())
    if code is None:
        raise ValueError(f"unknown DNS type {qtype!r}")
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)     # RD set, one question
    return header + encode_name(name) + struct.pack("!HH", code, 1)


def parse_reply(qid: int, data: bytes) -> str | None:
    """None when the reply is a good answer to query ``qid``, else the reason."""
    if len(data) < 12:
        return "short reply"
    rid, flags = struct.unpack_from("!HH", data)
    if rid != qid:
        return "id mismatch"
    if not flags & 0x8000:
        return "not a response"
    rcode = flags & 0xF
    if rcode:
        return f"rcode {rcode}"
    return None


async def check(target: Target, ctx: CheckContext) -> CheckResult:
    spec = target.spec
    assert isinstance(spec, DnsCheck)
    loop = asyncio.get_running_loop()
    qid = random.getrandbits(16)
    try:
        query = build_query(qid, spec.name, spec.type)
    except ValueError as exc:
        return CheckResult(False, str(exc))
    try:
        sock = open_bound_socket(target, socket.SOCK_DGRAM)
    except OSError as exc:
        return CheckResult(False, str(exc))
    try:
        async with asyncio.timeout(target.timeout):
            await loop.sock_connect(sock, target.sockaddr)
            await loop.sock_sendall(sock, query)
            while True:
                data = await loop.sock_recv(sock, 4096)
                problem = parse_reply(qid, data)
                if problem != "id mismatch":     # a stray old answer: keep waiting for ours
                    break
        if problem:
            return CheckResult(False, problem)
        return CheckResult(True)
    except TimeoutError:
        return CheckResult(False, "timeout")
    except OSError as exc:
        return CheckResult(False, os_reason(exc))
    finally:
        sock.close()
