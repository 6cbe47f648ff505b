"""virtual_routes / virtual_rules: in while an instance is MASTER (a transition listener;
the STOP transitions take them out)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kvrrp.config.model import Config
from kvrrp.config.rtnames import RtNames
from kvrrp.daemon.service import Service
from kvrrp.io.routes import RouteManager, RoutesOnMaster

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon


class VirtualRoutes(Service):
    name = "virtual routes"
    critical = False

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.routes: RoutesOnMaster | None = None

    async def start(self) -> None:
        config = self.daemon.config
        self.routes = RoutesOnMaster(RouteManager(self.daemon.netlink, RtNames.from_config(config.global_defs)),
                                     config)
        self.daemon.engine.add_transition_listener(self.routes)

    async def commit_reload(self, new: Config) -> None:
        if self.routes is not None:
            self.routes.reload(new)

    def snapshot(self) -> dict[str, Any]:
        return {"routes_installed": sorted(self.routes.installed) if self.routes is not None else []}
