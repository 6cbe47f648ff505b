"""kvrrp_bgp (kvrrp.bgp, imported only when configured): the follow-VRRP routes announced
through the node's routing daemon, and the guard child that withdraws them if this daemon dies
without doing it itself. Started once the instances run; its routes are the first thing
withdrawn at stop (the routers move new flows away while this node still serves them)."""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from kvrrp.bgp.wiring import Announcing
from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.io.lifetime import PARENT_PID_ENV
from kvrrp.notify.runner import spawn_tracked

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


class Bgp(Service):
    name = "BGP announcing"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.announcing: Announcing | None = None
        self._guard: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        await self._start(self.daemon.config)

    async def _start(self, config: Config) -> None:
        d = self.daemon
        if config.bgp is None:
            return
        self.announcing = Announcing.for_vrrp(config)
        if self.announcing is None:
            return
        d.bgp = self.announcing
        d.engine.add_transition_listener(self._transition)
        self._feed_states()
        if d.control is not None and d.control.maint.all:
            self.announcing.maintenance(True)
        self.announcing.start()
        await self._start_guard()

    def _transition(self, name: str, old: Any, new: Any, reason: str, priority: int) -> None:
        self.announcing.instance_state(name, new.value)

    def _feed_states(self) -> None:
        for name, inst in self.daemon.engine.instances.items():
            self.announcing.instance_state(name, inst.state.value)

    async def commit_reload(self, new: Config) -> None:
        if self.announcing is None:
            await self._start(new)          # kvrrp_bgp added by this reload
            return
        old_bgp = self.announcing.bgp
        await self.announcing.reload(new)
        self._feed_states()
        if self.announcing.bgp != old_bgp:
            await self._stop_guard()
            await self._start_guard()

    async def _start_guard(self) -> None:
        """kvrrp.bgp.guard: withdraws this daemon's routes if it dies without doing it itself."""
        b = self.announcing.bgp
        argv = [sys.executable, "-m", "kvrrp.bgp.guard", str(b.asn), b.vtysh, *([b.vty_socket] if b.vty_socket else [])]
        try:
            self._guard = await spawn_tracked(argv, env={**os.environ, PARENT_PID_ENV: str(os.getpid())},
                                              stdin=asyncio.subprocess.DEVNULL)
        except OSError as exc:
            log.error("BGP: cannot start the route guard (%s); a crash would leave the routes in bgpd", exc)

    async def _stop_guard(self) -> None:
        """Without a withdraw (SIGKILL): the caller withdrew already, or a new guard takes over."""
        guard, self._guard = self._guard, None
        if guard is not None and guard.returncode is None:
            guard.kill()
            await guard.wait()

    async def withdraw(self) -> None:
        if self.announcing is None:
            return
        try:
            await self.announcing.shutdown()
        finally:
            await self._stop_guard()

    def snapshot(self) -> dict[str, Any]:
        return {"bgp": self.announcing.snapshot()} if self.announcing is not None else {}
