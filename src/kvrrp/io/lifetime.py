"""Tie a child process's life to its parent's (keepalived's children do the same).

The checker child (`kvrrp -C` started by the VRRP daemon) must not outlive a SIGKILLed parent:
re-parented to PID 1 it would keep its pid file and the IPVS table, block the restarted
daemon's own checker and, when finally stopped, remove the entries the live checker needs.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal

log = logging.getLogger("kvrrp.daemon")

PR_SET_PDEATHSIG = 1
PARENT_PID_ENV = "KVRRP_PARENT_PID"   # set by the parent for the child it supervises

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(expected_parent: int, sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel for `sig` when the parent dies. False when the parent is already gone
    (the signal would never come): the caller should exit instead of running orphaned."""
    if _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        log.warning("cannot follow the parent's lifetime (prctl PR_SET_PDEATHSIG): %s", os.strerror(err))
    # checked after the prctl: a parent that died before it is seen here, one after gets `sig`
    return os.getppid() == expected_parent


def parent_from_environment() -> int | None:
    """The supervising parent's pid handed down in PARENT_PID_ENV, or None."""
    value = os.environ.pop(PARENT_PID_ENV, "")
    return int(value) if value.isdigit() else None
