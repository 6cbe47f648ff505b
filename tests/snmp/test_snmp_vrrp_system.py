"""The VRRP daemon as an AgentX subagent of a real snmpd: snmpwalk sees its instances, VIPs and
the RFC tables; snmptrapd receives the traps of a failover.

Two nodes in a kvrrp.lab: n1 runs kvrrp with SNMP (both instances BACKUP at priority 100, a v2
and a v3 one, in a sync group), n2 runs kvrrp as the master at 150 without SNMP. snmpd,
snmptrapd and the walks run on the host on 127.0.0.1; n1 reaches snmpd's AgentX socket by its
path (a unix socket does not belong to a network namespace). Stopping n2 makes n1 MASTER: the
traps keepalived sends for that must arrive, and the walk must show the new state.
"""
from __future__ import annotations

import signal
import sys

import pytest

from kvrrp.lab import Lab, VrrpSpec, render_config
from snmp_tools import NetSnmp, wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

WAIT = 15.0
K = ".1.3.6.1.4.1.9586.100.5"
VRRP = f"{K}.2"
INSTANCE = f"{VRRP}.3.1"
ADDRESS = f"{VRRP}.6.1"
RFC2787 = ".1.3.6.1.2.1.68"
RFC6527 = ".1.3.6.1.2.1.207"
TRAP_OID = ".1.3.6.1.6.3.1.1.4.1.0"


def specs(priority: int) -> list[VrrpSpec]:
    return [VrrpSpec(name="VI_2", vrid=51, priority=priority, version=2, advert_int=0.2,
                     vips=("198.18.0.200/32", "198.18.0.201/32"), extra=("dont_track_primary",)),
            VrrpSpec(name="VI_3", vrid=52, priority=priority, version=3, advert_int=0.2,
                     vips=("198.18.0.210/32",), extra=("track_script {", "    chk weight 7", "}"))]


def group_lines() -> str:
    return ("vrrp_sync_group SG_1 {\n    group {\n        VI_2\n        VI_3\n    }\n}\n"
            "vrrp_script chk {\n    script /bin/true\n    interval 1\n    weight 10\n}\n")


def test_walk_and_failover_traps(tmp_path) -> None:
    with NetSnmp(str(tmp_path)) as snmp, Lab(nodes=2, prefix="kvsnmp", client=False) as lab:
        n1, n2 = lab.nodes
        glob = ["enable_snmp_vrrp", "enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_traps",
                f"snmp_socket unix:{snmp.socket}", "router_id snmp-lab-n1"]
        master = lab.start_kvrrp(n2, render_config(specs(150)) + group_lines(), tag="master")
        assert wait_for(lambda: len(master.transitions()) >= 1 and "MASTER" in master.log(), WAIT), master.log()
        backup = lab.start_kvrrp(n1, render_config(specs(100), glob) + group_lines(), tag="snmp")

        def registered() -> bool:
            return f"{INSTANCE}.2.1" in snmp.walk(VRRP)
        assert wait_for(registered, WAIT), backup.log()[-3000:]
        assert wait_for(lambda: "(VI_3) Entering BACKUP STATE" in backup.log(), WAIT), backup.log()

        rows = snmp.walk(K)
        assert rows[f"{K}.1.2.0"] == 'STRING: "snmp-lab-n1"'                        # routerId
        assert rows[f"{K}.1.4.0"] == "INTEGER: 1"                                     # trapEnable
        assert rows[f"{INSTANCE}.2.1"] == 'STRING: "VI_2"' and rows[f"{INSTANCE}.2.2"] == 'STRING: "VI_3"'
        assert rows[f"{INSTANCE}.3.1"] == "Gauge32: 51" and rows[f"{INSTANCE}.3.2"] == "Gauge32: 52"
        assert rows[f"{INSTANCE}.4.1"] == "INTEGER: 1" and rows[f"{INSTANCE}.4.2"] == "INTEGER: 1"   # backup
        assert rows[f"{INSTANCE}.7.1"] == "INTEGER: 100" and rows[f"{INSTANCE}.8.1"] == "INTEGER: 100"
        assert rows[f"{INSTANCE}.10.1"] == 'STRING: "eth0"'
        assert rows[f"{INSTANCE}.11.1"] == "INTEGER: 2"                               # dont_track_primary
        assert rows[f"{INSTANCE}.12.2"] == "Gauge32: 20"                              # v3: centiseconds
        assert rows[f"{INSTANCE}.18.1"] == 'STRING: "SG_1"'
        assert rows[f"{INSTANCE}.30.1"] == "INTEGER: 2" and rows[f"{INSTANCE}.30.2"] == "INTEGER: 3"
        assert rows[f"{VRRP}.1.1.2.1"] == 'STRING: "SG_1"'
        assert rows[f"{VRRP}.2.1.2.1.2"] == 'STRING: "VI_3"'                          # group member 2
        # tracked: no track_interface entries (an instance's own interface is not one, as in
        # keepalived); VI_3's script has weight 7 in a sync group without
        # sync_group_tracking_weight: keepalived (and kvrrp) ignore it, and the unused script
        assert not any(k.startswith((f"{VRRP}.4.", f"{VRRP}.5.", f"{VRRP}.9.")) for k in rows)
        # the VIPs: (instance, n) -> address, prefix, interface
        assert rows[f"{ADDRESS}.3.1.1"] == "Hex-STRING: C6 12 00 C8" and rows[f"{ADDRESS}.3.1.2"] == "Hex-STRING: C6 12 00 C9"
        assert rows[f"{ADDRESS}.3.2.1"] == "Hex-STRING: C6 12 00 D2" and rows[f"{ADDRESS}.5.1.1"] == "Gauge32: 32"
        assert rows[f"{ADDRESS}.10.1.1"] == "INTEGER: 2"                              # not set on a backup
        bulk = snmp.walk(K, bulk=True)
        assert bulk == rows                                                            # GetBulk = GetNext

        rfc2 = snmp.walk(RFC2787)
        ifindex = next(k for k in rfc2 if k.startswith(f"{RFC2787}.1.3.1.3.")).split(".")[-2]
        master_ip = f"{RFC2787}.1.3.1.7.{ifindex}.51"
        assert wait_for(lambda: snmp.get(master_ip).get(master_ip) == f"IpAddress: {n2.ipv4}", WAIT)
        rfc2 = snmp.walk(RFC2787)
        assert rfc2[f"{RFC2787}.1.3.1.3.{ifindex}.51"] == "INTEGER: 2"                # vrrpOperState backup
        assert rfc2[f"{RFC2787}.1.3.1.6.{ifindex}.51"] == "INTEGER: 2"                # two VIPs
        assert rfc2[f"{RFC2787}.1.3.1.7.{ifindex}.51"] == f"IpAddress: {n2.ipv4}"     # the master
        assert rfc2[f"{RFC2787}.1.4.1.2.{ifindex}.51.198.18.0.201"] == "INTEGER: 1"
        assert not any(".52" in k.split(f"{RFC2787}.1.3.1.3.{ifindex}")[-1] for k in rfc2)   # v3 is not in it
        rfc3 = snmp.walk(RFC6527)
        assert rfc3[f"{RFC6527}.1.1.1.1.6.{ifindex}.52.1"] == "INTEGER: 2"            # backup
        assert rfc3[f"{RFC6527}.1.1.1.1.9.{ifindex}.52.1"] == "INTEGER: 20"
        # keepalived's index: the address without its length
        assert rfc3[f"{RFC6527}.1.1.2.1.2.{ifindex}.52.1.198.18.0.210"] == "INTEGER: 1"
        assert rfc3[f"{RFC6527}.1.1.1.1.6.{ifindex}.51.1"] == "INTEGER: 2"            # v2 too, as keepalived
        assert int(rfc3[f"{RFC6527}.1.2.5.1.3.{ifindex}.52.1"].split(": ")[1]) > 0   # adverts received

        # the failover: the master stops (priority 0), n1 takes over
        before = len(snmp.traps())
        master.signal(signal.SIGTERM)
        assert wait_for(lambda: "(VI_3) Entering MASTER STATE" in backup.log()
                        and "(VI_2) Entering MASTER STATE" in backup.log(), WAIT), backup.log()

        def got(oid: str, n: int = 1) -> list:
            return snmp.traps_named(oid)[-n:] if len(snmp.traps_named(oid)) >= n else []
        assert wait_for(lambda: len(got(f"{VRRP}.10.0.2")) and
                        sum(1 for t in snmp.traps_named(f"{VRRP}.10.0.2")
                            if t.get(f"{INSTANCE}.4") == "INTEGER: 2") >= 2, WAIT), snmp.traps()
        masters = [t for t in snmp.traps()[before:] if t.get(TRAP_OID) == f"OID: {VRRP}.10.0.2"
                   and t.get(f"{INSTANCE}.4") == "INTEGER: 2"]
        assert {t[f"{INSTANCE}.2"] for t in masters} == {'STRING: "VI_2"', 'STRING: "VI_3"'}
        assert all(t[f"{K}.1.2.0"] == 'STRING: "snmp-lab-n1"' and t[f"{INSTANCE}.5"] == "INTEGER: 1"
                   for t in masters)                                                   # initial state backup
        assert wait_for(lambda: got(f"{VRRP}.10.0.1"), WAIT)
        group = snmp.traps_named(f"{VRRP}.10.0.1")[-1]
        assert group[f"{VRRP}.1.1.2"] == 'STRING: "SG_1"' and group[f"{VRRP}.1.1.3"] == "INTEGER: 2"
        assert wait_for(lambda: got(f"{RFC2787}.0.1") and got(f"{RFC6527}.0.1"), WAIT), snmp.traps()
        new_master = snmp.traps_named(f"{RFC2787}.0.1")[-1]
        assert new_master[f"{RFC2787}.1.3.1.7.{ifindex}.51"] == f"IpAddress: {n1.ipv4}"
        assert wait_for(lambda: any(f"{RFC6527}.1.2.5.1.2.{ifindex}.52.1" in t
                                    for t in snmp.traps_named(f"{RFC6527}.0.1")), WAIT), snmp.traps()
        v3 = [t for t in snmp.traps_named(f"{RFC6527}.0.1") if f"{RFC6527}.1.2.5.1.2.{ifindex}.52.1" in t][-1]
        assert v3[f"{RFC6527}.1.2.5.1.2.{ifindex}.52.1"] == "INTEGER: 3"               # masterNoResponse

        assert wait_for(lambda: snmp.walk(f"{INSTANCE}.4") == {f"{INSTANCE}.4.1": "INTEGER: 2",
                                                               f"{INSTANCE}.4.2": "INTEGER: 2"}, WAIT)
        assert snmp.get(f"{ADDRESS}.10.1.1")[f"{ADDRESS}.10.1.1"] == "INTEGER: 1"     # VIPs set now
        assert backup.stop() == 0
        # the STOP transitions' traps leave before the session closes
        assert wait_for(lambda: {t.get(f"{INSTANCE}.2") for t in snmp.traps_named(f"{VRRP}.10.0.2")
                                 if t.get(f"{INSTANCE}.4") == "INTEGER: 5"} == {'STRING: "VI_2"', 'STRING: "VI_3"'},
                        WAIT), snmp.traps()


def test_auth_failure_and_protocol_error_traps(tmp_path) -> None:
    """A peer with the wrong password (VRRPv2) and one speaking VRRPv2 to a VRRPv3 instance:
    RFC 2787 vrrpTrapAuthFailure names the sender and authFailure(3), RFC 6527
    vrrpv3ProtoError says versionError(2); one trap per refused advert, as keepalived: once
    the peer is gone, the traps received equal the drop counters the MIB serves."""
    ours = [VrrpSpec(name="VI_2", vrid=51, priority=100, version=2, advert_int=0.2, auth_pass="right1"),
            VrrpSpec(name="VI_3", vrid=52, priority=100, version=3, advert_int=0.2, vips=("198.18.0.210/32",))]
    theirs = [VrrpSpec(name="VI_2", vrid=51, priority=150, version=2, advert_int=0.2, auth_pass="wrong2"),
              VrrpSpec(name="VI_3", vrid=52, priority=150, version=2, advert_int=1, vips=("198.18.0.210/32",))]
    with NetSnmp(str(tmp_path)) as snmp, Lab(nodes=2, prefix="kvsnmp", client=False) as lab:
        n1, n2 = lab.nodes
        glob = ["enable_snmp_rfc", "enable_traps", f"snmp_socket unix:{snmp.socket}"]
        mine = lab.start_kvrrp(n1, render_config(ours, glob), tag="snmp")
        peer = lab.start_kvrrp(n2, render_config(theirs), tag="peer")
        assert wait_for(lambda: len(snmp.traps_named(f"{RFC2787}.0.2")) >= 4
                        and len(snmp.traps_named(f"{RFC6527}.0.2")) >= 3, WAIT), ([t.get(".1.3.6.1.6.3.1.1.4.1.0") for t in snmp.traps()], mine.log()[-3000:])
        auth = snmp.traps_named(f"{RFC2787}.0.2")[0]
        src = next(k for k in auth if k.startswith(f"{RFC2787}.1.5."))
        assert auth[src] == f"IpAddress: {n2.ipv4}" and src.endswith(".51")
        assert auth[src.replace(".1.5.", ".1.6.", 1)] == "INTEGER: 3"                       # authFailure
        proto = snmp.traps_named(f"{RFC6527}.0.2")[0]
        reason = next(k for k in proto if k.startswith(f"{RFC6527}.1.2.5.1.6."))
        assert proto[reason] == "INTEGER: 2" and reason.endswith(".52.1")                     # versionError
        assert snmp.walk(f"{RFC6527}.1.2.5.1.6")[reason] == "INTEGER: 2"         # vrrpv3StatisticsProtoErrReason
        assert peer.stop() == 0
        auth_failures = src.replace(f"{RFC2787}.1.5.", f"{RFC2787}.2.4.1.4.", 1)     # vrrpStatsAuthFailures
        version_errors = f"{RFC6527}.1.2.2.0"                                         # vrrpv3GlobalStatisticsVersionErrors

        def counted(oid: str) -> int:
            return int(snmp.get(oid).get(oid, "x: -1").split(": ")[1])

        def traps_match_counters() -> bool:
            return (len(snmp.traps_named(f"{RFC2787}.0.2")) == counted(auth_failures)
                    and len(snmp.traps_named(f"{RFC6527}.0.2")) == counted(version_errors))
        assert wait_for(traps_match_counters, WAIT, interval=0.5), (
            len(snmp.traps_named(f"{RFC2787}.0.2")), counted(auth_failures),
            len(snmp.traps_named(f"{RFC6527}.0.2")), counted(version_errors))
        assert counted(auth_failures) >= 4 and counted(version_errors) >= 3
        # a burst of 20 adverts with the wrong password, sent at once: 20 traps (one per packet)
        before = len(snmp.traps_named(f"{RFC2787}.0.2"))
        advert = lab.run(n2, [sys.executable, "-m", "kvrrp", "packet", "encode", "--version", "2", "--vrid", "51",
                              "--priority", "150", "--addr", "198.18.0.200", "--auth-pass", "wrong2"]).stdout.strip()
        lab.run(n2, [sys.executable, "-c", BURST, advert, "20"])
        assert wait_for(lambda: len(snmp.traps_named(f"{RFC2787}.0.2")) == before + 20 == counted(auth_failures),
                        WAIT, interval=0.5), (len(snmp.traps_named(f"{RFC2787}.0.2")), before, counted(auth_failures))
        assert mine.stop() == 0


BURST = """import socket, sys
advert, n = bytes.fromhex(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
for _ in range(n):
    s.sendto(advert, ("224.0.0.18", 0))
"""


def test_a_reload_turns_snmp_on_and_off(tmp_path) -> None:
    with NetSnmp(str(tmp_path)) as snmp, Lab(nodes=1, prefix="kvsnmp", client=False) as lab:
        spec = [VrrpSpec(name="VI_1", vrid=61, priority=150, advert_int=0.2)]
        run = lab.start_kvrrp(lab.nodes[0], render_config(spec), tag="reload")
        assert wait_for(lambda: "(VI_1) Entering MASTER STATE" in run.log(), WAIT), run.log()
        assert f"{INSTANCE}.2.1" not in snmp.walk(VRRP)
        run.write_config(render_config(spec, ["enable_snmp_vrrp", f"snmp_socket unix:{snmp.socket}"]))
        run.signal(signal.SIGHUP)
        assert wait_for(lambda: snmp.walk(f"{INSTANCE}.2") == {f"{INSTANCE}.2.1": 'STRING: "VI_1"'}, WAIT), run.log()
        assert snmp.get(f"{INSTANCE}.4.1")[f"{INSTANCE}.4.1"] == "INTEGER: 2"            # master, kept
        run.write_config(render_config(spec))
        run.signal(signal.SIGHUP)
        assert wait_for(lambda: f"{INSTANCE}.2.1" not in snmp.walk(VRRP), WAIT), run.log()
        assert "(VI_1) Entering" not in run.log().split("Reloading")[-1]               # no transition
        assert run.stop() == 0
