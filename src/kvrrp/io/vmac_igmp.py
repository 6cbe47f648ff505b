"""IGMP / MLD reports never leave a VMAC: keepalived's nftables rules (vrrp_nftables.c,
nft_setup_igmp / nft_add_vmac) and its global disable_local_igmp.

A macvlan sends the multicast group reports of the groups joined on it (224.0.0.18 and
ff02::12 for the adverts, the solicited-node groups of its IPv6 addresses) from the virtual
MAC. A snooping switch then learns the virtual MAC on the port of every node that joined, not
only on the master's, and sends the VIPs' traffic to a backup. keepalived duplicates those
reports onto the VMAC's base interface (same destination, the base's MAC) and drops the VMAC's
copy, and drops router solicitations from VMACs:

    table ip keepalived_vmac / table ip6 keepalived_vmac
      map vmac_map { type iface_index : iface_index }          VMAC -> base interface
      set vmac_set { type iface_index }                        (ip6) VMACs
      set mld-report { mld-listener-report, mld2-listener-report }
      chain out (filter hook output)
        ip protocol igmp meta oifkind "macvlan" dup to ip daddr device oif map @vmac_map counter drop
        icmpv6 type @mld-report meta oifkind "macvlan" dup to ip6 daddr device oif map @vmac_map counter drop
        icmpv6 type nd-router-solicit meta oifkind "macvlan" oif @vmac_set counter drop

keepalived keeps these in its VIP firewall table (`keepalived`); kvrrp gives them a table of
their own, named after it with `_vmac` (kvrrp.io.vip_firewall deletes and re-creates its table
with the no_accept role; the VMAC rules must outlive that). The rules, sets and their effect
are keepalived's.

An IPv4 VMAC is not added when disable_local_igmp is set: then the kernel sends no reports for
224.0.0.0/24 groups at all (net.ipv4.igmp_link_local_mcast_reports=0, restored at exit), and
IPv6 VMACs still get the MLD rules (keepalived: family == AF_INET6 || !disable_local_igmp).
"""
from __future__ import annotations

import logging
import re

from kvrrp.io.nftables import Nft, NftError

log = logging.getLogger("kvrrp.io")

_IFNAME = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")
IGMP_LL_REPORTS = "/proc/sys/net/ipv4/igmp_link_local_mcast_reports"


def igmp_script(family: int, table: str, priority: int = -1) -> str:
    """nft commands creating one family's table, sets and rules (idempotent `add`s)."""
    fam = "ip" if family == 4 else "ip6"
    out = [f"add table {fam} {table}",
           f"add chain {fam} {table} out {{ type filter hook output priority {priority}; policy accept; }}",
           f"add map {fam} {table} vmac_map {{ type iface_index : iface_index; }}"]
    if family == 4:
        out.append(f"add rule ip {table} out ip protocol igmp meta oifkind \"macvlan\" "
                   "dup to ip daddr device oif map @vmac_map counter drop")
    else:
        out += [f"add set ip6 {table} vmac_set {{ type iface_index; }}",
                f"add set ip6 {table} mld-report {{ type icmpv6_type; flags constant; "
                "elements = { mld-listener-report, mld2-listener-report }; }",
                f"add rule ip6 {table} out icmpv6 type @mld-report meta oifkind \"macvlan\" "
                "dup to ip6 daddr device oif map @vmac_map counter drop",
                f"add rule ip6 {table} out icmpv6 type nd-router-solicit meta oifkind \"macvlan\" "
                "oif @vmac_set counter drop"]
    return "\n".join(out) + "\n"


def element_script(verb: str, family: int, table: str, vmac: str, base: str) -> str:
    for name in (vmac, base):
        if not _IFNAME.fullmatch(name):
            raise ValueError(f"bad interface name {name!r}")
    fam = "ip" if family == 4 else "ip6"
    lines = [f"{verb} element {fam} {table} vmac_map {{ \"{vmac}\" : \"{base}\" }}"]
    if family == 6:
        lines.append(f"{verb} element ip6 {table} vmac_set {{ \"{vmac}\" }}")
    return "\n".join(lines) + "\n"


class VmacIgmp:
    """The VMAC IGMP/MLD rules of one daemon; every call runs in the namespace the Nft context
    was made in (the daemon's)."""

    def __init__(self, table: str = "keepalived", priority: int = -1, disable_local_igmp: bool = False,
                 nft: Nft | None = None) -> None:
        self.table = f"{table}_vmac"
        self.priority = priority
        self.disable_local_igmp = disable_local_igmp
        self._nft = nft
        self._ready: set[int] = set()
        self.members: dict[tuple[int, str], str] = {}       # (family, vmac) -> base
        self.errors = 0

    def _families(self, family: int, other_family: bool) -> list[int]:
        fams = [family] + ([10 - family] if other_family else [])
        return [f for f in fams if f == 6 or not self.disable_local_igmp]

    def add(self, vmac: str, base: str, family: int, other_family: bool = False) -> None:
        """A VMAC's reports go out through its base interface (keepalived's firewall_add_vmac)."""
        for fam in self._families(family, other_family):
            if (fam, vmac) in self.members:
                continue
            try:
                nft = self._context()
                if fam not in self._ready:
                    nft.run(igmp_script(fam, self.table, self.priority))
                    self._ready.add(fam)
                nft.run(element_script("add", fam, self.table, vmac, base))
                self.members[(fam, vmac)] = base
            except (NftError, ValueError) as exc:
                self.errors += 1
                log.error("VMAC %s: cannot add the IGMP/MLD rules: %s", vmac, exc)

    def remove(self, vmac: str) -> None:
        """Before the VMAC is deleted (the map is keyed by its ifindex)."""
        for fam, name in [k for k in self.members if k[1] == vmac]:
            base = self.members.pop((fam, name))
            try:
                self._context().run(element_script("delete", fam, self.table, vmac, base))
            except (NftError, ValueError) as exc:
                self.errors += 1
                log.warning("VMAC %s: cannot remove the IGMP/MLD rules: %s", vmac, exc)

    def reset(self) -> None:
        """Delete the tables (an earlier run's at start, ours at exit)."""
        if self._nft is None and not self._ready:
            try:
                self._context()
            except NftError:
                return
        for fam in ("ip", "ip6"):
            try:
                self._nft.run(f"delete table {fam} {self.table}")
            except NftError:
                pass
        self._ready.clear()
        self.members.clear()

    def close(self) -> None:
        if self._ready:
            self.reset()
        if self._nft is not None:
            self._nft.close()
            self._nft = None

    def _context(self) -> Nft:
        if self._nft is None:
            self._nft = Nft()
        return self._nft


class LocalIgmpReports:
    """disable_local_igmp: net.ipv4.igmp_link_local_mcast_reports=0 while the daemon runs
    (keepalived's set_disable_local_igmp / reset_disable_local_igmp); per network namespace."""

    def __init__(self, path: str = IGMP_LL_REPORTS) -> None:
        self.path = path
        self.saved: str | None = None

    def disable(self) -> bool:
        try:
            with open(self.path, "r+") as fh:
                value = fh.read().strip()
                if value == "1":
                    fh.seek(0)
                    fh.write("0")
                    self.saved = value
        except OSError as exc:
            log.warning("disable_local_igmp: cannot set %s: %s", self.path, exc.strerror)
            return False
        return True

    def restore(self) -> None:
        if self.saved is None:
            return
        try:
            with open(self.path, "w") as fh:
                fh.write(self.saved)
        except OSError as exc:
            log.warning("disable_local_igmp: cannot restore %s: %s", self.path, exc.strerror)
        self.saved = None
