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
import json
import os
import shutil
import subprocess
import tempfile

from kvrrp.lab import Lab, Node, VrrpSpec

FRR_LIBEXEC = "/usr/lib/frr"


class FrrVrrp:
    """zebra + vrrpd in `node` running one virtual router (`spec`: vrid, priority, version,
    advert_int, family, vips)."""

    def __init__(self, lab: Lab, node: Node, spec: VrrpSpec) -> None:
        self.lab, self.node, self.spec = lab, node, spec
        self.kind = "frr"
        # vrrpd drops to user frr: its files live in a directory that user can reach
        self.dir = tempfile.mkdtemp(prefix=f"{lab.id}-frr-{node.name}-")
        os.chmod(self.dir, 0o777)
        lab._closers.append(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.macvlan = f"vrrp{spec.family}-{spec.vrid}"
        self._make_macvlan()
        self.zebra = self._spawn("zebra", "")
        self._wait_for(lambda: os.path.exists(self._path("zserv.api")), "zebra's zserv socket")
        self.vrrpd = self._spawn("vrrpd", self._vrrpd_conf())

    # -- set-up ---------------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        return os.path.join(self.dir, name)

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

    def _spawn(self, daemon: str, conf_text: str):  # noqa: ANN202 - subprocess.Popen
        conf = self._path(f"{daemon}.conf")
        with open(conf, "w") as fh:
            fh.write(conf_text)
        argv = [f"{FRR_LIBEXEC}/{daemon}", "-f", conf, "-i", self._path(f"{daemon}.pid"),
                "-z", self._path("zserv.api"), "--vty_socket", self.dir,
                "--log", f"file:{self._path(daemon + '.log')}"]
        return self.lab.spawn(self.node, argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _wait_for(self, predicate, what: str, timeout: float = 15.0) -> None:  # noqa: ANN001
        if not self.lab.wait_for(predicate, timeout):
            raise RuntimeError(f"FRR in {self.node.name}: no {what} after {timeout:g} s\n{self.log()}")

    # -- observing ------------------------------------------------------------------------------
    def router(self) -> dict:
        """vrrpd's view of this virtual router and family: status, stats, primaryAddress..."""
        out = subprocess.run(self.lab.command(self.node, ["vtysh", "--vty_socket", self.dir, "-c",
                                                          "show vrrp json"]),
                             capture_output=True, text=True, timeout=10)
        try:
            routers = json.loads(out.stdout or "[]")
        except json.JSONDecodeError:
            return {}
        for router in routers:
            if router.get("vrid") == self.spec.vrid:
                return router.get(f"v{self.spec.family}", {})
        return {}

    def status(self) -> str:
        """'Master', 'Backup', 'Initialize' or '' when vrrpd does not answer."""
        return self.router().get("status", "")

    def link_local(self) -> str:
        return self.router().get("primaryAddress", "")

    def log(self) -> str:
        text = []
        for daemon in ("zebra", "vrrpd"):
            try:
                with open(self._path(f"{daemon}.log"), errors="replace") as fh:
                    text.append(f"--- FRR {daemon} on {self.node.name} ---\n{fh.read()[-2500:]}")
            except FileNotFoundError:
                pass
        return "\n".join(text)

    def crash(self) -> None:
        """SIGKILL vrrpd: adverts stop, the macvlan keeps its VIPs as a crashed router would."""
        self.lab.kill(self.vrrpd)
        self.vrrpd.wait(5)

    def restart(self) -> None:
        self.vrrpd = self._spawn("vrrpd", self._vrrpd_conf())


def wait_status(lab: Lab, frr: FrrVrrp, status: str, timeout: float) -> bool:
    return lab.wait_for(lambda: frr.status() == status, timeout, interval=0.1)
