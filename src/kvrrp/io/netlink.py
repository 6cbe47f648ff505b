"""One pyroute2 IPRoute on a private thread, with the few queries the adapters need.

pyroute2's synchronous IPRoute drives its own asyncio loop and refuses to run inside a running
one, so every netlink request goes to a dedicated worker thread and the caller waits for the
answer (a netlink round trip is well under a millisecond). The thread optionally enters a named
network namespace first, so tests can manage another namespace's addresses from their process.
"""
from __future__ import annotations

import concurrent.futures
import errno
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

log = logging.getLogger("kvrrp.io")
T = TypeVar("T")

IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_TENTATIVE = 0x40
IFA_F_DADFAILED = 0x08


@dataclass(frozen=True)
class InterfaceAddress:
    address: str        # IFA_LOCAL (IPv4) or IFA_ADDRESS: the address on the host
    prefixlen: int
    family: int         # 4 or 6
    scope: int
    flags: int
    label: str | None
    peer: str | None    # IFA_ADDRESS when it differs from IFA_LOCAL (point-to-point)
    broadcast: str | None

    @property
    def tentative(self) -> bool:
        return bool(self.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))


class Netlink:
    def __init__(self, netns: str | None = None) -> None:
        self._netns = netns
        self._ready = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kvrrp-netlink")
        self._ipr: Any = None
        self._pool.submit(self._open).result(timeout=10)

    def _open(self) -> None:
        from pyroute2.iproute import IPRoute   # not the package: kvrrp.io.pyroute2_parts

        if self._netns:
            from kvrrp.io.netns import _setns, NETNS_RUN_DIR
            import os

            fd = os.open(os.path.join(NETNS_RUN_DIR, self._netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd)  # this worker thread lives in the namespace for good
            finally:
                os.close(fd)
        self._ipr = IPRoute()

    def call(self, fn: Callable[[Any], T], timeout: float = 10.0) -> T:
        """Run fn(ipr) on the netlink thread and return its result (exceptions propagate)."""
        return self._pool.submit(fn, self._ipr).result(timeout=timeout)

    def set_receive_buffer(self, buf) -> bool:  # noqa: ANN001 - an io.sockbuf.RcvBuf or None
        """vrrp_netlink_cmd_rcv_bufs(_force) on this command socket (io.sockbuf)."""
        from kvrrp.io.sockbuf import apply

        return self.call(lambda ipr: apply(ipr, buf, "netlink command socket"))

    def ifindex(self, ifname: str) -> int | None:
        def query(ipr: Any) -> int | None:
            found = ipr.link_lookup(ifname=ifname)
            return found[0] if found else None

        return self.call(query)

    def addresses(self, ifname: str, family: int | None = None) -> list[InterfaceAddress]:
        """Addresses on ifname in kernel order; family 4, 6 or None for both."""
        def query(ipr: Any) -> list[InterfaceAddress]:
            found = ipr.link_lookup(ifname=ifname)
            if not found:
                return []
            kwargs: dict[str, Any] = {"index": found[0]}
            if family is not None:
                kwargs["family"] = socket.AF_INET if family == 4 else socket.AF_INET6
            return [_to_address(msg) for msg in ipr.get_addr(**kwargs)]

        return self.call(query)

    def close(self) -> None:
        def shut(ipr: Any) -> None:
            if ipr is not None:
                ipr.close()

        try:
            self.call(shut, timeout=5)
        except Exception:  # noqa: BLE001 - closing must not raise
            log.debug("netlink close failed", exc_info=True)
        self._pool.shutdown(wait=True)


def _to_address(msg: Any) -> InterfaceAddress:
    fam = 4 if msg["family"] == socket.AF_INET else 6
    local = msg.get("IFA_LOCAL")
    addr = msg.get("IFA_ADDRESS")
    flags = msg.get("IFA_FLAGS")
    if flags is None:
        flags = msg["flags"]
    return InterfaceAddress(
        address=local or addr,
        prefixlen=msg["prefixlen"],
        family=fam,
        scope=msg["scope"],
        flags=flags,
        label=msg.get("IFA_LABEL"),
        peer=addr if (local and addr and addr != local) else None,
        broadcast=msg.get("IFA_BROADCAST"),
    )


EEXIST = errno.EEXIST
EADDRNOTAVAIL = errno.EADDRNOTAVAIL
ENODEV = errno.ENODEV
