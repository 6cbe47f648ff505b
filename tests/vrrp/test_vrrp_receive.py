"""Receive checks, in RFC order, on real encoded packets; every drop is counted, none raises."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from kvrrp.io.ports import AddressSpec, Received
from kvrrp.vrrp import EngineSettings, InstanceSettings
from kvrrp import fastpath
from kvrrp.vrrp.settings import AUTH_PASS, pad_password
from kvrrp.vrrp.stats import DROP_REASONS
from vrrp_lan import FakeLan

ME = "198.18.0.2"
PEER = "198.18.0.1"
VIP = "198.18.0.100"
GROUP = "224.0.0.18"


def make(**kw):
    base = dict(name="VI_1", ifname="eth0", vrid=51, priority=100, vips=(AddressSpec(VIP, 24, "eth0", 4),))
    base.update(kw)
    lan = FakeLan()
    node = lan.add_node("me", EngineSettings(instances=(InstanceSettings(**base),)), v4=ME, v6="fe80::2")
    return node.engine, node.engine.instance("VI_1")


def v2(prio=150, vrid=51, addrs=(VIP,), interval=1, auth_type=0, auth=b""):
    return fastpath.encode_advert(2, vrid, prio, [ipaddress.ip_address(a).packed for a in addrs], interval,
                                  auth_type=auth_type, auth_data=auth)


def v3(prio=150, vrid=51, addrs=(VIP,), interval=100, src=PEER, dst=GROUP, family=4):
    return fastpath.encode_advert(3, vrid, prio, [ipaddress.ip_address(a).packed for a in addrs], interval,
                                  family=family, src=ipaddress.ip_address(src).packed,
                                  dst=ipaddress.ip_address(dst).packed)


def rx(payload, src=PEER, dst=GROUP, ttl=255, family=4, ifname="eth0"):
    return Received(ifname, family, src, dst, ttl, payload)


def only_drop(inst, reason):
    assert inst.stats.drops == {reason: 1}, inst.stats.drops


def test_valid_advert_is_accepted_and_counted():
    engine, inst = make()
    engine.on_receive(rx(v2()))
    assert inst.stats.drops == {}
    assert inst.stats.advert_rcvd == 1
    assert inst.master_address == PEER and inst.master_priority == 150


def test_ttl_must_be_255_for_multicast():
    engine, inst = make()
    engine.on_receive(rx(v2(), ttl=254))
    only_drop(inst, "ip_ttl")
    assert inst.stats.ip_ttl_err == 1 and inst.stats.advert_rcvd == 0


def test_ttl_not_checked_for_unicast_instances():
    engine, inst = make(unicast_peers=(PEER,), unicast_src_ip=ME)
    engine.on_receive(rx(v2(), dst=ME, ttl=64))
    assert inst.stats.drops == {} and inst.stats.advert_rcvd == 1


def test_ttl_is_checked_before_everything_else():
    engine, inst = make(auth_type=AUTH_PASS, auth_pass=pad_password("secret"))
    bad = bytearray(v2(auth_type=1, auth=pad_password("wrong")))
    engine.on_receive(rx(bytes(bad), ttl=1))
    only_drop(inst, "ip_ttl")


@pytest.mark.parametrize("mangle,reason,counter", [
    (lambda p: p[:10], "packet_length", "packet_len_err"),          # truncated
    (lambda p: p + b"\0\0\0", "packet_length", "packet_len_err"),   # trailing junk
    (lambda p: bytes([0x41]) + p[1:], "version", "version_err"),    # version 4
    (lambda p: bytes([0x22]) + p[1:], "invalid_type", "invalid_type_rcvd"),   # type 2
    (lambda p: p[:6] + bytes([p[6] ^ 0xFF]) + p[7:], "checksum", "checksum_err"),
])
def test_structural_checks(mangle, reason, counter):
    engine, inst = make()
    engine.on_receive(rx(mangle(v2())))
    only_drop(inst, reason)
    assert getattr(inst.stats, counter) == 1


def test_instance_version_mismatch():
    engine, inst = make()                                   # v2 instance
    engine.on_receive(rx(v3()))
    only_drop(inst, "version")


def test_v3_checksum_uses_the_pseudo_header():
    engine, inst = make(version=3, adver_int=1.0)
    engine.on_receive(rx(v3(src="198.18.0.9"), src=PEER))  # computed for another source
    only_drop(inst, "checksum")
    engine.on_receive(rx(v3()))
    assert inst.stats.advert_rcvd == 1


def test_unknown_vrid_is_counted_by_the_engine():
    engine, inst = make()
    engine.on_receive(rx(v2(vrid=52)))
    engine.on_receive(rx(v2(), ifname="eth1"))
    assert engine.drops == {"unknown_vrid": 2}
    assert inst.stats.drops == {}


def test_drop_before_vrid_known_counted_by_engine():
    engine, inst = make()
    engine.on_receive(rx(b"\x21"))
    engine.on_receive(rx(b""))
    assert engine.drops == {"packet_length": 2}


def test_v2_auth_checks():
    engine, inst = make(auth_type=AUTH_PASS, auth_pass=pad_password("secret"))
    engine.on_receive(rx(v2()))                                        # no auth
    engine.on_receive(rx(v2(auth_type=1, auth=pad_password("wrong"))))
    bad_type = bytearray(v2())
    bad_type[4] = 7
    bad_type[6:8] = b"\0\0"
    csum = fastpath.inet_checksum(bytes(bad_type))
    bad_type[6:8] = csum.to_bytes(2, "big")
    engine.on_receive(rx(bytes(bad_type)))
    engine.on_receive(rx(v2(auth_type=1, auth=pad_password("secret"))))
    assert inst.stats.drops == {"auth_type_mismatch": 1, "auth_failure": 1, "invalid_auth_type": 1}
    assert (inst.stats.authtype_mismatch, inst.stats.auth_failure, inst.stats.invalid_authtype) == (1, 1, 1)
    assert inst.stats.advert_rcvd == 1


def test_password_is_checked_on_all_8_bytes():
    engine, inst = make(auth_type=AUTH_PASS, auth_pass=pad_password("12345678"))
    engine.on_receive(rx(v2(auth_type=1, auth=b"12345679")))
    only_drop(inst, "auth_failure")


def test_v2_interval_mismatch():
    engine, inst = make()
    engine.on_receive(rx(v2(interval=2)))
    only_drop(inst, "advert_interval")
    assert inst.stats.advert_interval_err == 1


def test_v3_interval_difference_is_not_a_drop():
    engine, inst = make(version=3)
    engine.on_receive(rx(v3(interval=50)))
    assert inst.stats.drops == {}
    assert inst.master_adver_int == pytest.approx(0.5)


def test_destination_multicast_vs_unicast():
    engine, inst = make(unicast_peers=(PEER,), unicast_src_ip=ME)
    engine.on_receive(rx(v2()))                  # multicast to a unicast instance
    only_drop(inst, "destination")
    engine2, inst2 = make()
    engine2.on_receive(rx(v2(), dst=ME))         # unicast to a multicast instance
    only_drop(inst2, "destination")


def test_check_unicast_src():
    engine, inst = make(unicast_peers=(PEER,), unicast_src_ip=ME, check_unicast_src=True)
    engine.on_receive(rx(v2(), src="198.18.0.7", dst=ME))
    only_drop(inst, "unicast_src")
    engine.on_receive(rx(v2(), src=PEER, dst=ME))
    assert inst.stats.advert_rcvd == 1


def test_address_list_mismatch():
    engine, inst = make()
    engine.on_receive(rx(v2(addrs=("198.18.0.101",))))
    engine.on_receive(rx(v2(addrs=(VIP, "198.18.0.101"))))
    engine.on_receive(rx(v2(addrs=())))
    assert inst.stats.drops == {"address_list": 3}
    assert inst.stats.addr_list_err == 3


def test_skip_check_adv_addr_only_for_the_current_master():
    engine, inst = make(skip_check_adv_addr=True)
    engine.on_receive(rx(v2(addrs=("198.18.0.101",))))     # no master known yet: checked
    only_drop(inst, "address_list")
    engine.on_receive(rx(v2()))                             # learn the master
    engine.on_receive(rx(v2(addrs=("198.18.0.101",))))     # same master: not checked
    assert inst.stats.drops == {"address_list": 1}
    assert inst.stats.advert_rcvd == 2
    engine.on_receive(rx(v2(addrs=("198.18.0.101",)), src="198.18.0.5"))
    assert inst.stats.drops == {"address_list": 2}


def test_own_packets_are_dropped():
    engine, inst = make()
    engine.on_receive(rx(v2(prio=100), src=ME))
    only_drop(inst, "own_packet")
    assert inst.state.value == "BACKUP"


def test_ipv6_checks():
    vip6 = AddressSpec("2001:db8::100", 64, "eth0", 6)
    engine, inst = make(family=6, version=3, vips=(vip6,))
    good = v3(addrs=("2001:db8::100",), src="fe80::1", dst="ff02::12", family=6)
    engine.on_receive(rx(good, src="fe80::1", dst="ff02::12", family=6))
    assert inst.stats.advert_rcvd == 1
    engine.on_receive(rx(good, src="fe80::1", dst="ff02::12", family=6, ttl=64))
    engine.on_receive(rx(good, src="fe80::3", dst="ff02::12", family=6))
    assert inst.stats.drops == {"ip_ttl": 1, "checksum": 1}


def test_not_running_instance_counts_drop():
    lan = FakeLan()
    node = lan.add_node("x", EngineSettings(instances=(InstanceSettings(
        name="VI_1", ifname="eth0", vrid=51, vips=(AddressSpec(VIP, 24, "eth0", 4),)),)), v4=ME, start=False)
    inst = node.engine.instance("VI_1")
    node.engine.on_receive(rx(v2()))
    assert inst.stats.drops == {"not_running": 1}
    assert inst.stats.advert_rcvd == 0


def test_drop_reasons_are_all_named():
    engine, inst = make()
    for reason in inst.stats.drops:
        assert reason in DROP_REASONS


@hsettings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=80), ttl=st.integers(0, 255), src=st.sampled_from([PEER, ME, "fe80::1", "bogus"]))
def test_garbage_never_raises(payload, ttl, src):
    engine, inst = make()
    before = sum(inst.stats.drops.values()) + sum(engine.drops.values()) + inst.stats.advert_rcvd
    engine.on_receive(rx(payload, src=src, ttl=ttl))
    after = sum(inst.stats.drops.values()) + sum(engine.drops.values()) + inst.stats.advert_rcvd
    assert after == before + 1
    assert all(r in DROP_REASONS for r in list(inst.stats.drops) + list(engine.drops))


def test_unicast_peer_ttl_range_with_check_unicast_src():
    engine, inst = make(unicast_peers=(PEER,), unicast_src_ip=ME, check_unicast_src=True,
                        unicast_peer_ttl=((PEER, 250, 255),))
    engine.on_receive(rx(v2(), dst=ME, ttl=64))
    only_drop(inst, "ip_ttl")
    assert inst.stats.ip_ttl_err == 1
    engine.on_receive(rx(v2(), dst=ME, ttl=252))
    assert inst.stats.advert_rcvd == 1


def test_unicast_src_checked_after_the_address_list():
    engine, inst = make(unicast_peers=(PEER,), unicast_src_ip=ME, check_unicast_src=True)
    engine.on_receive(rx(v2(addrs=("198.18.0.101",)), src="198.18.0.7", dst=ME))
    only_drop(inst, "address_list")
