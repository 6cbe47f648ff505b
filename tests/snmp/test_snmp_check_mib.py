"""check_mib rows from a configuration, pure: virtual_server_group members (fwmark, one address,
a-b range, a/nn range), a group virtual server, and the trap objects of a group / fwmark VS."""
from __future__ import annotations

from types import SimpleNamespace

from kvrrp.config import parse_text
from kvrrp.snmp import check_mib
from kvrrp.snmp.agentx import GAUGE32, INTEGER, OCTET_STRING

CONF = """
virtual_server_group G {
  198.18.0.1 80
  198.18.0.5-9 80
  198.18.2.0/30 81
  fwmark 5
}
virtual_server group G {
  lb_algo sh
  lb_kind DR
  protocol UDP
  real_server 198.18.1.1 80 {
    weight 3
  }
}
virtual_server fwmark 7 {
  protocol TCP
  real_server 198.18.1.2 80 {
  }
}
"""
G = check_mib.CHECK + (2, 1)


def rows():
    config = parse_text(CONF, filename="t.conf", config_id="h").config
    engine = SimpleNamespace(config=config, rs_states={}, quorum={}, drained=set(), weight_bases={},
                             kernel_keys=lambda: {})
    return config, {obj + idx: (t, v) for obj, idx, t, v in check_mib.check_rows(engine) if v is not None}


def test_group_members_and_group_virtual_server():
    config, r = rows()
    assert r[check_mib.CHECK + (1, 1, 2, 1)] == (OCTET_STRING, "G")
    # keepalived's order: the group's fwmarks first, then its addresses and ranges
    assert r[G + (2, 1, 1)] == (INTEGER, 1) and r[G + (3, 1, 1)] == (GAUGE32, 5)
    assert r[G + (2, 1, 2)] == (INTEGER, 2) and r[G + (5, 1, 2)] == (OCTET_STRING, bytes((198, 18, 0, 1)))
    assert r[G + (2, 1, 3)] == (INTEGER, 3) and r[G + (6, 1, 3)][1] == bytes((198, 18, 0, 5))
    assert r[G + (7, 1, 3)][1] == bytes((198, 18, 0, 9)) and G + (5, 1, 3) not in r
    assert r[G + (7, 1, 4)][1] == bytes((198, 18, 2, 3)) and r[G + (8, 1, 4)] == (GAUGE32, 81)
    vs = check_mib.VS_COL
    assert r[vs + (2, 1)] == (INTEGER, 3) and r[vs + (3, 1)] == (OCTET_STRING, "G")
    assert r[vs + (8, 1)] == (INTEGER, 2) and r[vs + (9, 1)] == (INTEGER, 8) and r[vs + (10, 1)] == (INTEGER, 2)
    assert vs + (6, 1) not in r                                   # a group has no address
    assert r[vs + (2, 2)] == (INTEGER, 1) and r[vs + (4, 2)] == (GAUGE32, 7)
    assert vs + (8, 2) not in r and vs + (14, 2) not in r        # fwmark: no protocol; not persistent
    # no address: both granularity columns, keepalived's unset value
    assert r[vs + (15, 2)] == (OCTET_STRING, b"\xff" * 4) and r[vs + (51, 2)] == (GAUGE32, 0xFFFFFFFF)
    assert check_mib.RS_COL + (8, 1, 1) not in r                  # no uthreshold: not served
    assert r[check_mib.RS_COL + (7, 1, 1)] == (INTEGER, 3)
    assert vs + (27, 1) not in r                                  # no traffic read: no stats columns


def test_trap_objects_name_a_group_or_a_fwmark():
    config, _ = rows()
    group_vs, fwmark_vs = config.virtual_servers
    trap = check_mib.quorum_trap(group_vs, False, 0, 1, "r")
    assert [(v.oid[-1], v.value) for v in trap[1:4]] == [(2, 3), (3, "G"), (8, 2)]   # type group, name, not TCP
    trap = check_mib.real_server_trap(fwmark_vs, fwmark_vs.real_servers[0], True, 1, 1, "r")
    assert [(v.oid[-1], v.value) for v in trap[5:8]] == [(2, 1), (4, 7), (8, 1)]     # type fwmark, mark, TCP


# --- keepalived 2.4's later columns: per-checker settings, tunnels, flags, connection states ---

FULL = """
global_defs {
  smtp_alert_checker off
}
virtual_server 198.18.0.10 443 {
  lb_algo mh
  mh-fallback
  mh-port
  flag-3
  protocol TCP
  lvs_method TUN type gue port 6080 csum
  persistence_timeout 300
  persistence_granularity 255.255.255.0
  delay_loop 2.5
  retry 4
  delay_before_retry 1.5
  warmup 7
  connect_timeout 3
  weight 5
  smtp_alert on
  inhibit_on_failure
  quorum_up "/usr/local/bin/qup arg1"
  quorum_down /usr/local/bin/qdown
  sorry_server 198.18.1.99 8443
  real_server 198.18.1.10 443 {
    retry 2
    delay_loop 9
    connect_timeout 0.25
    snmp_name web-a
    notify_up "/bin/up.sh a"
    notify_down /bin/down.sh
    TCP_CHECK {
    }
    TCP_CHECK {
      connect_port 444
    }
  }
  real_server 198.18.1.11 443 {
    lvs_method DR
    smtp_alert off
  }
}
virtual_server fd00::10 80 {
  lb_algo rr
  protocol TCP
  lb_kind TUN
  persistence_granularity 64
  real_server fd00::20 80 {
  }
}
virtual_server 198.18.0.20 80 {
  lb_algo wlc
  protocol TCP
  lb_kind TUN
  real_server 198.18.1.20 80 {
    lvs_method TUN type gre
  }
}
"""


def full_rows(traffic=None, kernel_keys=None):
    from healthcheck.health import CheckerState, iter_real_servers

    config = parse_text(FULL, filename="t.conf", config_id="h").config
    (rid, _rs), _ = list(iter_real_servers(config.virtual_servers[0]))
    states = {rid: (CheckerState(is_up=True, has_run=True), CheckerState(is_up=False, has_run=False))}
    engine = SimpleNamespace(config=config, rs_states=states, quorum={}, drained=set(), weight_bases={},
                             kernel_keys=lambda: kernel_keys or {})
    return {obj + idx: (t, v) for obj, idx, t, v in check_mib.check_rows(engine, traffic) if v is not None}


def test_virtual_server_settings_columns():
    r, vs = full_rows(), check_mib.VS_COL
    col = {n: r.get(vs + (n, 1)) for n in range(2, 80)}
    assert col[53] == col[62] == (INTEGER, 1) and col[54] == col[63] == (INTEGER, 1)   # mh-fallback, mh-port
    assert col[55] == (INTEGER, 1)                                                    # flag-3
    assert col[56] == (INTEGER, 2)                                                    # inhibit: not removed
    assert col[57] == (GAUGE32, 4) and col[58] == (GAUGE32, 1) and col[59] == (GAUGE32, 7)
    assert col[60] == (INTEGER, 5) and col[61] == (INTEGER, 1)                       # own smtp_alert wins
    assert col[64] == (GAUGE32, 2_500_000) and col[65] == (GAUGE32, 1_500_000)
    assert col[66] == (GAUGE32, 7_000_000) and col[67] == (GAUGE32, 3_000_000)
    assert col[68] == (INTEGER, 2) and col[69] == (GAUGE32, 6080) and col[70] == (INTEGER, 2)   # gue, csum
    assert col[72] == (OCTET_STRING, "/usr/local/bin/qup") and col[73] == (OCTET_STRING, "/usr/local/bin/qdown")
    assert col[24] == (OCTET_STRING, "'/usr/local/bin/qup' 'arg1'")            # keepalived's cmd_str_r
    assert col[15] == (OCTET_STRING, bytes((255, 255, 255, 0))) and col[51] is None
    assert all(col[n] is None for n in list(range(27, 37)) + list(range(38, 51)) + list(range(74, 79)))
    # the IPv6 virtual server: granularity as a prefix length (51), not 15; TUN defaults to ipip
    assert r[vs + (51, 2)] == (GAUGE32, 64) and vs + (15, 2) not in r and r[vs + (5, 2)] == (INTEGER, 2)
    assert r[vs + (13, 2)] == (INTEGER, 1) and r[vs + (14, 2)] == (GAUGE32, 360)   # granularity alone
    assert col[13] == (INTEGER, 1) and col[14] == (GAUGE32, 300)
    assert r[vs + (68, 2)] == (INTEGER, 1) and vs + (69, 2) not in r and vs + (70, 2) not in r
    # unset: keepalived's defaults (retry and delays 0 when not given, smtp_alert off)
    assert r[vs + (57, 3)] == (GAUGE32, 0) and r[vs + (58, 3)] == (GAUGE32, 0) and r[vs + (59, 3)] == (GAUGE32, 0)
    assert r[vs + (61, 3)] == (INTEGER, 2) and r[vs + (56, 3)] == (INTEGER, 1) and r[vs + (53, 3)] == (INTEGER, 2)
    assert r[vs + (15, 3)] == (OCTET_STRING, b"\xff" * 4) and r[vs + (64, 3)] == (GAUGE32, 60_000_000)


def test_real_server_checker_columns():
    r, rs = full_rows(), check_mib.RS_COL
    col = {n: r.get(rs + (n, 1, 2)) for n in range(2, 64)}           # (1, 1) is the sorry server
    assert col[43] == (GAUGE32, 2)                                   # its own retry
    assert col[44] == (GAUGE32, 1) and col[48] == (GAUGE32, 1_500_000)   # delay_before_retry: the VS's
    assert col[45] == (GAUGE32, 7) and col[49] == (GAUGE32, 7_000_000)   # warmup: the VS's
    assert col[46] == (GAUGE32, 9) and col[50] == (GAUGE32, 9_000_000)   # its own delay_loop
    assert col[51] == (GAUGE32, 250_000)                             # its own connect_timeout
    assert col[47] == (INTEGER, 2)                                   # smtp_alert_checker off
    assert col[52] == (INTEGER, 2) and col[53] == (GAUGE32, 6080) and col[54] == (INTEGER, 2)   # the VS's tunnel
    assert col[55] == (OCTET_STRING, "web-a")
    assert col[56] == (OCTET_STRING, "/bin/up.sh") and col[57] == (OCTET_STRING, "/bin/down.sh")
    assert col[63] == (GAUGE32, 1)                                   # one of its two checkers has not run
    assert col[13] == (GAUGE32, 1)
    assert all(col[n] is None for n in range(14, 40))               # no traffic read
    other = {n: r.get(rs + (n, 1, 3)) for n in range(2, 64)}
    assert other[40] == (INTEGER, 2) and other[52] is None           # DR: no tunnel columns
    assert other[43] == (GAUGE32, 4) and other[46] == (GAUGE32, 2) and other[51] == (GAUGE32, 3_000_000)
    assert other[47] == (INTEGER, 2) and other[63] == (GAUGE32, 0) and other[55] is None
    assert r[rs + (52, 3, 1)] == (INTEGER, 3) and rs + (53, 3, 1) not in r and r[rs + (54, 3, 1)] == (INTEGER, 1)
    sorry = {n: r.get(rs + (n, 1, 1)) for n in range(2, 64)}
    assert sorry[2] == (INTEGER, 2) and sorry[40] == (INTEGER, 3) and sorry[63] == (GAUGE32, 0)
    assert sorry[42] == sorry[47] == (INTEGER, 2) and sorry[43] == sorry[46] == sorry[51] == (GAUGE32, 0)
    assert sorry[52] == (INTEGER, 2) and sorry[53] == (GAUGE32, 6080)     # the VS's tunnel
    assert all(sorry[c] is None for c in range(7, 14))                      # no weight, checks, scripts


def test_traffic_columns_from_the_stats_dump():
    from kvrrp.snmp.agentx import COUNTER32, COUNTER64
    from healthcheck.table import DestKey, ServiceKey

    svc = ServiceKey(4, 6, "198.18.0.10", 443)
    a, b, sorry = DestKey("198.18.1.10", 443), DestKey("198.18.1.11", 443), DestKey("198.18.1.99", 8443)
    big = 5 * 2 ** 32 + 7
    traffic = {svc: ({"conns": 9, "inpkts": 2 ** 32 + 3, "outpkts": 4, "inbytes": big, "outbytes": 6,
                      "cps": big, "inpps": 1, "outpps": 2, "inbps": 3, "outbps": 2 ** 33},
                     {a: {"conns": 5, "active_conns": 2, "inactive_conns": 3, "persistent_conns": 1,
                          "inbps": big, "outpkts": 11},
                      b: {"conns": 4},
                      sorry: {"conns": 1, "active_conns": 1}})}
    keys = {("[198.18.0.10]:tcp:443", "[198.18.1.10]:tcp:443"): [(svc, a)],
            ("[198.18.0.10]:tcp:443", "[198.18.1.11]:tcp:443"): [(svc, b)]}
    r, vs, rs = full_rows(traffic, keys), check_mib.VS_COL, check_mib.RS_COL
    assert r[vs + (27, 1)] == (GAUGE32, 9) and r[vs + (28, 1)] == (COUNTER32, 3) and r[vs + (39, 1)] == (COUNTER64, 2 ** 32 + 3)
    assert r[vs + (30, 1)] == (COUNTER64, big) and r[vs + (32, 1)] == (GAUGE32, 7)           # cps, 32-bit
    assert r[vs + (41, 1)] == (GAUGE32, 7) and r[vs + (42, 1)] == (GAUGE32, 5)               # cps low, high
    assert r[vs + (43, 1)] == (GAUGE32, 1) and r[vs + (44, 1)] == (GAUGE32, 0)               # inpps
    assert r[vs + (49, 1)] == (GAUGE32, 0) and r[vs + (50, 1)] == (GAUGE32, 2)               # outbps 2**33
    assert r[vs + (74, 1)] == (COUNTER64, big) and r[vs + (78, 1)] == (COUNTER64, 2 ** 33)   # 64-bit rates
    ra = {n: r.get(rs + (n, 1, 2)) for n in range(14, 63)}
    assert ra[14] == (GAUGE32, 5) and ra[15] == (GAUGE32, 2) and ra[16] == (GAUGE32, 3) and ra[17] == (GAUGE32, 1)
    assert ra[19] == (COUNTER32, 11) and ra[29] == (COUNTER64, 11)
    assert ra[36] == (GAUGE32, 7) and ra[37] == (GAUGE32, 5) and ra[61] == (COUNTER64, big)   # inbps halves, 64
    assert r[rs + (14, 1, 3)] == (GAUGE32, 4) and r[rs + (15, 1, 3)] == (GAUGE32, 0)
    assert r[rs + (14, 1, 1)] == (GAUGE32, 1) and r[rs + (15, 1, 1)] == (GAUGE32, 1)       # the sorry server's own
    # a real server missing from the dump reads zeros, every column present
    assert r[rs + (15, 2, 1)] == (GAUGE32, 0) and r[rs + (62, 2, 1)] == (COUNTER64, 0)


def test_lvs_sync_daemon_and_timeouts_scalars():
    conf = """
global_defs {
  lvs_sync_daemon eth0 VI_1 maxlen 1400 port 8849 ttl 2 group 239.1.1.9
  lvs_timeouts tcp 900 udp 30
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 42
  priority 100
  virtual_ipaddress {
    198.18.0.1
  }
}
"""
    config = parse_text(conf, filename="t.conf", config_id="h").config
    r = {obj + idx: (t, v) for obj, idx, t, v in check_mib.lvs_rows(config) if v is not None}
    sync, c = check_mib.CHECK + (6,), check_mib.CHECK
    assert r[sync + (1, 0)] == (INTEGER, 1) and r[sync + (2, 0)] == (OCTET_STRING, "eth0")
    assert r[sync + (3, 0)] == (OCTET_STRING, "VI_1") and r[sync + (4, 0)] == (INTEGER, 42)   # id: the VRID
    assert r[sync + (5, 0)] == (INTEGER, 1400) and r[sync + (6, 0)] == (INTEGER, 8849) and r[sync + (7, 0)] == (INTEGER, 2)
    assert r[sync + (8, 0)] == (INTEGER, 1) and r[sync + (9, 0)] == (OCTET_STRING, bytes((239, 1, 1, 9)))
    assert r[c + (7, 1, 0)] == (INTEGER, 900) and r[c + (7, 3, 0)] == (INTEGER, 30) and c + (7, 2, 0) not in r
    _, r = rows()                                                   # no sync daemon, no timeouts
    assert r[sync + (1, 0)] == (INTEGER, 2) and sync + (2, 0) not in r and c + (7, 1, 0) not in r


def test_hysteresis_at_or_over_the_quorum_is_lowered_as_keepalived_does():
    conf = FULL.replace("  weight 5\n", "  weight 5\n  quorum 2\n  hysteresis 4\n", 1)
    result = parse_text(conf, filename="t.conf", config_id="h")
    assert any("hysteresis 4 >= quorum 2; setting hysteresis to 1" in str(d) for d in result.diagnostics)
    engine = SimpleNamespace(config=result.config, rs_states={}, quorum={}, drained=set(), weight_bases={},
                             kernel_keys=lambda: {})
    r = {obj + idx: (t, v) for obj, idx, t, v in check_mib.check_rows(engine) if v is not None}
    assert r[check_mib.VS_COL + (26, 1)] == (GAUGE32, 1) and r[check_mib.VS_COL + (22, 1)] == (GAUGE32, 2)
