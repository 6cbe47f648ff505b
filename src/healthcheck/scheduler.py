"""Many periodic checks, one asyncio timer: the fast path's TimerWheel holds every check's next
deadline (and every in-flight check's I/O timeout); a single loop.call_at handle is armed for
the earliest one. Due checks are started through ``start(key)``, at most ``concurrency`` at a
time; the rest wait in a FIFO until ``done(key)`` frees a slot.

A check that is not running costs one wheel entry: no task, no asyncio handle. The wheel ticks
every 5 ms: checks due within one tick run in one batch (a deadline is late by at most 5 ms),
which saves most loop wake-ups at a few thousand checks per second.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Callable

from kvrrp.fastpath import TimerWheel

log = logging.getLogger("kvrrp.healthcheck.scheduler")

TIMEOUT_BIT = 1 << 48          # wheel keys with this bit are I/O timeouts of the check key below it


class CheckScheduler:
    def __init__(self, start: Callable[[int], None], *, concurrency: int = 1024,
                 resolution: float = 0.005) -> None:
        self._start_cb = start
        self._loop = asyncio.get_running_loop()
        self._wheel = TimerWheel(resolution=resolution, start=self._loop.time())
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self._ready: deque[int] = deque()
        self._queued: set[int] = set()
        self._running: set[int] = set()
        self._timeouts: dict[int, Callable[[int], None]] = {}
        self.concurrency = max(1, concurrency)
        self.started = 0
        self.max_running = 0
        self._closed = False

    # -- periodic deadlines ------------------------------------------------------------------

    def schedule(self, key: int, delay: float) -> None:
        """Start check ``key`` ``delay`` seconds from now (replaces its previous deadline)."""
        if self._closed:
            return
        self._wheel.schedule(key, self._loop.time() + (delay if delay > 0 else 0.0))
        self._arm()

    def cancel(self, key: int) -> None:
        """Forget ``key``: its deadline, its queue slot, its running mark and its timeout."""
        self._wheel.cancel(key)
        self.clear_timeout(key)
        if key in self._queued:
            self._queued.discard(key)
            try:
                self._ready.remove(key)
            except ValueError:
                pass
        if key in self._running:
            self.done(key)

    def is_running(self, key: int) -> bool:
        return key in self._running

    @property
    def running(self) -> int:
        return len(self._running)

    def __len__(self) -> int:
        return len(self._wheel) - len(self._timeouts)

    # -- I/O timeouts of running checks --------------------------------------------------------

    def set_timeout(self, key: int, delay: float, on_timeout: Callable[[int], None]) -> None:
        self._timeouts[key] = on_timeout
        self._wheel.schedule(key | TIMEOUT_BIT, self._loop.time() + delay)
        self._arm()

    def clear_timeout(self, key: int) -> None:
        if self._timeouts.pop(key, None) is not None:
            self._wheel.cancel(key | TIMEOUT_BIT)

    # -- the one timer -------------------------------------------------------------------------

    def _arm(self) -> None:
        nxt = self._wheel.next_deadline()
        if nxt is None:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = self._armed_at = None
            return
        if self._armed_at is not None and self._armed_at <= nxt:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = nxt
        self._handle = self._loop.call_at(nxt, self._fire)

    def _fire(self) -> None:
        self._handle = self._armed_at = None
        if self._closed:
            return
        running, queued = self._running, self._queued
        for key in self._wheel.advance(self._loop.time()):
            if key & TIMEOUT_BIT:
                check = key ^ TIMEOUT_BIT
                cb = self._timeouts.pop(check, None)
                if cb is not None:
                    cb(check)
                continue
            if key in running or key in queued:
                continue            # still busy with the previous attempt: skip this beat
            if len(running) < self.concurrency:
                self._begin(key)
            else:
                queued.add(key)
                self._ready.append(key)
        self._arm()

    def _begin(self, key: int) -> None:
        self._running.add(key)
        self.started += 1
        if len(self._running) > self.max_running:
            self.max_running = len(self._running)
        try:
            self._start_cb(key)
        except Exception:  # noqa: BLE001 - one broken check must not stop the others
            log.exception("starting check %d failed", key)
            self.done(key)

    def done(self, key: int) -> None:
        """The check ``key`` finished (or was abandoned): free its slot, start queued ones."""
        if key not in self._running:
            return
        self._running.discard(key)
        while self._ready and len(self._running) < self.concurrency and not self._closed:
            nxt = self._ready.popleft()
            self._queued.discard(nxt)
            self._begin(nxt)

    def close(self) -> None:
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._ready.clear()
        self._queued.clear()
        self._timeouts.clear()
