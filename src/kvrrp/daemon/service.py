"""The life cycle every part of the VRRP daemon around its engine follows.

kvrrp.daemon.root holds the services in one ordered table (root.SERVICES) and calls, in that
order: start() at start; at a reload prepare_reload(new) of each, then the engine applies the
new configuration, then commit_reload(new) of each - or, when a prepare refused (raised) or the
engine failed, abort_reload(old) of those prepared, in reverse order; at stop withdraw() of
each in reverse order (nothing may change the instances any more while they stop), the
engine's instances stop, then stop() of each in reverse order.
"""
from __future__ import annotations

from typing import Any

from kvrrp.config.model import Config


class Service:
    """One part of the daemon. Every step is an explicit no-op here; a service writes the
    steps it takes part in."""

    name = "service"
    # a critical service that cannot start stops the daemon; any other is logged and VRRP
    # runs without it (notify scripts, trackers, SNMP ... must never keep VRRP down)
    critical = True

    async def start(self) -> None:
        """Take up the service with the configuration in force (the root's config)."""

    async def prepare_reload(self, new: Config) -> None:
        """Get ready for `new` while the running configuration stays in force; raise to
        refuse the reload."""

    async def commit_reload(self, new: Config) -> None:
        """The engine runs `new` now: follow it."""

    async def abort_reload(self, old: Config) -> None:
        """A reload was given up after prepare_reload(new): back to `old`, which stays."""

    async def withdraw(self) -> None:
        """Stop, first phase, before the instances stop: take nothing in any more (trackers,
        kvrrpctl, BGP routes), so that only the stop changes the instances."""

    async def stop(self) -> None:
        """Stop, second phase, after the instances stopped: release what the service holds."""

    def snapshot(self) -> dict[str, Any]:
        """The service's keys in the status API and the JSON dump."""
        return {}
