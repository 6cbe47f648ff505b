"""Raw IP sockets for VRRP (IP protocol 112): one per (interface, family), shared by all instances.

IPv4: SOCK_RAW/112 bound to the device, TTL and multicast TTL 255, multicast loop off, only the
groups this socket joined (IP_MULTICAST_ALL off), group joined on the interface by index. The
kernel hands raw IPv4 sockets the whole datagram, so TTL, source and destination come from the IP
header. Sends pin the source address and interface with IP_PKTINFO (the interface's primary
address unless the caller names one, e.g. unicast_src_ip), so the v3 pseudo-header checksum the
engine computed from local_address() matches what goes on the wire.

IPv6: the same with hop limits, IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO (raw IPv6 sockets get no
IP header), ff02::12 joined on the interface, and sends from the interface's link-local address
(RFC 5798 section 5.1.2.1) through IPV6_PKTINFO. The checksum is left to the engine (no
IPV6_CHECKSUM) so that a bad checksum reaches the engine and is counted, not silently dropped.

Receiving: the event loop calls a kvrrp.fastpath.SocketReader directly when the socket is
readable (batches of recvmmsg in the Cython build, IP header / ancillary data and kernel receive
times read in C); once the engine attached its ReceiveTable (attach_receive_table), the
steady-state adverts stop there without a Python call, and only the others become Received
objects for the handles.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterable

from kvrrp import fastpath
from kvrrp.io.ifinfo import primary_ipv4
from kvrrp.io.netlink import IFA_F_SECONDARY, Netlink
from kvrrp.io.netns import entered
from kvrrp.io.ports import ReceiveCallback, Received
from kvrrp.io.sockbuf import VRRP_RX_DEFAULT, interface_mtu, vrrp_share_bytes
from kvrrp.wire import IPPROTO_VRRP, VRRP_GROUP4, VRRP_GROUP6

log = logging.getLogger("kvrrp.io")

IP_MULTICAST_ALL = 49
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
LOCAL_ADDRESS_TTL = 1.0  # seconds a looked-up source address is trusted before asking again


class TransportError(OSError):
    """The interface cannot carry VRRP (missing, no permission, ...). str() is the reason
    alone: OSError's "[Errno N] text" form prints "[Errno None] ... None" when the error has
    no errno, as socket.if_nametoindex's "no interface with this name" has not."""

    def __str__(self) -> str:
        return str(self.strerror or (self.args[-1] if self.args else "unknown error"))


def _reason(exc: OSError, ifname: str) -> str:
    if exc.errno is None:          # socket.if_nametoindex: "no interface with this name"
        return f"no interface named {ifname}"
    return f"{ifname}: {exc.strerror or os.strerror(exc.errno)}"


class _SharedSocket:
    """The one raw socket of an (interface, family), with the handles that use it."""

    def __init__(self, factory: "RawTransportFactory", ifname: str, family: int) -> None:
        self.factory = factory
        self.ifname = ifname
        self.family = family
        self.handles: list[RawTransport] = []
        self.groups: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self._local: str | None = None
        self._local_at = -LOCAL_ADDRESS_TTL
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        try:
            with factory.namespace():
                self.ifindex = socket.if_nametoindex(ifname)
                sock = socket.socket(af, socket.SOCK_RAW, IPPROTO_VRRP)
        except OSError as exc:
            raise TransportError(exc.errno, _reason(exc, ifname)) from exc
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, ifname.encode())
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, VRRP_RX_DEFAULT)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            if family == 4:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                struct.pack("4s4si", b"\0" * 4, b"\0" * 4, self.ifindex))
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise TransportError(exc.errno, f"cannot set up VRRP socket on {ifname}: {exc.strerror}") from exc
        self.sock = sock
        self.rx_buf_size = VRRP_RX_DEFAULT    # what SO_RCVBUF was last set to
        self.reader = fastpath.SocketReader(sock, family, self._deliver, self._receive_error)
        self.sender = fastpath.SocketSender(sock, family, self.ifindex, self._send_error)
        factory.loop.add_reader(sock.fileno(), self.reader)

    # -- groups ---------------------------------------------------------------------------
    def _membership(self, group: str, join: bool) -> None:
        if self.family == 4:
            opt = socket.IP_ADD_MEMBERSHIP if join else socket.IP_DROP_MEMBERSHIP
            mreq = struct.pack("4s4si", socket.inet_aton(group), b"\0" * 4, self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IP, opt, mreq)
        else:
            opt = socket.IPV6_JOIN_GROUP if join else socket.IPV6_LEAVE_GROUP
            mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("i", self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IPV6, opt, mreq)

    def join(self, group: str) -> None:
        if self.groups[group] == 0:
            try:
                self._membership(group, True)
            except OSError as exc:
                raise TransportError(exc.errno, f"cannot join {group} on {self.ifname}: {exc.strerror}") from exc
        self.groups[group] += 1

    def leave(self, group: str) -> None:
        self.groups[group] -= 1
        if self.groups[group] <= 0:
            del self.groups[group]
            try:
                self._membership(group, False)
            except OSError:
                log.debug("leaving %s on %s failed", group, self.ifname, exc_info=True)

    # -- receive buffer -------------------------------------------------------------------
    def size_receive_buffer(self) -> None:
        """SO_RCVBUF = the sum of the handles' instance shares (io.sockbuf), or kvrrp's
        default when they add up to nothing; set again only when the sum changes."""
        shares = [share for handle in self.handles for share in handle.rx_shares]
        mtu = interface_mtu(self.sock, self.ifname) if any(kind == "mtu" for kind, _ in shares) else None
        size = vrrp_share_bytes(shares, mtu) or VRRP_RX_DEFAULT
        if size == self.rx_buf_size:
            return
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        except OSError as exc:   # keepalived: "vrrp set receive socket buffer size error"
            self.stats["rx_buffer_errors"] += 1
            log.warning("vrrp set receive socket buffer size %d on %s: error %s", size, self.ifname, exc.errno)
            return
        self.rx_buf_size = size

    # -- addresses ------------------------------------------------------------------------
    def local_address(self) -> str | None:
        now = time.monotonic()
        if self._local is not None and now - self._local_at < LOCAL_ADDRESS_TTL:
            return self._local
        found = primary_ipv4(self.sock, self.ifname) if self.family == 4 else None
        if found is None or found in self.factory.virtual_addresses:
            # IPv6 always, IPv4 when the primary is one of our VIPs (an interface with no
            # address of its own): ask netlink, which lets us skip the VIPs
            try:
                found = self.factory._lookup_local(self.ifname, self.family)
            except Exception:  # noqa: BLE001 - netlink trouble means "unknown", counted
                found = None
                self.stats["local_address_errors"] += 1
                log.debug("source address lookup on %s failed", self.ifname, exc_info=True)
        self._local, self._local_at = found, now
        return found

    # -- sending --------------------------------------------------------------------------
    def send(self, payload: bytes, dst: str, src: str | None, ttl: int | None = None) -> None:
        src = src or self.local_address()
        try:
            if self.family == 4:
                anc = []
                if src:
                    pktinfo = struct.pack("i4s4s", self.ifindex, socket.inet_aton(src), b"\0" * 4)
                    anc.append((socket.IPPROTO_IP, IP_PKTINFO, pktinfo))
                if ttl is not None:  # unicast_ttl: this message only (the socket default is 255)
                    anc.append((socket.IPPROTO_IP, socket.IP_TTL, struct.pack("i", ttl)))
                self.sock.sendmsg([payload], anc, 0, (dst, 0))
            else:
                anc = []
                if src:
                    pktinfo = socket.inet_pton(socket.AF_INET6, src) + struct.pack("i", self.ifindex)
                    anc.append((socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo))
                if ttl is not None:
                    anc.append((socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT, struct.pack("i", ttl)))
                self.sock.sendmsg([payload], anc, 0, (dst, 0, 0, self.ifindex))
        except OSError as exc:
            self.stats["send_errors"] += 1
            self._local_at = -LOCAL_ADDRESS_TTL  # the source may have changed: look again next time
            log.warning("sending VRRP advert on %s to %s failed: %s", self.ifname, dst, exc.strerror)
            return
        self.stats["sent"] += 1

    # -- receiving ------------------------------------------------------------------------
    def _send_error(self, errno: int, dst: str) -> None:
        self._local_at = -LOCAL_ADDRESS_TTL  # the source may have changed: look again next time
        log.warning("sending VRRP advert on %s to %s failed: %s", self.ifname, dst, os.strerror(errno))

    def _receive_error(self, errno: int) -> None:
        log.debug("VRRP receive on %s failed: errno %d", self.ifname, errno)

    def counters(self) -> dict[str, int]:
        """What this socket counted, the reader's receive counters included."""
        out = dict(self.stats)
        r, w = self.reader, self.sender
        if w.sent or w.send_errors:
            out["sent"] = out.get("sent", 0) + w.sent
            out["send_errors"] = out.get("send_errors", 0) + w.send_errors
            out["fast_path_sent"] = w.sent
        for name, value in (("received", r.received), ("fast_path", r.fast_path),
                            ("drop_bad_ip_header", r.bad_ip_header),
                            ("drop_missing_ancillary", r.missing_ancillary), ("recv_errors", r.recv_errors)):
            if value:
                out[name] = value
        return out

    def _deliver(self, src: str, dst: str, ttl: int, payload: bytes, rx_time: float | None) -> None:
        received = Received(self.ifname, self.family, src, dst, ttl, payload, rx_time)
        for handle in list(self.handles):
            try:
                handle.on_receive(received)
            except Exception:  # noqa: BLE001 - one bad consumer must not kill the socket
                self.stats["callback_errors"] += 1
                log.exception("VRRP receive handler failed on %s", self.ifname)

    def close(self) -> None:
        try:
            self.factory.loop.remove_reader(self.sock.fileno())
        except (ValueError, RuntimeError):
            pass
        self.sock.close()


class RawTransport:
    """A handle on the shared socket of (ifname, family): what one instance (or engine) holds."""

    def __init__(self, shared: _SharedSocket, on_receive: ReceiveCallback, group: str) -> None:
        self._shared = shared
        self.ifname = shared.ifname
        self.family = shared.family
        self.on_receive = on_receive
        self.group = group
        self.closed = False
        self.rx_shares: tuple[tuple[str, int], ...] = ()

    def send(self, payload: bytes, dst: str, src: str | None = None, ttl: int | None = None) -> None:
        """ttl: TTL / hop limit of this message (keepalived's unicast_ttl); None means 255."""
        if self.closed:
            raise TransportError(9, f"VRRP transport on {self.ifname} is closed")
        if ttl is not None and not 1 <= ttl <= 255:
            raise ValueError(f"TTL {ttl} outside 1..255")
        self._shared.send(payload, dst, src, ttl)

    def local_address(self) -> str | None:
        """Source address adverts leave from without an explicit src: primary IPv4 / link-local IPv6."""
        return self._shared.local_address()

    def attach_receive_table(self, table) -> None:
        """Run every message of this socket through `table` (a kvrrp.fastpath.ReceiveTable) first:
        the steady-state adverts it takes never reach on_receive. None detaches."""
        self._shared.reader.table = table

    def fast_sender(self):  # noqa: ANN201 - a kvrrp.fastpath.SocketSender
        """The socket's batched sender for the engine's prebuilt adverts (fastpath.fire_adverts):
        the same source pinning and TTL as send()."""
        return self._shared.sender

    def stats(self) -> dict[str, int]:
        return self._shared.counters()

    def set_rx_shares(self, shares: Iterable[tuple[str, int]]) -> None:
        """The receive buffer shares of the instances this handle serves (vrrp.settings
        rx_buf_share); the shared socket's SO_RCVBUF follows their sum."""
        self.rx_shares = tuple(shares)
        self._shared.size_receive_buffer()

    def rx_buffer_size(self) -> int:
        """SO_RCVBUF as kvrrp set it (the kernel reports, and uses, twice this)."""
        return self._shared.rx_buf_size

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._shared.factory._release(self)


class RawTransportFactory:
    """Opens RawTransports; the sockets are created in `netns` when given (tests), else here."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, netns: str | None = None,
                 netlink: Netlink | None = None) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self._netns = netns
        self._netlink = netlink
        self._own_netlink = netlink is None
        self._sockets: dict[tuple[str, int], _SharedSocket] = {}
        self._local_cache: dict[tuple[str, int], tuple[float, str | None]] = {}
        self.virtual_addresses: frozenset[str] = frozenset()
        self.lookup_errors = 0

    def namespace(self):  # noqa: ANN201 - a context manager
        from contextlib import nullcontext

        return entered(self._netns) if self._netns else nullcontext()

    def netlink(self) -> Netlink:
        if self._netlink is None:
            self._netlink = Netlink(self._netns)
        return self._netlink

    def open(self, ifname: str, family: int, on_receive: ReceiveCallback,
             mcast_group: str | None = None) -> RawTransport:
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        key = (ifname, family)
        shared = self._sockets.get(key)
        if shared is None:
            shared = self._sockets[key] = _SharedSocket(self, ifname, family)
        group = mcast_group or (VRRP_GROUP4 if family == 4 else VRRP_GROUP6)
        try:
            ipaddress.ip_address(group)
        except ValueError as exc:
            raise ValueError(f"bad multicast group {group!r}") from exc
        shared.join(group)
        handle = RawTransport(shared, on_receive, group)
        shared.handles.append(handle)
        return handle

    def local_address(self, ifname: str, family: int) -> str | None:
        """Our source address on ifname (primary IPv4 / link-local IPv6), for the engine's
        source_address resolver, on any interface: through its VRRP socket when one is open
        there, else a netlink lookup (cached LOCAL_ADDRESS_TTL); None while it has none."""
        shared = self._sockets.get((ifname, family))
        if shared is not None:
            return shared.local_address()
        key = (ifname, family)
        now = time.monotonic()
        cached = self._local_cache.get(key)
        if cached is not None and now - cached[0] < LOCAL_ADDRESS_TTL:
            return cached[1]
        try:
            found = self._lookup_local(ifname, family)
        except Exception:  # noqa: BLE001 - netlink trouble means "unknown", counted
            self.lookup_errors += 1
            log.debug("source address lookup on %s failed", ifname, exc_info=True)
            found = None
        if len(self._local_cache) > 1024:
            self._local_cache.clear()
        self._local_cache[key] = (now, found)
        return found

    def set_virtual_addresses(self, addresses: Iterable[str]) -> None:
        """The VIPs of every configured instance: never an advert's source address.

        RFC 5798 5.1.2.1 / 6.4.3: adverts leave from the router's own (link-local) address,
        which is also what the tie-break compares. A VIP list that starts with a link-local
        address (as 5.2.9 asks for IPv6) puts that VIP on the master's interface; sending from
        it would make both masters of a healed partition look like the same router, each
        dropping the other's adverts as its own (a permanent split brain). keepalived leaves
        its VIPs out of the source choice the same way."""
        normalised = frozenset(ipaddress.ip_address(a).compressed for a in addresses)
        if normalised != self.virtual_addresses:
            self.virtual_addresses = normalised
            self._local_cache.clear()
            for shared in self._sockets.values():
                shared._local_at = -LOCAL_ADDRESS_TTL

    def _lookup_local(self, ifname: str, family: int) -> str | None:
        fallback4 = None
        for addr in self.netlink().addresses(ifname, family):
            if ipaddress.ip_address(addr.address).compressed in self.virtual_addresses:
                continue
            if family == 4:
                if not addr.flags & IFA_F_SECONDARY:
                    return addr.address
                # a VIP added first is the primary and our own address a secondary
                fallback4 = fallback4 or addr.address
            elif ipaddress.IPv6Address(addr.address).is_link_local and not addr.tentative:
                return addr.address
        return fallback4

    def _release(self, handle: RawTransport) -> None:
        shared = self._sockets.get((handle.ifname, handle.family))
        if shared is None:
            return
        if handle in shared.handles:
            shared.handles.remove(handle)
        shared.leave(handle.group)
        if shared.handles and handle.rx_shares:
            shared.size_receive_buffer()
        if not shared.handles:
            shared.close()
            del self._sockets[(handle.ifname, handle.family)]

    def stats(self) -> dict[str, dict[str, int]]:
        return {f"{ifname}/v{family}": s.counters() for (ifname, family), s in self._sockets.items()}

    def receive_buffers(self) -> dict[str, dict[str, int]]:
        """Per socket: SO_RCVBUF as set ("set") and as the kernel reports it ("kernel",
        twice the set value, socket(7)), for the status API."""
        out = {}
        for (ifname, family), s in self._sockets.items():
            out[f"{ifname}/v{family}"] = {"set": s.rx_buf_size,
                                          "kernel": s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}
        return out

    def close(self) -> None:
        for shared in list(self._sockets.values()):
            for handle in list(shared.handles):
                handle.close()
        self._sockets.clear()
        if self._own_netlink and self._netlink is not None:
            self._netlink.close()
            self._netlink = None

