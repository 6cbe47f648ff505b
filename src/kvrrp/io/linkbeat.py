"""Link state by ioctl, for `linkbeat_interfaces` / `linkbeat_use_polling` (keepalived's
vrrp_if.c linkbeat): for NICs whose drivers do not report carrier changes through netlink.

The probe order is keepalived's: the MII status register (SIOCGMIIPHY / SIOCGMIIREG, BMSR link
bit), else ethtool's ETHTOOL_GLINK (SIOCETHTOOL), else the interface flags alone (SIOCGIFFLAGS);
a configured type is tried first and falls back the same way. A link is up when the probe says
so and the flags show IFF_UP and IFF_RUNNING; a missing interface is down.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import socket
import struct

SIOCGIFFLAGS = 0x8913
SIOCETHTOOL = 0x8946
SIOCGMIIPHY = 0x8947
SIOCGMIIREG = 0x8948
ETHTOOL_GLINK = 0x0000000A
MII_BMSR = 0x01
BMSR_LSTATUS = 0x0004
IFF_UP = 0x1
IFF_RUNNING = 0x40
IFREQ_SIZE = 40            # struct ifreq on 64-bit Linux: 16-byte name + 24-byte union

MII, ETHTOOL, IOCTL = "MII", "ETHTOOL", "IOCTL"


def _ifreq(ifname: str, payload: bytes = b"") -> bytearray:
    buf = bytearray(IFREQ_SIZE)
    name = ifname.encode()[:15]
    buf[:len(name)] = name
    buf[16:16 + len(payload)] = payload
    return buf


class LinkProbe:
    """One AF_INET datagram socket for the ioctls (in the namespace it was created in)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def close(self) -> None:
        self.sock.close()

    def mii(self, ifname: str) -> int:
        """1 link, 0 no link, -1 the driver has no MII interface."""
        req = _ifreq(ifname)
        try:
            fcntl.ioctl(self.sock.fileno(), SIOCGMIIPHY, req, True)
            phy_id = struct.unpack_from("H", req, 16)[0]
            struct.pack_into("HH", req, 16, phy_id, MII_BMSR)
            fcntl.ioctl(self.sock.fileno(), SIOCGMIIREG, req, True)
        except OSError:
            return -1
        return 1 if struct.unpack_from("H", req, 22)[0] & BMSR_LSTATUS else 0

    def ethtool(self, ifname: str) -> int:
        """1 link, 0 no link, -1 no ETHTOOL_GLINK."""
        value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_GLINK, 0), 8)
        req = _ifreq(ifname, struct.pack("P", ctypes.addressof(value)))
        try:
            fcntl.ioctl(self.sock.fileno(), SIOCETHTOOL, req, True)
        except OSError:
            return -1
        return 1 if struct.unpack("II", value.raw)[1] else 0

    def flags_up(self, ifname: str) -> bool:
        req = _ifreq(ifname)
        try:
            fcntl.ioctl(self.sock.fileno(), SIOCGIFFLAGS, req, True)
        except OSError as exc:       # keepalived: an error other than ENODEV counts as up
            return exc.errno != errno.ENODEV
        flags = struct.unpack_from("H", req, 16)[0]
        return bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)

    def probe(self, ifname: str, kind: str | None) -> tuple[bool, str | None]:
        """(up, the probe type that works). kind: the type found (or configured) so far."""
        try:
            socket.if_nametoindex(ifname)
        except OSError:
            return False, kind
        found, status = kind, -1
        if kind in (None, MII):
            status = self.mii(ifname)
            found = MII if status >= 0 else None
        if found is None or found == ETHTOOL:
            status = self.ethtool(ifname)
            if status >= 0:
                found = ETHTOOL
            elif kind == ETHTOOL and (status := self.mii(ifname)) >= 0:
                found = MII
            else:
                found = None
        if found is None or found == IOCTL:
            found, status = IOCTL, 1
        up = status > 0 and self.flags_up(ifname)
        return up, found
