"""The seam to FRR's bgpd: read and change kvrrp's `network` statements through vtysh.

kvrrp owns exactly the `network P route-map kvrrp-OWNER-XXXXXXXX` statements under
`router bgp ASN` (default VRF) and the `route-map kvrrp-...` entries carrying its path
attributes (MED, local-pref, communities); it never touches another line of the operator's
configuration. One vtysh process per read and one per change (every statement of a change in
that one call). The parsing and the command lists are pure functions (unit-tested); only
`FrrBgp._vtysh` runs a process.

bgpd must accept a `network` for a prefix it has no route to: `no bgp network import-check`
under `router bgp` (or run zebra with the VIP on a local interface). Documented in
docs/scale-out.md.
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
from typing import Mapping, Sequence

from kvrrp.bgp.announcer import RouteAttrs

OWNED = "kvrrp-"
_ROUTER = re.compile(r"^router bgp (\d+)\s*$")
_NETWORK = re.compile(r"^\s+network (\S+)(?: route-map (\S+))?\s*$")
_ROUTE_MAP = re.compile(r"^route-map (\S+) (?:permit|deny) \d+\s*$")


class FrrError(RuntimeError):
    pass


def parse_running_config(text: str, asn: int) -> tuple[dict[str, str], set[str], bool]:
    """(network prefix -> route-map for kvrrp-owned statements under `router bgp asn`,
    names of kvrrp route-maps, whether that router block exists)."""
    networks: dict[str, str] = {}
    maps: set[str] = set()
    in_router = found = False
    for line in text.splitlines():
        if not line.startswith(" "):
            in_router = False
            m = _ROUTER.match(line)
            if m is not None and int(m.group(1)) == asn:
                in_router = found = True
                continue
            m = _ROUTE_MAP.match(line)
            if m is not None and m.group(1).startswith(OWNED):
                maps.add(m.group(1))
            continue
        if in_router:
            m = _NETWORK.match(line)
            if m is not None and m.group(2) and m.group(2).startswith(OWNED):
                networks[m.group(1)] = m.group(2)
    return networks, maps, found


def route_map_lines(name: str, attrs: RouteAttrs) -> list[str]:
    lines = [f"route-map {name} permit 10"]
    if attrs.med is not None:
        lines.append(f"set metric {attrs.med}")
    if attrs.local_preference is not None:
        lines.append(f"set local-preference {attrs.local_preference}")
    if attrs.communities:
        lines.append("set community " + " ".join(attrs.communities))
    lines.append("exit")
    return lines


def change_commands(asn: int, add: Mapping[str, tuple[str, RouteAttrs]], remove: Sequence[str],
                    present_maps: set[str], still_used: set[str]) -> list[str]:
    """The vtysh command list for one change: missing route-maps first, then the network
    statements per address family, then kvrrp route-maps nothing uses any more."""
    cmds = ["configure terminal"]
    made: set[str] = set()
    for name, attrs in add.values():
        if name not in present_maps and name not in made:
            cmds += route_map_lines(name, attrs)
            made.add(name)
    cmds.append(f"router bgp {asn}")
    for family, afi in ((4, "ipv4"), (6, "ipv6")):
        adds = [(p, n) for p, (n, _a) in add.items() if ipaddress.ip_network(p).version == family]
        dels = [p for p in remove if ipaddress.ip_network(p).version == family]
        if not adds and not dels:
            continue
        cmds.append(f"address-family {afi} unicast")
        cmds += [f"no network {p}" for p in dels]
        cmds += [f"network {p} route-map {n}" for p, n in adds]
        cmds.append("exit-address-family")
    cmds.append("exit")
    for name in sorted((present_maps | made) - still_used):
        cmds.append(f"no route-map {name}")
    cmds.append("end")
    return cmds


class FrrBgp:
    """BgpSpeaker for FRR bgpd (kvrrp.bgp.reconcile)."""

    def __init__(self, asn: int, vtysh: str = "/usr/bin/vtysh", vty_socket: str | None = None,
                 timeout: float = 10.0) -> None:
        self.asn = asn
        self.argv = [vtysh] + (["--vty_socket", vty_socket] if vty_socket else [])
        self.timeout = timeout
        self.calls = 0
        self._last_read: tuple[dict[str, str], set[str]] | None = None

    async def _vtysh(self, commands: Sequence[str], change: bool = False) -> str:
        argv = list(self.argv)
        for c in commands:
            argv += ["-c", c]
        self.calls += 1
        from kvrrp.notify.runner import spawn_tracked

        try:
            # known to the daemon's leftover reaper (kvrrp.io.reaper), which kills any child
            # it did not start
            proc = await spawn_tracked(argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                       stderr=asyncio.subprocess.STDOUT)
        except OSError as exc:
            raise FrrError(f"cannot run {self.argv[0]}: {exc.strerror or exc}") from None
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise FrrError(f"vtysh did not answer within {self.timeout:g} s") from None
        text = out.decode(errors="replace")
        if proc.returncode != 0 or (change and "% " in text):   # a refused statement
            first = next((ln for ln in text.splitlines() if ln.strip()), f"exit status {proc.returncode}")
            raise FrrError(f"vtysh: {first.strip()}")
        return text

    async def read(self) -> tuple[dict[str, str], set[str]]:
        text = await self._vtysh(["show running-config"])
        networks, maps, found = parse_running_config(text, self.asn)
        if not found:
            raise FrrError(f"bgpd has no 'router bgp {self.asn}' (kvrrp_bgp asn)")
        return networks, maps

    async def routes(self, owner: str) -> dict[str, str]:
        networks, maps = await self.read()
        self._last_read = (networks, maps)     # the apply() right after needs no second read
        mine = f"{OWNED}{owner}-"
        return {p: n for p, n in networks.items() if n.startswith(mine)}

    async def apply(self, add: Mapping[str, tuple[str, RouteAttrs]], remove: Sequence[str]) -> None:
        last, self._last_read = self._last_read, None
        networks, maps = last if last is not None else await self.read()
        kept = {p: n for p, n in networks.items() if p not in remove}
        kept.update((p, n) for p, (n, _a) in add.items())
        await self._vtysh(change_commands(self.asn, add, remove, maps, set(kept.values())), change=True)
