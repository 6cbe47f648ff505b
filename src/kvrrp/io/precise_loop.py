"""An asyncio event loop whose timers fire on time, not up to a millisecond late.

CPython's epoll selector rounds every timeout UP to whole milliseconds, so a Master_Down_Timer
armed with call_later fires 0-1 ms late on top of everything else - half of the 2 ms budget the
failover target allows. This selector sleeps on a timerfd (CLOCK_MONOTONIC, nanosecond
resolution) registered in the same epoll set instead of passing the timeout to epoll_wait.
Falls back to the stock selector where timerfd is unavailable.

The timerfd is armed with an absolute deadline and left alone while the loop's next timer stays
the same (within REARM_TOLERANCE): a busy loop woken by sockets then costs no timerfd_settime
per iteration.
"""
from __future__ import annotations

import asyncio
import ctypes
import os
import select
import selectors
import time

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC
TFD_TIMER_ABSTIME = 1
REARM_TOLERANCE = 20e-6     # seconds: a deadline this close to the armed one is the same timer


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc = ctypes.CDLL(None, use_errno=True)


class PreciseEpollSelector(selectors.EpollSelector):
    def __init__(self) -> None:
        super().__init__()
        fd = _libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self._timerfd = fd
        self._selector.register(fd, select.EPOLLIN)
        self._spec = _Itimerspec()
        self._armed: float | None = None     # absolute CLOCK_MONOTONIC deadline the timerfd holds

    def _arm(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if self._armed is not None and abs(deadline - self._armed) <= REARM_TOLERANCE:
            return
        ns = max(1, int(deadline * 1e9))
        self._spec.it_value.tv_sec, self._spec.it_value.tv_nsec = divmod(ns, 1_000_000_000)
        if _libc.timerfd_settime(self._timerfd, TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None) != 0:
            self._armed = None
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self._armed = deadline

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            wait = -1
        elif timeout <= 0:
            wait = 0
        else:
            self._arm(timeout)
            wait = -1
        max_ev = max(len(self._fd_to_key), 1) + 1
        ready = []
        try:
            fd_event_list = self._selector.poll(wait, max_ev)
        except InterruptedError:
            return ready
        for fd, event in fd_event_list:
            if fd == self._timerfd:
                self._armed = None
                try:
                    os.read(fd, 8)
                except BlockingIOError:
                    pass
                continue
            events = 0
            if event & ~select.EPOLLIN:
                events |= selectors.EVENT_WRITE
            if event & ~select.EPOLLOUT:
                events |= selectors.EVENT_READ
            key = self._fd_to_key.get(fd)
            if key:
                ready.append((key, events & key.events))
        return ready

    def close(self) -> None:
        try:
            self._selector.unregister(self._timerfd)
        except (OSError, ValueError):
            pass
        os.close(self._timerfd)
        super().close()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A SelectorEventLoop on PreciseEpollSelector (the stock loop if timerfd is missing)."""
    try:
        selector = PreciseEpollSelector()
    except (OSError, AttributeError):
        return asyncio.new_event_loop()
    return asyncio.SelectorEventLoop(selector)


