"""FRR's bfdd (with the zebra it needs) as a BFD peer inside a lab node.

Runs on kvrrp.lab.frr.FrrDaemons like frr_peer.FrrVrrp: foreground daemons the lab spawned
(killed by PID at the lab's close), a private directory for the vty sockets, zserv and the bfdd
control socket; the session is read with `vtysh -c 'show bfd peers json'`.
"""
from __future__ import annotations

from kvrrp.lab import Lab, Node
from kvrrp.lab.frr import FrrDaemons


class FrrBfd(FrrDaemons):
    """zebra + bfdd in `node` with one single-hop peer `neighbor` (timers in ms)."""

    def __init__(self, lab: Lab, node: Node, neighbor: str, *, rx_ms: int = 100, tx_ms: int = 100,
                 multiplier: int = 3, passive: bool = False, local: str | None = None) -> None:
        super().__init__(lab, node, "frrbfd")
        self.neighbor = neighbor
        self.local = local or node.ipv4
        self.rx_ms, self.tx_ms, self.multiplier, self.passive = rx_ms, tx_ms, multiplier, passive
        self.zebra = self.start_zebra()
        self.bfdd = self.spawn("bfdd", self._conf(), "--bfdctl", self.path("bfdd.sock"))

    def _conf(self) -> str:
        lines = ["bfd", f" peer {self.neighbor} local-address {self.local} interface {self.node.ifname}",
                 f"  receive-interval {self.rx_ms}", f"  transmit-interval {self.tx_ms}",
                 f"  detect-multiplier {self.multiplier}"]
        if self.passive:
            lines.append("  passive-mode")
        lines += [" !", "!"]
        return "\n".join(lines) + "\n"

    def peer(self) -> dict:
        """bfdd's view of the session: status ('up', 'down', 'init'), diagnostic, timers..."""
        for p in self.vtysh_json("show bfd peers json"):
            if p.get("peer") == self.neighbor:
                return p
        return {}

    def status(self) -> str:
        return self.peer().get("status", "")
