"""reload_time_file / reload_repeat (kvrrp.reload_schedule): a reload at the time the file
names; started, kept, moved to another file or stopped as the configuration in force says."""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.reload_schedule import ReloadScheduler

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


class ReloadSchedule(Service):
    name = "reload_time_file"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.scheduler: ReloadScheduler | None = None

    async def start(self) -> None:
        self._follow(self.daemon.config)

    async def commit_reload(self, new: Config) -> None:
        self._follow(new)

    def _follow(self, config: Config) -> None:
        g = config.global_defs
        path, repeat = getattr(g, "reload_time_file", None), bool(getattr(g, "reload_repeat", False))
        current = self.scheduler
        if current is not None and path is not None and os.path.abspath(path) == current.path:
            current.repeat = repeat
            return
        if current is not None:
            current.close()
            self.scheduler = None
        if path is not None:
            try:
                self.scheduler = ReloadScheduler(self.daemon.loop, path, repeat, self.daemon.request_reload)
            except OSError as exc:
                log.error("reload_time_file %s: %s", path, exc.strerror or exc)

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()
