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
    assert r[G + (2, 1, 1)] == (INTEGER, 2) and r[G + (5, 1, 1)] == (OCTET_STRING, bytes((198, 18, 0, 1)))
    assert r[G + (2, 1, 2)] == (INTEGER, 3) and r[G + (6, 1, 2)][1] == bytes((198, 18, 0, 5))
    assert r[G + (7, 1, 2)][1] == bytes((198, 18, 0, 9)) and G + (5, 1, 2) not in r
    assert r[G + (7, 1, 3)][1] == bytes((198, 18, 2, 3)) and r[G + (8, 1, 3)] == (GAUGE32, 81)
    assert r[G + (2, 1, 4)] == (INTEGER, 1) and r[G + (3, 1, 4)] == (GAUGE32, 5)
    vs = check_mib.VS_COL
    assert r[vs + (2, 1)] == (INTEGER, 3) and r[vs + (3, 1)] == (OCTET_STRING, "G")
    assert r[vs + (8, 1)] == (INTEGER, 2) and r[vs + (9, 1)] == (INTEGER, 8) and r[vs + (10, 1)] == (INTEGER, 2)
    assert vs + (6, 1) not in r                                   # a group has no address
    assert r[vs + (2, 2)] == (INTEGER, 1) and r[vs + (4, 2)] == (GAUGE32, 7)
    assert r[check_mib.RS_COL + (7, 1, 1)] == (INTEGER, 3)
    assert vs + (27, 1) not in r                                  # no traffic read: no stats columns


def test_trap_objects_name_a_group_or_a_fwmark():
    config, _ = rows()
    group_vs, fwmark_vs = config.virtual_servers
    trap = check_mib.quorum_trap(group_vs, False, 0, 1, "r")
    assert [(v.oid[-1], v.value) for v in trap[1:4]] == [(2, 3), (3, "G"), (8, 2)]   # type group, name, not TCP
    trap = check_mib.real_server_trap(fwmark_vs, fwmark_vs.real_servers[0], True, 1, 1, "r")
    assert [(v.oid[-1], v.value) for v in trap[5:8]] == [(2, 1), (4, 7), (8, 1)]     # type fwmark, mark, TCP
