"""keepalived-format stats/data dumps and the JSON status."""
from __future__ import annotations

import json

from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp import EngineSettings, InstanceSettings, SyncGroupSettings
import pytest

from kvrrp.vrrp.dump import format_address, format_data, format_stats, keepalived_json, status
from kvrrp.vrrp.settings import AUTH_PASS, pad_password
from vrrp_lan import FakeLan

VIP = AddressSpec("198.18.0.100", 24, "eth0", 4, broadcast="198.18.0.255", label="eth0:1")


def two_nodes():
    lan = FakeLan()
    for name, prio, host in (("a", 200, 1), ("b", 100, 2)):
        conf = EngineSettings(instances=(
            InstanceSettings(name="VI_1", ifname="eth0", vrid=51, priority=prio, vips=(VIP,),
                             auth_type=AUTH_PASS, auth_pass=pad_password("pw"), sync_group="G"),),
            sync_groups=(SyncGroupSettings(name="G", members=("VI_1",)),))
        lan.add_node(name, conf, v4=f"198.18.0.{host}")
    lan.run_for(10.5)
    return lan


def test_stats_dump_matches_keepalived_format():
    lan = two_nodes()
    b = lan.nodes["b"].engine
    from kvrrp import fastpath
    from kvrrp.io.ports import Received
    bad = fastpath.encode_advert(2, 51, 200, [bytes([198, 18, 0, 100])], 1, auth_type=1, auth_data=pad_password("x"))
    b.on_receive(Received("eth0", 4, "198.18.0.1", "224.0.0.18", 255, bad))
    b.on_receive(Received("eth0", 4, "198.18.0.1", "224.0.0.18", 64, bad))
    received = b.instance("VI_1").stats.advert_rcvd
    assert received == 8          # a became master at 1003.415 and adverted every second to 1010.415
    assert format_stats(b) == (
        "VRRP Instance: VI_1\n"
        "  Advertisements:\n"
        f"    Received: {received}\n"
        "    Sent: 0\n"
        "  Became master: 0\n"
        "  Released master: 0\n"
        "  Packet Errors:\n"
        "    Length: 0\n"
        "    TTL: 1\n"
        "    Invalid Type: 0\n"
        "    Advertisement Interval: 0\n"
        "    Address List: 0\n"
        "  Authentication Errors:\n"
        "    Invalid Type: 0\n"
        "    Type Mismatch: 0\n"
        "    Failure: 1\n"
        "  Priority Zero:\n"
        "    Received: 0\n"
        "    Sent: 0\n")


def test_data_dump_lines():
    lan = two_nodes()
    a = lan.nodes["a"].engine
    b = lan.nodes["b"].engine
    text_a = format_data(a, wall_now=1_700_000_000.0, mono_now=lan.clock.t)
    text_b = format_data(b, wall_now=1_700_000_000.0, mono_now=lan.clock.t)
    for line in ("------< VRRP Topology >------", " VRRP Instance = VI_1", "   VRRP Version = 2",
                 "   Sync group = G", "   State = MASTER", "   Flags: none", "   Interface = eth0",
                 "   Using src_ip = 198.18.0.1", "   Multicast address 224.0.0.18",
                 "   Gratuitous ARP delay = 5", "   Gratuitous ARP repeat = 5", "   Down timer adverts = 3",
                 "   Virtual Router ID = 51", "   Priority = 200", "   Effective priority = 200",
                 "   Advert interval = 1 sec", "   Preempt = enabled", "   Authentication type = SIMPLE_PASSWORD",
                 "   Password = ********", "   Virtual IP (1):",
                 "     198.18.0.100/24 brd 198.18.0.255 dev eth0 scope global label eth0:1",
                 "------< VRRP Sync groups >------", " VRRP Sync Group = G, MASTER",
                 "   VRRP member instances :", "     VI_1"):
        assert line + "\n" in text_a, line
    assert "   Master router = 198.18.0.1\n" in text_b
    assert "   Master priority = 200\n" in text_b
    assert "   State = BACKUP\n" in text_b
    assert "   Master down timer = 3609375 usecs\n" in text_b
    assert "pw" not in text_a


def test_format_address_options():
    assert format_address(AddressSpec("2001:db8::1", 64, "eth1", 6, scope="link", nodad=True)) == \
        "2001:db8::1/64 dev eth1 scope link -nodad"


def test_status_is_json_and_complete():
    lan = two_nodes()
    st = status(lan.nodes["a"].engine)
    text = json.dumps(st)
    back = json.loads(text)
    inst = back["instances"][0]
    assert inst["data"]["iname"] == "VI_1" and inst["data"]["state"] == "MASTER"
    assert inst["data"]["vipset"] is True and inst["stats"]["become_master"] == 1
    assert inst["stats"]["advert_sent"] >= 7
    assert back["sync_groups"] == [{"name": "G", "state": "MASTER", "members": ["VI_1"]}]
    assert back["fastpath"] in ("cython", "python")


def test_keepalived_json_schema_and_state_numbers():
    lan = two_nodes()
    arr = keepalived_json(lan.nodes["b"].engine, wall_now=1_700_000_000.0, mono_now=lan.clock.t)
    json.dumps(arr)
    (entry,) = arr
    d, st = entry["data"], entry["stats"]
    assert d["iname"] == "VI_1" and d["state"] == 1 and d["wantstate"] == 1 and d["master_priority"] == 200
    assert d["vrid"] == 51 and d["base_priority"] == 100 and d["auth_type"] == 1 and d["vipset"] is False
    assert d["last_transition"] == pytest.approx(1_700_000_000.0 - 10.5)
    assert st["advert_rcvd"] == 8 and set(st) >= {"pri_zero_sent", "auth_failure", "addr_list_err"}
    a = keepalived_json(lan.nodes["a"].engine)[0]["data"]
    assert a["state"] == 2 and a["vipset"] is True


def test_stats_clear():
    lan = two_nodes()
    b = lan.nodes["b"].engine
    assert "Received: 8" in format_stats(b, clear=True)
    assert "Received: 0" in format_stats(b)
