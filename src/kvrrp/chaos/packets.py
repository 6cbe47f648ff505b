"""Fuzzed VRRPv2 frames, each labelled with the drop reason (or acceptance) it must cause.

The target is one VRRPv2 instance (`Target`): its VRID, authentication, interval and VIPs.
Every case changes one thing in an otherwise valid advert, so the reason the daemon counts
is known in advance (kvrrp.vrrp.stats.DROP_REASONS); "random" cases carry random bytes whose
reason is not predicted (only that each is counted exactly once); "ip_bad" frames have a
broken IPv4 header checksum, which the kernel drops before any socket sees them.

Frames go out whole (Ethernet included) on an AF_PACKET socket, so nothing in the sender's
stack fixes them up on the way.
"""
from __future__ import annotations

import random
import socket
import struct
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from kvrrp.fastpath import inet_checksum

ETH_P_IP = 0x0800
GROUP = "224.0.0.18"
GROUP_MAC = bytes.fromhex("01005e000012")

# case -> (where the daemon counts it, reason); where: "instance", "engine", "accepted", "kernel", None
CASES: dict[str, tuple[str | None, str | None]] = {
    "valid_lower": ("accepted", None),
    "ip_options": ("accepted", None),
    "ttl": ("instance", "ip_ttl"),
    "truncated": ("instance", "packet_length"),
    "count": ("instance", "packet_length"),
    "version": ("instance", "version"),
    "type": ("instance", "invalid_type"),
    "checksum": ("instance", "checksum"),
    "auth_type_invalid": ("instance", "invalid_auth_type"),
    "auth_mismatch": ("instance", "auth_type_mismatch"),
    "auth_failure": ("instance", "auth_failure"),
    "interval": ("instance", "advert_interval"),
    "addresses": ("instance", "address_list"),
    "vrid": ("engine", "unknown_vrid"),
    "random": (None, None),
    "ip_bad": ("kernel", None),
}
WEIGHTS = {name: 1 for name in CASES}
WEIGHTS.update(random=4, valid_lower=1)


@dataclass(frozen=True)
class Target:
    vrid: int = 51
    password: bytes = b"chaos"
    interval: int = 1
    vips: tuple[str, ...] = ("198.18.0.200",)
    src: str = "198.18.0.100"
    src_mac: bytes = bytes.fromhex("0200c6120064")


def vrrp2(t: Target, *, version: int = 2, kind: int = 1, vrid: int | None = None, priority: int = 50,
          count: int | None = None, auth_type: int = 1, interval: int | None = None,
          vips: tuple[str, ...] | None = None, password: bytes | None = None, bad_checksum: bool = False) -> bytes:
    addrs = b"".join(socket.inet_aton(a) for a in (t.vips if vips is None else vips))
    n = len(addrs) // 4 if count is None else count
    auth = (t.password if password is None else password).ljust(8, b"\0")[:8]
    head = struct.pack("!BBBBBBH", (version << 4) | kind, t.vrid if vrid is None else vrid, priority, n,
                       auth_type, t.interval if interval is None else interval, 0)
    body = bytearray(head + addrs + auth)
    csum = inet_checksum(bytes(body))
    if bad_checksum:
        csum ^= 0x5A5A
    struct.pack_into("!H", body, 6, csum)
    return bytes(body)


def ipv4(payload: bytes, src: str, *, ttl: int = 255, options: bytes = b"", proto: int = 112,
         bad_checksum: bool = False) -> bytes:
    ihl = 5 + len(options) // 4
    head = bytearray(struct.pack("!BBHHHBBH4s4s", (4 << 4) | ihl, 0xC0, ihl * 4 + len(payload), 0, 0, ttl,
                                 proto, 0, socket.inet_aton(src), socket.inet_aton(GROUP)) + options)
    csum = inet_checksum(bytes(head))
    struct.pack_into("!H", head, 10, csum ^ (0x1111 if bad_checksum else 0))
    return bytes(head) + payload


def frame(t: Target, ip: bytes) -> bytes:
    return GROUP_MAC + t.src_mac + struct.pack("!H", ETH_P_IP) + ip


def make_case(case: str, t: Target, rng: random.Random) -> bytes:
    """One frame of the given case."""
    src = t.src
    if case == "valid_lower":
        return frame(t, ipv4(vrrp2(t, priority=rng.randint(1, 99)), src))
    if case == "ip_options":
        router_alert = b"\x94\x04\x00\x00"
        return frame(t, ipv4(vrrp2(t, priority=rng.randint(1, 99)), src, options=router_alert))
    if case == "ttl":
        return frame(t, ipv4(vrrp2(t), src, ttl=rng.choice((1, 64, 128, 254))))
    if case == "truncated":
        return frame(t, ipv4(vrrp2(t)[:rng.randint(2, 7)], src))
    if case == "count":
        return frame(t, ipv4(vrrp2(t, count=rng.choice((0, 2, 3, 17, 255))), src))
    if case == "version":
        return frame(t, ipv4(vrrp2(t, version=rng.choice((0, 1, 4, 5, 15))), src))
    if case == "type":
        return frame(t, ipv4(vrrp2(t, kind=rng.choice((0, 2, 3, 15))), src))
    if case == "checksum":
        return frame(t, ipv4(vrrp2(t, bad_checksum=True), src))
    if case == "auth_type_invalid":
        return frame(t, ipv4(vrrp2(t, auth_type=rng.choice((3, 4, 200))), src))
    if case == "auth_mismatch":
        return frame(t, ipv4(vrrp2(t, auth_type=0), src))
    if case == "auth_failure":
        return frame(t, ipv4(vrrp2(t, password=b"wrong%03d" % rng.randint(0, 999)), src))
    if case == "interval":
        return frame(t, ipv4(vrrp2(t, interval=rng.choice((0, 2, 3, 10, 255))), src))
    if case == "addresses":
        return frame(t, ipv4(vrrp2(t, vips=(f"198.18.0.{rng.randint(201, 250)}",)), src))
    if case == "vrid":
        vrid = rng.choice([v for v in range(1, 256) if v != t.vrid])
        return frame(t, ipv4(vrrp2(t, vrid=vrid), src))
    if case == "random":
        payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
        return frame(t, ipv4(payload, src, ttl=rng.choice((255, 255, 255, 1))))
    if case == "ip_bad":
        return frame(t, ipv4(vrrp2(t), src, bad_checksum=True))
    raise ValueError(f"unknown fuzz case {case}")


def plan(n: int, rng: random.Random, cases: dict[str, int] | None = None) -> list[str]:
    weights = cases or WEIGHTS
    names = list(weights)
    return rng.choices(names, weights=[weights[x] for x in names], k=n)


def frames(n: int, t: Target, seed: int) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    for case in plan(n, rng):
        yield case, make_case(case, t, rng)


def expected(sent: Counter) -> dict:
    """What the daemon must count for the cases sent: per-reason counts at instance and engine
    level, accepted adverts, frames the kernel drops, and the random ones (any reason)."""
    inst: Counter = Counter()
    eng: Counter = Counter()
    out = {"instance": inst, "engine": eng, "accepted": 0, "kernel": 0, "random": 0}
    for case, count in sent.items():
        where, reason = CASES[case]
        if where == "instance":
            inst[reason] += count
        elif where == "engine":
            eng[reason] += count
        elif where == "accepted":
            out["accepted"] += count
        elif where == "kernel":
            out["kernel"] += count
        else:
            out["random"] += count
    return out


class Sender:
    """An AF_PACKET socket on one interface of the calling thread's namespace."""

    def __init__(self, ifname: str) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.sock.bind((ifname, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)

    def send(self, data: bytes) -> None:
        while True:
            try:
                self.sock.send(data)
                return
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno == 105:       # ENOBUFS: the queue is full, wait for it
                    import time

                    time.sleep(0.001)
                    continue
                raise

    def close(self) -> None:
        self.sock.close()
