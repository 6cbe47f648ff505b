"""auth_hmac between real kvrrp daemons in kvrrp.lab namespaces: two nodes sharing a key elect
one master over signed adverts; a third node with a wrong key (and a higher priority) is dropped
by both (auth_ext_invalid_hmac) and cannot take the mastership from them. keepalived 2.2.7 (the
installed baseline) has no auth_hmac, so there is no interop test with keepalived."""
from __future__ import annotations

import json
import os
import signal

import pytest

from kvrrp.lab import Lab, VrrpSpec, render_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

VIP = "198.18.0.200"
WAIT = 10.0
KEY = "hex:" + bytes(range(32)).hex()
WRONG = "hex:" + bytes(range(1, 33)).hex()


def hmac_lines(key: str) -> tuple[str, ...]:
    return ("auth_hmac {", f"    key 3 {key}", "    active_key 3", "}")


@pytest.fixture
def lab():
    with Lab(nodes=3, prefix="kvhmac") as built:
        yield built


def status(lab: Lab, daemon) -> dict:  # noqa: ANN001
    path = os.path.join(lab.workdir, f"{daemon.node.name}.json")
    if os.path.exists(path):
        os.unlink(path)
    daemon.signal(signal.SIGRTMIN + 2)
    assert lab.wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0, WAIT), daemon.log()[-2000:]
    with open(path) as fh:
        return json.load(fh)


def test_signed_pair_elects_one_master_and_a_wrong_key_cannot_take_over(lab: Lab) -> None:
    n1, n2, n3 = lab.nodes

    def start(node, prio, key):  # noqa: ANN001, ANN202
        spec = VrrpSpec(priority=prio, version=3, advert_int=0.1, extra=hmac_lines(key))
        return lab.start_kvrrp(node, render_config([spec], [f"json_dump_file {lab.workdir}/{node.name}.json"]))

    d1, d2 = start(n1, 150, KEY), start(n2, 100, KEY)
    both = lambda: d1.transitions()[-1:] == ["MASTER"] and d2.transitions()[-1:] == ["BACKUP"]  # noqa: E731
    assert lab.wait_for(lambda: lab.holders(VIP) == [n1] and both(), WAIT), d1.log() + d2.log()
    # the backup heard the signed adverts, through Python (no C fast path with auth_hmac)
    assert lab.wait_for(lambda: status(lab, d2)["instances"][0]["stats"]["advert_rcvd"] >= 20, WAIT)
    backup = status(lab, d2)
    assert not any(k.startswith("auth_ext") for k in backup["instances"][0]["stats"]["drops"]), backup
    assert backup["sockets"]["eth0/v4"].get("fast_path", 0) == 0, backup["sockets"]

    d3 = start(n3, 250, WRONG)
    seen1, seen2 = len(d1.transitions()), len(d2.transitions())

    def wrong_key_dropped() -> bool:
        return all(status(lab, d)["instances"][0]["stats"]["drops"].get("auth_ext_invalid_hmac", 0) >= 20
                   for d in (d1, d2))

    assert lab.wait_for(wrong_key_dropped, WAIT), d1.log()[-2000:]
    # n3 hears no valid master and holds the VIP itself, but n1 and n2 never move
    assert lab.wait_for(lambda: d3.transitions()[-1:] == ["MASTER"], WAIT), d3.log()
    assert status(lab, d3)["instances"][0]["stats"]["drops"].get("auth_ext_invalid_hmac", 0) > 0
    assert d1.transitions()[seen1:] == [] and d2.transitions()[seen2:] == []
    assert n1 in lab.holders(VIP) and n2 not in lab.holders(VIP)
