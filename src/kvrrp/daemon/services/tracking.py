"""The trackers (kvrrp.track: scripts, interfaces, files, processes, BFD -> weights / FAULT):
their initial state in place before any instance runs (the engine's prestart hook), also for
the instances a reload adds; stopped before the instances stop."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kvrrp import track
from kvrrp.config.model import Config
from kvrrp.daemon.service import Service

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon


class Trackers(Service):
    name = "trackers"
    critical = False

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.tracking: track.TrackingSupervisor | None = None

    async def start(self) -> None:
        d = self.daemon
        self.tracking = track.attach(d.engine, d.config, d.loop, bfd=d.bfd)
        if d.notifier is not None:
            self.tracking.add_priority_listener(d.notifier.priority_changed)
        await self.tracking.start()
        # instances a reload adds start on their trackers' state (FAULT straight away)
        d.engine.add_prestart_hook(self.tracking.prestart)

    async def prepare_reload(self, new: Config) -> None:
        if self.tracking is not None:
            await self.tracking.prepare_reload(new)

    async def commit_reload(self, new: Config) -> None:
        if self.tracking is not None:
            await self.tracking.reload(new)

    async def abort_reload(self, old: Config) -> None:
        if self.tracking is not None:
            await self.tracking.reload(old)

    async def withdraw(self) -> None:
        if self.tracking is not None:
            await self.tracking.stop()

    def snapshot(self) -> dict[str, Any]:
        return {"tracking": self.tracking.snapshot() if self.tracking is not None else None}
