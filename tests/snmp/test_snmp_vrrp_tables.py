"""KEEPALIVED-MIB vrrp branch tables from a configuration (pure functions): the tracked tables
of instances and sync groups, the script / file / BFD / process tables, routes, next hops and
rules, static entries at instance 0, and the instance columns keepalived derives from the
configuration. tests/snmp/test_snmp_vs_keepalived.py compares the same tables with keepalived's."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

from kvrrp.config import parse_text
from kvrrp.config.rtnames import RtNames
from kvrrp.snmp import vrrp_mib
from kvrrp.snmp import vrrp_route_mib as rm
from kvrrp.snmp import vrrp_tracking_mib as tm
from kvrrp.snmp.agentx import GAUGE32, INTEGER, OCTET_STRING
from kvrrp.track.plan import build_plan
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.stats import InstanceStats

V = vrrp_mib.VRRP

CONF = """global_defs {
 router_id t
}
static_ipaddress {
 198.18.9.1/24 dev lo brd + label lo:st
}
static_routes {
 198.18.70.0/24 via 198.18.9.254 dev lo table 120
}
static_rules {
 from 198.18.72.0/24 table 120 priority 300
}
vrrp_script chk_a {
 script "/usr/bin/printf x"
 interval 2
 timeout 5
 weight 5
 rise 2
 fall 3
}
vrrp_script chk_b {
 script "/usr/bin/false"
 weight -7 reverse
}
vrrp_script chk_unused {
 script /usr/bin/true
}
vrrp_track_file tf {
 file /tmp/kvrrp-snmp-tables-none
 weight -3 reverse
}
vrrp_track_process tp {
 process sshd -D -x
 param_match partial
 weight 6
 quorum 2
 fork_delay 2
 terminate_delay 0.5
}
vrrp_track_process tp_plain {
 process cron
}
bfd_instance bfd_v {
 neighbor_ip 198.18.0.250
 weight 8
}
bfd_instance bfd_c {
 neighbor_ip 198.18.0.251
 checker
}
vrrp_sync_group SG {
 group {
  G1
  G2
 }
 track_interface {
  eth9 weight 3
  eth8
 }
 track_script {
  chk_a
  chk_b weight 2
 }
 track_file {
  tf
 }
 track_process {
  tp_plain
 }
 track_bfd {
  bfd_v
 }
}
vrrp_instance G1 {
 interface lo
 virtual_router_id 1
 virtual_ipaddress {
  198.18.0.1
 }
 track_script {
  chk_a
 }
 track_file {
  tf weight 1
 }
}
vrrp_instance G2 {
 interface lo
 virtual_router_id 2
 priority 255
 virtual_ipaddress {
  198.18.0.2
 }
}
vrrp_instance SOLO {
 interface lo
 version 3
 accept
 linkbeat_use_polling
 virtual_router_id 3
 virtual_ipaddress {
  198.18.0.3/24 brd 198.18.0.255
  198.18.0.4/24
 }
 track_interface {
  lo weight 10
  eth7 weight -20
  eth6 weight 4 reverse
 }
 track_script {
  chk_b
  chk_a weight 9 reverse
 }
 track_file {
  tf weight 2
 }
 track_process {
  tp
 }
 track_bfd {
  bfd_v
 }
 virtual_routes {
  198.18.50.0/24 via 198.18.0.254 dev lo metric 5 mtu lock 1400
  blackhole 198.18.51.0/24
  198.18.52.0/24 src 198.18.0.3 dev lo scope link table 110 protocol 99 no_track
  198.18.53.0/24 nexthop via 198.18.0.252 dev lo weight 2 nexthop via 198.18.0.251 onlink
  198.18.54.0/24 nexthop via 198.18.0.249
 }
 virtual_rules {
  from 198.18.60.0/24 table 100 priority 200
  to 198.18.61.1 goto 300 priority 201
  from 198.18.62.0/24 to 198.18.63.0/24 not fwmark 0x10/0xff iif lo oif lo blackhole priority 202
 }
}
"""


def config():
    return parse_text(CONF, filename="t.conf", config_id="tables").config


def values(rows) -> dict:
    return {obj + idx: (vtype, value) for obj, idx, vtype, value in rows if value is not None}


def instance_tracked(cfg) -> dict:
    own = tm.instance_bindings(build_plan(cfg))
    rows = []
    for i, inst in enumerate(cfg.instances, 1):
        rows += tm.one_instance_tracked_rows(i, own.get(inst.name, ()), cfg)
    return values(rows)


def test_instance_tracked_tables_follow_keepalived_lists() -> None:
    cfg = config()
    got = instance_tracked(cfg)
    # SOLO (instance 3): its own interface lo is not a tracked interface; eth7, eth6 are (n = 1, 2)
    assert got[V + (4, 1, 1, 3, 1)] == (OCTET_STRING, "eth7") and got[V + (4, 1, 2, 3, 1)] == (INTEGER, -20)
    assert got[V + (4, 1, 1, 3, 2)] == (OCTET_STRING, "eth6") and got[V + (4, 1, 3, 3, 2)] == (INTEGER, 1)
    assert V + (4, 1, 1, 3, 3) not in got
    # scripts: the entry's weight override and reverse
    assert got[V + (5, 1, 2, 3, 1)] == (OCTET_STRING, "chk_b") and got[V + (5, 1, 3, 3, 1)] == (INTEGER, -7)
    assert got[V + (5, 1, 4, 3, 1)] == (INTEGER, 1)
    assert got[V + (5, 1, 2, 3, 2)] == (OCTET_STRING, "chk_a") and got[V + (5, 1, 3, 3, 2)] == (INTEGER, 9)
    # file, BFD, process: the tracked block's own weight and reverse (keepalived's file->weight)
    assert got[V + (12, 1, 2, 3, 1)] == (OCTET_STRING, "tf") and got[V + (12, 1, 3, 3, 1)] == (INTEGER, -3)
    assert got[V + (12, 1, 4, 3, 1)] == (INTEGER, 1)
    assert got[V + (17, 1, 2, 3, 1)] == (OCTET_STRING, "bfd_v") and got[V + (17, 1, 3, 3, 1)] == (INTEGER, 8)
    assert got[V + (20, 1, 2, 3, 1)] == (OCTET_STRING, "tp") and got[V + (20, 1, 3, 3, 1)] == (INTEGER, 6)
    # G1 in a sync group without sync_group_tracking_weight: its weighted script is dropped, its
    # file tracked with weight 1 stays (weight 0 in the plan; the row shows the block's -3)
    assert not any(k[len(V)] == 5 and k[-2] == 1 for k in got)
    assert got[V + (12, 1, 2, 1, 1)] == (OCTET_STRING, "tf")
    assert not any(k[-2] == 2 for k in got)                       # G2 tracks nothing of its own


def test_group_tracked_tables() -> None:
    got = values(tm.group_tracked_rows(config()))
    # interfaces: name in column 1; G2 is an address owner: weights cleared to 0
    assert got[V + (14, 1, 1, 1, 1)] == (OCTET_STRING, "eth9") and got[V + (14, 1, 2, 1, 1)] == (INTEGER, 0)
    assert got[V + (14, 1, 1, 1, 2)] == (OCTET_STRING, "eth8") and got[V + (14, 1, 3, 1, 2)] == (INTEGER, 2)
    assert got[V + (15, 1, 2, 1, 1)] == (OCTET_STRING, "chk_a") and got[V + (15, 1, 3, 1, 1)] == (INTEGER, 0)
    assert got[V + (15, 1, 2, 1, 2)] == (OCTET_STRING, "chk_b") and got[V + (15, 1, 4, 1, 2)] == (INTEGER, 1)
    assert got[V + (16, 1, 2, 1, 1)] == (OCTET_STRING, "tf") and got[V + (16, 1, 3, 1, 1)] == (INTEGER, -3)
    assert got[V + (19, 1, 2, 1, 1)] == (OCTET_STRING, "bfd_v") and got[V + (19, 1, 3, 1, 1)] == (INTEGER, 8)
    assert got[V + (22, 1, 2, 1, 1)] == (OCTET_STRING, "tp_plain") and got[V + (22, 1, 3, 1, 1)] == (INTEGER, 0)


def test_script_table_lists_used_scripts_with_their_state() -> None:
    cfg = config()
    state = tm.TrackerState(scripts={"chk_a": True}, refused={"chk_b"})
    got = values(tm.script_rows(cfg, build_plan(cfg), state))
    col = V + (9, 1)
    assert got[col + (2, 1)] == (OCTET_STRING, "chk_a") and got[col + (2, 2)] == (OCTET_STRING, "chk_b")
    assert col + (2, 3) not in got                                 # chk_unused: dropped, as keepalived
    assert got[col + (3, 1)] == (OCTET_STRING, "'/usr/bin/printf' 'x'")                # cmd_str quoting
    assert tm.script_command(("/bin/echo", "it's")) == "'/bin/echo' 'it'\\''s'"
    assert tm.script_command(("</dev/tcp/198.18.0.1/80",)) == "</dev/tcp/198.18.0.1/80"   # a redirection
    assert got[col + (4, 1)] == (INTEGER, 2) and got[col + (5, 1)] == (INTEGER, 5)
    assert got[col + (6, 1)] == (INTEGER, 3) and got[col + (6, 2)] == (INTEGER, 5)   # good; refused: failed
    assert got[col + (7, 1)] == (GAUGE32, 2) and got[col + (8, 1)] == (GAUGE32, 3)
    assert got[col + (9, 1)] == (INTEGER, 2) and got[col + (9, 2)] == (INTEGER, 1)
    assert got[col + (10, 1)] == (OCTET_STRING, "/usr/bin/printf")
    assert got[col + (11, 1)] == (GAUGE32, 2_000_000) and got[col + (12, 1)] == (GAUGE32, 5_000_000)
    assert got[col + (12, 2)] == (GAUGE32, 1_000_000)                            # timeout: the interval
    unknown = values(tm.script_rows(cfg, build_plan(cfg), tm.TrackerState()))
    assert unknown[col + (6, 1)] == (INTEGER, 1)                                   # not run yet: init
    bad = values(tm.script_rows(cfg, build_plan(cfg), tm.TrackerState(scripts={"chk_a": False})))
    assert bad[col + (6, 1)] == (INTEGER, 2)


def test_file_bfd_process_tables() -> None:
    cfg = config()
    state = tm.TrackerState(files={"tf": 7}, processes={"tp": (3, True)}, bfd={"bfd_v": True})
    got = values(tm.file_rows(cfg, state) + tm.bfd_rows(cfg, state) + tm.process_rows(cfg, state))
    f, b, p = V + (13, 1), V + (18, 1), V + (21, 1)
    assert got[f + (2, 1)] == (OCTET_STRING, "tf") and got[f + (3, 1)] == (OCTET_STRING, "/tmp/kvrrp-snmp-tables-none")
    assert got[f + (4, 1)] == (INTEGER, 7) and got[f + (5, 1)] == (INTEGER, -3) and got[f + (6, 1)] == (INTEGER, 1)
    assert got[b + (2, 1)] == (OCTET_STRING, "bfd_v") and got[b + (3, 1)] == (INTEGER, 1)
    assert b + (2, 2) not in got                                   # checker-only bfd_instance
    assert got[p + (2, 1)] == (OCTET_STRING, "tp") and got[p + (3, 1)] == (OCTET_STRING, "sshd")
    assert got[p + (4, 1)] == (OCTET_STRING, "-D -x") and got[p + (5, 1)] == (INTEGER, 3)     # partial
    assert got[p + (8, 1)] == (GAUGE32, 2) and got[p + (9, 1)] == (INTEGER, -1)               # no quorum_max
    assert got[p + (10, 1)] == (GAUGE32, 2_000_000) and got[p + (11, 1)] == (GAUGE32, 500_000)
    assert got[p + (12, 1)] == (INTEGER, 1) and got[p + (13, 1)] == (INTEGER, 3) and got[p + (14, 1)] == (INTEGER, 1)
    assert got[p + (5, 2)] == (INTEGER, 0) and got[p + (12, 2)] == (INTEGER, 2)              # plain: none
    assert got[p + (4, 2)] == (OCTET_STRING, "") and got[p + (14, 2)] == (INTEGER, 2)
    down = values(tm.bfd_rows(cfg, tm.TrackerState()))
    assert down[b + (3, 1)] == (INTEGER, 0)


def test_route_and_next_hop_rows() -> None:
    cfg = config()
    solo = cfg.instance("SOLO")
    got = values(rm.route_rows(3, solo.virtual_routes, True, RtNames(), lambda name: 1))
    r, nh = rm.ROUTE, rm.NEXT_HOP
    assert got[r + (2, 3, 1)] == (INTEGER, 1) and got[r + (3, 3, 1)] == (OCTET_STRING, bytes([198, 18, 50, 0]))
    assert got[r + (4, 3, 1)] == (GAUGE32, 24) and got[r + (5, 3, 1)] == (OCTET_STRING, bytes([198, 18, 0, 254]))
    assert got[r + (8, 3, 1)] == (GAUGE32, 5) and got[r + (9, 3, 1)] == (INTEGER, 14)
    assert got[r + (10, 3, 1)] == (INTEGER, 1) and got[r + (11, 3, 1)] == (INTEGER, 1)
    assert got[r + (12, 3, 1)] == (OCTET_STRING, "lo") and got[r + (13, 3, 1)] == (GAUGE32, 254)
    assert got[r + (14, 3, 1)] == (INTEGER, 1) and got[r + (18, 3, 1)] == (INTEGER, 19)     # keepalived's 18 + 1
    assert got[r + (22, 3, 1)] == (GAUGE32, 1400) and got[r + (23, 3, 1)] == (INTEGER, 1)    # mtu lock
    assert got[r + (19, 3, 1)] == (INTEGER, 2) and got[r + (20, 3, 1)] == (INTEGER, 2)
    assert r + (24, 3, 1) not in got
    assert got[r + (10, 3, 2)] == (INTEGER, 3) and r + (11, 3, 2) not in got                # blackhole, no dev
    assert got[r + (7, 3, 3)] == (OCTET_STRING, bytes([198, 18, 0, 3])) and got[r + (9, 3, 3)] == (INTEGER, 2)
    assert got[r + (13, 3, 3)] == (GAUGE32, 110) and got[r + (18, 3, 3)] == (INTEGER, 100)
    assert got[r + (10, 3, 4)] == (INTEGER, 2) and r + (6, 3, 4) not in got                 # two next hops
    assert got[r + (6, 3, 5)] == (OCTET_STRING, bytes([198, 18, 0, 249]))                  # one: secondary gw
    assert got[nh + (3, 3, 4, 1)] == (OCTET_STRING, bytes([198, 18, 0, 252])) and got[nh + (6, 3, 4, 1)] == (GAUGE32, 2)
    assert got[nh + (5, 3, 4, 1)] == (OCTET_STRING, "lo") and got[nh + (7, 3, 4, 1)] == (INTEGER, 2)
    assert got[nh + (7, 3, 4, 2)] == (INTEGER, 1) and nh + (6, 3, 4, 2) not in got          # onlink, no weight
    backup = values(rm.route_rows(3, solo.virtual_routes, False, RtNames(), lambda name: 1))
    assert backup[r + (14, 3, 1)] == (INTEGER, 2)


def test_rule_rows() -> None:
    solo = config().instance("SOLO")
    got = values(rm.rule_rows(3, solo.virtual_rules, True, RtNames()))
    r = rm.RULE
    assert got[r + (2, 3, 1)] == (OCTET_STRING, "from") and got[r + (6, 3, 1)] == (GAUGE32, 100)
    assert got[r + (13, 3, 1)] == (OCTET_STRING, bytes([198, 18, 60, 0])) and got[r + (14, 3, 1)] == (GAUGE32, 24)
    assert got[r + (23, 3, 1)] == (INTEGER, 1) and got[r + (24, 3, 1)] == (GAUGE32, 100)
    assert got[r + (25, 3, 1)] == (GAUGE32, 200) and got[r + (15, 3, 1)] == (GAUGE32, 0)
    assert got[r + (2, 3, 2)] == (OCTET_STRING, "to") and got[r + (22, 3, 2)] == (GAUGE32, 300)
    assert got[r + (23, 3, 2)] == (INTEGER, 2) and r + (6, 3, 2) not in got and r + (24, 3, 2) not in got
    assert got[r + (4, 3, 2)] == (OCTET_STRING, bytes([198, 18, 61, 1])) and got[r + (11, 3, 2)] == (GAUGE32, 32)
    assert got[r + (2, 3, 3)] == (OCTET_STRING, "both") and got[r + (8, 3, 3)] == (INTEGER, 1)    # not
    assert got[r + (4, 3, 3)] == (OCTET_STRING, bytes([198, 18, 63, 0]))                # obsolete: the "to"
    assert got[r + (16, 3, 3)] == (GAUGE32, 0x10) and got[r + (17, 3, 3)] == (GAUGE32, 0xFF)
    assert got[r + (20, 3, 3)] == (OCTET_STRING, "lo") and got[r + (21, 3, 3)] == (OCTET_STRING, "lo")
    assert got[r + (23, 3, 3)] == (INTEGER, 6)                                           # blackhole
    assert got[r + (7, 3, 3)] == (INTEGER, 1)


def fake_engine(cfg):
    instances = {}
    for m in cfg.instances:
        vips = tuple(SimpleNamespace(address=v.address, prefixlen=v.prefixlen, family=v.family, ifname=None,
                                     broadcast=None if v.brd is None else "198.18.0.255", scope=None, label=None,
                                     peer=None) for v in m.virtual_ipaddress)
        settings = SimpleNamespace(name=m.name, ifname="lo", vrid=m.vrid, family=4, version=m.version, vips=vips,
                                   excluded_vips=(), priority=m.priority, adver_int=1.0, preempt=True,
                                   preempt_delay=0.0, auth_type=0, sync_group=None, garp_master_delay=5.0,
                                   accept=bool(m.accept), unicast_peers=(), mcast_group=None,
                                   v3_checksum_as_v2=False)
        instances[m.name] = SimpleNamespace(name=m.name, settings=settings, stats=InstanceStats(),
                                            state=State.MASTER if m.name == "SOLO" else State.BACKUP,
                                            want_master=False, effective_priority=m.priority, vips_set=True,
                                            own_address="198.18.0.10", master_address=None, last_drop=None)
    return SimpleNamespace(instances=instances, sync_groups={}, tracking=None, add_transition_listener=lambda cb: None,
                           remove_transition_listener=lambda cb: None)


def test_instance_columns_and_static_addresses() -> None:
    cfg = config()
    engine = fake_engine(cfg)
    host = vrrp_mib.Host(ifindex=lambda name: 1, ticks=lambda t: 0, hostname=lambda: "h")
    got = values(vrrp_mib.instance_rows(engine, cfg) + vrrp_mib.address_rows(engine, host, cfg))
    col = V + (3, 1)
    assert got[col + (11, 3)] == (INTEGER, 1) and got[col + (11, 1)] == (INTEGER, 2)     # track_interface entries
    assert got[col + (27, 3)] == (INTEGER, 1) and got[col + (27, 1)] == (INTEGER, 0)     # accept: v3 only
    assert got[col + (29, 3)] == (INTEGER, 1) and got[col + (29, 1)] == (INTEGER, 2)     # linkbeat polling
    a = V + (6, 1)
    assert got[a + (4, 3, 1)] == (OCTET_STRING, bytes([198, 18, 0, 255]))
    assert got[a + (4, 3, 2)] == (OCTET_STRING, bytes(4))                               # no brd: 0.0.0.0
    assert got[a + (3, 0, 1)] == (OCTET_STRING, bytes([198, 18, 9, 1]))                 # static: instance 0
    assert got[a + (4, 0, 1)] == (OCTET_STRING, bytes([198, 18, 9, 255])) and got[a + (5, 0, 1)] == (GAUGE32, 24)
    assert got[a + (8, 0, 1)] == (OCTET_STRING, "lo") and got[a + (9, 0, 1)] == (OCTET_STRING, "lo:st")
    assert got[a + (10, 0, 1)] == (INTEGER, 1) and got[a + (11, 0, 1)] == (INTEGER, 2)


def test_agent_view_serves_the_new_tables() -> None:
    from kvrrp.snmp.vrrp_agent import SnmpSettings, VrrpSnmpAgent

    cfg = config()
    engine = fake_engine(cfg)
    settings = SnmpSettings(vrrp=True, checker=False, rfcv2=False, rfcv3=False, traps=False, socket="/nonexistent")
    agent = VrrpSnmpAgent(engine, cfg, settings, checker_serves_global=False, version="kvrrp t")

    async def walk() -> dict:
        from kvrrp.snmp.agentx import END_OF_MIB_VIEW, SearchRange

        found, oid = {}, V
        while True:
            vb = await agent.view().next(SearchRange(oid, (), False))
            if vb.type == END_OF_MIB_VIEW or vb.oid[:len(V)] != V:
                return found
            found[vb.oid] = vb.value
            oid = vb.oid
    got = asyncio.run(walk())
    tables = {oid[len(V)] for oid in got}
    # (1, 2: the sync groups come from the engine's, none in this fake one)
    assert tables == {3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}
    assert got[V + (7, 1, 14, 3, 1)] == 1 and got[V + (7, 1, 14, 0, 1)] == 1           # SOLO is MASTER
    assert got[V + (8, 1, 7, 3, 1)] == 1 and got[V + (8, 1, 25, 0, 1)] == 300
    assert got[V + (9, 1, 6, 1)] == 1                                                   # no tracker yet: init

    class Broken:                                   # a supervisor that cannot be read
        @property
        def scripts(self):
            raise RuntimeError("half way through a reload")
    engine.tracking = Broken()
    agent.view().invalidate()
    again = asyncio.run(walk())
    assert again[V + (9, 1, 6, 1)] == 1 and again[V + (9, 1, 2, 1)] == "chk_a"        # still answers
    engine.tracking = SimpleNamespace(scripts={"chk_a": SimpleNamespace(tracker=SimpleNamespace(healthy=True))},
                                      refused={}, files=None, processes=None, bfd=None)
    agent.view().invalidate()
    assert asyncio.run(walk())[V + (9, 1, 6, 1)] == 3                                  # good


def test_route_from_columns() -> None:
    from kvrrp.config.model import VirtualRoute

    route = VirtualRoute(to="2001:2:0:9::/64", family=6, from_="2001:2:0:1::/64", dev="lo")
    got = values(rm.route_rows(1, (route,), True, RtNames(), lambda name: 1))
    r = rm.ROUTE
    assert got[r + (15, 1, 1)] == (OCTET_STRING, bytes.fromhex("20010002000000010000000000000000"))
    assert got[r + (16, 1, 1)] == (GAUGE32, 64)
    plain = values(rm.route_rows(1, (VirtualRoute(to="2001:2:0:9::/64", family=6),), True, RtNames(), lambda n: 1))
    assert r + (15, 1, 1) not in plain
