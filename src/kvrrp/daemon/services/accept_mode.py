"""Masters without Accept_Mode drop traffic to their VIPs (nftables, keepalived's tables):
set up when a configuration first needs it, re-synced on every reload, removed once the VIPs
are gone (and kept with them under -V)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.daemon.services.adapters import keeps_vips
from kvrrp.io.vip_firewall import VipFirewall
from kvrrp.vrrp.accept_mode import AcceptMode, firewall_wanted

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


class AcceptModeFirewall(Service):
    name = "no_accept firewall"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.accept_mode: AcceptMode | None = None

    async def start(self) -> None:
        self._follow(self.daemon.config)

    async def commit_reload(self, new: Config) -> None:
        self._follow(new)

    def _follow(self, config: Config) -> None:
        engine = self.daemon.engine
        if self.accept_mode is not None:
            self.accept_mode.resync()
            return
        if not firewall_wanted(config, [inst.settings for inst in engine.instances.values()]):
            return
        g = config.global_defs
        use_ifname = g.dynamic_interfaces if g.nftables_ifindex is None else not g.nftables_ifindex
        firewall = VipFirewall(g.nftables or "keepalived", g.nftables_priority, g.nftables_counters,
                               use_ifname=use_ifname)
        self.accept_mode = AcceptMode(engine, firewall)
        self.accept_mode.start()
        log.info("no_accept instances: VIP traffic dropped while master (nftables table %s)", firewall.table)

    async def stop(self) -> None:
        # the no_accept tables go once the VIPs are gone (and stay with them under -V)
        if self.accept_mode is not None and not keeps_vips(self.daemon.args):
            self.accept_mode.stop()
