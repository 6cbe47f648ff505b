"""keepalived's nftables tables for VIPs of masters without Accept_Mode (no_accept).

RFC 5798 6.1: a master that is not the address owner must not accept packets addressed to
its VIPs unless Accept_Mode is set. keepalived does it with a table `ip NAME` / `ip6 NAME`
(default name keepalived) whose `vips` set is checked by an input and an output base chain;
IPv6 link-local VIPs go to `vips_link_local` keyed by address and interface, and neighbour
discovery to the VIPs stays allowed. The same tables, set names, chains and rules here, so an
operator's `nft list table ip keepalived` reads the same with either daemon.

The tables of a family are made when its first address is blocked, and a table left by an
earlier run is deleted at start (keepalived does both).
"""
from __future__ import annotations

import ipaddress
import logging
import re
from collections import Counter
from typing import NamedTuple

from kvrrp.io.nftables import Nft, NftError

log = logging.getLogger("kvrrp.firewall")
_IFNAME = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")


class BlockedAddress(NamedTuple):
    family: int        # 4 or 6
    address: str
    ifname: str        # only used for IPv6 link-local addresses


class VipFirewall:
    def __init__(self, table: str = "keepalived", priority: int = -1, counters: bool = False,
                 use_ifname: bool = False, nft: Nft | None = None) -> None:
        self.table = table
        self.priority = priority
        self.counter = "counter " if counters else ""
        self.use_ifname = use_ifname
        self._nft = nft or Nft()
        self._ready: set[int] = set()
        self._held: Counter[BlockedAddress] = Counter()
        self.errors = 0

    # -- tables -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Delete this daemon's tables, e.g. the ones an earlier run left behind."""
        for family in ("ip", "ip6"):
            try:
                self._nft.run(f"delete table {family} {self.table}")
            except NftError:
                pass                     # not there: nothing to clean
        self._ready.clear()
        self._held.clear()

    def _setup(self, family: int) -> None:
        if family in self._ready:
            return
        t, c, p = self.table, self.counter, self.priority
        chains = (f"add chain {{fam}} {t} out {{{{ type filter hook output priority {p}; policy accept; }}}}\n"
                  f"add chain {{fam}} {t} in {{{{ type filter hook input priority {p}; policy accept; }}}}\n")
        if family == 4:
            script = (f"add table ip {t}\n" + chains.format(fam="ip")
                      + f"add set ip {t} vips {{ type ipv4_addr; }}\n"
                      f"add rule ip {t} in ip daddr @vips {c}drop\n"
                      f"add rule ip {t} out ip saddr @vips {c}drop\n")
        else:
            key, iif, oif = (("ifname", "iifname", "oifname") if self.use_ifname else ("iface_index", "iif", "oif"))
            ll = self._ll_set
            script = (f"add table ip6 {t}\n" + chains.format(fam="ip6")
                      + f"add chain ip6 {t} in_link_local\nadd chain ip6 {t} out_link_local\n"
                      f"add set ip6 {t} vips {{ type ipv6_addr; }}\n"
                      f"add set ip6 {t} neighbor-discovery {{ type icmpv6_type; flags constant; "
                      f"elements = {{ nd-neighbor-solicit, nd-neighbor-advert }}; }}\n"
                      f"add set ip6 {t} {ll} {{ type ipv6_addr . {key}; }}\n"
                      f"add rule ip6 {t} out icmpv6 type @neighbor-discovery {c}accept\n"
                      f"add rule ip6 {t} out ip6 saddr fe80::/10 goto out_link_local\n"
                      f"add rule ip6 {t} out ip6 saddr @vips {c}drop\n"
                      f"add rule ip6 {t} in icmpv6 type @neighbor-discovery {c}accept\n"
                      f"add rule ip6 {t} in ip6 daddr fe80::/10 goto in_link_local\n"
                      f"add rule ip6 {t} in ip6 daddr @vips {c}drop\n"
                      f"add rule ip6 {t} in_link_local ip6 daddr . {iif} @{ll} {c}drop\n"
                      f"add rule ip6 {t} out_link_local ip6 saddr . {oif} @{ll} {c}drop\n")
        self._nft.run(script)
        self._ready.add(family)

    @property
    def _ll_set(self) -> str:
        return "vips_link_local_name" if self.use_ifname else "vips_link_local"

    # -- addresses ----------------------------------------------------------------------------
    def _element(self, a: BlockedAddress) -> str:
        addr = ipaddress.ip_address(a.address)      # validated: only addresses reach nft's parser
        if a.family == 6 and addr.is_link_local:
            if not _IFNAME.fullmatch(a.ifname):
                raise ValueError(f"bad interface name {a.ifname!r}")
            return f"ip6 {self.table} {self._ll_set} {{ {addr.compressed} . \"{a.ifname}\" }}"
        return f"{'ip' if a.family == 4 else 'ip6'} {self.table} vips {{ {addr.compressed} }}"

    def block(self, addresses: list[BlockedAddress]) -> None:
        """Drop traffic to and from these addresses (a VIP held more than once is counted)."""
        new = [a for a in addresses if self._held[a] == 0]
        self._held.update(addresses)
        if not new:
            return
        try:
            for family in sorted({a.family for a in new}):
                self._setup(family)
            self._nft.run("".join(f"add element {self._element(a)}\n" for a in new))
        except (NftError, ValueError) as exc:
            self.errors += 1
            log.error("setting firewall drop rules for %s failed: %s",
                      ", ".join(a.address for a in new), exc)

    def unblock(self, addresses: list[BlockedAddress]) -> None:
        gone = []
        for a in addresses:
            if self._held[a] <= 0:
                continue
            self._held[a] -= 1
            if self._held[a] == 0:
                del self._held[a]
                gone.append(a)
        if not gone:
            return
        try:
            self._nft.run("".join(f"delete element {self._element(a)}\n" for a in gone))
        except (NftError, ValueError) as exc:
            self.errors += 1
            log.error("removing firewall drop rules for %s failed: %s",
                      ", ".join(a.address for a in gone), exc)

    def blocked(self) -> list[BlockedAddress]:
        return sorted(self._held)

    def close(self) -> None:
        """Remove the tables (at exit, as keepalived does) and free the library context."""
        if self._ready:
            self.reset()
        self._nft.close()
