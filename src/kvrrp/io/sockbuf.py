"""Receive buffer sizes of kvrrp's sockets, from global_defs as keepalived computes them.

Netlink sockets (keepalived's netlink_set_rx_buf_size): `<kind>_rcv_bufs SIZE` sets SO_RCVBUF,
`<kind>_rcv_bufs_force` SO_RCVBUFFORCE (which passes net.core.rmem_max; needs CAP_NET_ADMIN),
a forced socket without a size gets keepalived's 64 KiB. With neither keyword kvrrp keeps its
own sizes (pyroute2's 1 MiB; keepalived's 64 KiB would be smaller than what kvrrp had).

VRRP receive sockets (keepalived's vrrp_scheduler.c): each instance adds its share to the
socket it receives on (vrrp.settings.rx_buf_share: `kernel_rx_buf_size`, else by
`vrrp_rx_bufs_policy`); `vrrp_share_bytes` turns the shares into bytes with the interface's
MTU. A socket whose sum is 0 keeps kvrrp's default (1 MiB: one socket per interface serves
all its instances here, where keepalived opens one per instance group). The kernel doubles what is set (see socket(7)):
`ss -m` shows rb = 2 x the value.
"""
from __future__ import annotations

import fcntl
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("kvrrp.io")

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SIOCGIFMTU = 0x8921
IF_DEFAULT_BUFSIZE = 64 * 1024       # keepalived_netlink.c
VRRP_RX_DEFAULT = 1 << 20            # kvrrp's VRRP socket size when nothing is configured


@dataclass(frozen=True, slots=True)
class RcvBuf:
    size: int
    force: bool = False

    @classmethod
    def from_config(cls, g: Any, kind: str) -> "RcvBuf | None":
        """global_defs' <kind>_rcv_bufs / _force (kind e.g. "vrrp_netlink_cmd"); None when
        neither was written."""
        size = getattr(g, f"{kind}_rcv_bufs", 0) or 0
        force = bool(getattr(g, f"{kind}_rcv_bufs_force", False))
        if not size and not force:
            return None
        return cls(size or IF_DEFAULT_BUFSIZE, force)


def apply(sock: Any, buf: RcvBuf | None, what: str) -> bool:
    """Set `buf` on `sock` (anything with setsockopt: a socket, a pyroute2 IPRoute). False
    (logged in keepalived's words) when the kernel refused."""
    if buf is None:
        return True
    try:
        if buf.force:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, buf.size)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buf.size)
    except OSError as exc:
        opt = "SO_RCVBUFFORCE" if buf.force else "SO_RCVBUF"
        log.warning("%s: cannot set %s to %d. errno=%s (%s)", what, opt, buf.size, exc.errno, exc.strerror)
        return False
    return True


def interface_mtu(sock: socket.socket, ifname: str) -> int | None:
    """The MTU of ifname in the network namespace of `sock` (SIOCGIFMTU on it: sysfs would
    show the namespace /sys was mounted in, not the socket's)."""
    try:
        req = fcntl.ioctl(sock.fileno(), SIOCGIFMTU, struct.pack("16si", ifname.encode()[:15], 0))
    except OSError:
        return None
    return struct.unpack("16si", req)[1]


def vrrp_share_bytes(shares, mtu: int | None) -> int:
    """Sum of instance shares, each ("bytes", n) or ("mtu", multiplier)."""
    total = 0
    for kind, value in shares:
        if kind == "bytes":
            total += value
        elif kind == "mtu" and mtu:
            total += value * mtu
    return total
