"""The checker child (kvrrp.daemon.checker_child) when the configuration has virtual servers
(keepalived's rule; never with -P): started once the BFD sessions and kvrrpctl's maintenance
exist (both reach the child), stopped after the instances stopped (the VIPs have moved before
the IPVS table goes)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kvrrp.bfd.relay import ParentFeed
from kvrrp.control.protocol import MAINTENANCE_ENV
from kvrrp.daemon.checker_child import CheckerChild, wants_checker
from kvrrp.daemon.service import Service

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon


class Checker(Service):
    name = "checker child"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.child: CheckerChild | None = None

    async def start(self) -> None:
        d = self.daemon
        if not wants_checker(d.args, d.config):
            return
        self.child = CheckerChild(d.args, child_wait_time=d.config.child_wait_time)
        self.child.extra_env = self._env
        if d.bfd is not None:
            # BFD_CHECK in the child follows this process's sessions (one speaker per namespace)
            self.child.bfd_feed = ParentFeed(d.bfd)
        self.child.on_give_up = lambda: d.on_stop("the checker's death (--dont-respawn)")
        d.checker = self.child
        self.child.start()

    def _env(self) -> dict[str, str]:
        """What a (re)started checker must know: node maintenance (kvrrp.bgp.wiring)."""
        control = self.daemon.control
        on = control is not None and control.maint.all
        return {MAINTENANCE_ENV: "1" if on else "0"}

    async def stop(self) -> None:
        if self.child is not None:
            await self.child.stop()

    def snapshot(self) -> dict[str, Any]:
        return {"checker": self.child.snapshot()} if self.child is not None else {}
