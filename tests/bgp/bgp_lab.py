"""FRR bgpd in lab nodes: an upstream router (zebra + bgpd, ECMP) and directors (bgpd without
zebra, driven by kvrrp through vtysh), plus a tiny TCP responder standing in for a service.

The daemons run on kvrrp.lab.frr.FrrDaemons: in the foreground as processes the lab spawned
(killed by PID at the lab's close), each node with its own vty socket directory. Timers are
short so the tier is fast: keepalive 1 s, hold 3 s, advertisement-interval 0.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from kvrrp.lab import Lab, Node
from kvrrp.lab.frr import FrrDaemons

ROUTER_ASN = 65000
DIRECTOR_ASN = 65100

RESPONDER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(128)
name = sys.argv[3].encode() + b"\n"
while True:
    c, _ = s.accept()
    try:
        c.sendall(name)
    finally:
        c.close()
"""


class Frr(FrrDaemons):
    """bgpd (and zebra when `with_zebra`) in `node` with the given bgpd configuration."""

    def __init__(self, lab: Lab, node: Node, bgpd_conf: str, with_zebra: bool) -> None:
        super().__init__(lab, node, "bgp")
        self.zebra = self.start_zebra() if with_zebra else None
        self.conf = bgpd_conf
        self.bgpd = self.spawn("bgpd", bgpd_conf, *([] if with_zebra else ["-Z"]))
        self.wait_for(lambda: os.path.exists(self.path("bgpd.vty")), "bgpd vty socket")

    def kill(self) -> None:
        for proc in (self.bgpd, self.zebra):
            if proc is not None:
                self.lab.kill(proc)
                proc.wait(5)


def router_conf(router: Node, directors: list[Node]) -> str:
    lines = ["router bgp %d" % ROUTER_ASN, f" bgp router-id {router.ipv4}", " no bgp ebgp-requires-policy",
             " timers bgp 1 3"]
    for d in directors:
        lines += [f" neighbor {d.ipv4} remote-as {DIRECTOR_ASN}", f" neighbor {d.ipv4} advertisement-interval 0"]
    lines += [" address-family ipv4 unicast", "  maximum-paths 8", " exit-address-family"]
    return "\n".join(lines) + "\n"


def director_conf(director: Node, router: Node) -> str:
    return "\n".join([
        f"router bgp {DIRECTOR_ASN}", f" bgp router-id {director.ipv4}", " no bgp ebgp-requires-policy",
        " no bgp network import-check", " timers bgp 1 3",
        f" neighbor {router.ipv4} remote-as {ROUTER_ASN}", f" neighbor {router.ipv4} advertisement-interval 0",
    ]) + "\n"


def director_head(node: Node, vty_dir: str, *bgp_lines: str) -> str:
    """A lab director's global_defs and kvrrp_bgp block (ASN 65100, bgpd's vty socket, no IPVS
    tables), with `bgp_lines` added to the kvrrp_bgp block."""
    extra = "".join(f"    {line}\n" for line in bgp_lines)
    return f"""
global_defs {{
    router_id {node.name}
}}
kvrrp_bgp {{
    asn 65100
    vty_socket {vty_dir}
    ipvs off
{extra}}}
"""


def anycast_service(address: str, port: int) -> str:
    """The labs' anycast virtual server: the director itself as its one real server (the
    address on lo, a TCP responder), TCP_CHECK every 0.2 s, announced while it has quorum."""
    return f"""virtual_server {address} {port} {{
    delay_loop 0.2
    lvs_sched mh
    lvs_method DR
    protocol TCP
    alpha
    kvrrp_announce
    real_server {address} {port} {{
        TCP_CHECK {{
            connect_timeout 0.3
            retry 0
            delay_before_retry 0.1
        }}
    }}
}}
"""


def set_sysctl(lab: Lab, node: Node, key: str, value: str) -> None:
    lab.run(node, ["sysctl", "-qw", f"{key}={value}"])


def next_hops(lab: Lab, router: Node, prefix: str) -> set[str]:
    """Gateways of `prefix` in the router's kernel table (one per ECMP path)."""
    out = lab.run(router, ["ip", "-j", "route", "show", "exact", prefix], check=False).stdout
    try:
        routes = json.loads(out or "[]")
    except json.JSONDecodeError:
        return set()
    hops: set[str] = set()
    for r in routes:
        if "gateway" in r:
            hops.add(r["gateway"])
        for nh in r.get("nexthops", []):
            if "gateway" in nh:
                hops.add(nh["gateway"])
    return hops


def route_table(lab: Lab, router: Node) -> dict[str, set[str]]:
    """Every /32 of the router's kernel table -> its gateways (one read for many VIPs)."""
    out = lab.run(router, ["ip", "-j", "route", "show"], check=False).stdout
    try:
        routes = json.loads(out or "[]")
    except json.JSONDecodeError:
        return {}
    table: dict[str, set[str]] = {}
    for r in routes:
        hops = {r["gateway"]} if "gateway" in r else set()
        hops |= {nh["gateway"] for nh in r.get("nexthops", []) if "gateway" in nh}
        table[r.get("dst", "")] = hops
    return table


def start_responder(lab: Lab, node: Node, address: str, port: int) -> subprocess.Popen:
    return lab.spawn(node, [sys.executable, "-c", RESPONDER, address, str(port), node.name],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
