"""Many periodic checks, one asyncio timer: the fast path's TimerWheel holds every check's next
deadline; a single loop.call_at handle is armed for the earliest one. Due checks run as short
tasks, at most ``concurrency`` at a time; the rest wait in a FIFO until a slot frees.

A check that is not running costs one wheel entry (no task, no asyncio handle).
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable

from kvrrp.fastpath import TimerWheel

log = logging.getLogger("kvrrp.healthcheck.scheduler")

RunFn = Callable[[int], Awaitable[None]]


class CheckScheduler:
    def __init__(self, run: RunFn, *, concurrency: int = 512, resolution: float = 0.001) -> None:
        self._run = run
        self._loop = asyncio.get_running_loop()
        self._wheel = TimerWheel(resolution=resolution, start=self._loop.time())
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self._ready: deque[int] = deque()
        self._queued: set[int] = set()
        self._running: dict[int, asyncio.Task] = {}
        self.concurrency = max(1, concurrency)
        self.started = 0
        self.max_running = 0
        self._closed = False

    # -- timers ----------------------------------------------------------------------------

    def schedule(self, key: int, delay: float) -> None:
        """Run check ``key`` ``delay`` seconds from now (replaces its previous deadline)."""
        if self._closed:
            return
        self._wheel.schedule(key, self._loop.time() + max(0.0, delay))
        self._arm()

    def cancel(self, key: int) -> None:
        self._wheel.cancel(key)
        if key in self._queued:
            self._queued.discard(key)
            try:
                self._ready.remove(key)
            except ValueError:
                pass
        task = self._running.pop(key, None)
        if task is not None:
            task.cancel()

    def is_running(self, key: int) -> bool:
        return key in self._running

    def __len__(self) -> int:
        return len(self._wheel)

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
        for key in self._wheel.advance(self._loop.time()):
            if key in self._running or key in self._queued:
                continue            # still busy with the previous attempt: skip this beat
            if len(self._running) < self.concurrency:
                self._start(key)
            else:
                self._queued.add(key)
                self._ready.append(key)
        self._arm()

    # -- tasks -----------------------------------------------------------------------------

    def _start(self, key: int) -> None:
        task = self._loop.create_task(self._run(key))
        self._running[key] = task
        self.started += 1
        if len(self._running) > self.max_running:
            self.max_running = len(self._running)
        task.add_done_callback(lambda t, k=key: self._done(k, t))

    def _done(self, key: int, task: asyncio.Task) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("check %d crashed: %r", key, task.exception())
        while self._ready and len(self._running) < self.concurrency and not self._closed:
            nxt = self._ready.popleft()
            self._queued.discard(nxt)
            self._start(nxt)

    async def close(self) -> None:
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
        tasks = list(self._running.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
        self._ready.clear()
        self._queued.clear()
