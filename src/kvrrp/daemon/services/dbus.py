"""keepalived's DBus service (org.keepalived.Vrrp1; dbus-next: imported only with enable_dbus).
Connecting, exporting and owning the name run as a task: VRRP never waits for the bus but at
start, at most DBUS_JOIN_WAIT (as keepalived's DBus thread is up before its VRRP loop, so the
instances' first transitions are signalled). Stopped after the instances stopped (their STOP
signals go out first)."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.dbus.service import DbusService

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")

DBUS_JOIN_WAIT = 2.0       # how long the start waits for the system bus


class Dbus(Service):
    name = "DBus"
    critical = False

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.service: DbusService | None = None
        self._start: asyncio.Task | None = None

    async def start(self) -> None:
        """A bus slower than DBUS_JOIN_WAIT is not waited for: it joins when it can and then
        reports the states as they are."""
        self._follow(self.daemon.config)
        if self._start is None or self.daemon.engine.started:
            return      # enable_dbus added by a reload: the instances run already, nothing to wait for
        try:
            await asyncio.wait_for(asyncio.shield(self._start), DBUS_JOIN_WAIT)
        except asyncio.TimeoutError:
            log.warning("DBus not up after %g s: VRRP starts now, DBus follows when the bus answers",
                        DBUS_JOIN_WAIT)

    def _follow(self, config: Config) -> None:
        if not config.global_defs.enable_dbus or self.service is not None:
            return
        d = self.daemon
        self.service = DbusService(d, config, getattr(d.args, "namespace", None),
                                   create_instance=bool(getattr(d.args, "dbus_create_instance", False)))
        d.engine.add_transition_listener(self.service.on_transition)
        self._start = d.loop.create_task(self.service.start())

    async def prepare_reload(self, new: Config) -> None:
        if self.service is not None:
            self.service.expect_config(new)

    async def abort_reload(self, old: Config) -> None:
        if self.service is not None:
            self.service.expect_config(None)

    async def commit_reload(self, new: Config) -> None:
        """New objects and VrrpReloaded; enable_dbus added or removed starts or stops the
        service (keepalived: dbus_reload / dbus_start / dbus_stop). A service that never came
        up (no bus, name refused) or lost its bus starts afresh, as keepalived's reload calls
        dbus_start again once a start failed."""
        if self.service is None:
            self._follow(new)
        elif not new.global_defs.enable_dbus:
            await self.stop()
        else:
            if self._start is not None and not self._start.done():
                await self._start
            if self.service.running:
                self.service.reload(new)
            else:
                await self.stop()
                self._follow(new)

    async def stop(self) -> None:
        service, self.service = self.service, None
        if service is None:
            return
        self.daemon.engine.remove_transition_listener(service.on_transition)
        if self._start is not None and not self._start.done():
            self._start.cancel()
            try:
                await self._start
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._start = None
        await service.stop()

    def snapshot(self) -> dict[str, Any]:
        return {"dbus": self.service.snapshot()} if self.service is not None else {}
