"""keepalived's -a/--address-monitoring: log every address added or removed on this host, as
netlink reports it ("Netlink reflector reports IP 198.18.0.200 added to eth0").

A netlink route socket subscribed to the IPv4 and IPv6 address groups, read from the event
loop; parsing is a pure function over the received bytes.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Iterator

log = logging.getLogger("kvrrp.daemon")

RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWADDR = 20
RTM_DELADDR = 21
IFA_ADDRESS = 1
IFA_LOCAL = 2
_HEADER = struct.Struct("=IHHII")      # nlmsghdr
_IFADDRMSG = struct.Struct("=BBBBI")   # ifaddrmsg
_RTATTR = struct.Struct("=HH")


@dataclass(frozen=True)
class AddressChange:
    added: bool
    address: str
    prefixlen: int
    ifindex: int


def parse_address_messages(data: bytes) -> Iterator[AddressChange]:
    """RTM_NEWADDR/RTM_DELADDR messages in one netlink read (IFA_LOCAL, else IFA_ADDRESS);
    anything else, or anything truncated, is skipped."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _flags, _seq, _pid = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size or offset + length > len(data):
            return
        body = offset + _HEADER.size
        if kind in (RTM_NEWADDR, RTM_DELADDR) and length >= _HEADER.size + _IFADDRMSG.size:
            family, prefixlen, _f, _scope, index = _IFADDRMSG.unpack_from(data, body)
            pos = body + _IFADDRMSG.size
            found: dict[int, bytes] = {}
            while pos + _RTATTR.size <= offset + length:
                alen, atype = _RTATTR.unpack_from(data, pos)
                if alen < _RTATTR.size:
                    break
                found[atype] = data[pos + _RTATTR.size:pos + alen]
                pos += (alen + 3) & ~3
            raw = found.get(IFA_LOCAL) or found.get(IFA_ADDRESS)
            fam = {socket.AF_INET: (socket.AF_INET, 4), socket.AF_INET6: (socket.AF_INET6, 16)}.get(family)
            if raw is not None and fam is not None and len(raw) == fam[1]:
                yield AddressChange(kind == RTM_NEWADDR, socket.inet_ntop(fam[0], raw), prefixlen, index)
        offset += (length + 3) & ~3


def describe(change: AddressChange) -> str:
    try:
        ifname = socket.if_indextoname(change.ifindex)
    except OSError:
        ifname = f"interface index {change.ifindex}"
    return f"Netlink reflector reports IP {change.address} {'added to' if change.added else 'removed from'} {ifname}"


class AddressMonitor:
    def __init__(self, loop: asyncio.AbstractEventLoop, rcvbuf=None) -> None:  # noqa: ANN001
        """rcvbuf: vrrp_netlink_monitor_rcv_bufs(_force) as an io.sockbuf.RcvBuf, or None."""
        from kvrrp.io.sockbuf import apply

        self._loop = loop
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                                   socket.NETLINK_ROUTE)
        apply(self._sock, rcvbuf, "netlink address monitor")
        self._sock.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        loop.add_reader(self._sock.fileno(), self._read)
        self.reported = 0

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:   # ENOBUFS: notifications were lost; say so and go on
                log.warning("address monitoring: %s", exc.strerror or exc)
                return
            for change in parse_address_messages(data):
                self.reported += 1
                log.info("%s", describe(change))

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
