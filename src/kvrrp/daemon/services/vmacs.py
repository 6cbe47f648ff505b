"""use_vmac / use_vmac_addr interfaces (and disable_local_igmp): made before the engine opens
sockets on them, removed after its instances stopped; a reload makes the new ones before the
engine applies it and removes the dropped ones after."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.io.vmac import VmacManager, prepare_vmacs
from kvrrp.io.vmac_igmp import LocalIgmpReports, VmacIgmp

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


def wants_vmacs(config: Config) -> bool:
    return any(i.use_vmac is not None or getattr(i, "use_vmac_addr", False)
               or any(a.use_vmac for a in i.virtual_ipaddress + i.virtual_ipaddress_excluded)
               for i in config.instances)


class VmacInterfaces(Service):
    name = "VMAC interfaces"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.manager: Any = None            # kvrrp.io.vmac.VmacManager (tests: a fake)
        self.names: dict[str, str] = {}     # instance -> VMAC interface in force
        self._wanted: dict[str, str] | None = None   # for the configuration being reloaded
        self.local_igmp: LocalIgmpReports | None = None

    async def start(self) -> None:
        netlink, g = self.daemon.netlink, self.daemon.config.global_defs
        if getattr(g, "disable_local_igmp", False):
            # at start only, as keepalived ("Cannot change disable_local_igmp at a reload")
            self.local_igmp = LocalIgmpReports()
            if netlink.call(lambda ipr: self.local_igmp.disable()):
                log.info("disable_local_igmp: no IGMP reports for 224.0.0.0/24 groups while running")
        igmp = None
        if wants_vmacs(self.daemon.config):
            igmp = VmacIgmp(getattr(g, "nftables", None) or "keepalived", getattr(g, "nftables_priority", -1),
                            getattr(g, "disable_local_igmp", False))
            netlink.call(lambda ipr: igmp.reset())     # an earlier run's table
        self.manager = VmacManager(netlink, igmp)
        self.names = prepare_vmacs(self.manager, self.daemon.config)

    async def prepare_reload(self, new: Config) -> None:
        if self.manager is not None:
            # VMACs the new config adds must exist before apply_config opens sockets and adds
            # VIPs on them; ones it drops go in commit_reload, once their instances stopped
            self._wanted = prepare_vmacs(self.manager, new)

    async def commit_reload(self, new: Config) -> None:
        wanted, self._wanted = self._wanted, None
        if self.manager is None or wanted is None:
            return
        for name in set(self.manager.created) - set(wanted.values()):
            self.manager.remove(name)
        self.names = wanted

    async def abort_reload(self, old: Config) -> None:
        """VMACs made only for the abandoned configuration go; the running one's stay."""
        self._wanted = None
        if self.manager is None:
            return
        keep = set(self.names.values())
        for name in set(self.manager.created) - keep:
            try:
                self.manager.remove(name)
            except Exception:  # noqa: BLE001 - the others still go
                log.exception("removing VMAC %s made for the failed reload", name)

    async def stop(self) -> None:
        if self.manager is not None:
            self.manager.remove_all()
        if self.local_igmp is not None:
            self.daemon.netlink.call(lambda ipr: self.local_igmp.restore())

    def snapshot(self) -> dict[str, Any]:
        return {"vmacs": dict(self.names)}
