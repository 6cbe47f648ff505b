"""Wire compatibility with keepalived 2.2.7: its captured adverts are accepted by our receive
path, and ours are byte-identical for the same configuration (tests/data/vectors)."""
from __future__ import annotations

import json
import pathlib

import pytest

from kvrrp.io.ports import AddressSpec, Received
from kvrrp.vrrp import EngineSettings, InstanceSettings
from kvrrp.vrrp.receive import is_multicast
from kvrrp.vrrp.settings import AUTH_PASS, pad_password
from vrrp_lan import FakeLan

VECTORS = [v for v in json.loads((pathlib.Path(__file__).parents[1] / "data" / "vectors" /
                                  "test-vectors.json").read_text())
           if v.get("auth_type", 0) != 2]          # IPSEC-AH is not supported (refused at config time)


def settings_for(v: dict, priority: int, own: str, peer: str) -> InstanceSettings:
    family = v["af"]
    unicast = not is_multicast(v["dst"])
    interval = v["adver_int_s"] if v["version"] == 2 else v["max_adver_int_cs"] / 100
    return InstanceSettings(
        name="VI_1", ifname="eth0", vrid=v["vrid"], family=family, version=v["version"], priority=priority,
        adver_int=interval,
        vips=tuple(AddressSpec(a, 24 if family == 4 else 64, "eth0", family) for a in v["addresses"]),
        auth_type=AUTH_PASS if v.get("auth_type") == 1 else 0,
        auth_pass=pad_password(v["auth_data"]) if v.get("auth_type") == 1 else b"",
        unicast_peers=(peer,) if unicast else (), unicast_src_ip=own if unicast else None)


def _id(v):
    return f"{v['file']}-{v['src']}-prio{v['priority']}"


def test_vectors_present():
    assert len(VECTORS) >= 28


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_keepalived_advert_is_accepted(v):
    me = v["dst"] if not is_multicast(v["dst"]) else ("198.18.0.99" if v["af"] == 4 else "fe80::99")
    s = settings_for(v, 50, me, v["src"])
    lan = FakeLan()
    node = lan.add_node("me", EngineSettings(instances=(s,)), **({"v4": me} if v["af"] == 4 else {"v6": me}))
    payload = bytes.fromhex(v["vrrp_hex"])
    node.engine.on_receive(Received("eth0", v["af"], v["src"], v["dst"], v["ttl_or_hlim"], payload))
    inst = node.engine.instance("VI_1")
    assert inst.stats.drops == {} and node.engine.drops == {}
    assert inst.stats.advert_rcvd == 1
    assert inst.stats.pri_zero_rcvd == (1 if v["priority"] == 0 else 0)


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_our_advert_is_byte_identical(v):
    s = settings_for(v, v["priority"] or 100, v["src"], v["dst"])
    lan = FakeLan()
    node = lan.add_node("me", EngineSettings(instances=(s,)), start=False,
                        **({"v4": v["src"]} if v["af"] == 4 else {"v6": v["src"]}))
    inst = node.engine.instance("VI_1")
    src = s.unicast_src_ip or v["src"]
    assert inst.advert_payload(v["priority"], v["dst"], src).hex() == v["vrrp_hex"]
