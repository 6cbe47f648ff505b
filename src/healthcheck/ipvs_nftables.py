"""`nftables_ipvs`: virtual_server_group address ranges as one IPVS fwmark service.

IPVS keys a service by one address and port, so a virtual_server_group with an address range
otherwise becomes one IPVS service per address (a /24 is 256 services, each with every real
server). keepalived's check_nftables.c instead, when `nftables_ipvs [TABLE]` is set, gives each
group without fwmark entries an automatic fwmark per protocol (from `nftables_ipvs_start_fwmark`,
default 1000, counting up in configuration order), makes ONE fwmark service of it, and marks
the group's traffic in nftables:

    table ip keepalived_ipvs {
        map tcp_map { type ipv4_addr . inet_service : mark; flags interval; elements = {
            198.18.0.20-198.18.0.22 . 80 : 1000 } }
        chain in { type filter hook input priority -1; policy accept;
            meta l4proto tcp meta mark set ip daddr . tcp dport map @tcp_map counter return }
    }

(and `table ip6` for IPv6 entries; `udp_map` / `sctp_map` likewise). The input hook at
`nftables_ipvs_priority` (default -1) runs before IPVS (LOCAL_IN, priority 98), so the mark is
set when IPVS looks the packet up. Here: the allocation (`auto_fwmarks`, pure), the ruleset
text (`ruleset`, pure), and `IpvsFwmarkTables`, which replaces the tables atomically through
libnftables (kvrrp.io.nftables) and deletes them at stop.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any, Iterable

log = logging.getLogger("kvrrp.healthcheck")

PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}
_NFT_FAMILY = {4: "ip", 6: "ip6"}
_ADDR_TYPE = {4: "ipv4_addr", 6: "ipv6_addr"}


def uses_auto_fwmark(config: Any, group: Any) -> bool:
    """keepalived's VSG_USES_AUTO_FWMARK: nftables_ipvs is set and the group has no fwmark
    entries (a group with fwmarks is served by those)."""
    return config.global_defs.nftables_ipvs is not None and not any(e.fwmark is not None for e in group.entries)


def auto_fwmarks(config: Any) -> dict[tuple[str, str], int]:
    """{(group name, protocol): fwmark} for every virtual_server of an auto-fwmark group, in
    configuration order from nftables_ipvs_start_fwmark (keepalived's get_next_fwmark); the
    virtual servers of one group and protocol share a mark."""
    g = config.global_defs
    if g.nftables_ipvs is None:
        return {}
    groups = {grp.name: grp for grp in config.virtual_server_groups}
    marks: dict[tuple[str, str], int] = {}
    nxt = g.nftables_ipvs_start_fwmark
    for vs in config.virtual_servers:
        group = groups.get(vs.group) if vs.group is not None else None
        if group is None or not uses_auto_fwmark(config, group):
            continue
        key = (group.name, vs.protocol.upper())
        if key not in marks:
            marks[key] = nxt
            nxt += 1
    return marks


def entry_span(entry: Any) -> tuple[str, str]:
    """(first, last) address of a group entry: a single address, a range, or a prefix."""
    if entry.prefixlen is not None:
        net = ipaddress.ip_network(f"{entry.ip}/{entry.prefixlen}", strict=False)
        return str(net[0]), str(net[-1])
    return entry.ip, entry.ip_end or entry.ip


def elements(config: Any, marks: dict[tuple[str, str], int]) -> dict[tuple[int, str], list[tuple[str, str, int, int]]]:
    """{(family, protocol): [(first, last, port, mark), ...]} in configuration order, without
    duplicates (two virtual servers on one group and protocol share the elements)."""
    groups = {grp.name: grp for grp in config.virtual_server_groups}
    out: dict[tuple[int, str], list[tuple[str, str, int, int]]] = {}
    for vs in config.virtual_servers:
        mark = marks.get((vs.group, vs.protocol.upper())) if vs.group is not None else None
        if mark is None:
            continue
        proto = PROTOCOLS.get(vs.protocol.upper())
        if proto is None:
            continue
        for entry in groups[vs.group].entries:
            first, last = entry_span(entry)
            item = (first, last, entry.port or vs.port, mark)
            bucket = out.setdefault((entry.family, proto), [])
            if item not in bucket:
                bucket.append(item)
    return out


def ruleset(table: str, priority: int, elems: dict[tuple[int, str], list[tuple[str, str, int, int]]],
            counters: bool = True) -> str:
    """nft commands that (re)create the tables with exactly these elements, as one batch:
    `add table` + `delete table` first, so the replacement is atomic and works whether or not
    an earlier table exists."""
    cmds: list[str] = []
    families = sorted({fam for fam, _ in elems})
    for fam in (4, 6):
        nf = _NFT_FAMILY[fam]
        cmds.append(f"add table {nf} {table}")
        cmds.append(f"delete table {nf} {table}")
    for fam in families:
        nf = _NFT_FAMILY[fam]
        cmds.append(f"add table {nf} {table}")
        cmds.append(f"add chain {nf} {table} in {{ type filter hook input priority {priority}; policy accept; }}")
        for (efam, proto), items in sorted(elems.items()):
            if efam != fam or not items:
                continue
            name = f"{proto}_map"
            cmds.append(f"add map {nf} {table} {name} {{ type {_ADDR_TYPE[fam]} . inet_service : mark; "
                        f"flags interval; }}")
            cmds.append(f"add rule {nf} {table} in meta l4proto {proto} meta mark set {nf} daddr . {proto} dport "
                        f"map @{name} {'counter ' if counters else ''}return")
            listed = ", ".join((f"{a} . {port} : {mark}" if a == b else f"{a}-{b} . {port} : {mark}")
                               for a, b, port, mark in items)
            cmds.append(f"add element {nf} {table} {name} {{ {listed} }}")
    return "\n".join(cmds) + "\n"


class IpvsFwmarkTables:
    """The nftables side of nftables_ipvs, kept equal to the configuration."""

    def __init__(self, nft: Any = None) -> None:
        self._nft = nft
        self.table: str | None = None
        self.applied: str | None = None
        self.errors = 0

    def _ctx(self) -> Any:
        if self._nft is None:
            from kvrrp.io.nftables import Nft

            self._nft = Nft()
        return self._nft

    def apply(self, config: Any) -> bool:
        """Make the tables match `config` (none without nftables_ipvs); True when they do."""
        g = config.global_defs
        old = self.table
        if g.nftables_ipvs is None:
            self.remove()
            return True
        text = ruleset(g.nftables_ipvs, g.nftables_ipvs_priority, elements(config, auto_fwmarks(config)))
        if old is not None and old != g.nftables_ipvs:
            self.remove()
        if text == self.applied:
            return True
        from kvrrp.io.nftables import NftError

        try:
            self._ctx().run(text)
        except NftError as exc:
            self.errors += 1
            log.error("nftables_ipvs: setting up table %s failed: %s", g.nftables_ipvs, exc)
            return False
        self.table, self.applied = g.nftables_ipvs, text
        return True

    def remove(self) -> None:
        if self.table is None:
            return
        from kvrrp.io.nftables import NftError

        for nf in ("ip", "ip6"):
            try:
                self._ctx().run(f"add table {nf} {self.table}\ndelete table {nf} {self.table}\n")
            except NftError as exc:
                self.errors += 1
                log.error("nftables_ipvs: removing table %s %s failed: %s", nf, self.table, exc)
        self.table = self.applied = None

    def close(self) -> None:
        if self._nft is not None:
            self._nft.close()
            self._nft = None


def fwmark_families(group: Any) -> Iterable[int]:
    """The address families an auto-fwmark group's service exists for (keepalived: IPv4 and
    IPv6 services with the same mark when the group has both)."""
    return sorted({e.family for e in group.entries if e.fwmark is None})
