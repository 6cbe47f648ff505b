"""Facts about a network interface, read through a socket so they come from that socket's namespace.

ioctl on an existing socket (not /sys or /proc/net, which show the namespace of whoever mounted
them) keeps the answers right when tests create sockets inside another namespace with setns.
"""
from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

SIOCGIFFLAGS = 0x8913
SIOCGIFADDR = 0x8915
SIOCGIFHWADDR = 0x8927
IFF_UP = 0x1
IFF_NOARP = 0x80
IFF_RUNNING = 0x40
ARPHRD_ETHER = 1


def _ifreq(sock: socket.socket, request: int, ifname: str) -> bytes:
    return fcntl.ioctl(sock.fileno(), request, struct.pack("16s24x", ifname.encode()[:15]))


def hardware_address(sock: socket.socket, ifname: str) -> tuple[int, bytes]:
    """(ARPHRD type, 6-byte MAC) of ifname."""
    raw = _ifreq(sock, SIOCGIFHWADDR, ifname)
    hatype = struct.unpack_from("H", raw, 16)[0]
    return hatype, raw[18:24]


def interface_flags(sock: socket.socket, ifname: str) -> int:
    raw = _ifreq(sock, SIOCGIFFLAGS, ifname)
    return struct.unpack_from("H", raw, 16)[0]


def primary_ipv4(sock: socket.socket, ifname: str) -> str | None:
    """The interface's primary IPv4 address (what `ip addr` lists first), or None."""
    try:
        raw = _ifreq(sock, SIOCGIFADDR, ifname)
    except OSError:
        return None
    return socket.inet_ntoa(raw[20:24])


def ipv6_forwarding(ifname: str) -> bool:
    """Whether the interface forwards IPv6 (sets the Router flag in neighbour advertisements)."""
    try:
        with open(f"/proc/sys/net/ipv6/conf/{ifname}/forwarding") as fh:
            return fh.read().strip() == "1"
    except OSError:
        return False


def is_link_local6(address: str) -> bool:
    return ipaddress.IPv6Address(address).is_link_local
