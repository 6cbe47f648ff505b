"""snmpset through a private snmpd (rwcommunity) to the VRRP daemon as its AgentX subagent, and
the same sets to keepalived 2.2.7 as subagent of a snmpd with the same configuration: the
same answers (wrongValue, wrongType, notWritable, noAccess, the failed object of a set with
one bad varbind of two) and the same effects - raising a BACKUP's base priority above the
master's makes it MASTER (the old master, a kvrrp, logs the priority-200 advert it received
on the wire and yields), lowering it hands mastership back, preempt toggles, a reload brings
the configured values back, and base priority 255 on a non-owner leaves the effective
priority alone (keepalived's recomputation skips an owner).

Two nodes in a kvrrp.lab: n2 a kvrrp MASTER at 150 without SNMP, n1 the daemon under test
(kvrrp or keepalived) at 100 with enable_snmp_vrrp, its AgentX socket snmpd's (a unix socket
reaches across network namespaces).
"""
from __future__ import annotations

import signal

import pytest

from kvrrp.lab import Lab, VrrpSpec, render_config
from snmp_tools import NetSnmp, wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(240)]

WAIT = 15.0
# net-snmp's subagent (keepalived) retries a master it could not reach every 15 s: under load
# the first try can miss, so registering gets three of those rounds
REGISTER_WAIT = 45.0
I = ".1.3.6.1.4.1.9586.100.5.2.3.1"       # vrrpInstanceEntry
GLOBAL = ".1.3.6.1.4.1.9586.100.5.1"

# (what is set) -> (snmpset's Reason, the failed object) as keepalived 2.2.7 answers
REFUSED = [
    (((f"{I}.7.1", "i", "256"),), ("wrongValue", f"{I}.7.1")),
    (((f"{I}.7.1", "i", "0"),), ("wrongValue", f"{I}.7.1")),
    (((f"{I}.7.1", "s", "200"),), ("wrongType", f"{I}.7.1")),
    (((f"{I}.7.1", "u", "200"),), ("wrongType", f"{I}.7.1")),
    (((f"{I}.13.1", "i", "3"),), ("wrongValue", f"{I}.13.1")),
    (((f"{I}.8.1", "i", "200"),), ("notWritable", f"{I}.8.1")),       # effective priority
    (((f"{I}.7.3", "i", "200"),), ("notWritable", f"{I}.7.3")),       # no third instance
    (((f"{I}.27.1", "i", "1"),), ("notWritable", f"{I}.27.1")),       # accept, VRRPv2 instance
    (((f"{I}.27.2", "i", "1"),), ("noAccess", f"{I}.27.2")),          # accept, VRRPv3 instance
    (((f"{I}.28.1", "i", "1"),), ("notWritable", f"{I}.28.1")),       # promote_secondaries
    (((f"{GLOBAL}.4.0", "i", "1"),), ("notWritable", f"{GLOBAL}.4.0")),   # trapEnable
    (((f"{I}.7.1", "i", "120"), (f"{I}.13.1", "i", "3")), ("wrongValue", f"{I}.13.1")),
]


def specs(priority: int) -> list[VrrpSpec]:
    return [VrrpSpec(name="VI_2", vrid=51, priority=priority, version=2, advert_int=1),
            VrrpSpec(name="VI_3", vrid=52, priority=priority, version=3, advert_int=1, vips=("198.18.0.210/32",))]


def run_scenario(tmp_path, kind: str) -> dict:
    """The same snmpsets against `kind` ("kvrrp" or "keepalived"); returns what was seen."""
    seen: dict = {}
    with NetSnmp(str(tmp_path)) as snmp, Lab(nodes=2, prefix="kvsset", client=False) as lab:
        n1, n2 = lab.nodes
        master = lab.start_kvrrp(n2, render_config(specs(150)), tag="master")
        assert wait_for(lambda: "(VI_2) Entering MASTER STATE" in master.log(), WAIT), master.log()
        conf = render_config(specs(100), ["enable_snmp_vrrp", f"snmp_socket unix:{snmp.socket}"])
        start = lab.start_kvrrp if kind == "kvrrp" else lab.start_keepalived
        node = start(n1, conf, tag=kind)

        def get(*cols: str) -> tuple:
            rows = snmp.get(*(f"{I}.{c}" for c in cols))
            return tuple(rows.get(f"{I}.{c}") for c in cols)

        assert wait_for(lambda: get("4.1") == ("INTEGER: 1",), REGISTER_WAIT), node.log()[-3000:]   # BACKUP, registered

        seen["refused"] = []
        for assignments, _expected in REFUSED:
            r = snmp.set(*assignments)
            seen["refused"].append((r.rc != 0, r.reason, r.failed_object))
        seen["after refused"] = get("7.1", "8.1", "13.1")

        r = snmp.set((f"{I}.7.1", "i", "200"))
        seen["raise"] = (r.rc, r.stdout.strip())
        seen["raised"] = get("7.1", "8.1")
        # the BACKUP now outranks the master: it takes over, the master hears priority 200
        assert wait_for(lambda: get("4.1") == ("INTEGER: 2",), WAIT), node.log()[-3000:]
        assert wait_for(lambda: f"from {n1.ipv4} with higher priority 200" in master.log(), WAIT), master.log()
        assert wait_for(lambda: master.transitions("VI_2")[-1:] == ["BACKUP"], WAIT)
        seen["state after raise"] = get("4.1", "4.2")

        r = snmp.set((f"{I}.13.1", "i", "2"))
        seen["preempt off"] = (r.rc, get("13.1"))
        # lowered below the kvrrp at 150 (which preempts): its adverts carry 50, it loses MASTER
        r = snmp.set((f"{I}.7.1", "i", "50"))
        seen["lower"] = (r.rc, get("7.1", "8.1"))
        assert wait_for(lambda: get("4.1") == ("INTEGER: 1",), WAIT), node.log()[-3000:]
        assert wait_for(lambda: master.transitions("VI_2")[-1:] == ["MASTER"], WAIT)
        assert "with lower priority 50" in master.log() or "higher priority 150" in node.log()

        # a reload: the configured values come back
        node.signal(signal.SIGHUP)
        assert wait_for(lambda: get("7.1", "13.1") == ("INTEGER: 100", "INTEGER: 1"), WAIT), node.log()[-3000:]
        seen["after reload"] = get("7.1", "8.1", "13.1")

        # 255 on a non-owner: the base reads 255, the effective priority does not move
        r = snmp.set((f"{I}.7.1", "i", "255"))
        seen["255"] = (r.rc, get("7.1", "8.1"))
        assert node.stop() == 0
    return seen


def check(seen: dict) -> None:
    assert seen["refused"] == [(True, *expected) for _a, expected in REFUSED]
    assert seen["after refused"] == ("INTEGER: 100", "INTEGER: 100", "INTEGER: 1")    # nothing changed
    assert seen["raise"] == (0, f"{I}.7.1 = INTEGER: 200")
    assert seen["raised"] == ("INTEGER: 200", "INTEGER: 200")
    assert seen["state after raise"] == ("INTEGER: 2", "INTEGER: 1")                  # VI_3 untouched
    assert seen["preempt off"] == (0, ("INTEGER: 2",))
    assert seen["lower"] == (0, ("INTEGER: 50", "INTEGER: 50"))
    assert seen["after reload"] == ("INTEGER: 100", "INTEGER: 100", "INTEGER: 1")
    assert seen["255"] == (0, ("INTEGER: 255", "INTEGER: 100"))


def test_snmpset_on_kvrrp(tmp_path) -> None:
    check(run_scenario(tmp_path, "kvrrp"))


@pytest.mark.keepalived
def test_snmpset_on_keepalived_answers_the_same(tmp_path) -> None:
    """The reference: keepalived 2.2.7 (Debian's, built with SNMP) gives what check() expects."""
    check(run_scenario(tmp_path, "keepalived"))
