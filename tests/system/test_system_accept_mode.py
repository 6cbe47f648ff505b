"""no_accept / strict mode on real daemons: a master that is not the address owner drops
traffic to its VIPs with the same nftables tables keepalived 2.2.7 builds (compared rule by
rule with keepalived's in the same lab), a master with `accept` serves it, the rules follow the
master role, and they go when the daemon stops."""
from __future__ import annotations

import json
import socket
import sys
import time

import pytest

from kvrrp.io.netns import entered
from kvrrp.lab import Lab, VrrpSpec, render_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

VIP = "198.18.0.200"
PORT = 8080
WAIT = 10.0
SERVER = ("import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          f"s.bind(('0.0.0.0', {PORT}))\ns.listen(16)\n"
          "while True:\n    c, _ = s.accept()\n    c.sendall(b'hello')\n    c.close()\n")


def ruleset(lab: Lab, node) -> list[dict]:  # noqa: ANN001
    """`nft -j list ruleset` without handles: what the tables say, not when they were made."""
    out = json.loads(lab.run(node, ["nft", "-j", "list", "ruleset"]).stdout)["nftables"]
    items = []
    for item in out:
        if "metainfo" in item:
            continue
        (kind, body), = item.items()
        items.append({kind: {k: v for k, v in body.items() if k != "handle"}})
    return items


def reachable(lab: Lab, address: str = VIP) -> bool:
    with entered(lab.client_node.netns):
        try:
            with socket.create_connection((address, PORT), timeout=0.5) as conn:
                return conn.recv(5) == b"hello"
        except OSError:
            return False


@pytest.mark.keepalived
@pytest.mark.parametrize("vips", [("198.18.0.200/24",), ("fe80::5:200/64", "2001:2::5:200/64")],
                         ids=["ipv4", "ipv6"])
def test_tables_are_keepalived_s(vips: tuple[str, ...]) -> None:
    family = 6 if ":" in vips[0] else 4
    check = vips[-1].split("/")[0]
    spec = VrrpSpec(priority=150, version=3, advert_int=0.1, family=family, vips=vips)
    seen = {}
    for impl in ("keepalived", "kvrrp"):
        with Lab(nodes=1, prefix="kvnft") as lab:
            n1 = lab.nodes[0]
            start = lab.start_keepalived if impl == "keepalived" else lab.start_kvrrp
            daemon = start(n1, render_config([spec], ["vrrp_strict"]))
            assert lab.wait_for(lambda: check in lab.addresses(n1), WAIT), daemon.log()
            assert lab.wait_for(lambda: len(ruleset(lab, n1)) > 3, WAIT), daemon.log()
            time.sleep(0.5)
            seen[impl] = ruleset(lab, n1)
            daemon.stop()
            if impl == "kvrrp":
                assert ruleset(lab, n1) == [], "kvrrp left its tables behind at exit"
    assert seen["kvrrp"] == seen["keepalived"]


def test_no_accept_master_drops_vip_traffic_and_an_accepting_one_serves_it() -> None:
    with Lab(nodes=2, prefix="kvacc") as lab:
        n1, n2 = lab.nodes
        for node in (n1, n2):
            lab.spawn(node, [sys.executable, "-c", SERVER])
        strict = VrrpSpec(priority=150, version=3, advert_int=0.1)
        accepting = VrrpSpec(priority=100, version=3, advert_int=0.1, extra=("accept",))
        d1 = lab.start_kvrrp(n1, render_config([strict], ["vrrp_strict"]))
        d2 = lab.start_kvrrp(n2, render_config([accepting], ["vrrp_strict"]))
        assert lab.wait_for(lambda: lab.holders(VIP) == [n1], WAIT), d1.log()
        assert lab.wait_for(lambda: reachable(lab, n1.ipv4), WAIT)      # the node itself answers
        assert not reachable(lab)                                      # its VIP does not: no_accept
        assert "198.18.0.200" in lab.run(n1, ["nft", "list", "set", "ip", "keepalived", "vips"]).stdout
        d1.crash()                      # leaves its VIP and table behind, as a crash does
        assert lab.wait_for(lambda: d2.transitions()[-1:] == ["MASTER"] and VIP in lab.addresses(n2),
                            WAIT), d2.log()
        assert lab.wait_for(lambda: reachable(lab), WAIT)               # accept: the VIP serves
        assert lab.run(n2, ["nft", "list", "tables"]).stdout.strip() == ""
        # the crashed node's leftovers: a restart clears the old table and follows its new role
        d1 = lab.start_kvrrp(n1, render_config([strict], ["vrrp_strict"]), tag="kvrrp-n1-again")
        assert lab.wait_for(lambda: lab.holders(VIP) == [n1], WAIT), d1.log()
        assert lab.wait_for(lambda: not reachable(lab), WAIT)
        d1.stop()                       # SIGTERM: VIP released to n2, tables removed
        assert lab.wait_for(lambda: reachable(lab), WAIT)
        assert lab.run(n1, ["nft", "list", "tables"]).stdout.strip() == ""
