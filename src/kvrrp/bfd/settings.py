"""From `bfd_instance` blocks to runnable session settings: keepalived's bfd_parser.c rules.

`plan_sessions` keeps the instances keepalived would run and says why it drops the others
(no neighbour, source and neighbour of different families, a source/neighbour pair used
twice, a name longer than keepalived's 31 characters). Pure; `kvrrp -t` reports the same
problems through kvrrp.config.validate.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kvrrp.bfd.session import SessionSettings
from kvrrp.config.model import BfdInstance

CONTROL_PORT = 3784            # RFC 5881 single hop
MULTIHOP_PORT = 4784           # RFC 5883
TTL_V4 = 255                   # keepalived's BFD_CONTROL_TTL
# RFC 5881 section 5: hop limit 255 for IPv6 too (keepalived's BFD_CONTROL_HOPLIMIT is 64, which
# RFC-conforming peers such as FRR's bfdd drop by their GTSM check)
HOPLIMIT_V6 = 255
NAME_MAX = 31                  # keepalived's BFD_INAME_MAX - 1


@dataclass(frozen=True, slots=True)
class BfdPeer:
    """One runnable session: where it talks to and how."""

    session: SessionSettings
    neighbor: str
    source: str | None
    family: int
    ttl: int                   # TTL / hop limit we send with
    max_hops: int              # -1: no check; else a packet's TTL must be >= ttl - max_hops
    port: int                  # the neighbour's control port: 3784, multihop 4784
    vrrp: bool
    checker: bool
    weight: int
    weight_reverse: bool

    @property
    def name(self) -> str:
        return self.session.name

    def ttl_ok(self, ttl: int | None) -> bool:
        """RFC 5881 GTSM, keepalived's bfd_check_packet_ttl (max_hops widens it)."""
        if ttl is None or self.max_hops < 0:
            return True
        return ttl + self.max_hops >= self.ttl


def _us(ms: float) -> int:
    return int(round(ms * 1000))


def plan_sessions(instances: tuple[BfdInstance, ...] | list[BfdInstance]) -> tuple[list[BfdPeer], list[str]]:
    peers: list[BfdPeer] = []
    problems: list[str] = []
    seen: dict[tuple[str, str | None], str] = {}
    names: set[str] = set()
    for b in instances:
        where = f"bfd_instance {b.name}"
        if b.name in names:
            problems.append(f"{where} defined twice - the first definition is used")
            continue
        if len(b.name) > NAME_MAX:
            problems.append(f"{where}: name longer than {NAME_MAX} characters - ignoring instance")
            continue
        if b.neighbor_ip is None:
            problems.append(f"{where} has no neighbor address set, disabling instance")
            continue
        family = ipaddress.ip_address(b.neighbor_ip).version
        if b.source_ip is not None and ipaddress.ip_address(b.source_ip).version != family:
            problems.append(f"{where} source address {b.source_ip} and neighbor address {b.neighbor_ip} "
                            "are not of the same family, disabling instance")
            continue
        key = (str(ipaddress.ip_address(b.neighbor_ip)), b.source_ip and str(ipaddress.ip_address(b.source_ip)))
        if key in seen:
            problems.append(f"{where} has duplicate source/neighbor address {b.source_ip or '-'}/{b.neighbor_ip} "
                            f"(also {seen[key]}), ignoring instance")
            continue
        seen[key] = b.name
        names.add(b.name)
        ttl = b.ttl if b.ttl is not None else (TTL_V4 if family == 4 else HOPLIMIT_V6)
        max_hops = b.max_hops
        if max_hops > ttl:
            problems.append(f"{where}: max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit")
            max_hops = ttl
        session = SessionSettings(name=b.name, min_rx=_us(b.min_rx), min_tx=_us(b.min_tx),
                                  idle_tx=_us(b.idle_tx), detect_mult=b.multiplier, passive=b.passive)
        peers.append(BfdPeer(session=session, neighbor=key[0], source=key[1], family=family, ttl=ttl,
                             max_hops=max_hops,
                             port=MULTIHOP_PORT if b.multihop else CONTROL_PORT, vrrp=b.vrrp, checker=b.checker, weight=b.weight,
                             weight_reverse=b.weight_reverse))
    return peers, problems
