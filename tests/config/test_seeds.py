"""Every config from ../shared/seeds (copied into tests/data/seeds with its origin) loads into
the model we expect, with the diagnostics keepalived -t also gives (checked against
keepalived 2.2.7 when the corpus test runs)."""
from __future__ import annotations

import glob
import os

import pytest

from kvrrp.config import model as m
from kvrrp.config.cli import exit_code

from .helpers import SEEDS, seed

ALL = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SEEDS, "*.conf")))


def test_every_seed_has_an_origin_header():
    assert len(ALL) == 17
    for name in ALL:
        head = open(os.path.join(SEEDS, name), encoding="utf-8").readline()
        assert head.startswith("# Origin: /work/shared/seeds/"), name


@pytest.mark.parametrize("name", ALL)
def test_seed_loads_without_crash(name):
    res = seed(name)
    assert isinstance(res.config, m.Config)
    # nothing fatal: every seed is usable
    assert all(d.severity != "fatal" for d in res.diagnostics)


def test_seed000_master_unicast():
    res = seed("seed000_master_unicast.conf")
    c = res.config
    assert c.global_defs.default_interface == "p5p1"
    (vi,) = c.instances
    assert (vi.name, vi.interface, vi.vrid, vi.priority, vi.state) == ("VI_1", "p5p1", 51, 100, "MASTER")
    # keepalived clears nopreempt with initial state MASTER (and says so)
    assert vi.nopreempt is False
    assert "nopreempt-master" in [d.code for d in res.diagnostics]
    assert [p.address for p in vi.unicast_peers] == ["192.168.1.148", "192.168.1.99"]
    assert [(a.address, a.prefixlen) for a in vi.virtual_ipaddress] == [("192.168.1.146", 32)]
    assert vi.authentication == m.Authentication(auth_type="PASS", auth_pass="d0cker")
    assert vi.notify.command == "/container/service/keepalived/assets/notify.sh"
    assert vi.version == 2 and vi.advert_int == 1.0 and vi.family == 4


def test_seed000_backup_unicast():
    vi = seed("seed000_backup_unicast.conf").config.instances[0]
    assert (vi.interface, vi.priority, vi.vrid) == ("enp2s0", 80, 51)


def test_seed000_lvs_dr_full_tutorial():
    res = seed("seed000_lvs_dr.conf")
    c = res.config
    g = c.global_defs
    assert g.notification_email == ("acassen@firewall.loc",)
    assert g.notification_email_from == "test0@163.com"
    assert g.smtp_server == "smtp.163.com" and g.smtp_server_port == 25
    assert g.smtp_connect_timeout == 30.0
    assert g.router_id == "LVS_DEVEL"
    assert g.vrrp_skip_check_adv_addr and g.vrrp_strict and g.enable_script_security
    assert g.script_user == "keepalived_script"
    # vrrp_garp_interval 0 is rejected by keepalived (minimum 1us): default stays
    assert g.vrrp_garp_interval == 0.0
    (s,) = c.vrrp_scripts
    assert (s.name, s.interval, s.weight, s.fall, s.rise, s.user) == ("chk_nginx_service", 3.0, -20, 3, 2,
                                                                       "keepalived_script")
    assert s.script.command == "/etc/keepalived/chk_nginx.sh"
    (vi,) = c.instances
    assert (vi.state, vi.interface, vi.vrid, vi.priority, vi.advert_int) == ("MASTER", "ens33", 51, 100, 1.0)
    assert [r.name for r in vi.track_scripts] == ["chk_nginx_service"]
    assert vi.notify_master.argv == ("/etc/keepalived/start_haproxy.sh", "start")
    assert vi.notify_fault.argv == ("/etc/keepalived/start_haproxy.sh", "stop")
    (vs,) = c.virtual_servers
    assert (vs.ip, vs.port, vs.delay_loop, vs.lvs_sched, vs.lvs_method.method, vs.protocol) == (
        "192.168.119.130", 80, 6.0, "rr", "DR", "TCP")
    assert vs.persistence_timeout is None          # commented out in the tutorial
    assert [(r.ip, r.port, r.weight) for r in vs.real_servers] == [("192.168.119.120", 80, 1),
                                                                   ("192.168.119.121", 80, 1)]
    chk = vs.real_servers[0].checkers[0]
    assert isinstance(chk, m.TcpCheck)
    assert (chk.connect_timeout, chk.retry, chk.delay_before_retry, chk.connect_port, chk.delay_loop) == (
        10.0, 3, 3.0, 80, 6.0)
    got = [d.code for d in res.diagnostics]
    # strict mode + authentication, strict mode + MASTER without priority 255, garp interval 0
    assert "auth-strict" in got and "strict-state" in got and "out-of-range" in got
    assert exit_code(res.diagnostics) == 5


def test_seed000_script_fragment():
    res = seed("seed000_script_fragment.conf")
    (s,) = res.config.vrrp_scripts
    assert s.script.command == "</dev/tcp/127.0.0.1/80"
    assert (s.interval, s.weight) == (1.0, -10)
    assert exit_code(res.diagnostics) == 0          # untracked script: keepalived says nothing either


def test_seed001_sync_group_and_lvs():
    res = seed("seed001_k8s_sync_group_lvs.conf")
    c = res.config
    assert c.global_defs.enable_traps and c.global_defs.notification_email == ("root@localhost",)
    (sg,) = c.sync_groups
    assert sg.group == ("VI_KEBE_APISERVER", "VI_EGDE_GATEWAY")
    a, b = c.instances
    assert a.interface == "eth1" and a.track_interfaces == ()   # keepalived drops its own interface
    assert any(d.message == "(VI_KEBE_APISERVER) Ignoring track_interface eth1 since own interface"
               for d in res.diagnostics)
    vip = a.virtual_ipaddress[0]
    assert (vip.address, vip.dev, vip.label) == ("172.72.4.2", "eth1", "eth1:vip")
    assert a.authentication.auth_pass == "kubeclou"          # truncated to 8 like keepalived
    assert [r.name for r in a.track_scripts] == ["check_haproxy"]
    (vs,) = c.virtual_servers
    assert vs.lvs_sched == "wlc"                 # 'loadbalance' is invalid: keepalived keeps the default
    assert vs.persistence_timeout is None        # 0 is out of range [1..2678400]
    assert vs.lvs_method.method == "DR"
    assert [rs.checkers[0].connect_timeout for rs in vs.real_servers] == [3.0, 3.0]
    got = [d.code for d in res.diagnostics]
    for code in ("unknown-keyword", "truncated", "bad-scheduler", "duplicate-vrid", "security"):
        assert code in got, code
    unknown = [d for d in res.diagnostics if d.code == "unknown-keyword"]
    assert any("did you mean 'garp_master_repeat'" in d.message for d in unknown)
    assert any("nat_mask" in d.message for d in unknown)
    assert exit_code(res.diagnostics) == 6       # keepalived -t: 6 (security wins)


def test_seed002_global_and_instances():
    g = seed("seed002_global_defs_email.conf").config.global_defs
    assert g.notification_email == ("acassen@firewall.loc", "sysadmin@firewall.loc")
    assert g.vrrp_mcast_group4 == "224.24.24.18" and g.router_id == "keepalive-node-1"
    res = seed("seed002_instance_track_notify.conf")
    vi = res.config.instances[0]
    assert vi.priority == 100 and vi.authentication.auth_pass == "1111"
    assert [d.code for d in res.diagnostics if d.severity == "error"] == ["undefined-reference"]
    n95 = seed("seed002_node95.conf").config
    assert n95.global_defs.router_id == "keepalive-node-1"
    assert n95.instances[0].virtual_ipaddress[0].address == "172.16.253.100"
    n96 = seed("seed002_node96.conf").config
    assert (n96.instances[0].state, n96.instances[0].priority) == ("BACKUP", 90)


def test_seed002_dual_master_leading_zero_vrid():
    b = seed("seed002_dual_master_vi2_backup.conf").config.instances[0]
    mm = seed("seed002_dual_master_vi2_master.conf").config.instances[0]
    assert b.vrid == mm.vrid == 2                 # "virtual_router_id 02"
    assert (b.priority, mm.priority) == (95, 100)


def test_seed002_script_and_fragment():
    (s,) = seed("seed002_vrrp_script_chk_sshd.conf").config.vrrp_scripts
    assert (s.name, s.interval, s.weight) == ("chk_sshd", 2.0, -4)
    assert s.script.argv == ("ls", "/etc/keepalived/test.txt")
    vi = seed("seed002_track_script_fragment.conf").config.instances[0]
    assert [(r.name, r.weight) for r in vi.track_scripts] == [("chk_haproxy", 2), ("chk_http_port", None),
                                                             ("chk_https_port", None), ("chk_smtp_port", None)]


@pytest.mark.parametrize("name,prio", [("seed003_haproxy_excluded_a.conf", 101),
                                       ("seed003_haproxy_excluded_b.conf", 100)])
def test_seed003_excluded_vips(name, prio):
    res = seed(name)
    c = res.config
    assert c.global_defs.smtp_alert is True and c.global_defs.router_id.startswith("keepalived-192-168-0-")
    vi = c.instances[0]
    assert (vi.state, vi.priority, vi.vrid, vi.nopreempt) == ("BACKUP", prio, 89, True)
    assert vi.virtual_ipaddress == ()
    assert [(a.address, a.dev) for a in vi.virtual_ipaddress_excluded] == [("192.168.0.5", "eth1"),
                                                                          ("192.168.0.6", "eth1")]
    assert c.vrrp_scripts[0].interval == 4.0
    assert "no-vips" in [d.code for d in res.diagnostics]


@pytest.mark.parametrize("name,state,prio", [("seed004_master.conf", "MASTER", 200),
                                             ("seed004_backup.conf", "BACKUP", 199)])
def test_seed004(name, state, prio):
    res = seed(name)
    vi = res.config.instances[0]
    assert (vi.state, vi.priority, vi.vrid, vi.interface) == (state, prio, 41, "ens33")
    assert (vi.virtual_ipaddress[0].address, vi.virtual_ipaddress[0].prefixlen) == ("192.168.31.250", 24)
    assert exit_code(res.diagnostics) == 0
