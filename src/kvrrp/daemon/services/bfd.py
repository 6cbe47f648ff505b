"""The BFD sessions (keepalived's Keepalived_bfd, here a part of this loop: kvrrp.bfd.service
says why). Always built, with no socket while no bfd_instance exists, so that the trackers and
the checker child's feed follow one object; -B runs none."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kvrrp.bfd.service import BfdService
from kvrrp.config.model import Config
from kvrrp.daemon.service import Service

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.track")


class BfdSessions(Service):
    name = "BFD sessions"
    critical = False

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.sessions: BfdService | None = None

    def _instances(self, config: Config) -> tuple:
        if getattr(self.daemon.args, "no_bfd", False) and config.bfd_instances:
            log.warning("BFD disabled (-B): %d bfd_instance(s) not run", len(config.bfd_instances))
            return ()
        return config.bfd_instances

    async def start(self) -> None:
        self.sessions = BfdService(self._instances(self.daemon.config), loop=self.daemon.loop)
        self.daemon.bfd = self.sessions
        self.sessions.start()

    async def prepare_reload(self, new: Config) -> None:
        if self.sessions is not None:
            self.sessions.reload(self._instances(new))   # unchanged sessions keep their state

    async def abort_reload(self, old: Config) -> None:
        if self.sessions is not None:
            self.sessions.reload(self._instances(old))

    async def withdraw(self) -> None:
        if self.sessions is not None:
            self.sessions.stop()

    def snapshot(self) -> dict[str, Any]:
        return {"bfd": self.sessions.snapshot() if self.sessions is not None else None}
