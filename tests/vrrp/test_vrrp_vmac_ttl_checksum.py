"""use_vmac, unicast_ttl, keepalived's old unicast checksum and prestart tracker states, on the
fake-clock LAN (a VMAC is a second interface of a node on the same LAN segment as its base)."""
from __future__ import annotations

import dataclasses

import logging

import pytest

from kvrrp import fastpath
from kvrrp.config.loader import parse_text
from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp import FAULT, EngineSettings, InstanceSettings, engine_settings
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.settings import CHECKSUM_COMPAT_AUTO, CHECKSUM_COMPAT_CONFIG, CHECKSUM_COMPAT_NEVER
from vrrp_lan import FakeLan

VMAC = "vrrp.51"


def settings_of(text: str):
    res = parse_text(text)
    assert res.ok, [str(d) for d in res.errors]
    return engine_settings(res.config)


def vrrp_conf(body: str, vips: str = "198.18.0.100/24\n        198.18.0.101/24 dev eth1",
              globals_: str = "") -> str:
    return f"""
global_defs {{
    {globals_}
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    {body}
    virtual_ipaddress {{
        {vips}
    }}
}}
"""


# ---------------------------------------------------------------------------------- settings
def test_use_vmac_puts_vips_without_dev_on_the_vmac_and_sends_through_it():
    s = settings_of(vrrp_conf("use_vmac")).instances[0]
    assert (s.ifname, s.vmac_ifname, s.vrrp_ifname, s.vmac_xmit_base) == ("eth0", VMAC, VMAC, False)
    assert [(v.address, v.ifname) for v in s.vips] == [("198.18.0.100", VMAC), ("198.18.0.101", "eth1")]


def test_use_vmac_name_prefix_and_xmit_base():
    s = settings_of(vrrp_conf("use_vmac vmac7\n    vmac_xmit_base")).instances[0]
    assert (s.vmac_ifname, s.vrrp_ifname, s.vmac_xmit_base) == ("vmac7", "eth0", True)
    s = settings_of(vrrp_conf("use_vmac", globals_="vmac_prefix vm")).instances[0]
    assert s.vmac_ifname == "vm.51" and s.vips[0].ifname == "vm.51"
    s = settings_of(vrrp_conf("")).instances[0]
    assert (s.vmac_ifname, s.vrrp_ifname, s.vips[0].ifname) == (None, "eth0", "eth0")


def test_unicast_with_vmac_sends_through_the_base_interface():
    s = settings_of(vrrp_conf("use_vmac\n    unicast_peer {\n        198.18.0.2\n    }")).instances[0]
    assert s.vmac_xmit_base and s.vrrp_ifname == "eth0" and s.vips[0].ifname == VMAC


def test_unicast_ttl_needs_unicast_peers_and_range():
    s = settings_of(vrrp_conf("unicast_ttl 9\n    unicast_peer {\n        198.18.0.2\n    }")).instances[0]
    assert s.unicast_ttl == 9
    assert settings_of(vrrp_conf("unicast_ttl 9")).instances[0].unicast_ttl is None
    with pytest.raises(ValueError, match="unicast_ttl"):
        InstanceSettings(name="x", ifname="eth0", vrid=1, unicast_ttl=256)


def test_old_unicast_checksum_modes():
    peer = "\n    unicast_peer {\n        198.18.0.2\n    }"
    assert settings_of(vrrp_conf("version 3" + peer)).instances[0].unicast_checksum_compat == CHECKSUM_COMPAT_AUTO
    s = settings_of(vrrp_conf("version 3\n    old_unicast_checksum" + peer)).instances[0]
    assert s.unicast_checksum_compat == CHECKSUM_COMPAT_CONFIG and s.old_unicast_checksum_possible
    # only v3 IPv4 unicast has a pseudo-header with the peer in it
    assert not settings_of(vrrp_conf("version 2\n    old_unicast_checksum" + peer)).instances[0] \
        .old_unicast_checksum_possible
    assert not settings_of(vrrp_conf("version 3\n    old_unicast_checksum")).instances[0] \
        .old_unicast_checksum_possible
    s = settings_of(vrrp_conf("version 3\n    old_unicast_checksum never" + peer)).instances[0]
    assert s.unicast_checksum_compat == CHECKSUM_COMPAT_NEVER and not s.old_unicast_checksum_possible


# ---------------------------------------------------------------------------------- the LAN
def vmac_inst(prio: int, **kw) -> InstanceSettings:
    kw.setdefault("vips", (AddressSpec("198.18.0.100", 24, VMAC, 4),))
    return InstanceSettings(name="VI_1", ifname="eth0", vrid=51, priority=prio, vmac_ifname=VMAC, **kw)


def vmac_lan(version: int = 2, xmit_base: bool = False):
    lan = FakeLan()
    for name, prio, addr in (("a", 150, "198.18.0.1"), ("b", 100, "198.18.0.2")):
        lan.add_node(name, EngineSettings(instances=(vmac_inst(prio, version=version, vmac_xmit_base=xmit_base),)),
                     v4=addr, links={VMAC: "eth0"})
    lan.run_for(10)
    return lan


@pytest.mark.parametrize("version", [2, 3])
def test_vmac_master_holds_vips_on_the_vmac_sends_adverts_and_garps_there(version):
    lan = vmac_lan(version)
    a, b = lan.nodes["a"], lan.nodes["b"]
    assert lan.masters() == ["a"]
    assert a.addresses.present_set == {(VMAC, "198.18.0.100", 24)}
    assert {ifname for _, kind, ifname, _ in a.announcer.sent} == {VMAC}
    sent = [p for p in lan.wire if p.node == "a"]
    assert sent and {(p.ifname, p.segment, p.src) for p in sent} == {(VMAC, "eth0", "198.18.0.1")}
    # the v3 checksum was computed over the base address the advert carries as source
    adv = fastpath.decode_advert(sent[-1].payload, 4, "198.18.0.1", "224.0.0.18")
    assert adv.priority == 150 and adv.checksum_ok is not False
    # the backup hears it on its VMAC (the only interface that gets a frame from that MAC)
    bi = b.engine.instance("VI_1")
    assert bi.state is State.BACKUP and bi.stats.advert_rcvd >= 5 and bi.master_address == "198.18.0.1"
    assert b.engine.drops == {}
    assert sorted(a.engine._transport_factory.opened) == [("eth0", 4, "224.0.0.18"), (VMAC, 4, "224.0.0.18")]


def test_vmac_instance_hears_a_peer_without_vmac_once():
    lan = FakeLan()
    lan.add_node("a", EngineSettings(instances=(vmac_inst(100),)), v4="198.18.0.1", links={VMAC: "eth0"})
    plain = InstanceSettings(name="VI_1", ifname="eth0", vrid=51, priority=150,
                             vips=(AddressSpec("198.18.0.100", 24, "eth0", 4),))
    lan.add_node("k", EngineSettings(instances=(plain,)), v4="198.18.0.2")
    lan.run_for(10)
    a = lan.nodes["a"]
    assert lan.masters() == ["k"]
    received = a.engine.instance("VI_1").stats.advert_rcvd
    # the base interface's copy of each advert is counted apart, never handled twice
    assert received >= 5 and a.engine.drops == {"vmac_base_copy": received}


def test_vmac_failover_moves_the_vips_and_stop_closes_both_sockets():
    lan = vmac_lan(3)
    lan.kill("a")
    lan.run_for(5)
    b = lan.nodes["b"]
    assert lan.masters() == ["b"] and b.addresses.present_set == {(VMAC, "198.18.0.100", 24)}
    assert [p for p in lan.wire if p.node == "b"][-1].ifname == VMAC
    b.engine.stop()
    assert b.addresses.present_set == set() and all(t.closed for t in b.transports.values())
    assert [p for p in lan.wire if p.node == "b"][-1].ifname == VMAC      # priority 0 via the VMAC too


def test_vmac_xmit_base_sends_through_the_base_interface():
    lan = vmac_lan(2, xmit_base=True)
    a = lan.nodes["a"]
    assert lan.masters() == ["a"] and a.addresses.present_set == {(VMAC, "198.18.0.100", 24)}
    assert {p.ifname for p in lan.wire if p.node == "a"} == {"eth0"}
    assert a.engine._transport_factory.opened == [("eth0", 4, "224.0.0.18")]


# ---------------------------------------------------------------------------------- unicast_ttl
def unicast_pair(ttl_a=None, legacy=False, compat_a=CHECKSUM_COMPAT_AUTO, compat_b=CHECKSUM_COMPAT_AUTO,
                 version=3):
    lan = FakeLan()
    for name, prio, me, peer, ttl, compat in (("a", 150, "198.18.0.1", "198.18.0.2", ttl_a, compat_a),
                                              ("b", 100, "198.18.0.2", "198.18.0.1", None, compat_b)):
        s = InstanceSettings(name="VI_1", ifname="eth0", vrid=51, priority=prio, version=version,
                             vips=(AddressSpec("198.18.0.100", 24, "eth0", 4),), unicast_peers=(peer,),
                             unicast_src_ip=me, unicast_ttl=ttl, unicast_checksum_compat=compat)
        lan.add_node(name, EngineSettings(instances=(s,)), v4=me, legacy_transport=legacy and name == "a")
    return lan


def test_unicast_ttl_is_passed_to_the_transport():
    lan = unicast_pair(ttl_a=7)
    lan.run_for(10)
    assert {p.ttl for p in lan.wire if p.node == "a"} == {7}
    assert {p.ttl for p in lan.wire if p.node == "b"} <= {None}
    # unicast instances do not check the TTL (keepalived): the backup accepts TTL 7
    assert lan.masters() == ["a"] and lan.nodes["b"].engine.instance("VI_1").stats.drops.get("ip_ttl", 0) == 0


def test_unicast_ttl_with_a_transport_without_ttl_still_sends_and_says_so_once(caplog):
    caplog.set_level(logging.WARNING, "kvrrp.vrrp")
    lan = unicast_pair(ttl_a=7, legacy=True)
    lan.run_for(10)
    assert lan.masters() == ["a"] and lan.nodes["a"].engine.instance("VI_1").stats.send_errors == 0
    assert {p.ttl for p in lan.wire if p.node == "a"} == {None}
    assert sum("unicast_ttl 7 not applied" in r.getMessage() for r in caplog.records) == 1


# ---------------------------------------------------------------------------------- old checksum
def _verifies(pkt, dst):
    return getattr(fastpath.decode_advert(pkt.payload, 4, pkt.src, dst), "checksum_ok", False) is True


def test_old_unicast_checksum_is_sent_with_the_group_in_the_pseudo_header():
    lan = unicast_pair(compat_a=CHECKSUM_COMPAT_CONFIG, compat_b=CHECKSUM_COMPAT_CONFIG)
    lan.run_for(10)
    first = next(p for p in lan.wire if p.node == "a")
    assert _verifies(first, "224.0.0.18") and not _verifies(first, first.dst)
    assert lan.masters() == ["a"]
    b = lan.nodes["b"].engine.instance("VI_1")
    assert b.stats.advert_rcvd >= 5 and b.stats.drops.get("checksum", 0) == 0


def test_auto_mode_switches_to_the_old_checksum_when_a_peer_uses_it(caplog):
    caplog.set_level(logging.INFO, "kvrrp.vrrp")
    lan = unicast_pair(compat_a=CHECKSUM_COMPAT_CONFIG, compat_b=CHECKSUM_COMPAT_AUTO)
    lan.run_for(10)
    b = lan.nodes["b"].engine.instance("VI_1")
    assert lan.masters() == ["a"] and b.stats.drops.get("checksum", 0) == 0 and b.old_unicast_checksum
    assert any("Setting unicast VRRPv3 checksum to old version" in r.getMessage() for r in caplog.records)
    # and it answers in kind: take a over, b's adverts now carry the old checksum
    lan.kill("a")
    lan.run_for(5)
    assert lan.masters() == ["b"]
    assert _verifies([p for p in lan.wire if p.node == "b"][-1], "224.0.0.18")


def test_new_checksum_peers_stay_new_in_auto_mode():
    lan = unicast_pair()
    lan.run_for(10)
    b = lan.nodes["b"].engine.instance("VI_1")
    assert lan.masters() == ["a"] and not b.old_unicast_checksum and b.stats.drops.get("checksum", 0) == 0
    assert all(_verifies(p, p.dst) for p in lan.wire)


@pytest.mark.parametrize("compat_b", [CHECKSUM_COMPAT_NEVER, "new-sender"])
def test_checksum_forms_that_do_not_match_are_counted(compat_b):
    if compat_b == "new-sender":
        # keepalived's old_unicast_checksum only accepts the old form (and a "never" sender
        # does not adapt to b's old form as an auto one would)
        lan = unicast_pair(compat_a=CHECKSUM_COMPAT_NEVER, compat_b=CHECKSUM_COMPAT_CONFIG)
    else:
        lan = unicast_pair(compat_a=CHECKSUM_COMPAT_CONFIG, compat_b=CHECKSUM_COMPAT_NEVER)
    lan.run_for(10)
    b = lan.nodes["b"].engine.instance("VI_1")
    assert b.stats.drops["checksum"] >= 5 and b.state is State.MASTER      # it never heard a


def _config_pair(b_line: str) -> FakeLan:
    # a sends the old (multicast pseudo-header) checksum; b's mode comes from keepalived.conf text
    lan = FakeLan()
    for name, prio, me, peer, line in (("a", 150, "198.18.0.1", "198.18.0.2", "old_unicast_checksum"),
                                       ("b", 100, "198.18.0.2", "198.18.0.1", b_line)):
        body = (f"version 3\n    priority {prio}\n    unicast_src_ip {me}\n    {line}\n"
                f"    unicast_peer {{\n        {peer}\n    }}")
        lan.add_node(name, settings_of(vrrp_conf(body, vips="198.18.0.100/24")), v4=me)
    return lan


def test_configured_never_refuses_old_checksum_adverts_that_auto_accepts():
    never = _config_pair("old_unicast_checksum never")
    never.run_for(10)
    b = never.nodes["b"].engine.instance("VI_1")
    assert b.stats.drops["checksum"] >= 5 and not b.old_unicast_checksum and b.state is State.MASTER
    auto = _config_pair("")
    auto.run_for(10)
    b = auto.nodes["b"].engine.instance("VI_1")
    assert b.stats.drops.get("checksum", 0) == 0 and b.old_unicast_checksum and auto.masters() == ["a"]


def test_v2_unicast_is_not_affected_by_old_unicast_checksum():
    lan = unicast_pair(compat_a=CHECKSUM_COMPAT_CONFIG, compat_b=CHECKSUM_COMPAT_NEVER, version=2)
    lan.run_for(10)
    assert lan.masters() == ["a"]


# ---------------------------------------------------------------------------------- prestart
def _plain(name, vrid, prio=100):
    return InstanceSettings(name=name, ifname="eth0", vrid=vrid, priority=prio,
                            vips=(AddressSpec(f"198.18.0.{vrid}", 24, "eth0", 4),))


def test_apply_config_initial_trackers_start_added_instances_in_fault():
    lan = FakeLan()
    node = lan.add_node("a", EngineSettings(instances=(_plain("VI_1", 51),)), v4="198.18.0.1")
    lan.run_for(5)
    new = EngineSettings(instances=(_plain("VI_1", 51), _plain("VI_2", 52)))
    result = node.engine.apply_config(new, initial_trackers={"VI_2": {"chk": FAULT}, "VI_1": {"w": -10}})
    assert result.added == ("VI_2",)
    assert [(t[3], t[4]) for t in node.transitions if t[2] == "VI_2"] == [("INIT", "FAULT")]
    assert node.engine.instance("VI_1").effective_priority == 90      # a kept one: an ordinary update


def test_without_initial_state_an_added_instance_would_pass_through_backup():
    lan = FakeLan()
    node = lan.add_node("a", EngineSettings(instances=(_plain("VI_1", 51),)), v4="198.18.0.1")
    node.engine.apply_config(EngineSettings(instances=(_plain("VI_1", 51), _plain("VI_2", 52))))
    node.engine.set_tracker("VI_2", "chk", FAULT)
    assert [(t[3], t[4]) for t in node.transitions if t[2] == "VI_2"] == [("INIT", "BACKUP"), ("BACKUP", "FAULT")]


def test_prestart_hook_runs_before_start_and_for_restarted_and_added_instances():
    lan = FakeLan()
    node = lan.add_node("a", EngineSettings(instances=(_plain("VI_1", 51), _plain("VI_2", 52))),
                        v4="198.18.0.1", start=False)
    calls = []

    def hook(names):
        calls.append(names)
        for n in names:
            assert node.engine.instance(n).state is State.INIT
            if n == "VI_3":
                node.engine.set_tracker(n, "chk", FAULT)

    node.engine.add_prestart_hook(hook)
    node.engine.start()
    lan.run_for(5)
    # advert_int needs a restart (a priority change would apply in place, vrrp.reload_plan)
    node.engine.apply_config(EngineSettings(instances=(_plain("VI_1", 51),
                                                       dataclasses.replace(_plain("VI_2", 52), adver_int=2.0),
                                                       _plain("VI_3", 53))))
    assert calls == [("VI_1", "VI_2"), ("VI_2", "VI_3")]
    assert [(t[3], t[4]) for t in node.transitions if t[2] == "VI_3"] == [("INIT", "FAULT")]
    node.engine.remove_prestart_hook(hook)
    node.engine.apply_config(EngineSettings(instances=(_plain("VI_1", 51), _plain("VI_4", 54))))
    assert len(calls) == 2
