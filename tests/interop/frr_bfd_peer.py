"""FRR's bfdd (with the zebra it needs) as a BFD peer inside a lab node.

Runs like frr_peer.FrrVrrp: foreground daemons the lab spawned (killed by PID at the lab's
close), a private directory for the vty sockets, zserv and the bfdd control socket; the
session is read with `vtysh -c 'show bfd peers json'`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

from kvrrp.lab import Lab, Node

FRR_LIBEXEC = "/usr/lib/frr"


class FrrBfd:
    """zebra + bfdd in `node` with one single-hop peer `neighbor` (timers in ms)."""

    def __init__(self, lab: Lab, node: Node, neighbor: str, *, rx_ms: int = 100, tx_ms: int = 100,
                 multiplier: int = 3, passive: bool = False, local: str | None = None) -> None:
        self.lab, self.node, self.neighbor = lab, node, neighbor
        self.local = local or node.ipv4
        self.rx_ms, self.tx_ms, self.multiplier, self.passive = rx_ms, tx_ms, multiplier, passive
        self.dir = tempfile.mkdtemp(prefix=f"{lab.id}-frrbfd-{node.name}-")
        os.chmod(self.dir, 0o777)          # the daemons drop to user frr
        lab._closers.append(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.zebra = self._spawn("zebra", "")
        if not lab.wait_for(lambda: os.path.exists(self._path("zserv.api")), 15):
            raise RuntimeError(f"FRR zebra in {node.name} did not start\n{self.log()}")
        self.bfdd = self._spawn("bfdd", self._conf(), "--bfdctl", self._path("bfdd.sock"))

    def _path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def _conf(self) -> str:
        lines = ["bfd", f" peer {self.neighbor} local-address {self.local} interface {self.node.ifname}",
                 f"  receive-interval {self.rx_ms}", f"  transmit-interval {self.tx_ms}",
                 f"  detect-multiplier {self.multiplier}"]
        if self.passive:
            lines.append("  passive-mode")
        lines += [" !", "!"]
        return "\n".join(lines) + "\n"

    def _spawn(self, daemon: str, conf_text: str, *extra: str) -> subprocess.Popen:
        conf = self._path(f"{daemon}.conf")
        with open(conf, "w") as fh:
            fh.write(conf_text)
        argv = [f"{FRR_LIBEXEC}/{daemon}", "-f", conf, "-i", self._path(f"{daemon}.pid"),
                "-z", self._path("zserv.api"), "--vty_socket", self.dir,
                "--log", f"file:{self._path(daemon + '.log')}", *extra]
        return self.lab.spawn(self.node, argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def peer(self) -> dict:
        """bfdd's view of the session: status ('up', 'down', 'init'), diagnostic, timers..."""
        out = subprocess.run(self.lab.command(self.node, ["vtysh", "--vty_socket", self.dir, "-c",
                                                          "show bfd peers json"]),
                             capture_output=True, text=True, timeout=10)
        try:
            peers = json.loads(out.stdout or "[]")
        except json.JSONDecodeError:
            return {}
        for p in peers:
            if p.get("peer") == self.neighbor:
                return p
        return {}

    def status(self) -> str:
        return self.peer().get("status", "")

    def log(self) -> str:
        text = []
        for daemon in ("zebra", "bfdd"):
            try:
                with open(self._path(f"{daemon}.log"), errors="replace") as fh:
                    text.append(f"--- FRR {daemon} on {self.node.name} ---\n{fh.read()[-2500:]}")
            except FileNotFoundError:
                pass
        return "\n".join(text)
