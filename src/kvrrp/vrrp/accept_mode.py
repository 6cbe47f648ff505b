"""Accept_Mode off (keepalived's no_accept): while such an instance is MASTER and not the
address owner, traffic to and from its VIPs and excluded VIPs is dropped (RFC 5798 6.1), and
the drop rules go when it leaves MASTER - keepalived's vrrp_handle_accept_mode. The decisions
are here; the nftables tables are kvrrp.io.vip_firewall's.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any, Protocol

from kvrrp.io.vip_firewall import BlockedAddress
from kvrrp.vrrp.fsm import State

log = logging.getLogger("kvrrp.firewall")


class Firewall(Protocol):
    def reset(self) -> None: ...
    def block(self, addresses: list[BlockedAddress]) -> None: ...
    def unblock(self, addresses: list[BlockedAddress]) -> None: ...
    def close(self) -> None: ...


def blocked_addresses(settings: Any) -> list[BlockedAddress]:
    """What a master without Accept_Mode drops: its VIPs and excluded VIPs (none when it
    accepts, which the address owner always does)."""
    if settings.accept:
        return []
    out = []
    for spec in (*settings.vips, *settings.excluded_vips):
        family = ipaddress.ip_address(spec.address).version
        out.append(BlockedAddress(family, spec.address, spec.ifname))
    return out


def firewall_wanted(config: Any, instance_settings: Any) -> bool:
    """keepalived: 'no_accept/strict specified, but no firewall configured - using nftables';
    and always when `nftables` (or vrrp_iptables, which falls back to it) is configured."""
    return config.global_defs.nftables is not None or any(not s.accept for s in instance_settings)


class AcceptMode:
    """Keeps the firewall in step with the engine's MASTER instances."""

    def __init__(self, engine: Any, firewall: Firewall) -> None:
        self.engine = engine
        self.firewall = firewall
        self._held: dict[str, list[BlockedAddress]] = {}

    def start(self) -> None:
        self.firewall.reset()            # what an earlier run may have left
        self.engine.add_transition_listener(self._on_transition)
        self.resync()

    def _want(self, name: str) -> list[BlockedAddress]:
        inst = self.engine.instances.get(name)
        if inst is None or inst.state is not State.MASTER:
            return []
        return blocked_addresses(inst.settings)

    def _set(self, name: str, wanted: list[BlockedAddress]) -> None:
        held = self._held.get(name, [])
        if wanted == held:
            return
        # block first, then unblock: an address in both stays blocked throughout
        self.firewall.block([a for a in wanted if a not in held])
        self.firewall.unblock([a for a in held if a not in wanted])
        if wanted:
            self._held[name] = wanted
        else:
            self._held.pop(name, None)

    def _on_transition(self, name: str, old: Any, new: Any, reason: str, priority: int) -> None:
        if State.MASTER in (old, new):
            self._set(name, self._want(name))

    def resync(self) -> None:
        """After a start or a reload: every instance's rules as its state and settings say."""
        for name in set(self._held) | set(self.engine.instances):
            self._set(name, self._want(name))

    def stop(self) -> None:
        try:
            self.engine.remove_transition_listener(self._on_transition)
        except ValueError:
            pass
        self._held.clear()
        self.firewall.close()
