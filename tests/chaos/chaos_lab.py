"""Shared helpers of the chaos tier: daemons with a status port on a lab LAN."""
from __future__ import annotations

import time
from dataclasses import dataclass

from kvrrp.chaos import observe
from kvrrp.lab import Daemon, Lab, Node, VrrpSpec, render_config

VIP = "198.18.0.200"
WAIT = 60.0   # generous: the tier shares two cores; every wait returns as soon as it holds


@dataclass
class Running:
    daemon: Daemon
    node: Node
    port: int

    def status(self) -> dict | None:
        return observe.try_status(self.node.netns, self.port)

    def counters(self) -> dict:
        st = self.status()
        assert st is not None, self.daemon.log()[-3000:]
        return observe.counters(st)


def start(lab: Lab, node: Node, specs: list[VrrpSpec], args=(), global_lines=(), text: str | None = None,  # noqa: ANN001
          tag: str | None = None) -> Running:
    port = observe.free_port(node.netns)
    conf = text if text is not None else render_config(specs, list(global_lines))
    d = lab.start_kvrrp(node, conf, args=["--status-port", str(port), *args], tag=tag)
    r = Running(d, node, port)
    assert lab.wait_for(lambda: r.status() is not None or not d.alive(), WAIT), d.log()
    assert d.alive(), d.log()
    return r


def converged_single_holder(lab: Lab, address: str = VIP, timeout: float = WAIT) -> list:
    """Wait until exactly one node holds address; return the holders seen last."""
    holders: list = []

    def one() -> bool:
        nonlocal holders
        holders = lab.holders(address)
        return len(holders) == 1

    lab.wait_for(one, timeout)
    return holders


def no_bad_lines(*daemons: Daemon) -> None:
    for d in daemons:
        bad = observe.bad_log_lines(d.log())
        assert not bad, bad[:5]


def settle(seconds: float) -> None:
    time.sleep(seconds)
