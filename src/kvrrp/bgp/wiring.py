"""One process's announcing: the announcer, its reconciler and the speaker for kvrrp_bgp.

The VRRP daemon announces the follow-VRRP routes (owner "vrrp": it sees the transitions), the
checker process the anycast routes (owner "vs": it owns the quorum); each reconciles only its
own routes in bgpd. Node-wide maintenance reaches the checker from the VRRP daemon over the
checker's control socket (`bgp` command) and, for a checker (re)started meanwhile, in
MAINTENANCE_ENV.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable

from kvrrp.bgp.announcer import AnnouncePlan, Announcer, anycast_plan, follow_plan
from kvrrp.bgp.reconcile import BgpSpeaker, Reconciler
from kvrrp.control.protocol import MAINTENANCE_ENV

log = logging.getLogger("kvrrp.bgp")

SHUTDOWN_TIMEOUT = 5.0


def speaker_for(bgp: Any) -> BgpSpeaker:
    """The seam for a kvrrp_bgp block (daemon frr is the one kvrrp drives)."""
    from kvrrp.io.bgp_frr import FrrBgp

    return FrrBgp(bgp.asn, vtysh=bgp.vtysh, vty_socket=bgp.vty_socket)


class Announcing:
    def __init__(self, owner: str, plan_of: Callable[[Any], AnnouncePlan], config: Any,
                 speaker: BgpSpeaker | None = None) -> None:
        self.owner = owner
        self.plan_of = plan_of
        self.bgp = config.bgp
        self.announcer = Announcer(plan_of(config))
        self.reconciler = Reconciler(self.announcer, speaker or speaker_for(config.bgp), owner)
        self._shut_down = False

    @classmethod
    def for_vrrp(cls, config: Any) -> "Announcing | None":
        return cls("vrrp", follow_plan, config) if config.bgp is not None and config.bgp.asn else None

    @classmethod
    def for_checker(cls, config: Any) -> "Announcing | None":
        if config.bgp is None or not config.bgp.asn:
            return None
        a = cls("vs", anycast_plan, config)
        if os.environ.get(MAINTENANCE_ENV) == "1":
            a.announcer.set_maintenance(True)
        return a

    def start(self) -> None:
        self.reconciler.start()
        log.info("BGP: announcing through FRR bgpd (router bgp %s): %d instance(s) follow VRRP, "
                 "%d anycast service(s)", self.bgp.asn, len(self.announcer.plan.follow),
                 len(self.announcer.plan.anycast))

    def _changed(self, changed: bool) -> None:
        if changed:
            self.reconciler.poke()

    def instance_state(self, name: str, state: str) -> None:
        self._changed(self.announcer.set_state(name, state))

    def quorums(self, quorum: dict[str, bool]) -> None:
        self._changed(self.announcer.set_quorums(quorum))

    def maintenance(self, on: bool) -> None:
        if self.announcer.set_maintenance(on):
            log.info("BGP: node maintenance %s - %s", "on" if on else "off",
                     "withdrawing every route" if on else "announcing again")
            self.reconciler.poke()

    async def reload(self, config: Any) -> None:
        """A new plan; a changed kvrrp_bgp block (another ASN, vtysh, attributes) first
        withdraws what the old one announced. Without kvrrp_bgp any more: everything withdrawn."""
        if config.bgp != self.bgp:
            self.announcer.set_plan(AnnouncePlan())
            self.reconciler.poke()
            await self.reconciler.settle(SHUTDOWN_TIMEOUT)
            if config.bgp is not None and config.bgp.asn:
                await self.reconciler.stop()
                self.bgp = config.bgp
                self.reconciler = Reconciler(self.announcer, speaker_for(config.bgp), self.owner)
                self.reconciler.start()
            else:
                return
        self._changed(self.announcer.set_plan(self.plan_of(config)))

    async def shutdown(self) -> None:
        """Withdraw everything, once (later calls return at once)."""
        if self._shut_down:
            return
        self._shut_down = True
        await self.reconciler.withdraw_and_stop(SHUTDOWN_TIMEOUT)

    def snapshot(self) -> dict:
        return self.reconciler.snapshot()
