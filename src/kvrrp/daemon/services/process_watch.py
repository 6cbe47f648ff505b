"""What watches the process from outside VRRP: the orphan reaper (no script leaves a process
behind) and, with -a, the address monitor (every address change logged)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kvrrp.daemon.service import Service
from kvrrp.io.addrmon import AddressMonitor
from kvrrp.io.reaper import OrphanReaper
from kvrrp.io.sockbuf import RcvBuf

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon


class ScriptReaper(Service):
    name = "orphan reaper"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.reaper: OrphanReaper | None = None

    async def start(self) -> None:
        self.reaper = OrphanReaper(self.daemon.loop).install()

    async def stop(self) -> None:
        if self.reaper is not None:
            self.reaper.sweep()
            self.reaper.uninstall()

    def snapshot(self) -> dict[str, Any]:
        return {"script_leftovers": self.reaper.snapshot() if self.reaper is not None else {}}


class AddressChanges(Service):
    name = "address monitor"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.monitor: AddressMonitor | None = None

    async def start(self) -> None:
        d = self.daemon
        if getattr(d.args, "address_monitoring", False):
            self.monitor = AddressMonitor(d.loop, RcvBuf.from_config(d.config.global_defs, "vrrp_netlink_monitor"))

    async def stop(self) -> None:
        if self.monitor is not None:
            self.monitor.close()
