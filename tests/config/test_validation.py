"""One test per validation rule: each problem is reported with its code, severity and place."""
from __future__ import annotations

import pytest

from kvrrp.config.cli import exit_code
from kvrrp.config.keywords import TABLES
from kvrrp.config.support import IGNORED, NOT_IMPLEMENTED

from .helpers import codes, instance, parse


def diag(res, code):
    found = [d for d in res.diagnostics if d.code == code]
    assert found, f"no {code} in {[str(d) for d in res.diagnostics]}"
    return found[0]


def test_clean_instance_has_no_diagnostics():
    res = parse(instance("    priority 120"))
    assert res.diagnostics == () and exit_code(res.diagnostics) == 0


@pytest.mark.parametrize("vrid", ["0", "256", "-1", "abc", "1.5"])
def test_vrid_range(vrid):
    res = parse(f"vrrp_instance V {{\n interface eth0\n virtual_router_id {vrid}\n"
                " virtual_ipaddress {\n 198.18.0.1\n }\n}\n")
    d = [d for d in res.diagnostics if d.code in ("out-of-range", "invalid-number")][0]
    assert d.severity == "error" and (d.loc.line, d.loc.col) == (3, 20)
    assert "missing-parameter-vrid" in codes(res)     # and then: VRID must be set
    assert res.config.instances[0].vrid is None


@pytest.mark.parametrize("prio,ok", [("1", True), ("255", True), ("254", True), ("0", False), ("256", False)])
def test_priority_range(prio, ok):
    res = parse(instance(f"    priority {prio}"))
    assert (not res.errors) == ok
    if not ok:
        assert res.config.instances[0].priority == 100        # keepalived keeps the default


def test_priority_defaults_to_owner_for_master_without_priority():
    assert parse(instance("    state MASTER")).config.instances[0].priority == 255
    assert parse(instance("    state BACKUP")).config.instances[0].priority == 100


def test_owner_priority_with_nopreempt_is_an_error():
    res = parse(instance("    priority 255\n    nopreempt"))
    assert diag(res, "nopreempt-owner").severity == "error"
    assert res.config.instances[0].nopreempt is False


@pytest.mark.parametrize("adv,code,want", [("300", "out-of-range", 1.0), ("1.5", "rounded", 2.0),
                                           ("0", "out-of-range", 1.0), ("0.4", "rounded", 1.0),
                                           ("0.001", "out-of-range", 1.0)])
def test_advert_int_v2(adv, code, want):
    res = parse(instance(f"    advert_int {adv}"))
    assert code in codes(res)
    assert res.config.instances[0].advert_int == want
    assert exit_code(res.diagnostics) == 5


@pytest.mark.parametrize("adv,code,want", [("50", "out-of-range", 40.95), ("0.015", "rounded", 0.02),
                                           ("0.01", None, 0.01), ("40.95", None, 40.95)])
def test_advert_int_v3(adv, code, want):
    res = parse(instance(f"    version 3\n    advert_int {adv}"))
    if code:
        assert code in codes(res)
    else:
        assert res.diagnostics == ()
    assert res.config.instances[0].advert_int == pytest.approx(want)


def test_ipv6_vips_force_version_3_and_v2_is_an_error():
    res = parse(instance("", vip="2001:db8::1"))
    vi = res.config.instances[0]
    assert (vi.family, vi.version) == (6, 3) and not res.errors
    res = parse(instance("    version 2", vip="2001:db8::1"))
    assert diag(res, "v2-ipv6").severity == "error"


def test_auth_with_v3_is_an_error():
    res = parse(instance("    version 3\n    authentication {\n auth_type PASS\n auth_pass x\n }"))
    d = diag(res, "auth-v3")
    assert d.severity == "error" and d.loc.line == 6


def test_auth_type_and_pass_rules():
    assert "bad-value" in codes(parse(instance("    authentication {\n auth_type MD5\n }")))
    assert "auth-nopass" in codes(parse(instance("    authentication {\n auth_type PASS\n }")))
    res = parse(instance("    authentication {\n auth_type PASS\n auth_pass 0123456789\n }"))
    assert res.config.instances[0].authentication.auth_pass == "01234567"
    assert diag(res, "truncated").fails_test


def test_duplicate_vrid_same_interface_and_family():
    text = instance("", name="A", vrid=5) + instance("", name="B", vrid=5, vip="198.18.0.2")
    d = diag(parse(text), "duplicate-vrid")
    assert "A and B both use VRID 5" in d.message
    # different interface, other family or other multicast group: fine
    other_if = instance("", name="A", vrid=5) + instance("", name="B", vrid=5).replace("eth0", "eth1")
    assert "duplicate-vrid" not in codes(parse(other_if))
    other_fam = instance("", name="A", vrid=5) + instance("", name="B", vrid=5, vip="2001:db8::5")
    assert "duplicate-vrid" not in codes(parse(other_fam))
    other_grp = instance("", name="A", vrid=5) + instance("    mcast_dst_ip 224.0.0.99", name="B", vrid=5)
    assert "duplicate-vrid" not in codes(parse(other_grp))


def test_duplicate_vrid_unicast_needs_a_shared_peer():
    a = instance("    unicast_peer {\n 198.18.0.7\n }", name="A", vrid=5)
    b_same = instance("    unicast_peer {\n 198.18.0.7\n }", name="B", vrid=5, vip="198.18.0.2")
    b_other = instance("    unicast_peer {\n 198.18.0.8\n }", name="B", vrid=5, vip="198.18.0.2")
    assert "duplicate-vrid" in codes(parse(a + b_same))
    assert "duplicate-vrid" not in codes(parse(a + b_other))


def test_undefined_references():
    res = parse(instance("    track_script {\n nope\n }\n    track_file {\n nofile\n }\n"
                         "    track_process {\n noproc\n }"))
    msgs = [d.message for d in res.diagnostics if d.code == "undefined-reference"]
    assert len(msgs) == 3 and any("'nope'" in m for m in msgs)
    res = parse("vrrp_sync_group G {\n group {\n V1\n GHOST\n }\n}\n" + instance("", name="V1"))
    assert any("GHOST" in d.message for d in res.diagnostics if d.code == "undefined-reference")
    res = parse("virtual_server group NOGROUP {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n"
                " real_server 198.18.0.2 80 {\n }\n}\n")
    assert diag(res, "undefined-reference").loc.line == 1
    res = parse("global_defs {\n lvs_sync_daemon eth0 VI_NONE\n}\n")
    assert "undefined-reference" in codes(res)


def test_instance_in_two_sync_groups():
    text = ("vrrp_sync_group G1 {\n group {\n A\n B\n }\n}\nvrrp_sync_group G2 {\n group {\n A\n B\n }\n}\n"
            + instance("", name="A", vrid=1) + instance("", name="B", vrid=2))
    assert "duplicate" in codes(parse(text))


def test_mixed_family_vips_and_peer_family():
    text = ("vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n"
            " 198.18.0.1\n 2001:db8::1\n }\n}\n")
    d = diag(parse(text), "family-mismatch")
    assert d.loc.line == 6
    assert "family-mismatch" in codes(parse(instance("    unicast_peer {\n 2001:db8::2\n }")))


def test_strict_mode_rules():
    g = "global_defs {\n vrrp_strict\n}\n"
    assert "auth-strict" in codes(parse(instance("    authentication {\n auth_type PASS\n auth_pass a\n }",
                                                 head=g)))
    assert "strict-unicast" in codes(parse(instance("    unicast_peer {\n 198.18.0.9\n }", head=g)))
    assert "strict-state" in codes(parse(instance("    state MASTER\n    priority 100", head=g)))
    assert "strict-state" not in codes(parse(instance("    state MASTER", head=g)))   # priority 255 implied


def test_missing_interface_and_vrid():
    res = parse("vrrp_instance V {\n virtual_ipaddress {\n 198.18.0.1\n }\n}\n")
    assert {"missing-parameter-vrid", "no-interface"} <= set(codes(res))
    # keepalived would not run this VRRP configuration at all; a bad priority it just ignores
    assert {d.code for d in res.blocking} == {"missing-parameter-vrid", "no-interface"}
    assert parse(instance("    priority 0")).blocking == ()


@pytest.mark.parametrize("ip", ["198.18.0.256", "1.2.3", "198.18.0.1/3x", "zz::1", "2001:db8::1/-1"])
def test_bad_vip_addresses(ip):
    res = parse(instance("", vip=ip))
    d = diag(res, "bad-ip")
    assert d.severity == "error" and d.loc.line == 7


@pytest.mark.parametrize("ip,address,prefixlen", [("198.18.0.1/33", "198.18.0.1", 32),
                                                  ("2001:db8::1/129", "2001:db8::1", 128)])
def test_vip_prefix_past_the_family_maximum_uses_the_maximum_like_keepalived(ip, address, prefixlen):
    res = parse(instance("", vip=ip))
    d = diag(res, "bad-ip")
    assert d.severity == "warning" and d.fails_test and d.loc.line == 7
    assert d.message == f"Invalid address prefix len {ip.split('/')[1]} for address {ip} - using {prefixlen}"
    (vip,) = res.config.instances[0].virtual_ipaddress
    assert (vip.address, vip.prefixlen) == (address, prefixlen)


def test_keepalived_config_checks_on_real_world_files():
    """What keepalived 2.2.7 says (and keeps) for the slips found in public keepalived.conf files."""
    res = parse("""global_defs {
    enable_script_security
    script_user root
    notification_email {
    }
}
vrrp_script weighted {
    script "/bin/true"
    weight 10
}
track_file flag {
    file /tmp/flag
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    nopreempt 1
    notify_master "/bin/true first"
    notify_master "/bin/false second"
    track_interface {
        eth0
        eth1
    }
    virtual_ipaddress {
        198.18.0.200/32
    }
    virtual_rules {
        from 198.18.0.200 table 100
        from 198.18.0.201 table 101
        from 2001:2::1 table 102
    }
}
vrrp_instance VI_OWNER {
    interface eth0
    virtual_router_id 52
    priority 255
    track_script {
        weighted
        weighted weight 0
    }
    track_file {
        flag
    }
    track_interface {
        eth1 weight 5
        eth2
    }
    virtual_ipaddress {
        198.18.0.201/32
    }
}
virtual_server 198.18.0.200 80 {
    lb_algo rr
    protocol UDP
}
""")
    messages = [d.message for d in res.diagnostics]
    for text in ("Warning - empty notification_email block",
                 "'nopreempt' takes no argument - '1' ignored, as keepalived does",
                 "(VI_1) notify_master script already specified - ignoring /bin/false second",
                 "(VI_1) Ignoring track_interface eth0 since own interface",
                 "Rule has no preference specified - setting to 16384. This is probably not what you want.",
                 "Rule has no preference specified - setting to 16383. This is probably not what you want.",
                 "(VI_OWNER) ignoring tracked script weighted with weights due to address_owner",
                 "(VI_OWNER) ignoring weight from tracked file flag due to address_owner. specify weight 0",
                 "(VI_OWNER) ignoring eth1 tracked interface due to address owner",
                 "Virtual server [198.18.0.200]:udp:80 has no real servers - ignoring"):
        assert text in messages, text
    # the third rule is IPv6: its own count starts at 16384 too
    assert messages.count("Rule has no preference specified - setting to 16384. This is probably not what you want.") == 2
    vi1, owner = res.config.instances
    assert vi1.nopreempt is True
    assert vi1.notify_master.command == "/bin/true first"
    assert [t.name for t in vi1.track_interfaces] == ["eth1"]
    assert [r.preference for r in vi1.virtual_rules] == [16384, 16383, 16384]
    assert owner.track_scripts == ()
    assert [(t.name, t.weight) for t in owner.track_files] == [("flag", 0)]   # kept, weight 0
    assert [t.name for t in owner.track_interfaces] == ["eth2"]   # no weight: FAULT when down, kept
    assert exit_code(res.diagnostics) == 5


def test_unknown_keyword_warning_with_suggestion_and_location():
    res = parse(instance("    prioritty 50"))
    d = diag(res, "unknown-keyword")
    assert d.severity == "warning" and d.fails_test
    assert "did you mean 'priority'" in d.message and (d.loc.line, d.loc.col) == (5, 5)
    assert d.format() == "t.conf:5:5: warning: unknown keyword 'prioritty' in vrrp_instance; did you mean 'priority'?"
    res = parse("vrrp_instanse X {\n}\n")
    assert "did you mean 'vrrp_instance'" in diag(res, "unknown-keyword").message
    res = parse(instance("    vrrp_strict"))
    assert "(it is a keyword of global_defs)" in diag(res, "unknown-keyword").message


def test_ignored_keyword_is_named_with_its_reason_and_does_not_fail_the_test():
    res = parse("global_defs {\n bfd_no_swap\n vrrp_rt_priority 50\n}\n" + instance(""))
    ds = [d for d in res.diagnostics if d.code == IGNORED]
    assert [d.loc.line for d in ds] == [2]      # vrrp_rt_priority is implemented (kw_process)
    assert ds[0].message == f"'bfd_no_swap' is ignored by kvrrp ({NOT_IMPLEMENTED['global_defs', 'bfd_no_swap']}) - ignoring"
    assert exit_code(res.diagnostics) == 0


def test_every_ignored_keyword_has_a_reason_and_parses_in_its_block():
    for (block, kw), why in NOT_IMPLEMENTED.items():
        assert why.strip(), (block, kw)
        assert block == "*" or kw in TABLES[block], (block, kw)


def test_instance_debug_is_kept_silently_and_range_checked_like_keepalived():
    res = parse(instance("    debug 3"))
    assert res.config.instances[0].debug == 3
    assert not [d for d in res.diagnostics if "debug" in d.message.lower()]
    res = parse(instance("    debug 7"))
    d = diag(res, "invalid-number")
    assert d.message == "(VI_T) Debug value '7' not valid; must be between 0-4" and d.fails_test


def test_deprecated_alias_works_and_is_reported():
    res = parse("virtual_server 198.18.0.1 80 {\n protocol TCP\n real_server 198.18.0.2 80 {\n"
                " HTTP_GET {\n url {\n path /\n }\n nb_get_retry 4\n }\n }\n}\n")
    assert res.config.virtual_servers[0].real_servers[0].checkers[0].retry == 4
    assert diag(res, "deprecated").loc.line == 8


def test_values_out_of_range_in_lvs():
    res = parse("virtual_server 198.18.0.1 80 {\n protocol TCP\n persistence_timeout 0\n quorum 0\n"
                " real_server 198.18.0.2 80 {\n weight 70000\n }\n}\n")
    assert codes(res).count("out-of-range") == 3


def test_lvs_method_and_scheduler():
    res = parse("virtual_server 198.18.0.1 80 {\n protocol TCP\n lb_kind FNAT\n lb_algo rrr\n"
                " real_server 198.18.0.2 80 {\n }\n}\n")
    vs = res.config.virtual_servers[0]
    assert (vs.lvs_method.method, vs.lvs_sched) == ("NAT", "wlc")
    assert "FNAT exists only in forks" in diag(res, "bad-value").message
    assert "did you mean 'rr'" in diag(res, "bad-scheduler").message


def test_vs_without_protocol_defaults_to_udp_like_keepalived():
    res = parse("virtual_server 198.18.0.1 80 {\n real_server 198.18.0.2 80 {\n }\n}\n")
    assert res.config.virtual_servers[0].protocol == "UDP"
    assert diag(res, "vs-protocol").severity == "error"


def test_virtual_server_without_real_servers_is_dropped():
    res = parse("virtual_server 198.18.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n}\n")
    assert res.config.virtual_servers == () and "vs-no-rs" in codes(res)


def test_sh_mh_flags_need_their_scheduler_first():
    base = "virtual_server 198.18.0.1 80 {{\n protocol TCP\n lb_kind NAT\n {a}\n {b}\n real_server 198.18.0.2 80 {{\n }}\n}}\n"
    vs = parse(base.format(a="lb_algo sh", b="sh-port")).config.virtual_servers[0]
    assert vs.sh_port
    res = parse(base.format(a="sh-port", b="lb_algo sh"))
    assert not res.config.virtual_servers[0].sh_port and "ignored" in codes(res)


def test_missing_scheduler_and_forwarding_method_are_reported_like_keepalived():
    res = parse("virtual_server 198.18.0.1 80 {\n protocol TCP\n real_server 198.18.0.2 80 {\n }\n}\n")
    vs = res.config.virtual_servers[0]
    assert (vs.lvs_sched, vs.lvs_method.method) == ("wlc", "NAT")
    assert {"vs-no-scheduler", "vs-no-method"} <= set(codes(res))
    res = parse("virtual_server 198.18.0.1 80 {\n protocol TCP\n lb_algo rr\n"
                " real_server 198.18.0.2 80 {\n lvs_method DR\n }\n}\n")
    assert "vs-no-method" not in codes(res)        # every real server has its own method


def test_dr_real_server_port_is_reset_to_vs_port():
    res = parse("virtual_server 198.18.0.1 80 {\n protocol TCP\n lb_kind DR\n real_server 198.18.0.2 8080 {\n }\n}\n")
    assert res.config.virtual_servers[0].real_servers[0].port == 80
    assert "port-mismatch" in codes(res)
    res = parse("virtual_server 198.18.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n"
                " real_server 198.18.0.2 8080 {\n }\n}\n")
    assert res.config.virtual_servers[0].real_servers[0].port == 8080 and not res.diagnostics


def test_misc_check_has_no_connection_keywords():
    res = parse("virtual_server 198.18.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n"
                " real_server 198.18.0.2 80 {\n MISC_CHECK {\n misc_path /bin/true\n connect_timeout 3\n }\n }\n}\n"
                "global_defs {\n enable_script_security\n}\n")
    (d,) = [d for d in res.diagnostics if d.code == "unknown-keyword"]
    assert d.loc.line == 8 and "MISC_CHECK" in d.message


def test_checker_requirements():
    base = "virtual_server 198.18.0.1 80 {{\n protocol TCP\n real_server 198.18.0.2 80 {{\n {c}\n }}\n}}\n"
    assert "missing-parameter" in codes(parse(base.format(c="HTTP_GET {\n }")))
    assert "missing-parameter" in codes(parse(base.format(c="MISC_CHECK {\n }")))
    assert "undefined-reference" in codes(parse(base.format(c="FILE_CHECK {\n track_file nope\n }")))
    assert "bad-value" in codes(parse(base.format(c="HTTP_GET {\n url {\n path /\n digest xyz\n }\n }")))
    assert "out-of-range" in codes(parse(base.format(c="HTTP_GET {\n url {\n path /\n status_code 600\n }\n }")))


def test_security_and_missing_scripts(tmp_path):
    res = parse(instance("    notify_master /bin/true"))
    assert exit_code(res.diagnostics) == 6
    res = parse(instance("    notify_master /bin/true", head="global_defs {\n enable_script_security\n"
                                                              " script_user root\n}\n"))
    assert exit_code(res.diagnostics) == 0
    # script security without script_user needs the keepalived_script user
    import pwd
    try:
        pwd.getpwnam("keepalived_script")
        have_user = True
    except KeyError:
        have_user = False
    res = parse(instance("    notify_master /bin/true", head="global_defs {\n enable_script_security\n}\n"))
    assert ("script-user" in codes(res)) != have_user
    # a tracked vrrp_script that cannot be found is disabled (fails -t); an untracked one is ignored
    vs = "vrrp_script s {\n script /nonexistent/x\n}\n"
    res = parse(instance("    track_script {\n s\n }", head=vs))
    assert diag(res, "script-missing").fails_test and exit_code(res.diagnostics) == 5
    res = parse(instance("", head=vs))
    assert exit_code(res.diagnostics) == 0


def test_script_user_must_exist():
    res = parse(instance("", head="global_defs {\n script_user kvrrp_no_such_user_x\n}\n"))
    assert diag(res, "script-user").severity == "error"


def test_block_structure_errors():
    assert "missing-bob" in codes(parse("vrrp_instance V\n"))
    assert "unexpected-bob" in codes(parse("{\n}\n"))
    assert "unexpected-bob" in codes(parse(instance("    priority 5 {\n }")))


def test_every_problem_is_reported_not_only_the_first():
    res = parse(instance("    priority 0\n    advert_int x\n    bogus 1\n    state maybe", vip="1.2.3.400"))
    assert len(res.errors) >= 4


def test_found_by_differential_fuzzing_against_keepalived():
    """Rules found by generating random configs and comparing with keepalived -t."""
    assert "conflict" in codes(parse(instance("    vrf eth1")))                       # vrf + interface
    res = parse(instance("    garp_master_repeat 0\n    garp_master_delay 1.5"))
    assert res.config.instances[0].garp_master_repeat == 1                          # 0 -> 1, reported
    assert res.config.instances[0].garp_master_delay is None                        # whole seconds only
    assert codes(res).count("out-of-range") == 1 and "invalid-number" in codes(res)
    res = parse(instance("    version 2\n    version 3"))
    assert res.config.instances[0].version == 2 and "conflict" in codes(res)
    vi = parse(instance("    priority 255")).config.instances[0]
    assert vi.state == "MASTER"                                                      # owner starts as master
    res = parse(instance("    virtual_routes {\n 198.18.5.0/24 dev eth0 protocol static\n }"))
    assert res.config.instances[0].virtual_routes[0].protocol is None and "route-protocol" in codes(res)
    g = "global_defs {\n vrrp_strict\n}\n"
    assert "ipv6-link-local" in codes(parse(instance("", vip="2001:db8::1", head=g)))
    assert "ipv6-link-local" not in codes(parse(instance("", vip="fe80::1", head=g)))


def test_buffer_keywords_are_read_with_keepalived_words_for_mistakes():
    res = parse("global_defs {\n vrrp_netlink_cmd_rcv_bufs 300000\n vrrp_netlink_cmd_rcv_bufs_force\n"
                " vrrp_netlink_monitor_rcv_bufs_force off\n vrrp_rx_bufs_policy mtu\n vrrp_rx_bufs_multiplier 7\n}\n"
                + instance("    kernel_rx_buf_size 5000"))
    g = res.config.global_defs
    assert (g.vrrp_netlink_cmd_rcv_bufs, g.vrrp_netlink_cmd_rcv_bufs_force, g.vrrp_netlink_monitor_rcv_bufs_force,
            g.vrrp_rx_bufs_policy, g.vrrp_rx_bufs_multiplier) == (300000, True, False, "MTU", 7)
    assert res.config.instances[0].kernel_rx_buf_size == 5000
    assert not [d for d in res.diagnostics if d.code == IGNORED]
    bad = parse("global_defs {\n vrrp_netlink_cmd_rcv_bufs x\n vrrp_netlink_monitor_rcv_bufs_force maybe\n"
                " vrrp_rx_bufs_policy MTU ADVERT\n vrrp_rx_bufs_policy MTU 4000\n vrrp_rx_bufs_multiplier 0\n}\n")
    assert [d.message for d in bad.diagnostics if d.severity == "error"] == [
        "vrrp_netlink_cmd_rcv_bufs size (x) invalid",
        "Invalid value 'maybe' for global vrrp_netlink_monitor_rcv_bufs_force specified",
        "Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT",
        "Cannot set vrrp_rx_bufs_policy size and policy, ignoring policy",
        "Invalid vrrp_rx_bufs_multiplier 0"]
    assert bad.config.global_defs.vrrp_rx_bufs_policy == "SIZE" and bad.config.global_defs.vrrp_rx_bufs_size == 4000


def test_link_keywords_are_typed_with_keepalived_words_for_mistakes():
    res = parse("linkbeat_use_polling\nlinkbeat_interfaces {\n eth0\n eth1 ETHTOOL\n eth2 SPEEDY\n}\n"
                "interface_up_down_delays {\n eth0 2 0.5\n eth1 1\n eth2\n eth3 300\n}\n"
                + instance("    linkbeat_use_polling"))
    cfg = res.config
    assert cfg.linkbeat_use_polling and cfg.instances[0].linkbeat_use_polling
    assert [(lb.interface, lb.type) for lb in cfg.linkbeat_interfaces] == [("eth0", None), ("eth1", "ETHTOOL"),
                                                                          ("eth2", None)]
    assert [(d.interface, d.down, d.up) for d in cfg.interface_up_down_delays] == [("eth0", 2.0, 0.5),
                                                                                  ("eth1", 1.0, 0.0)]
    msgs = [d.message for d in res.diagnostics if d.code != "deprecated"]
    assert msgs == ["extra characters SPEEDY in linkbeat interface", "No timeouts specified for eth2 up/down delays",
                    "Invalid down delay 300 for eth3"]
    assert not [d for d in res.diagnostics if d.code == IGNORED]


def test_linkbeat_and_delay_interfaces_must_exist_like_every_named_interface():
    res = parse("linkbeat_interfaces {\n eth7\n}\ninterface_up_down_delays {\n eth8 1 1\n}\n" + instance(""),
                interfaces={"eth0"})
    assert [(d.loc.line, d.message) for d in res.diagnostics if d.code == "missing-interface"] == [
        (2, "interface eth7 specified for linkbeat interface does not exist on this host"),
        (5, "interface eth8 specified for up/down delay does not exist on this host")]


def test_route_from_is_ipv6_only_as_keepalived():
    res = parse(instance("    virtual_routes {\n from 2001:2:0:1::/64 2001:2:0:9::/64 dev eth0\n }", vip="2001:2:0:1::100"))
    route = res.config.instances[0].virtual_routes[0]
    assert (route.from_, route.to, route.family) == ("2001:2:0:1::/64", "2001:2:0:9::/64", 6)
    # keepalived: an IPv4 `from` (or one mixed with an IPv4 destination) drops the route, loudly
    for line, why in (("from 198.18.5.0/24 198.18.6.0/24 dev eth0", "route from address only supported with IPv6"),
                      ("from 2001:2:0:1::/64 198.18.6.0/24 dev eth0", "Cannot mix IPv4 and IPv6")):
        res = parse(instance(f"    virtual_routes {{\n {line}\n }}"))
        assert res.config.instances[0].virtual_routes == ()
        assert any(why in d.message and d.loc.line for d in res.diagnostics)
