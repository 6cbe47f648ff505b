"""Enter a named network namespace for the current thread (setns), and come back.

Sockets (raw, AF_PACKET, netlink) stay bound to the namespace they were created in, so code
can create them inside `entered(name)` and use them after leaving it. Used by tests and the lab;
the daemon itself is started inside its namespace by `ip netns exec` and never needs this.
"""
from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from typing import Iterator

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


INIT_NETNS = "/proc/1/ns/net"


def namespace_path(name: str) -> str:
    """keepalived's open_ipvs_namespace(): NAME under /run/netns; "" is the default namespace
    (init's, /proc/1/ns/net) - `net_namespace_ipvs` without a name."""
    return os.path.join(NETNS_RUN_DIR, name) if name else INIT_NETNS


@contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body in network namespace `name` (as created by `ip netns add`; "" = init's)."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(namespace_path(name), os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(original)
    finally:
        os.close(original)
