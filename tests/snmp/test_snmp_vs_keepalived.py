"""KEEPALIVED-MIB (global and vrrp branches), VRRP-MIB (RFC 2787) and VRRPv3-MIB (RFC 6527)
served by kvrrp against keepalived 2.2.7 itself: the same configuration, run by kvrrp then by
keepalived as subagents of one private snmpd, in the same kvrrp.lab namespace, both
single-node MASTER; the walks must be equal.

The configuration has something in every table: sync groups with tracked interfaces,
scripts, files, processes and BFDs (and notify scripts), instances (v2 and v3, multicast
and unicast) with their own tracked objects, VIPs and excluded VIPs, virtual routes (a
gateway, a blackhole, a multipath one) and rules, static addresses, routes and rules.

What legitimately differs is normalised, each for a reason written at NORMALISED below.
"""
from __future__ import annotations

import os
import time

import pytest

from kvrrp.lab import Lab, VrrpSpec, render_config
from snmp_tools import NetSnmp, wait_for

pytestmark = [pytest.mark.root, pytest.mark.keepalived, pytest.mark.timeout(150)]

K = ".1.3.6.1.4.1.9586.100.5"
VRRP = f"{K}.2"
INSTANCE = f"{VRRP}.3.1"
RFC2787 = ".1.3.6.1.2.1.68"
RFC6527 = ".1.3.6.1.2.1.207"
WAIT = 25.0

CONFIG = """\
global_defs {{
  router_id snmp-compare
  notification_email {{
    ops@example.org
    noc@example.org
  }}
  notification_email_from kvrrp@example.org
  smtp_connect_timeout 12
  enable_snmp_vrrp
  enable_snmp_rfc
  snmp_socket unix:{socket}
}}
static_ipaddress {{
  198.18.9.1/24 dev dum0 label dum0:st
  198.18.9.2/32 dev dum0 scope link
}}
static_routes {{
  198.18.70.0/24 via 198.18.9.254 dev dum0 table 120
  blackhole 198.18.71.0/24 table 120
}}
static_rules {{
  from 198.18.72.0/24 table 120 priority 300
}}
vrrp_script chk_up {{
  script "/usr/bin/true"
  interval 1
  weight 5
  rise 2
  fall 3
}}
vrrp_script chk_down {{
  script "/usr/bin/false x"
  interval 1
  timeout 3
  weight -7
}}
vrrp_script chk_unused {{
  script "/usr/bin/true"
  interval 3
}}
vrrp_track_file tf_one {{
  file {file}
  weight 4
}}
vrrp_track_file tf_two {{
  file {file}
  weight -3 reverse
}}
vrrp_track_process tp_none {{
  process kvsnmp-no-such
  weight 6
  quorum 2
  quorum_max 3
  fork_delay 2
  terminate_delay 1.5
}}
vrrp_track_process tp_args {{
  process kvsnmp-no-such -a -b
  param_match initial
  weight -2
}}
bfd_instance bfd_one {{
  neighbor_ip 198.18.0.250
  weight 8
}}
vrrp_sync_group SG_A {{
  group {{
    VI_1
    VI_2
  }}
  track_interface {{
    dum0 weight 3
    {ifname}
  }}
  track_script {{
    chk_up
    chk_down weight 2
  }}
  track_file {{
    tf_one
  }}
  track_process {{
    tp_none
  }}
  track_bfd {{
    bfd_one
  }}
  notify_master "/usr/bin/true sg master"
  notify_backup "/usr/bin/true sg backup"
  notify_fault /usr/bin/true
  notify_stop "/usr/bin/true sg stop"
  notify "/usr/bin/true sg"
  smtp_alert
}}
vrrp_instance VI_1 {{
  interface {ifname}
  state MASTER
  virtual_router_id 81
  priority 200
  advert_int 1
  virtual_ipaddress {{
    198.18.0.81/32
    198.18.0.82/24 brd 198.18.0.255 label {ifname}:v
  }}
  virtual_ipaddress_excluded {{
    198.18.8.81/32
  }}
  track_interface {{
    dum0
  }}
  track_script {{
    chk_up
  }}
  track_file {{
    tf_two weight 0
  }}
  track_process {{
    tp_args
  }}
  virtual_routes {{
    198.18.50.0/24 via 198.18.0.254 dev {ifname} metric 5
    blackhole 198.18.51.0/24
    198.18.52.0/24 src 198.18.0.81 dev {ifname} scope link table 110
    198.18.54.0/24 table 111 nexthop via 198.18.0.252 dev {ifname} weight 2 nexthop via 198.18.0.251 dev {ifname}
  }}
  virtual_rules {{
    from 198.18.60.0/24 table 100 priority 200
    to 198.18.61.1 table 101 priority 201
    from 198.18.62.0/24 to 198.18.63.0/24 table 102 priority 202
  }}
  notify_master "/usr/bin/true master"
  notify_backup "/usr/bin/true backup"
  notify_fault /usr/bin/true
  notify_stop /usr/bin/true
  notify /usr/bin/true
}}
vrrp_instance VI_2 {{
  interface {ifname}
  state MASTER
  virtual_router_id 82
  priority 190
  advert_int 1
  virtual_ipaddress {{
    198.18.0.83/32
  }}
  notify_master_rx_lower_pri "/usr/bin/true lower"
  notify_deleted "/usr/bin/true deleted"
  promote_secondaries
}}
vrrp_instance VI_3 {{
  interface {ifname}
  state MASTER
  version 3
  accept
  virtual_router_id 83
  priority 180
  advert_int 1
  unicast_peer {{
    {peer}
  }}
  virtual_ipaddress {{
    198.18.0.84/32
  }}
  track_interface {{
    dum0 weight -20
  }}
  track_script {{
    chk_down
    chk_up weight 9 reverse
  }}
  track_file {{
    tf_one weight 2
  }}
  track_bfd {{
    bfd_one
  }}
  track_process {{
    tp_none weight 1
  }}
  virtual_routes {{
    198.18.53.0/24 via 198.18.0.253
  }}
  preempt_delay 4
}}
"""

# What differs between keepalived 2.2.7 and kvrrp, and why (everything else must be equal).
NORMALISED = {
    # vrrpAddressAdvertising: keepalived 2.2.7 (and 2.4.3) answer notAdvertised(2) for every
    # address of the instances after the first: vrrp_header_ar_table() sets its "advertised"
    # flag when it enters the first instance and never again. kvrrp answers advertised(1) for
    # VIPs and notAdvertised(2) for excluded VIPs of every instance (checked below).
    "address-advertised": f"{VRRP}.6.1.11.",
    # vrrpScriptPath, vrrpScriptIntervalUsec, vrrpScriptTimeoutUsec: keepalived 2.4's MIB
    # (REVISION 202403180001Z / 202410040001Z) which kvrrp serves; 2.2.7 has no such columns.
    "script-2.4-columns": (f"{VRRP}.9.1.10.", f"{VRRP}.9.1.11.", f"{VRRP}.9.1.12."),
    # vrrpInstanceV3ChecksumAsV2, v3ChecksumAsV2: keepalived 2.4's MIB (REVISION 202212090001Z)
    "v3-checksum-2.4-column": (f"{INSTANCE}.36.", f"{K}.1.12.0"),
    # version: "Keepalived v2.2.7 (01/16,2022)" / "kvrrp X.Y.Z"
    "version": f"{K}.1.1.0",
}
# TimeTicks that depend on when each daemon started and changed state: their type is compared,
# not their value (vrrpOperVirtualRouterUpTime, vrrpv3OperationsUpTime)
TIMES = (f"{RFC2787}.1.3.1.13.", f"{RFC6527}.1.1.1.1.12.")
# keepalived's RFC 2787 vrrpOperTable and vrrpRouterStatsTable answer a Get or a GetNext that
# carries an index with nothing (snmp_rfcv2_header_list_table: `ifp ? ifindex : 0 < target`
# skips every instance), so its walk shows each column's first instance only: kvrrp's rows of
# the other instances are left out of the comparison (and checked to be there)
PER_INSTANCE_2787 = (f"{RFC2787}.1.3.1.", f"{RFC2787}.2.4.1.")
# Per-instance packet counters (adverts received, address list errors, ...) grow with the time
# each daemon ran before the walk: compared as zero / not zero
COUNTERS = (f"{RFC2787}.2.4.1.", f"{RFC6527}.1.2.5.1.")


def _kernel_ready(lab: Lab, node) -> None:
    """A second link for the tracked interfaces and static entries: a veth pair inside the
    namespace (no dummy module on the CI machines); it goes away with the namespace."""
    lab.run(node, ["ip", "link", "add", "dum0", "type", "veth", "peer", "name", "dum0p"])
    lab.run(node, ["ip", "link", "set", "dum0p", "up"])
    lab.run(node, ["ip", "link", "set", "dum0", "up"])


def _walk_in_state(snmp: NetSnmp, daemon, instances: int, state: int) -> dict[str, str]:
    """The three MIBs' walk once every instance is in `state` (KEEPALIVED-MIB VrrpState)."""
    want = {f"{INSTANCE}.4.{i}": f"INTEGER: {state}" for i in range(1, instances + 1)}

    def ready() -> bool:
        states = snmp.walk(f"{INSTANCE}.4")
        return states == want
    assert wait_for(ready, WAIT, interval=0.5), (snmp.walk(f"{INSTANCE}.4"), daemon.log()[-4000:])
    # the scripts' rise (2 runs at 1 s) and the file/process first reads are done by now
    time.sleep(4.0)
    rows = {**snmp.walk(K), **snmp.walk(RFC2787), **snmp.walk(RFC6527)}
    assert wait_for(lambda: snmp.walk(f"{INSTANCE}.4") == want, 2.0)
    for oid, value in rows.items():
        if oid.startswith(TIMES):
            assert value.startswith("Timeticks: "), (oid, value)
            rows[oid] = "Timeticks"
        elif oid.startswith(COUNTERS) and value.startswith("Counter"):
            kind, _, number = value.partition(": ")
            rows[oid] = f"{kind}: {'0' if number == '0' else 'not 0'}"
    return rows


def _split(rows: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    kept, dropped = {}, {}
    prefixes: list[str] = []
    for p in NORMALISED.values():
        prefixes += [p] if isinstance(p, str) else list(p)
    for oid, value in rows.items():
        (dropped if any(oid.startswith(p) for p in prefixes) else kept)[oid] = value
    return kept, dropped


def _master_peer(lab: Lab, node, peer: str):
    """A kvrrp on the second node, MASTER of the three instances at priority 250 (VI_3: by
    unicast to the node under test), so that the daemon under test stays BACKUP."""
    specs = [VrrpSpec(name="VI_1", vrid=81, priority=250, vips=("198.18.0.81/32",)),
             VrrpSpec(name="VI_2", vrid=82, priority=250, vips=("198.18.0.83/32",)),
             VrrpSpec(name="VI_3", vrid=83, priority=250, version=3, vips=("198.18.0.84/32",),
                      unicast_peers=(peer,))]
    daemon = lab.start_kvrrp(node, render_config(specs), tag="peer")
    assert wait_for(lambda: daemon.log().count("Entering MASTER STATE") >= 3, WAIT), daemon.log()[-3000:]
    return daemon


@pytest.mark.parametrize("state", ["master", "backup", "fault"])
def test_vrrp_branch_equals_keepalived(tmp_path, state: str) -> None:
    """Both single-node MASTER; both BACKUP to a kvrrp master on a second node; both FAULT
    (the LAN interface down before the start)."""
    code = {"master": 2, "backup": 1, "fault": 3}[state]
    track_file = os.path.join(str(tmp_path), "track-file")
    with open(track_file, "w") as fh:
        fh.write("2\n")
    nodes = 2 if state == "backup" else 1
    with NetSnmp(str(tmp_path)) as snmp, Lab(nodes=nodes, prefix="kvsnmpk", client=False) as lab:
        node = lab.nodes[0]
        _kernel_ready(lab, node)
        if state == "fault":
            lab.run(node, ["ip", "link", "set", node.ifname, "down"])
        peer = lab.nodes[1].ipv4 if state == "backup" else "198.18.0.240"
        if state == "backup":
            _master_peer(lab, lab.nodes[1], node.ipv4)
        text = CONFIG.format(socket=snmp.socket, file=track_file, ifname=node.ifname, peer=peer)

        kvrrp = lab.start_kvrrp(node, text, tag="kvrrp")
        ours = _walk_in_state(snmp, kvrrp, 3, code)
        assert kvrrp.stop() == 0
        # kvrrp's subagent is gone (snmpwalk then reports "No Such Object" at the OID)
        assert wait_for(lambda: f"{INSTANCE}.2.1" not in snmp.walk(f"{INSTANCE}.2"), WAIT, interval=0.3)

        keepalived = lab.start_keepalived(node, text, tag="keepalived")
        theirs = _walk_in_state(snmp, keepalived, 3, code)
        keepalived.stop()

    tables = {int(oid[len(VRRP) + 1:].split(".")[0]) for oid in theirs if oid.startswith(VRRP + ".")}
    assert tables == set(range(1, 23)) - {10}, sorted(tables)     # every table (10: the traps)
    mine, my_dropped = _split(ours)
    ref, _ = _split(theirs)
    first = next(k for k in theirs if k.startswith(f"{RFC2787}.1.3.1.3.")).split(".")[-2:]
    later = {k for k in mine if k.startswith(PER_INSTANCE_2787) and k.split(".")[-2:] != first}
    assert len(later) == 13 + 12, sorted(later)     # VI_2: 13 vrrpOperTable columns (no auth key), 12 stats
    mine = {k: v for k, v in mine.items() if k not in later}
    missing = {k: v for k, v in ref.items() if k not in mine}
    extra = {k: v for k, v in mine.items() if k not in ref}
    differ = {k: (ref[k], mine[k]) for k in ref if k in mine and ref[k] != mine[k]}
    assert not (missing or extra or differ), (f"missing in kvrrp: {missing}\nonly in kvrrp: {extra}\n"
                                             f"different (keepalived, kvrrp): {differ}")

    # the normalised columns hold what they should in kvrrp
    adv = f"{VRRP}.6.1.11."
    assert my_dropped[f"{adv}1.1"] == my_dropped[f"{adv}1.2"] == "INTEGER: 1"       # VI_1's VIPs
    assert my_dropped[f"{adv}1.3"] == "INTEGER: 2"                                   # its excluded VIP
    assert my_dropped[f"{adv}2.1"] == my_dropped[f"{adv}3.1"] == "INTEGER: 1"       # VI_2's, VI_3's
    assert my_dropped[f"{adv}0.1"] == "INTEGER: 2"                                   # static address
    assert my_dropped[f"{VRRP}.9.1.10.1"] == 'STRING: "/usr/bin/true"'
    assert my_dropped[f"{VRRP}.9.1.11.2"] == "Gauge32: 1000000"                     # chk_down: 1 s
    assert my_dropped[f"{VRRP}.9.1.12.2"] == "Gauge32: 3000000"                     # timeout 3 s
    assert my_dropped == {**{k: v for k, v in my_dropped.items() if not k.startswith(f"{INSTANCE}.36.")},
                          f"{INSTANCE}.36.3": "INTEGER: 2"}                          # VI_3 (v3) only
    assert my_dropped[f"{K}.1.1.0"].startswith('STRING: "kvrrp ')
    # a few of the compared columns, to be sure the configuration reached them
    assert mine[f"{INSTANCE}.31.2"] == 'STRING: "\'/usr/bin/true\' \'lower\'"'
    assert mine[f"{INSTANCE}.32.2"] == 'STRING: "\'/usr/bin/true\' \'deleted\'"'
    assert mine[f"{VRRP}.1.1.11.1"] == 'STRING: "\'/usr/bin/true\' \'sg\' \'stop\'"'
    assert mine[f"{VRRP}.11.1.3.1.4.2"] == "Hex-STRING: C6 12 00 FB"              # the second next hop
    assert mine[f"{VRRP}.7.1.13.0.1"] == "Gauge32: 120"                            # a static route
    # the RFC tables have all three instances (VRRP-MIB: the two VRRPv2 ones), and they were compared
    assert sum(1 for k in ours if k.startswith(f"{RFC2787}.1.3.1.3.")) == 2
    assert sum(1 for k in mine if k.startswith(f"{RFC6527}.1.1.1.1.6.")) == 3
