"""Virtual addresses on interfaces through netlink (pyroute2), idempotent like `ip addr replace`.

add() of an address already there and remove() of one already gone succeed quietly: the engine
reconciles rather than replays, and a restart or reload must converge. `remove_leftovers()` is the
start-up sweep for VIPs a crashed previous run left behind.

add/remove sit on the failover path (the VIP must be up within a millisecond or two of the
Master_Down_Timer), so they do not go through pyroute2's synchronous IPRoute (a thread hop and
its own event loop per request): pyroute2's ifaddrmsg encodes the request, which goes out on a
plain NETLINK_ROUTE socket owned by this manager, and the kernel's ack is read right away.
Interface indexes are cached (and dropped when the kernel says the device is gone); dumps
(present(), leftovers) use the pyroute2 IPRoute of kvrrp.io.netlink.
"""
from __future__ import annotations

import ipaddress
import itertools
import logging
import socket
import struct
from contextlib import nullcontext
from typing import Any, Iterable

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_NEWADDR
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

from kvrrp.io.netlink import EADDRNOTAVAIL, EEXIST, ENODEV, IFA_F_NODAD, InterfaceAddress, Netlink
from kvrrp.io.netns import entered
from kvrrp.io.ports import AddressSpec

log = logging.getLogger("kvrrp.io")

SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}


class AddressError(OSError):
    """The kernel refused an address change for a reason other than 'already so'."""


def scope_number(scope: str | None) -> int | None:
    if scope is None:
        return None
    if scope in SCOPES:
        return SCOPES[scope]
    try:
        value = int(scope, 0)
    except ValueError:
        raise ValueError(f"unknown address scope {scope!r} (one of {', '.join(SCOPES)} or 0-255)") from None
    if not 0 <= value <= 255:
        raise ValueError(f"address scope {value} out of range 0-255")
    return value


NLMSG_ERROR = 2
NETLINK_ACK_TIMEOUT = 5.0


def build_request(spec: AddressSpec, index: int, add: bool, seq: int) -> bytes:
    """The RTM_NEWADDR / RTM_DELADDR message `ip addr add|del` would send for spec."""
    msg = ifaddrmsg()
    msg["family"] = socket.AF_INET if spec.family == 4 else socket.AF_INET6
    msg["prefixlen"] = spec.prefixlen
    msg["index"] = index
    scope = scope_number(spec.scope)
    msg["scope"] = scope if scope is not None else 0
    attrs: list[list[Any]] = [["IFA_LOCAL", spec.address]]
    # IFA_ADDRESS is the far end of a point-to-point address, else the address itself.
    attrs.append(["IFA_ADDRESS", spec.peer or spec.address])
    if add:
        if spec.broadcast and spec.family == 4:
            attrs.append(["IFA_BROADCAST", spec.broadcast])
        if spec.label and spec.family == 4:
            attrs.append(["IFA_LABEL", spec.label])
        if spec.nodad and spec.family == 6:
            msg["flags"] = IFA_F_NODAD
            attrs.append(["IFA_FLAGS", IFA_F_NODAD])
    msg["attrs"] = attrs
    msg["header"]["type"] = RTM_NEWADDR if add else RTM_DELADDR
    flags = NLM_F_REQUEST | NLM_F_ACK
    if add:
        flags |= NLM_F_CREATE | NLM_F_EXCL
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = seq
    msg.encode()
    return bytes(msg.data)


def _same(spec: AddressSpec, have: InterfaceAddress) -> bool:
    return (have.family == spec.family
            and ipaddress.ip_address(have.address) == ipaddress.ip_address(spec.address)
            and have.prefixlen == spec.prefixlen)


class NetlinkAddressManager:
    """AddressManager over netlink; `netns` (tests) manages another namespace's interfaces."""

    def __init__(self, netlink: Netlink | None = None, netns: str | None = None) -> None:
        self._netlink = netlink or Netlink(netns)
        self._own = netlink is None
        self._netns = netns
        with entered(netns) if netns else nullcontext():
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                       socket.NETLINK_ROUTE)
        self._sock.bind((0, 0))
        self._sock.settimeout(NETLINK_ACK_TIMEOUT)
        self._seq = itertools.count(1)
        self._indexes: dict[str, int] = {}
        # encoded requests by (spec, ifindex, add): a failover sends a cached message with its
        # sequence number patched in, no pyroute2 encoding on the way to the VIP
        self._requests: dict[tuple[AddressSpec, int, bool], bytearray] = {}
        # pyroute2 compiles a message class's layout on first use (milliseconds on a busy
        # host): pay that now, not on the first failover
        build_request(AddressSpec("0.0.0.0", 32, "lo", 4), 1, True, 0)
        build_request(AddressSpec("::", 128, "lo", 6, nodad=True), 1, False, 0)


    def set_receive_buffer(self, buf) -> bool:  # noqa: ANN001 - an io.sockbuf.RcvBuf or None
        """vrrp_netlink_cmd_rcv_bufs(_force) on the address command socket (io.sockbuf)."""
        from kvrrp.io.sockbuf import apply

        return apply(self._sock, buf, "netlink address socket")
    def _index(self, spec: AddressSpec) -> int:
        index = self._indexes.get(spec.ifname)
        if index is None:
            if self._netns is None:  # our own namespace: one ioctl, no netlink dump
                try:
                    index = socket.if_nametoindex(spec.ifname)
                except OSError:
                    index = None
            else:
                index = self._netlink.ifindex(spec.ifname)
            if index is None:
                raise AddressError(ENODEV, f"no interface {spec.ifname} for {spec.address}")
            self._indexes[spec.ifname] = index
        return index

    def prepare(self, specs: Iterable[AddressSpec]) -> None:
        """Encode the add and remove requests of specs now (config time), not on a failover.
        Interfaces that do not exist yet are skipped (encoded on first use)."""
        for spec in specs:
            try:
                self._encoded(spec, self._index(spec), True)
                self._encoded(spec, self._index(spec), False)
            except (OSError, ValueError):
                continue

    def _encoded(self, spec: AddressSpec, index: int, add: bool) -> bytearray:
        key = (spec, index, add)
        msg = self._requests.get(key)
        if msg is None:
            if len(self._requests) > 4096:     # bounded: reloads may bring new specs forever
                self._requests.clear()
            msg = self._requests[key] = bytearray(build_request(spec, index, add, 0))
        return msg

    def _request(self, spec: AddressSpec, add: bool) -> int:
        """Send one request, return 0 or the kernel's errno."""
        seq = next(self._seq) & 0xFFFFFFFF
        msg = self._encoded(spec, self._index(spec), add)
        struct.pack_into("=I", msg, 8, seq)     # nlmsghdr: len, type, flags, seq, pid
        self._sock.send(msg)
        while True:
            data = self._sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _flags, rseq, _pid = struct.unpack_from("=IHHII", data, offset)
                if length < 16:
                    break
                if kind == NLMSG_ERROR and rseq == seq:
                    return -struct.unpack_from("=i", data, offset + 16)[0]
                offset += (length + 3) & ~3

    def _change(self, spec: AddressSpec, add: bool) -> int:
        code = self._request(spec, add)
        if code == ENODEV:
            self._indexes.pop(spec.ifname, None)  # the interface went away (or was recreated)
            try:
                code = self._request(spec, add)
            except AddressError:
                return ENODEV
        return code

    def add(self, spec: AddressSpec) -> None:
        code = self._change(spec, True)
        if code in (0, EEXIST):
            log.debug("added %s/%s on %s", spec.address, spec.prefixlen, spec.ifname)
            return
        raise AddressError(code, f"adding {spec.address}/{spec.prefixlen} on {spec.ifname}: "
                                 f"{errno_text(code)}")

    def remove(self, spec: AddressSpec) -> None:
        try:
            code = self._change(spec, False)
        except AddressError:
            return  # the interface is gone, and the address with it
        if code in (0, EADDRNOTAVAIL, ENODEV):
            log.debug("removed %s/%s from %s", spec.address, spec.prefixlen, spec.ifname)
            return
        raise AddressError(code, f"removing {spec.address}/{spec.prefixlen} from {spec.ifname}: "
                                 f"{errno_text(code)}")

    def present(self, spec: AddressSpec) -> bool:
        return any(_same(spec, have) for have in self._netlink.addresses(spec.ifname, spec.family))

    def present_among(self, specs: Iterable[AddressSpec]) -> list[AddressSpec]:
        """Those of specs that are on their interface now: one dump per (interface, family),
        not one per address (10,000 VIPs on 40 interfaces: 40 dumps instead of 10,000)."""
        groups: dict[tuple[str, int], list[AddressSpec]] = {}
        for spec in specs:
            groups.setdefault((spec.ifname, spec.family), []).append(spec)
        found = []
        for (ifname, family), group in groups.items():
            have = {(ipaddress.ip_address(a.address), a.prefixlen)
                    for a in self._netlink.addresses(ifname, family) if a.family == family}
            found += [s for s in group if (ipaddress.ip_address(s.address), s.prefixlen) in have]
        return found

    def close(self) -> None:
        self._sock.close()
        if self._own:
            self._netlink.close()


def errno_text(code: int) -> str:
    import os

    return os.strerror(code) if code > 0 else f"error {code}"


def remove_leftovers(manager: Any, specs: Iterable[AddressSpec]) -> list[AddressSpec]:
    """Remove each of `specs` that is on its interface now; return those removed.

    Called once at start, before any instance runs: a VIP of this configuration that is already
    on an interface can only be a leftover of a previous run that died without cleaning up
    (keepalived does the same sweep), and keeping it would answer ARP for an address some other
    node may own.
    """
    present_among = getattr(manager, "present_among", None)
    if present_among is None:  # an AddressManager without the batch query: one check each
        candidates = [spec for spec in specs if _present(manager, spec)]
    else:
        groups: dict[tuple[str, int], list[AddressSpec]] = {}
        for spec in specs:
            groups.setdefault((spec.ifname, spec.family), []).append(spec)
        candidates = []
        for (ifname, _family), group in groups.items():
            try:
                candidates += present_among(group)
            except OSError as exc:
                log.warning("could not list the addresses of %s to clean leftovers: %s", ifname, exc)
    removed = []
    for spec in candidates:
        try:
            manager.remove(spec)
            removed.append(spec)
            log.info("removed leftover virtual address %s/%s from %s",
                     spec.address, spec.prefixlen, spec.ifname)
        except OSError as exc:
            log.warning("could not clean leftover %s on %s: %s", spec.address, spec.ifname, exc)
    return removed


def _present(manager: Any, spec: AddressSpec) -> bool:
    try:
        return bool(manager.present(spec))
    except OSError as exc:
        log.warning("could not clean leftover %s on %s: %s", spec.address, spec.ifname, exc)
        return False
