"""config_save_dir (kvrrp.reload_files.ConfigSaver): a copy of each configuration read, and the
data dump before and after each reload."""
from __future__ import annotations

from typing import TYPE_CHECKING

from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.reload_files import ConfigSaver

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon


class SavedConfigs(Service):
    name = "config_save_dir"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.saver = ConfigSaver("vrrp")

    async def start(self) -> None:
        self.saver.save_config(self.daemon.config)

    async def prepare_reload(self, new: Config) -> None:
        self.saver.save_config(new)
        self.saver.save_dump(new.global_defs, False, lambda: self.daemon.render("data"))

    async def commit_reload(self, new: Config) -> None:
        self.saver.save_dump(new.global_defs, True, lambda: self.daemon.render("data"))
