"""Notify scripts, FIFOs and SMTP alerts on transitions (kvrrp.notify): listening before the
instances run; stopped after they stopped, so that the STOP notifications finish."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kvrrp import notify
from kvrrp.config.model import Config
from kvrrp.daemon.service import Service

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon


class Notifications(Service):
    name = "notifier"
    critical = False

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.notifier: notify.Notifier | None = None

    async def start(self) -> None:
        self.notifier = notify.attach(self.daemon.engine, self.daemon.config)
        self.daemon.notifier = self.notifier
        await self.notifier.start()

    async def prepare_reload(self, new: Config) -> None:
        if self.notifier is not None:
            await self.notifier.reload(new)

    async def abort_reload(self, old: Config) -> None:
        if self.notifier is not None:
            await self.notifier.reload(old)

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()

    def snapshot(self) -> dict[str, Any]:
        return {"notify": self.notifier.snapshot() if self.notifier is not None else None}
