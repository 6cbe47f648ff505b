"""`lvs_sync_daemon IF INSTANCE` (or `lvs_sync_daemon_interface`): the kernel's IPVS sync
daemon runs as master while INSTANCE is MASTER, as backup otherwise (imported only when
configured: it brings the IPVS netlink modules). Stopped first, before the instances, as
keepalived stops its sync daemon."""
from __future__ import annotations

from typing import TYPE_CHECKING

from healthcheck.ipvs_syncd import SyncDaemonKernel
from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.vrrp.lvs_sync import LvsSync, sync_plan

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon


class LvsSyncDaemon(Service):
    name = "IPVS sync daemon"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.sync: LvsSync | None = None

    async def start(self) -> None:
        self._follow(self.daemon.config)

    async def commit_reload(self, new: Config) -> None:
        self._follow(new)

    def _follow(self, config: Config) -> None:
        plan = sync_plan(config)
        if plan is not None and plan.instance is None:
            plan = None                 # no instance: the checker runs master and backup both
        if self.sync is None:
            if plan is None:
                return
            self.sync = LvsSync(self.daemon.engine, SyncDaemonKernel(netns=config.net_namespace_ipvs), plan)
            self.sync.start()
        elif plan is None:
            self.sync.stop()
            self.sync = None
        else:
            self.sync.reload(plan)

    async def withdraw(self) -> None:
        if self.sync is not None:
            self.sync.stop()    # keepalived stops its sync daemon first
