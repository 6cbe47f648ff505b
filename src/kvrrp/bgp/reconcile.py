"""Keep the BGP daemon's routes equal to the announcer's desired set.

Reconcile, don't replay: every pass reads what the daemon has (only this owner's routes) and
changes the difference, so a restarted kvrrp or a restarted bgpd converges. Passes are
serialised; facts arriving during a pass fold into one more pass. A failed pass is counted,
logged and retried with a back-off; a resync pass runs every RESYNC seconds anyway (bgpd
restarted by the operator forgets statements kvrrp made).
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Mapping, Protocol, Sequence

from kvrrp.bgp.announcer import Announcer, RouteAttrs

log = logging.getLogger("kvrrp.bgp")

RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
RESYNC = 10.0


class BgpSpeaker(Protocol):
    async def routes(self, owner: str) -> dict[str, str]:
        """prefix -> route tag of the routes `owner` announces now."""

    async def apply(self, add: Mapping[str, tuple[str, RouteAttrs]], remove: Sequence[str]) -> None:
        """Announce `add` (prefix -> (tag, attributes)), withdraw `remove`."""


class Reconciler:
    def __init__(self, announcer: Announcer, speaker: BgpSpeaker, owner: str, *,
                 resync: float | None = RESYNC) -> None:
        self.announcer = announcer
        self.speaker = speaker
        self.owner = owner
        self.resync = resync
        self._dirty = False
        self._failing = False
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.passes = 0
        self.announced_total = 0
        self.withdrawn_total = 0
        self.errors = 0
        self.last_error = ""
        self.last_change: float | None = None      # time.time() of the last applied change
        self.announced: dict[str, str] = {}        # what the last successful pass left in bgpd

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.poke()

    def poke(self) -> None:
        """The desired set may have changed: reconcile soon."""
        self._dirty = True
        if self._wake is not None:
            self._idle.clear()
            self._wake.set()

    async def _run(self) -> None:
        failures = 0
        while True:
            if not self._dirty:
                self._idle.set()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.resync)
                except asyncio.TimeoutError:
                    self._dirty = True           # periodic resync
            self._wake.clear()
            self._dirty = False
            try:
                await self.reconcile_once()
                failures = 0
                self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - counted, logged, retried
                self.errors += 1
                self._failing = True
                self.last_error = str(exc) or type(exc).__name__
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                log.error("BGP: reconciling the %s routes failed (retry in %g s): %s", self.owner, delay,
                          self.last_error)
                self._dirty = True
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    async def reconcile_once(self) -> None:
        self.passes += 1
        desired = {p: (a.tag(self.owner), a) for p, a in self.announcer.desired().items()}
        current = await self.speaker.routes(self.owner)
        add = {p: ta for p, ta in desired.items() if current.get(p) != ta[0]}
        remove = sorted(p for p in current if p not in desired)
        if add or remove:
            await self.speaker.apply(add, remove)
            self.last_change = time.time()
            self.announced_total += len(add)
            self.withdrawn_total += len(remove)
            for p in add:
                log.info("BGP: announcing %s", p)
            for p in remove:
                log.info("BGP: withdrawing %s", p)
        self.announced = {p: ta[0] for p, ta in desired.items()}

    async def settle(self, timeout: float) -> bool:
        """Wait until every fact given so far is in bgpd; False after `timeout`."""
        if self._task is None or self._idle is None:
            return False
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return not self._dirty
        except asyncio.TimeoutError:
            return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def withdraw_and_stop(self, timeout: float = 5.0) -> bool:
        """Shutdown: everything withdrawn (bounded by `timeout`, 1 s when the last pass failed:
        a dead bgpd must not hold up the rest of the shutdown), then no more passes."""
        self.announcer.shutdown()
        idle = self._idle is not None and self._idle.is_set() and self.passes > 0
        if idle and not self.announced and not self._failing:
            await self.stop()                    # nothing of ours is in bgpd: no round trip
            return True
        if self._failing:
            timeout = min(timeout, 1.0)
        self.poke()
        done = await self.settle(timeout)
        if not done:
            log.error("BGP: routes not withdrawn within %g s (%s)", timeout, self.last_error or "no answer")
        await self.stop()
        return done

    def snapshot(self) -> dict:
        return {"owner": self.owner, "announced": sorted(self.announced), "passes": self.passes,
                "announced_total": self.announced_total, "withdrawn_total": self.withdrawn_total,
                "errors": self.errors, "last_error": self.last_error, "last_change": self.last_change,
                **self.announcer.why()}
