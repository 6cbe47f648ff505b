"""FRR's vrrpd (with the zebra it needs) as a VRRP peer inside a lab node.

FRR does not add or remove VIPs: per its doc/user/vrrp.rst the operator makes one macvlan per
virtual router and family (bridge mode, the virtual MAC 00:00:5e:00:0{1,2}:VRID, IPv6 with
`addrgenmode random` so its link-local is not the parent's), puts the VIPs on it, and vrrpd
sets it protodown while not master. vrrpd's IPv6 adverts leave from that macvlan's random
link-local; IPv4 adverts from the parent's primary address. The daemons run in the
foreground as processes the lab spawned (killed by PID at the lab's close); their state is read
with `vtysh -c 'show vrrp json'` over the per-node vty socket directory.
"""
from __future__ import annotations

import ipaddress

from kvrrp.lab import Lab, Node, VrrpSpec
from kvrrp.lab.frr import FrrDaemons


class FrrVrrp(FrrDaemons):
    """zebra + vrrpd in `node` running one virtual router (`spec`: vrid, priority, version,
    advert_int, family, vips)."""

    def __init__(self, lab: Lab, node: Node, spec: VrrpSpec) -> None:
        super().__init__(lab, node, "frr")
        self.spec = spec
        self.kind = "frr"
        self.macvlan = f"vrrp{spec.family}-{spec.vrid}"
        self._make_macvlan()
        self.zebra = self.start_zebra()
        self.vrrpd = self.spawn("vrrpd", self._vrrpd_conf())

    # -- set-up ---------------------------------------------------------------------------------
    def _ip(self, *args: str) -> None:
        self.lab.run(self.node, ["ip", *args])

    def _make_macvlan(self) -> None:
        spec, dev = self.spec, self.macvlan
        self._ip("link", "add", dev, "link", self.node.ifname, "type", "macvlan", "mode", "bridge")
        if spec.family == 6:
            self._ip("link", "set", "dev", dev, "addrgenmode", "random")
        self._ip("link", "set", "dev", dev, "address", f"00:00:5e:00:0{1 if spec.family == 4 else 2}:{spec.vrid:02x}")
        for vip in spec.vips:
            self._ip("addr", "add", vip, "dev", dev)
        self._ip("link", "set", "dev", dev, "up")

    def _vrrpd_conf(self) -> str:
        spec = self.spec
        word = "ip" if spec.family == 4 else "ipv6"
        lines = [f"interface {self.node.ifname}", f" vrrp {spec.vrid} version {spec.version}",
                 f" vrrp {spec.vrid} priority {spec.priority}",
                 f" vrrp {spec.vrid} advertisement-interval {round(spec.advert_int * 1000)}"]
        if spec.nopreempt:
            lines.append(f" no vrrp {spec.vrid} preempt")
        lines += [f" vrrp {spec.vrid} {word} {ipaddress.ip_interface(v).ip}" for v in spec.vips]
        return "\n".join(lines) + "\n"

    # -- observing ------------------------------------------------------------------------------
    def router(self) -> dict:
        """vrrpd's view of this virtual router and family: status, stats, primaryAddress..."""
        for router in self.vtysh_json("show vrrp json"):
            if router.get("vrid") == self.spec.vrid:
                return router.get(f"v{self.spec.family}", {})
        return {}

    def status(self) -> str:
        """'Master', 'Backup', 'Initialize' or '' when vrrpd does not answer."""
        return self.router().get("status", "")

    def link_local(self) -> str:
        return self.router().get("primaryAddress", "")

    def crash(self) -> None:
        """SIGKILL vrrpd: adverts stop, the macvlan keeps its VIPs as a crashed router would."""
        self.lab.kill(self.vrrpd)
        self.vrrpd.wait(5)

    def restart(self) -> None:
        self.vrrpd = self.spawn("vrrpd", self._vrrpd_conf())


def wait_status(lab: Lab, frr: FrrVrrp, status: str, timeout: float) -> bool:
    return lab.wait_for(lambda: frr.status() == status, timeout, interval=0.1)
