"""FRR daemons inside a lab node: the common part of the FRR peers in the interop, BFD and BGP
tiers (vrrpd, bfdd, bgpd).

Each FrrDaemons owns a private directory for the daemons' configs, pid files, logs, vty sockets
and zebra's zserv socket. The daemons run in the foreground as processes the lab spawned (killed
by PID at the lab's close) and are read through `vtysh --vty_socket <dir>`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Callable

from kvrrp.lab.network import Lab, Node

FRR_LIBEXEC = "/usr/lib/frr"


class FrrDaemons:
    """FRR daemons in `node` sharing one directory; `tag` names that directory (e.g. "frrbfd")."""

    def __init__(self, lab: Lab, node: Node, tag: str) -> None:
        self.lab, self.node = lab, node
        self.dir = tempfile.mkdtemp(prefix=f"{lab.id}-{tag}-{node.name}-")
        os.chmod(self.dir, 0o777)          # the daemons drop to user frr
        lab._closers.append(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.started: list[str] = []       # daemon names in start order, for log()

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def spawn(self, daemon: str, conf_text: str, *extra: str) -> subprocess.Popen:
        """Write `<daemon>.conf` and start /usr/lib/frr/<daemon> in the foreground with its
        pid file, log, zserv path and vty sockets in this directory."""
        conf = self.path(f"{daemon}.conf")
        with open(conf, "w") as fh:
            fh.write(conf_text)
        argv = [f"{FRR_LIBEXEC}/{daemon}", "-f", conf, "-i", self.path(f"{daemon}.pid"),
                "-z", self.path("zserv.api"), "--vty_socket", self.dir,
                "--log", f"file:{self.path(daemon + '.log')}", *extra]
        if daemon not in self.started:
            self.started.append(daemon)
        return self.lab.spawn(self.node, argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_zebra(self) -> subprocess.Popen:
        """zebra, returned once its zserv socket exists (the other daemons connect to it)."""
        zebra = self.spawn("zebra", "")
        self.wait_for(lambda: os.path.exists(self.path("zserv.api")), "zebra's zserv socket")
        return zebra

    def wait_for(self, predicate: Callable[[], object], what: str, timeout: float = 15.0) -> None:
        if not self.lab.wait_for(predicate, timeout):
            raise RuntimeError(f"FRR in {self.node.name}: no {what} after {timeout:g} s\n{self.log()}")

    def vtysh(self, *commands: str) -> str:
        """vtysh's output for `commands` (empty when no daemon answers)."""
        argv = ["vtysh", "--vty_socket", self.dir]
        for command in commands:
            argv += ["-c", command]
        return self.lab.run(self.node, argv, check=False, timeout=10).stdout

    def vtysh_json(self, command: str) -> list | dict:
        """A `... json` show command's answer, [] when the daemon is not (yet) answering."""
        try:
            return json.loads(self.vtysh(command) or "[]")
        except json.JSONDecodeError:
            return []

    def log(self) -> str:
        """The tail of each started daemon's log, for failure messages."""
        text = []
        for daemon in self.started:
            try:
                with open(self.path(f"{daemon}.log"), errors="replace") as fh:
                    text.append(f"--- FRR {daemon} on {self.node.name} ---\n{fh.read()[-3000:]}")
            except FileNotFoundError:
                pass
        return "\n".join(text)
