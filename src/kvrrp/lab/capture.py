"""What crosses the lab's wires, seen from the test process: frames on an interface (Capture)
and netlink address events (AddressWatch), each read by a background thread."""
from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from kvrrp.io.netns import entered
from kvrrp.wire import (ARP_REQUEST, ETH_P_ALL, ETH_P_IP, ETH_P_IPV6, ArpInfo, MalformedPacket, arp_in_frame, mac_text,
                        na_target_in_frame, vrrp_in_frame)

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
SO_TIMESTAMPNS = 35


@dataclass(frozen=True)
class VrrpInfo:
    family: int
    src: str
    dst: str
    ttl: int
    payload: bytes


@dataclass(frozen=True)
class Frame:
    ts: float        # kernel receive time, time.time() scale
    data: bytes

    @property
    def ethertype(self) -> int:
        return struct.unpack_from("!H", self.data, 12)[0] if len(self.data) >= 14 else -1

    @property
    def src_mac(self) -> str:
        return mac_text(self.data[6:12])

    @property
    def dst_mac(self) -> str:
        return mac_text(self.data[0:6])

    def arp(self) -> ArpInfo | None:
        return arp_in_frame(self.data)

    def is_garp(self, address: str) -> bool:
        """keepalived's gratuitous ARP: a broadcast request whose sender and target are `address`."""
        info = self.arp()
        return (info is not None and info.op == ARP_REQUEST and info.sender_ip == address
                and info.target_ip == address and self.dst_mac == "ff:ff:ff:ff:ff:ff")

    def ipv6_na_target(self) -> str | None:
        return na_target_in_frame(self.data)

    def vrrp(self) -> VrrpInfo | None:
        if self.ethertype not in (ETH_P_IP, ETH_P_IPV6):
            return None
        try:
            ip = vrrp_in_frame(self.data)
        except MalformedPacket:
            return None
        af = socket.AF_INET if ip.family == 4 else socket.AF_INET6
        return VrrpInfo(ip.family, socket.inet_ntop(af, ip.src), socket.inet_ntop(af, ip.dst), ip.ttl, ip.payload)


class _SocketThread:
    """A socket read by a daemon thread until close(); subclasses open `_sock` in __init__ and
    call `_start(name)`, and handle what one readable socket gives in `_read()`."""

    _sock: socket.socket

    def _start(self, name: str) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if ready:
                self._read()

    def _read(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self):  # noqa: ANN204 - the subclass
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Capture(_SocketThread):
    """Frames seen on an interface inside a namespace, read by a background thread."""

    def __init__(self, netns: str, ifname: str, promisc: bool = True) -> None:
        with entered(netns):
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self._sock.bind((ifname, ETH_P_ALL))
            if promisc:
                index = socket.if_nametoindex(ifname)
                mreq = struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b"")
                self._sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.frames: list[Frame] = []
        self._start(f"capture-{netns}")

    def _read(self) -> None:
        try:
            data, anc, _flags, addr = self._sock.recvmsg(65535, 64)
        except OSError:
            return
        if addr[2] == socket.PACKET_OUTGOING:
            return
        ts = time.time()
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                sec, nsec = struct.unpack_from("qq", value)
                ts = sec + nsec / 1e9
        with self._lock:
            self.frames.append(Frame(ts, data))

    def snapshot(self) -> list[Frame]:
        with self._lock:
            return list(self.frames)

    def clear(self) -> None:
        with self._lock:
            self.frames.clear()

    def garps(self, address: str, since: float = 0.0) -> list[Frame]:
        return [f for f in self.snapshot() if f.ts >= since and f.is_garp(address)]

    def adverts(self, since: float = 0.0) -> list[tuple[Frame, VrrpInfo]]:
        out = []
        for f in self.snapshot():
            info = f.vrrp()
            if info is not None and f.ts >= since:
                out.append((f, info))
        return out


RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWADDR = 20
RTM_DELADDR = 21


@dataclass(frozen=True)
class AddressEvent:
    ts: float        # time.time() when the netlink notification was read
    added: bool
    address: str
    prefixlen: int
    ifindex: int


class AddressWatch(_SocketThread):
    """Netlink address notifications (RTM_NEWADDR/RTM_DELADDR) inside a namespace."""

    def __init__(self, netns: str) -> None:
        with entered(netns):
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
            self._sock.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        self.events: list[AddressEvent] = []
        self._start(f"addrwatch-{netns}")

    def _read(self) -> None:
        data = self._sock.recv(65535)
        ts = time.time()
        for event in _parse_addr_messages(data, ts):
            with self._lock:
                self.events.append(event)

    def first_added(self, address: str, since: float = 0.0) -> float | None:
        with self._lock:
            for e in self.events:
                if e.added and e.address == address and e.ts >= since:
                    return e.ts
        return None


def _parse_addr_messages(data: bytes, ts: float) -> Iterator[AddressEvent]:
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            return
        if kind in (RTM_NEWADDR, RTM_DELADDR) and length >= 24:
            family, prefixlen, _flags, _scope, index = struct.unpack_from("=BBBBI", data, offset + 16)
            pos = offset + 24
            found: dict[int, bytes] = {}
            while pos + 4 <= offset + length:
                alen, atype = struct.unpack_from("=HH", data, pos)
                if alen < 4:
                    break
                found[atype] = data[pos + 4:pos + alen]
                pos += (alen + 3) & ~3
            raw = found.get(2) or found.get(1)  # IFA_LOCAL, else IFA_ADDRESS
            if raw is not None:
                fam = socket.AF_INET if family == socket.AF_INET else socket.AF_INET6
                yield AddressEvent(ts, kind == RTM_NEWADDR, socket.inet_ntop(fam, raw), prefixlen, index)
        offset += (length + 3) & ~3
