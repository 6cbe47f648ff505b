"""Map a seed keepalived.conf (copied from a tutorial) onto the netns lab, and nothing else.

The seeds carry real LAN addresses (192.168.x, 172.16.x, 172.72.x), real interface names
(eth0, eth1, ens33, p5p1, enp2s0), scripts under /etc/keepalived and SMTP servers on the
internet. The team's network rule allows traffic only on loopback or in 198.18.0.0/15 inside
our own namespaces, so before a seed runs every one of those is rewritten, deterministically:

* IPv4 unicast addresses: the seed's own node addresses -> the lab node addresses given by the
  test (e.g. 192.168.1.148 -> 198.18.0.11); virtual addresses (virtual_ipaddress and
  virtual_ipaddress_excluded of any instance, found by parsing the seed) -> 198.18.0.200,
  .201, ... in order of first sight; any other address (real servers, unknown peers, SMTP
  relays) -> 198.19.0.1, .2, ... Multicast (224/4), loopback (127/8) and netmasks (240/4:
  255.255.255.0) stay as written: the
  VRRP group 224.24.24.18 only crosses the lab's own bridge. One `SeedRewriter` is shared by
  the configs of a pair, so the same seed address becomes the same lab address on both nodes.
* Interface names used by the seed (instance `interface`, `default_interface`,
  `track_interface`, a VIP's `dev`, the `label` prefix `eth1:vip`) -> the lab interface.
* Absolute paths in script and notify commands -> the same base name in the node's script
  directory (the test writes the scripts there); `pidof NAME` -> `pidof <unique fake name>`
  when the test maps NAME (the process table is shared with other engineers' tests).
* `smtp_server` -> 127.0.0.1 (the node namespace's own loopback).
* Everything else - priorities, states, VRIDs, advert intervals, authentication, nopreempt,
  comments - is left exactly as the tutorial has it.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Iterable, Mapping

from kvrrp.config import parse_text

VIP_NET = "198.18.0"
VIP_FIRST = 200
OTHER_NET = ipaddress.IPv4Address("198.19.0.0")
LAB_NET = ipaddress.IPv4Network("198.18.0.0/15")

_IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")
_SCRIPT_KEYWORDS = ("script", "notify", "notify_master", "notify_backup", "notify_fault",
                    "notify_stop", "notify_master_rx_lower_pri", "notify_deleted")
_SCRIPT_LINE = re.compile(r"^(\s*(?:%s)\s+)(\"[^\"]*\"|'[^']*'|\S+)" % "|".join(_SCRIPT_KEYWORDS),
                          re.MULTILINE)
_SMTP_LINE = re.compile(r"^(\s*smtp_server\s+)(\S+)", re.MULTILINE)


class SeedRewriter:
    """Rewrites seed texts for the lab; shared across the configs of one lab run."""

    def __init__(self, node_addresses: Mapping[str, str] | None = None, interface: str = "eth0",
                 process_names: Mapping[str, str] | None = None) -> None:
        self.interface = interface
        self.process_names = dict(process_names or {})
        self.addresses: dict[str, str] = {}
        for seed_addr, lab_addr in (node_addresses or {}).items():
            self._check_lab(lab_addr)
            self.addresses[seed_addr] = lab_addr
        self._next_vip = VIP_FIRST
        self._next_other = 1

    # -- addresses ----------------------------------------------------------------------------
    @staticmethod
    def _check_lab(addr: str) -> None:
        if ipaddress.IPv4Address(addr) not in LAB_NET:
            raise ValueError(f"{addr} is outside 198.18.0.0/15")

    def vip(self, seed_addr: str) -> str:
        """The lab address of a seed VIP (allocated on first sight)."""
        if seed_addr not in self.addresses:
            if self._next_vip > 254:
                raise ValueError("more than 55 VIPs in one lab run")
            self.addresses[seed_addr] = f"{VIP_NET}.{self._next_vip}"
            self._next_vip += 1
        return self.addresses[seed_addr]

    def address(self, seed_addr: str) -> str:
        ip = ipaddress.IPv4Address(seed_addr)
        if ip.is_multicast or ip.is_loopback or ip.is_reserved or ip.is_unspecified:
            return seed_addr  # groups, loopback, netmasks (255.255.255.0), 0.0.0.0: not hosts
        if seed_addr not in self.addresses:
            self.addresses[seed_addr] = str(OTHER_NET + self._next_other)
            self._next_other += 1
        return self.addresses[seed_addr]

    # -- the rewrite --------------------------------------------------------------------------
    def rewrite(self, text: str, script_dir: str) -> str:
        config = parse_text(text, filename="seed.conf", config_id="seed").config
        for instance in config.instances:
            for vip in (*instance.virtual_ipaddress, *instance.virtual_ipaddress_excluded):
                if vip.family == 4:
                    self.vip(vip.address)
        out = _IPV4.sub(lambda m: self._address_or_text(m.group(1)), text)
        out = self._rewrite_interfaces(out, _interface_names(config))
        out = _SCRIPT_LINE.sub(lambda m: m.group(1) + self._script(m.group(2), script_dir), out)
        out = _SMTP_LINE.sub(lambda m: m.group(1) + "127.0.0.1", out)
        leftover = [a for a in _IPV4.findall(out) if not _allowed(a)]
        if leftover:
            raise AssertionError(f"addresses outside the lab after rewriting: {leftover}")
        return out

    def _address_or_text(self, text: str) -> str:
        try:
            return self.address(text)
        except ValueError:  # 999.1.2.3 is not an address: leave it
            return text

    def _rewrite_interfaces(self, text: str, names: Iterable[str]) -> str:
        for name in sorted(set(names) - {self.interface}, key=len, reverse=True):
            text = re.sub(r"(?<![\w.-])%s(?=[\s:\"}]|$)" % re.escape(name), self.interface, text,
                          flags=re.MULTILINE)
        return text

    def _script(self, quoted: str, script_dir: str) -> str:
        quote = quoted[0] if quoted[0] in "\"'" else ""
        body = quoted[1:-1] if quote else quoted
        words = body.split()
        if len(words) == 2 and words[0] == "pidof" and words[1] in self.process_names:
            words[1] = self.process_names[words[1]]
        words = [f"{script_dir}/{w.rsplit('/', 1)[1]}" if w.startswith("/") else w for w in words]
        body = " ".join(words)
        return f"{quote}{body}{quote}" if quote else (f'"{body}"' if " " in body else body)


def _interface_names(config) -> set[str]:
    names = {config.global_defs.default_interface}
    for instance in config.instances:
        if instance.interface:
            names.add(instance.interface)
        names.update(t.name for t in instance.track_interfaces)
        for vip in (*instance.virtual_ipaddress, *instance.virtual_ipaddress_excluded):
            if vip.dev:
                names.add(vip.dev)
    for group in config.sync_groups:
        names.update(t.name for t in group.track_interfaces)
    return {n for n in names if n}


def _allowed(addr: str) -> bool:
    try:
        ip = ipaddress.IPv4Address(addr)
    except ValueError:
        return True
    return ip in LAB_NET or ip.is_multicast or ip.is_loopback or ip.is_reserved or ip.is_unspecified
