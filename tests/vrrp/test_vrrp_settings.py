"""config.model -> InstanceSettings: keepalived's inheritance and defaults, and every seed config."""
from __future__ import annotations

import pathlib

import pytest

from kvrrp.config.loader import load, parse_text
from kvrrp.vrrp import OK, VrrpEngine, engine_settings
from kvrrp.vrrp.settings import AUTH_PASS, InstanceSettings, UnsupportedConfig
from vrrp_lan import FakeAddresses, FakeAnnouncer, FakeClock

SEEDS = sorted((pathlib.Path(__file__).parents[1] / "data" / "seeds").glob("*.conf"))


def settings_of(text: str):
    res = parse_text(text)
    assert res.ok, [str(d) for d in res.errors]
    return engine_settings(res.config)


BASE = """
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    %s
    virtual_ipaddress {
        198.18.0.100/24 brd + dev eth0 label eth0:1
        198.18.0.101
    }
}
"""


def test_defaults_match_keepalived():
    s = settings_of(BASE % "").instances[0]
    assert (s.version, s.family, s.group, s.down_timer_adverts) == (2, 4, "224.0.0.18", 3)
    assert (s.garp_master_repeat, s.garp_master_delay, s.garp_master_refresh) == (5, 5.0, 0.0)
    assert (s.garp_lower_prio_repeat, s.garp_lower_prio_delay) == (5, 5.0)
    assert s.preempt and s.preempt_delay == 0 and not s.skip_check_adv_addr and not s.lower_prio_no_advert
    v0, v1 = s.vips
    assert (v0.address, v0.prefixlen, v0.broadcast, v0.label, v0.ifname) == (
        "198.18.0.100", 24, "198.18.0.255", "eth0:1", "eth0")
    assert (v1.prefixlen, v1.broadcast) == (32, None)


def test_auth_pass_padded_and_v3_ignores_auth():
    s = settings_of(BASE % "authentication {\n auth_type PASS\n auth_pass 1111\n }").instances[0]
    assert s.auth_type == AUTH_PASS and s.auth_pass == b"1111\0\0\0\0"
    res = parse_text(BASE % "version 3\n authentication {\n auth_type PASS\n auth_pass 1111\n }")
    s3 = engine_settings(res.config).instances[0]     # keepalived: error, auth ignored, runs
    assert s3.version == 3 and s3.auth_type == 0


def test_ah_is_refused_clearly():
    res = parse_text(BASE % "authentication {\n auth_type AH\n auth_pass 1111\n }")
    with pytest.raises(UnsupportedConfig, match="AH is not supported"):
        engine_settings(res.config)


def test_state_master_clears_nopreempt_like_keepalived():
    s = settings_of((BASE % "nopreempt\n preempt_delay 10").replace("state BACKUP", "state MASTER")).instances[0]
    assert s.preempt and s.preempt_delay == 0
    s = settings_of(BASE % "nopreempt").instances[0]
    assert not s.preempt
    s = settings_of(BASE % "preempt_delay 10").instances[0]
    assert s.preempt and s.preempt_delay == 10


def test_globals_inherit_and_instance_overrides():
    text = """
global_defs {
    vrrp_garp_master_repeat 3
    vrrp_garp_master_delay 2
    vrrp_garp_interval 0.01
    vrrp_skip_check_adv_addr
    vrrp_version 3
    vrrp_mcast_group4 224.0.0.19
}
""" + BASE % "garp_master_refresh 30\n unicast_src_ip 198.18.0.2\n unicast_peer {\n 198.18.0.3\n }"
    s = settings_of(text).instances[0]
    assert (s.garp_master_repeat, s.garp_master_delay, s.garp_interval) == (3, 2.0, 0.01)
    assert (s.garp_lower_prio_repeat, s.garp_lower_prio_delay) == (3, 2.0)
    assert s.garp_master_refresh == 30 and s.skip_check_adv_addr and s.version == 3
    assert s.group == "224.0.0.19"
    assert s.is_unicast and s.unicast_peers == ("198.18.0.3",) and s.unicast_src_ip == "198.18.0.2"


def test_ipv6_forces_v3():
    text = BASE.replace("198.18.0.100/24 brd + dev eth0 label eth0:1", "2001:db8::1/64").replace(
        "198.18.0.101", "2001:db8::2") % ""
    s = settings_of(text).instances[0]
    assert (s.family, s.version, s.group) == (6, 3, "ff02::12")


def test_sync_group_membership():
    text = BASE % "" + BASE.replace("VI_1", "VI_2").replace("51", "52") % "" + """
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
}
"""
    es = settings_of(text)
    assert [(g.name, g.members) for g in es.sync_groups] == [("G1", ("VI_1", "VI_2"))]
    assert {i.sync_group for i in es.instances} == {"G1"}


def test_settings_validate_their_fields():
    with pytest.raises(ValueError):
        InstanceSettings(name="x", ifname="eth0", vrid=0)
    with pytest.raises(ValueError):
        InstanceSettings(name="x", ifname="eth0", vrid=1, family=6, version=2)
    with pytest.raises(UnsupportedConfig):
        InstanceSettings(name="x", ifname="eth0", vrid=1, auth_type=2)


# keepalived's VRRP process refuses these too (check_vrid_conflicts / no interface)
REFUSED = {
    "seed001_k8s_sync_group_lvs.conf": "VRID 51 on eth1 IPv4 already used",
    "seed002_track_script_fragment.conf": "needs an interface",
}


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_every_seed_config_builds_an_engine_or_is_refused_like_keepalived(path):
    res = load(str(path))
    clock = FakeClock()

    def build():
        return VrrpEngine(res.config, transports=None, addresses=FakeAddresses(),
                          announcer=FakeAnnouncer(clock), clock=clock, drive_timers=False)

    if path.name in REFUSED:
        with pytest.raises(ValueError, match=REFUSED[path.name]):
            build()
        return
    engine = build()
    assert set(engine.instances) == {i.name for i in res.config.instances}


def test_seed_list_is_not_empty():
    assert len(SEEDS) >= 10


def test_engine_level_globals():
    es = settings_of("global_defs {\n vrrp_startup_delay 5\n log_unknown_vrids\n vrrp_owner_ignore_adverts\n}\n"
                     + BASE % "")
    assert es.startup_delay == 5 and es.log_unknown_vrids and es.instances[0].owner_ignore_adverts


def test_unicast_fault_no_peer_keeps_the_instance_in_fault():
    es = settings_of(BASE % "unicast_fault_no_peer\n unicast_peer {\n }")
    assert es.instances[0].fault_no_peer and not es.instances[0].is_unicast
    from vrrp_lan import FakeLan
    node = FakeLan().add_node("a", es, v4="198.18.0.1")
    assert node.state() == "FAULT"
    node.engine.set_tracker("VI_1", "x", OK)
    assert node.state() == "FAULT"
    assert not settings_of(BASE % "unicast_peer {\n }").instances[0].fault_no_peer


def test_unicast_peer_ttl_ranges():
    s = settings_of(BASE % "check_unicast_src\n unicast_src_ip 198.18.0.2\n unicast_peer {\n"
                    " 198.18.0.3 min_ttl 250\n 198.18.0.4\n }").instances[0]
    assert s.check_unicast_src and s.unicast_peer_ttl == (("198.18.0.3", 250, 255),)


def test_v3_checksum_as_v2_only_for_v3_ipv4():
    assert settings_of("global_defs {\n v3_checksum_as_v2\n}\n" + BASE % "version 3").instances[0].v3_checksum_as_v2
    assert not settings_of("global_defs {\n v3_checksum_as_v2\n}\n" + BASE % "").instances[0].v3_checksum_as_v2


@pytest.mark.parametrize("global_lines, instance_line, share", [
    ("", "", ("", 0)),                                                   # nothing: kvrrp's default size
    ("vrrp_rx_bufs_policy 4096", "", ("bytes", 4096)),
    ("vrrp_rx_bufs_policy ADVERT", "", ("bytes", 3 * (20 + 8 + 8 + 2 * 4))),   # keepalived's vrrp_adv_len
    ("vrrp_rx_bufs_policy ADVERT\n vrrp_rx_bufs_multiplier 2", "version 3", ("bytes", 2 * (20 + 8 + 2 * 4))),
    ("vrrp_rx_bufs_policy MTU", "", ("mtu", 3)),                          # x the MTU, at run time
    ("vrrp_rx_bufs_policy MTU", "kernel_rx_buf_size 777", ("bytes", 777)),  # the instance's own wins
])
def test_receive_buffer_share_as_keepalived_computes_it(global_lines, instance_line, share):
    text = f"global_defs {{\n {global_lines}\n}}\n" + BASE % instance_line
    assert settings_of(text).instances[0].rx_buf_share == share


def test_garp_groups_reach_the_engine_as_keepalived_keeps_them():
    res = parse_text("garp_group {\n garp_interval 0.2\n interfaces {\n eth0\n eth1\n }\n}\n"
                     "garp_group {\n gna_interval 0.3\n interface eth1\n}\n"
                     "garp_group {\n interface eth2\n}\n" + BASE % "", filename="t.conf")
    msgs = [(d.loc.line, d.message) for d in res.diagnostics if d.code == "garp-group"]
    assert msgs == [(8, "garp_group already specified for eth1 - ignoring"),
                    (12, "garp group 3 does not have any delay set - removing")]
    groups = engine_settings(res.config).garp_groups
    assert [(g.interfaces, g.garp_interval, g.gna_interval) for g in groups] == [
        (("eth0", "eth1"), 0.2, 0.0), ((), 0.0, 0.3)]


def test_vmac_bases_reach_the_engine_for_garp_pacing():
    res = parse_text(BASE % "use_vmac vrrp.7", filename="t.conf")
    assert ("vrrp.7", "eth0") in engine_settings(res.config).vmac_bases
