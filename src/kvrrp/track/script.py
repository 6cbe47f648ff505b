"""vrrp_script: run a check every ``interval`` seconds, count rise/fall, report health changes.

Like keepalived, a run is skipped (and logged) while the previous one is still going, a run
that outlives ``timeout`` (default: the interval) is killed and counts as a failure, and the
first result decides the initial health at once (unless ``init_fail``).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from kvrrp.notify.runner import RunResult, run_script
from kvrrp.notify.security import CheckedScript
from kvrrp.track.risefall import RiseFall
from kvrrp.aio import cancel_and_wait

log = logging.getLogger("kvrrp.track")

HealthCallback = Callable[[bool], None]


class ScriptTracker:
    def __init__(self, name: str, script: CheckedScript, *, interval: float, timeout: float | None,
                 rise: int, fall: int, init_fail: bool, on_change: HealthCallback,
                 kill_grace: float = 2.0) -> None:
        if interval <= 0:
            raise ValueError(f"vrrp_script {name}: interval must be > 0")
        self.name = name
        self.script = script
        self.interval = interval
        self.timeout = timeout if timeout else interval
        self.counter = RiseFall(rise=rise, fall=fall, init_fail=init_fail)
        self.on_change = on_change
        self.kill_grace = kill_grace
        self.runs = 0
        self.failures = 0
        self.timeouts = 0
        self.skipped = 0
        self.last_result: RunResult | None = None
        self._task: asyncio.Task | None = None
        self._run: asyncio.Task | None = None

    @property
    def healthy(self) -> bool | None:
        return self.counter.healthy

    @property
    def running(self) -> bool:
        """A run of the script is in progress (keepalived's script state "running")."""
        return self._run is not None and not self._run.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"vrrp_script {self.name}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task, self._run)
        self._task = self._run = None

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        # a first run made by the supervisor before the engine started counts as this slot
        next_at = loop.time() + (self.interval if self.runs else 0.0)
        if self.runs:
            await asyncio.sleep(self.interval)
        while True:
            if self._run is not None and not self._run.done():
                self.skipped += 1
                log.info("Track script %s is already running, expect idle - skipping run", self.name)
            else:
                self._run = loop.create_task(self.run_once())
            next_at += self.interval
            now = loop.time()
            if next_at < now:            # we fell behind (suspended loop): do not burst
                next_at = now + self.interval
            await asyncio.sleep(next_at - now)

    async def run_once(self) -> RunResult:
        result = await run_script(self.script, self.timeout, kill_grace=self.kill_grace)
        self.record(result)
        return result

    def record(self, result: RunResult) -> None:
        self.runs += 1
        self.last_result = result
        ok = result.success
        if not ok:
            self.failures += 1
        if result.timed_out:
            self.timeouts += 1
        if result.error:
            log.warning("VRRP_Script(%s) could not run: %s", self.name, result.error)
        changed = self.counter.record(ok)
        if changed is not None:
            if changed:
                log.info("VRRP_Script(%s) succeeded", self.name)
            elif result.timed_out:
                log.info("VRRP_Script(%s) timed_out", self.name)
            elif result.signal:
                log.info("VRRP_Script(%s) failed (due to signal %d)", self.name, result.signal)
            else:
                log.info("VRRP_Script(%s) failed (exited with status %s)", self.name, result.returncode)
            self.on_change(changed)
