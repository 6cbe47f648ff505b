"""auth_hmac through the engine on the in-memory LAN: signed adverts elect one master, a node
with a wrong key is dropped (auth_ext_invalid_hmac) and cannot take over, the trailer is on the
wire (IPv4: checksum over the PDU; IPv6: over PDU and trailer, as keepalived's kernel does),
migration modes interwork with nodes without auth_hmac."""
from __future__ import annotations

import ipaddress

import pytest

from kvrrp import fastpath
from kvrrp.config.model import AuthHmac
from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp import EngineSettings, InstanceSettings
from kvrrp.vrrp.auth_hmac import TRAILER_LEN
from vrrp_lan import FakeLan

KEY = bytes(range(32))
WRONG = bytes(range(1, 33))


def hm(key=KEY, kid=1, mode="enforce"):
    return AuthHmac(keys=((kid, key),), active_key=kid, time_window=5, mode=mode)


def node_conf(prio, family, auth):
    vip = ("198.18.0.100", 24) if family == 4 else ("fd00::100", 64)
    inst = InstanceSettings(name="VI_1", ifname="eth0", vrid=51, priority=prio, family=family,
                            version=3 if family == 6 else 2, vips=(AddressSpec(vip[0], vip[1], "eth0", family),),
                            auth_hmac=auth)
    return EngineSettings(instances=(inst,), sync_groups=())


def lan_with(family, specs):
    lan = FakeLan()
    for i, (prio, auth) in enumerate(specs, start=1):
        lan.add_node(f"n{i}", node_conf(prio, family, auth), v4=f"198.18.0.{i}", v6=f"fe80::{i}")
    return lan


def drops(lan, name):
    return lan.nodes[name].engine.instance("VI_1").stats.drops


@pytest.mark.parametrize("family", [4, 6])
def test_signed_pair_elects_one_master_and_wrong_key_cannot_take_over(family):
    lan = lan_with(family, [(150, hm()), (100, hm())])
    lan.run_for(10)
    assert lan.masters() == ["n1"] and lan.nodes["n2"].state() == "BACKUP"
    assert not drops(lan, "n2")
    pkt = [p for p in lan.wire if p.node == "n1"][-1]
    pdu_len = 8 + (4 if family == 4 else 16) + (8 if family == 4 else 0)
    assert len(pkt.payload) == pdu_len + TRAILER_LEN and pkt.payload[pdu_len] == 1
    if family == 4:
        assert fastpath.inet_checksum(pkt.payload[:pdu_len]) == 0
    else:
        pseudo = fastpath.pseudo_sum_ipv6(ipaddress.ip_address(pkt.src).packed,
                                          ipaddress.ip_address(pkt.dst).packed, len(pkt.payload))
        assert fastpath.inet_checksum(pkt.payload, pseudo) == 0
    # a third node, higher priority, wrong key
    lan.add_node("n3", node_conf(250, family, hm(WRONG)), v4="198.18.0.3", v6="fe80::3")
    lan.run_for(10)
    assert lan.nodes["n1"].state() == "MASTER" and lan.nodes["n2"].state() == "BACKUP"
    assert drops(lan, "n1").get("auth_ext_invalid_hmac", 0) > 5
    assert drops(lan, "n2").get("auth_ext_invalid_hmac", 0) > 5
    assert drops(lan, "n3").get("auth_ext_invalid_hmac", 0) > 5
    # the master dies: the signed backup takes over, the wrong-key node still cannot displace it
    lan.kill("n1")
    lan.run_for(10)
    assert lan.nodes["n2"].state() == "MASTER"


def test_unknown_key_and_missing_trailer_are_named_drops():
    lan = lan_with(4, [(150, hm(kid=2)), (100, hm(kid=1)), (120, None)])
    lan.run_for(10)
    assert drops(lan, "n2").get("auth_ext_unknown_key", 0) > 5
    assert drops(lan, "n2").get("auth_ext_missing", 0) > 0 or drops(lan, "n1").get("auth_ext_missing", 0) > 0


def test_migration_modes_accept_unsigned_peers():
    # permissive signs and accepts unsigned; the unsigned node sees a longer packet and drops it
    # as keepalived without auth_hmac would (packet_length), so the permissive node must win
    lan = lan_with(4, [(150, hm(mode="permissive")), (100, hm(mode="receive-only"))])
    lan.run_for(10)
    assert lan.masters() == ["n1"] and lan.nodes["n2"].state() == "BACKUP"
    rx_only = [p for p in lan.wire if p.node == "n2"]
    assert all(len(p.payload) == 20 for p in rx_only)          # receive-only never signs


def test_dumps_show_keepalived_24_auth_extension_lines():
    from kvrrp.vrrp.dump import format_data, format_stats, keepalived_json
    lan = lan_with(4, [(150, hm()), (100, hm()), (250, hm(WRONG))])
    lan.run_for(5)
    engine = lan.nodes["n1"].engine
    stats = format_stats(engine)
    errors = stats.split("Authentication Extension Errors:")[1]
    assert int(errors.split("Invalid HMAC:")[1].split()[0]) == drops(lan, "n1")["auth_ext_invalid_hmac"] > 0
    assert "Missing: 0" in errors and "Replay: 0" in errors
    data = format_data(engine)
    assert "   Authentication extension = HMAC-SHA256-128\n     Keys = 1, active key id = 1\n" in data
    assert "     Mode = enforce\n     Anti replay = time, window = 5 sec" in data
    js = keepalived_json(engine)[0]["stats"]
    assert js["auth_ext_invalid_hmac"] == drops(lan, "n1")["auth_ext_invalid_hmac"]
    # an instance without auth_hmac dumps what keepalived 2.2.7 writes (no extension section)
    plain = lan_with(4, [(150, None)])
    plain.run_for(2)
    assert "Authentication Extension" not in format_stats(plain.nodes["n1"].engine)
    assert "auth_ext_missing" not in keepalived_json(plain.nodes["n1"].engine)[0]["stats"]


def test_replayed_and_tampered_adverts_on_the_wire_are_dropped():
    from vrrp_lan import Sent
    lan = lan_with(4, [(150, hm()), (100, hm())])
    lan.run_for(5)
    old = [p for p in lan.wire if p.node == "n1"][0]
    before = dict(drops(lan, "n2"))
    lan.queue.append(Sent(lan.clock.t, "n1", "eth0", 4, old.src, old.dst, old.payload))
    bad = bytearray(old.payload)
    bad[2] = 255                          # priority raised by an attacker, checksum fixed up
    bad[6:8] = b"\0\0"
    bad[6:8] = fastpath.inet_checksum(bytes(bad[:20])).to_bytes(2, "big")
    lan.queue.append(Sent(lan.clock.t, "n1", "eth0", 4, old.src, old.dst, bytes(bad)))
    lan.deliver()
    after = drops(lan, "n2")
    assert after.get("auth_ext_replay", 0) == before.get("auth_ext_replay", 0) + 1
    assert after.get("auth_ext_invalid_hmac", 0) == before.get("auth_ext_invalid_hmac", 0) + 1
    assert lan.nodes["n2"].state() == "BACKUP" and lan.masters() == ["n1"]


def test_unicast_peers_with_auth_hmac():
    def uconf(prio, me, peer, auth):
        inst = InstanceSettings(name="VI_1", ifname="eth0", vrid=51, priority=prio, family=4, version=2,
                                vips=(AddressSpec("198.18.0.100", 24, "eth0", 4),), unicast_peers=(peer,),
                                unicast_src_ip=me, auth_hmac=auth)
        return EngineSettings(instances=(inst,), sync_groups=())
    lan = FakeLan()
    lan.add_node("n1", uconf(150, "198.18.0.1", "198.18.0.2", hm()), v4="198.18.0.1")
    lan.add_node("n2", uconf(100, "198.18.0.2", "198.18.0.1", hm()), v4="198.18.0.2")
    lan.run_for(5)
    assert lan.masters() == ["n1"] and lan.nodes["n2"].state() == "BACKUP"
    assert not any(k.startswith("auth_ext") for k in drops(lan, "n2"))
