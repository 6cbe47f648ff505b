"""The VRRP engine in the life cycle: built early (after the VMACs, before everything that
listens to it) and its instances run last (after every listener and prestart hook is in place),
stopped first of the second stop phase (priority-0 adverts, VIPs removed)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

from kvrrp.daemon.service import Service
from kvrrp.daemon.services.adapters import virtual_addresses
from kvrrp.io.addresses import remove_leftovers
from kvrrp.io.clock import MonotonicClock
from kvrrp.vrrp.engine import VrrpEngine
from kvrrp.vrrp.settings import engine_settings

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")

TIMER_RESOLUTION = 0.0001  # 100 us wheel ticks: deadlines are rounded up by at most this much


def sweepable(instances: Iterable[Any]) -> list[Any]:
    """VIPs a crashed run may have left: every instance's, except an address owner's own."""
    specs = []
    for inst in instances:
        if getattr(inst, "priority", 0) >= 255:
            continue
        specs.extend(inst.vips)
        specs.extend(inst.excluded_vips)
    return specs


class EngineBuild(Service):
    """The engine built on the adapters, after a sweep of VIPs a crashed run left behind."""

    name = "VRRP engine"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    async def start(self) -> None:
        d = self.daemon
        settings = engine_settings(d.config)
        d.transports.set_virtual_addresses(virtual_addresses(settings.instances))
        removed = remove_leftovers(d.addresses, sweepable(settings.instances))
        if removed:
            log.info("cleaned %d virtual address(es) left by a previous run", len(removed))
        del settings, removed  # the engine builds its own
        d.engine = VrrpEngine(d.config, transports=d.transports, addresses=d.addresses,
                              announcer=d.announcer, clock=MonotonicClock(),
                              source_address=d.transports.local_address, loop=d.loop,
                              timer_resolution=TIMER_RESOLUTION)
        d.engine.add_transition_listener(d.transitions)


class EngineRun(Service):
    """The instances: running once everything around them is in place; stopping first."""

    name = "VRRP instances"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    async def start(self) -> None:
        self.daemon.engine.start()

    async def stop(self) -> None:
        self.daemon.engine.stop()  # priority-0 adverts from masters, VIPs removed
