"""Per-key serial execution: jobs for one key run one at a time in submission order, jobs for
different keys run concurrently; submitting never blocks the caller (the event loop)."""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable

from kvrrp.aio import cancel_and_wait

log = logging.getLogger("kvrrp.notify")

Job = Callable[[], Awaitable[None]]


class KeyedSerial:
    def __init__(self) -> None:
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, asyncio.Task] = {}
        self.completed = 0
        self.failed = 0

    def submit(self, key: str, job: Job) -> None:
        q = self._queues.setdefault(key, deque())
        q.append(job)
        if key not in self._workers:
            self._workers[key] = asyncio.get_running_loop().create_task(self._drain(key), name=f"notify {key}")

    def pending(self, key: str | None = None) -> int:
        if key is not None:
            return len(self._queues.get(key, ())) + (1 if key in self._workers else 0)
        return sum(len(q) for q in self._queues.values()) + len(self._workers)

    async def _drain(self, key: str) -> None:
        q = self._queues[key]
        try:
            while q:
                job = q.popleft()
                try:
                    await job()
                    self.completed += 1
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.failed += 1
                    log.exception("notification job for %s failed", key)
        finally:
            self._workers.pop(key, None)
            if not q:
                self._queues.pop(key, None)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued job has run; False if the timeout came first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._workers:
            tasks = list(self._workers.values())
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(tasks, timeout=remaining)
        return True

    async def cancel_all(self) -> None:
        await cancel_and_wait(*self._workers.values())
        self._queues.clear()
        self._workers.clear()
