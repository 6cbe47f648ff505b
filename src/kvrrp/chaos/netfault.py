"""Packet loss and partitions on a lab node with nftables (netem does not work here).

Each node gets its own table `kvrrp_chaos` in its own namespace: `loss()` drops that share of
incoming and outgoing VRRP (`numgen random mod 1000 < N`), `partition()` drops VRRP from and
to the given peers, `heal()` deletes the table. Only ever inside a lab namespace.
"""
from __future__ import annotations

import subprocess
from typing import Iterable

TABLE = "kvrrp_chaos"


def _nft(netns: str, script: str) -> None:
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script, text=True,
                   check=True, capture_output=True)


def heal(netns: str) -> None:
    subprocess.run(["ip", "netns", "exec", netns, "nft", "delete", "table", "inet", TABLE],
                   capture_output=True, text=True)


def _table(rules: list[str]) -> str:
    body = "\n".join(f"    {r}" for r in rules)
    return (f"table inet {TABLE} {{\n"
            f"  chain input {{\n    type filter hook input priority -10; policy accept;\n{body}\n  }}\n"
            f"  chain output {{\n    type filter hook output priority -10; policy accept;\n{body}\n  }}\n"
            "}\n")


def loss(netns: str, share: float) -> None:
    """Drop `share` (0..1) of the VRRP packets in and out of the node, at random."""
    heal(netns)
    n = int(round(share * 1000))
    if n <= 0:
        return
    _nft(netns, _table([f"meta l4proto 112 numgen random mod 1000 < {n} counter drop"]))


def partition(netns: str, peers: Iterable[str]) -> None:
    """Drop every VRRP packet from or to these peer addresses. Multicast adverts carry no peer
    destination: partition both sides (each naming the other) for a symmetric cut."""
    heal(netns)
    peers = sorted(set(peers))
    if not peers:
        return
    addrs = ", ".join(peers)
    _nft(netns, _table([f"meta l4proto 112 ip saddr {{ {addrs} }} counter drop",
                        f"meta l4proto 112 ip daddr {{ {addrs} }} counter drop"]))


def isolate(netns: str) -> None:
    """Drop every VRRP packet in and out of the node (a full partition from its peers)."""
    heal(netns)
    _nft(netns, _table(["meta l4proto 112 counter drop"]))
