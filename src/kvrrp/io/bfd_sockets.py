"""The kernel side of BFD: UDP sockets (RFC 5881 single hop, RFC 5883 multihop).

Two small interfaces, so the service can be tested with in-memory fakes:

* a receiver per (family, port) bound to the wildcard address on 3784 (multihop: 4784) that
  reports every datagram with its source, destination (IP_PKTINFO) and TTL / hop limit
  (IP_RECVTTL / IPV6_RECVHOPLIMIT) for the GTSM check;
* a sender per session, bound to the session's source address (when it has one) and a port
  in 49152-65535 (RFC 5881 section 4), sending with the session's TTL / hop limit (255 for
  single hop: RFC 5881 section 5).
"""
from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import struct
from dataclasses import dataclass
from typing import Callable, Protocol

SOURCE_PORT_MIN = 49152
SOURCE_PORT_MAX = 65535
_BUF = 512                          # a BFD control packet is 24..~100 bytes

# not exported by every Python build
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)


@dataclass(frozen=True, slots=True)
class Datagram:
    family: int
    src: str
    src_port: int
    dst: str | None                 # our address it was sent to (None when the kernel did not say)
    ttl: int | None                 # TTL / hop limit as received (None when unknown)
    port: int                       # the port it arrived on: 3784 or 4784
    payload: bytes


class Sender(Protocol):
    def send(self, payload: bytes) -> None: ...
    def close(self) -> None: ...


class BfdSockets(Protocol):
    def open_receiver(self, family: int, port: int, on_datagram: Callable[[Datagram], None]) -> Callable[[], None]:
        """Start delivering datagrams; returns the function that closes the receiver."""

    def open_sender(self, family: int, source: str | None, neighbor: str, port: int, ttl: int) -> Sender: ...


def _parse_ancillary(family: int, ancdata) -> tuple[str | None, int | None]:
    dst: str | None = None
    ttl: int | None = None
    for level, kind, data in ancdata:
        if level == socket.IPPROTO_IP and kind == socket.IP_TTL and len(data) >= 1:
            ttl = data[0] if len(data) < 4 else struct.unpack("=i", data[:4])[0]
        elif level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            dst = socket.inet_ntop(socket.AF_INET, data[8:12])          # ipi_addr
        elif level == socket.IPPROTO_IPV6 and kind == IPV6_HOPLIMIT and len(data) >= 4:
            ttl = struct.unpack("=i", data[:4])[0]
        elif level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(data) >= 16:
            dst = socket.inet_ntop(socket.AF_INET6, data[:16])
    return dst, ttl


class UdpSender:
    def __init__(self, family: int, source: str | None, neighbor: str, port: int, ttl: int,
                 rng: Callable[[int, int], int] = random.randint) -> None:
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        self.sock = socket.socket(af, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        try:
            if family == 4:
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            else:
                self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
            self._bind(source or ("0.0.0.0" if family == 4 else "::"), rng)
        except OSError:
            self.sock.close()
            raise
        self.dest = (neighbor, port) if family == 4 else (neighbor, port, 0, 0)
        self.errors = 0
        self.last_error: str | None = None

    def _bind(self, source: str, rng: Callable[[int, int], int]) -> None:
        """A random port of 49152-65535, then the next free one (keepalived's bfd_open_fd_out)."""
        span = SOURCE_PORT_MAX - SOURCE_PORT_MIN + 1
        first = rng(SOURCE_PORT_MIN, SOURCE_PORT_MAX)
        for i in range(span):
            port = SOURCE_PORT_MIN + (first - SOURCE_PORT_MIN + i) % span
            try:
                self.sock.bind((source, port))
                return
            except OSError as exc:
                if exc.errno != 98:          # EADDRINUSE: try the next one
                    raise
        raise OSError(98, "no free BFD source port in 49152-65535")

    def send(self, payload: bytes) -> None:
        try:
            self.sock.sendto(payload, self.dest)
        except OSError as exc:        # unreachable / no route while a link is down: counted
            self.errors += 1
            self.last_error = exc.strerror or str(exc)

    def close(self) -> None:
        self.sock.close()


class UdpSockets:
    """The real adapter: sockets in the caller's network namespace, readers on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop

    def open_receiver(self, family: int, port: int, on_datagram: Callable[[Datagram], None]) -> Callable[[], None]:
        loop = self.loop or asyncio.get_running_loop()
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        sock = socket.socket(af, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        try:
            # no SO_REUSEADDR: a second BFD speaker in this namespace must fail loudly here
            # rather than silently take part of the first one's packets
            if family == 4:
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
                sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                sock.bind(("0.0.0.0", port))
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
                sock.bind(("::", port))
        except OSError:
            sock.close()
            raise
        cmsg_space = socket.CMSG_SPACE(64) * 2

        def readable() -> None:
            for _ in range(64):                  # drain a burst, then let others run
                try:
                    data, anc, _flags, addr = sock.recvmsg(_BUF, cmsg_space)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                dst, ttl = _parse_ancillary(family, anc)
                src = addr[0]
                if family == 6 and "%" in src:
                    src = src.split("%", 1)[0]
                on_datagram(Datagram(family=family, src=str(ipaddress.ip_address(src)), src_port=addr[1],
                                     dst=dst, ttl=ttl, port=port, payload=data))

        loop.add_reader(sock.fileno(), readable)

        def close() -> None:
            try:
                loop.remove_reader(sock.fileno())
            finally:
                sock.close()
        return close

    def open_sender(self, family: int, source: str | None, neighbor: str, port: int, ttl: int) -> Sender:
        return UdpSender(family, source, neighbor, port, ttl)
