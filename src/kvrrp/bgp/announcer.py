"""Which VIP routes this node should announce right now - pure logic, no I/O.

Two modes (docs/scale-out.md):
- follow VRRP: a vrrp_instance with `kvrrp_announce` has its VIPs announced while it is MASTER
  and withdrawn in every other state (BACKUP, FAULT, INIT, STOP);
- anycast: a virtual_server with `kvrrp_announce` has its address announced while it has
  quorum. Several announced services on one address (ports 80 and 443) announce it only while
  every one of them has quorum: a director that serves half of them takes no new flows.
Node-wide maintenance (`kvrrpctl maintenance on --all`) and shutdown withdraw everything.
A service whose quorum is not known yet counts as down: nothing is announced before a check
has said so.
"""
from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Mapping

MASTER = "MASTER"


@dataclass(frozen=True)
class RouteAttrs:
    """This node's path attributes for every route it announces (kvrrp_bgp med/...)."""
    med: int | None = None
    local_preference: int | None = None
    communities: tuple[str, ...] = ()

    def tag(self, owner: str) -> str:
        """The route-map name that carries these attributes in the BGP daemon; `owner` keeps the
        VRRP daemon's and the checker's routes apart (each reconciles only its own)."""
        digest = hashlib.sha1(repr((self.med, self.local_preference, self.communities)).encode()).hexdigest()
        return f"kvrrp-{owner}-{digest[:8]}"


def host_prefix(address: str) -> str:
    """198.18.100.1 -> 198.18.100.1/32, 2001:db8::1 -> 2001:db8::1/128 (canonical text)."""
    ip = ipaddress.ip_address(address)
    return f"{ip}/{ip.max_prefixlen}"


@dataclass(frozen=True)
class AnnouncePlan:
    """What the configuration asks for: prefixes per instance (follow) and per service key
    (anycast)."""
    follow: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    anycast: Mapping[str, str] = field(default_factory=dict)
    attrs: RouteAttrs = RouteAttrs()

    @property
    def empty(self) -> bool:
        return not self.follow and not self.anycast


def follow_plan(config) -> AnnouncePlan:  # noqa: ANN001 - kvrrp.config.model.Config
    """The follow-VRRP part of a configuration (the VRRP daemon announces it)."""
    follow = {}
    for inst in config.instances:
        if inst.kvrrp_announce:
            vips = [*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded]
            follow[inst.name] = tuple(dict.fromkeys(host_prefix(v.address) for v in vips))
    return AnnouncePlan(follow=follow, attrs=attrs_of(config))


def anycast_plan(config) -> AnnouncePlan:  # noqa: ANN001
    """The anycast part (the checker process announces it: it owns the quorum)."""
    anycast = {service_key(vs): host_prefix(vs.ip) for vs in config.virtual_servers
               if vs.kvrrp_announce and vs.ip}
    return AnnouncePlan(anycast=anycast, attrs=attrs_of(config))


def service_key(vs) -> str:  # noqa: ANN001 - kvrrp.config.model.VirtualServer
    """'TCP 198.18.100.1:80': what the status shows and quorum facts are keyed by."""
    return f"{vs.protocol} {vs.key}"


def attrs_of(config) -> RouteAttrs:  # noqa: ANN001
    b = config.bgp
    if b is None:
        return RouteAttrs()
    return RouteAttrs(med=b.med, local_preference=b.local_preference, communities=tuple(b.communities))


class Announcer:
    """Facts in, desired routes out. Every setter returns whether the desired set may have
    changed (the caller then reconciles)."""

    def __init__(self, plan: AnnouncePlan) -> None:
        self.plan = plan
        self.states: dict[str, str] = {}
        self.quorum: dict[str, bool] = {}
        self.maintenance = False
        self.stopping = False

    def set_plan(self, plan: AnnouncePlan) -> bool:
        """A reload: facts about names still configured are kept, the others forgotten."""
        self.plan = plan
        self.states = {k: v for k, v in self.states.items() if k in plan.follow}
        self.quorum = {k: v for k, v in self.quorum.items() if k in plan.anycast}
        return True

    def set_state(self, instance: str, state: str) -> bool:
        old, self.states[instance] = self.states.get(instance), state
        return instance in self.plan.follow and (old == MASTER) != (state == MASTER)

    def set_quorum(self, service: str, up: bool) -> bool:
        old, self.quorum[service] = self.quorum.get(service), up
        return service in self.plan.anycast and old is not up

    def set_quorums(self, quorum: Mapping[str, bool]) -> bool:
        changed = False
        for service, up in quorum.items():
            changed |= self.set_quorum(service, up)
        return changed

    def set_maintenance(self, on: bool) -> bool:
        old, self.maintenance = self.maintenance, on
        return old != on

    def shutdown(self) -> bool:
        old, self.stopping = self.stopping, True
        return not old

    def desired(self) -> dict[str, RouteAttrs]:
        if self.stopping or self.maintenance:
            return {}
        out: dict[str, RouteAttrs] = {}
        for name, prefixes in self.plan.follow.items():
            if self.states.get(name) == MASTER:
                out.update((p, self.plan.attrs) for p in prefixes)
        by_prefix: dict[str, list[str]] = {}
        for service, prefix in self.plan.anycast.items():
            by_prefix.setdefault(prefix, []).append(service)
        for prefix, services in by_prefix.items():
            if all(self.quorum.get(s) is True for s in services):
                out[prefix] = self.plan.attrs
        return out

    def why(self) -> dict[str, object]:
        """For the status API: the facts the decision was made from."""
        return {"maintenance": self.maintenance, "stopping": self.stopping,
                "instances": {n: self.states.get(n) for n in self.plan.follow},
                "services": {s: self.quorum.get(s) for s in self.plan.anycast}}

