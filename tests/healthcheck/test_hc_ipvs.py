"""Diff / apply against the fake kernel, config expansion, and pyroute2 message round trips."""
from __future__ import annotations

import pytest
from hc_builders import cfg, rs, vs

from healthcheck.fakekernel import FakeKernel
from healthcheck.health import declared, desired_table, initial_rs_states
from healthcheck.ipvs import (
    ADD_DEST,
    DEL_DEST,
    SET_DEST,
    SET_SERVICE,
    Ownership,
    Reconciler,
    diff,
)
from hc_pyroute2 import dest_fields, dest_from_nla, service_fields, service_from_nla
from healthcheck.table import (
    F_ONEPACKET,
    F_PERSISTENT,
    F_SCHED1,
    F_SCHED2,
    FWD_DR,
    FWD_NAT,
    FWD_TUN,
    Dest,
    DestKey,
    Service,
    ServiceKey,
    Table,
    TableError,
    services_of,
)
from kvrrp.config.model import LvsMethod, VirtualServer, VirtualServerGroup, VsgEntry


def table_for(c):
    states = {}
    for v in c.virtual_servers:
        states.update(initial_rs_states(v))
    return desired_table(c, states, {})


def own(c):
    s, d = declared(c)
    return Ownership(s, d)


def two_by_three(weight2=1):
    return cfg(
        vs("198.18.0.1", 80, rs("198.18.1.1"), rs("198.18.1.2", weight=weight2), rs("198.18.1.3")),
        vs("198.18.0.2", 443, rs("198.18.1.1", 443), rs("198.18.1.2", 443), rs("198.18.1.3", 443), lvs_sched="wlc"),
    )


async def test_cold_apply_then_restart_has_no_churn():
    c = two_by_three()
    kernel = FakeKernel()
    rec = Reconciler(kernel)
    await rec.start()
    res = await rec.reconcile(table_for(c), own(c))
    assert res.ok and len(res.applied) == 8
    assert kernel.table == table_for(c)
    # a new process (restart) finds the table present: nothing to do
    kernel.calls.clear()
    rec2 = Reconciler(kernel)
    await rec2.start()
    res = await rec2.reconcile(table_for(c), own(c))
    assert res.applied == [] and kernel.calls == []


async def test_weight_change_is_a_single_set():
    kernel = FakeKernel()
    rec = Reconciler(kernel)
    await rec.start()
    await rec.reconcile(table_for(two_by_three()), own(two_by_three()))
    kernel.calls.clear()
    c2 = two_by_three(weight2=5)
    res = await rec.reconcile(table_for(c2), own(c2))
    assert [op.kind for op in res.applied] == [SET_DEST]
    assert kernel.calls == [("set_dest", "[198.18.0.1]:tcp:80 [198.18.1.2]:80 w5")]


async def test_foreign_entries_untouched():
    foreign_svc = ServiceKey(4, 6, "198.18.7.7", 80)
    mine = ServiceKey(4, 6, "198.18.0.1", 80)
    t = Table()
    t.add_service(Service(foreign_svc, sched="rr"))
    t.add_dest(foreign_svc, Dest(DestKey("198.18.7.8", 80)))
    t.add_service(Service(mine, sched="rr"))
    t.add_dest(mine, Dest(DestKey("198.18.6.6", 80)))      # foreign dest inside our service
    kernel = FakeKernel(t)
    c = two_by_three()
    rec = Reconciler(kernel)
    await rec.start()
    await rec.reconcile(table_for(c), own(c))
    assert foreign_svc in kernel.table
    assert DestKey("198.18.6.6", 80) in kernel.table.entries[mine].dests
    await rec.stop()
    assert list(kernel.table.entries) == [foreign_svc]


async def test_reload_removes_entries_of_previous_config_only():
    kernel = FakeKernel()
    rec = Reconciler(kernel)
    await rec.start()
    c1 = two_by_three()
    await rec.reconcile(table_for(c1), own(c1))
    c2 = cfg(vs("198.18.0.1", 80, rs("198.18.1.1"), rs("198.18.1.2")))
    kernel.calls.clear()
    res = await rec.reconcile(table_for(c2), own(c2))
    assert res.ok
    assert sorted(kernel.calls) == [("del_dest", "[198.18.0.1]:tcp:80 [198.18.1.3]:80"),
                                    ("del_service", "[198.18.0.2]:tcp:443")]


async def test_stop_keep_and_flush():
    kernel = FakeKernel()
    rec = Reconciler(kernel)
    await rec.start()
    c = two_by_three()
    await rec.reconcile(table_for(c), own(c))
    await rec.stop(keep=True)
    assert len(kernel.table) == 2
    await rec.stop(flush=True)
    assert len(kernel.table) == 0


async def test_lvs_flush_at_start_clears_foreign():
    t = Table()
    t.add_service(Service(ServiceKey(4, 6, "198.18.7.7", 80)))
    kernel = FakeKernel(t)
    rec = Reconciler(kernel)
    await rec.start(flush=True)
    assert len(kernel.table) == 0 and kernel.calls[0] == ("flush", "")


async def test_failed_op_is_counted_and_retried_next_pass():
    kernel = FakeKernel()
    kernel.fail_next["add_dest"] = 1
    rec = Reconciler(kernel)
    await rec.start()
    c = two_by_three()
    res = await rec.reconcile(table_for(c), own(c))
    assert len(res.failed) == 1 and rec.counters["errors"] == 1
    res = await rec.reconcile(table_for(c), own(c))
    assert res.ok and [op.kind for op in res.applied] == [ADD_DEST]
    assert kernel.table == table_for(c)


def test_service_attribute_change_is_set_service():
    c1 = cfg(vs("198.18.0.1", 80, rs("198.18.1.1")))
    c2 = cfg(vs("198.18.0.1", 80, rs("198.18.1.1"), lvs_sched="wrr", persistence_timeout=50))
    ops = diff(table_for(c1), table_for(c2), own(c2))
    assert [o.kind for o in ops] == [SET_SERVICE]
    assert ops[0].svc.flags & F_PERSISTENT and ops[0].svc.timeout == 50


def test_dead_server_removal_is_del_dest():
    c = two_by_three()
    want = table_for(c)
    have = want.copy()
    del want.entries[ServiceKey(4, 6, "198.18.0.1", 80)].dests[DestKey("198.18.1.2", 80)]
    ops = diff(have, want, own(c))
    assert [(o.kind, str(o.dest_key)) for o in ops] == [(DEL_DEST, "[198.18.1.2]:80")]


def test_hashed_flag_from_kernel_is_ignored():
    a = Service(ServiceKey(4, 6, "198.18.0.1", 80), flags=F_PERSISTENT)
    b = Service(ServiceKey(4, 6, "198.18.0.1", 80), flags=F_PERSISTENT | 0x2)
    assert a.same_attrs(b)


# ---------------------------------------------------------------------------------------------
# virtual_server forms


def test_group_ranges_and_fwmarks_expand():
    g = VirtualServerGroup(name="G", entries=(
        VsgEntry(ip="198.18.0.1", ip_end="198.18.0.10", port=80),
        VsgEntry(fwmark=7),
        VsgEntry(ip="2001:db8::1", port=80, family=6),
    ))
    v = VirtualServer(group="G", protocol="UDP", lvs_sched="sh", sh_port=True, sh_fallback=True)
    svcs = services_of(v, {"G": g})
    keys = [str(s.key) for s in svcs]
    assert keys[:2] == ["[198.18.0.1]:udp:80", "[198.18.0.2]:udp:80"] and len(svcs) == 11
    assert keys[-1] == "FWM 7"
    assert all(s.flags == F_SCHED1 | F_SCHED2 for s in svcs)
    v6 = VirtualServer(group="G", family=6, protocol="TCP", lvs_sched="rr")
    assert [str(s.key) for s in services_of(v6, {"G": g})] == ["FWM 7", "[2001:db8::1]:tcp:80"]


def test_group_prefix_expands_network():
    g = VirtualServerGroup(name="G", entries=(VsgEntry(ip="198.18.0.0", prefixlen=30, port=53),))
    v = VirtualServer(group="G", protocol="UDP", lvs_sched="rr", ops=True)
    svcs = services_of(v, {"G": g})
    assert len(svcs) == 4 and svcs[0].flags == F_ONEPACKET


def test_bad_range_and_unknown_group_are_errors():
    g = VirtualServerGroup(name="G", entries=(VsgEntry(ip="198.18.0.9", ip_end="198.18.0.1", port=80),))
    with pytest.raises(TableError):
        services_of(VirtualServer(group="G", lvs_sched="rr"), {"G": g})
    with pytest.raises(TableError):
        services_of(VirtualServer(group="nope", lvs_sched="rr"), {})
    with pytest.raises(TableError):
        services_of(VirtualServer(ip="198.18.0.1", port=1, lvs_sched="bogus"), {})


@pytest.mark.parametrize("sched", ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"])
def test_every_scheduler_accepted(sched):
    (s,) = services_of(VirtualServer(ip="198.18.0.1", port=80, lvs_sched=sched), {})
    assert s.sched == sched


def test_methods_and_persistence_granularity_ipv6():
    v = vs("2001:db8::10", 80, rs("2001:db8::20", 0, family=6, lvs_method=LvsMethod(method="DR")),
           rs("2001:db8::21", 8080, family=6,
              lvs_method=LvsMethod(method="TUN", tunnel_type="gue", tunnel_port=6080, tunnel_csum="csum")),
           family=6, persistence_timeout=30, persistence_granularity="64", protocol="SCTP")
    t = table_for(cfg(v))
    (key,) = list(t.entries)
    assert str(key) == "[2001:db8::10]:sctp:80"
    svc = t.entries[key].service
    assert svc.netmask == 64 and svc.timeout == 30
    d = t.entries[key].dests
    assert d[DestKey("2001:db8::20", 80)].fwd == FWD_DR          # port 0 takes the VS port
    tun = d[DestKey("2001:db8::21", 8080)]
    assert (tun.fwd, tun.tun_type, tun.tun_port, tun.tun_flags) == (FWD_TUN, 1, 6080, 1)


def test_fwmark_virtual_server():
    v = VirtualServer(fwmark=3, lvs_sched="rr", real_servers=(rs("198.18.1.1", 0),))
    t = table_for(cfg(v))
    (key,) = list(t.entries)
    assert str(key) == "FWM 3" and DestKey("198.18.1.1", 0) in t.entries[key].dests


def test_ipv4_granularity_mask():
    v = vs("198.18.0.1", 80, persistence_granularity="255.255.255.0")
    (s,) = services_of(v, {})
    assert s.netmask == 24 and s.timeout == 360 and s.flags & F_PERSISTENT


# ---------------------------------------------------------------------------------------------
# pyroute2's form of the messages (the reference the struct encoder is compared with,
# test_hc_ipvs_wire.py) parses back to the same objects


def _roundtrip(svc, dest):
    from pyroute2.ipvs import IPVSDest, IPVSService
    from pyroute2.netlink.generic import ipvs as genl

    m = genl.ipvsmsg()
    m["cmd"] = genl.IPVS_CMD_NEW_DEST
    m["version"] = 1
    m["attrs"] = [("IPVS_CMD_ATTR_SERVICE", IPVSService(**service_fields(svc)).dump_nla()),
                  ("IPVS_CMD_ATTR_DEST", IPVSDest(**dest_fields(dest)).dump_nla())]
    m.encode()
    m2 = genl.ipvsmsg(m.data)
    m2.decode()
    return (service_from_nla(m2.get_attr("IPVS_CMD_ATTR_SERVICE")),
            dest_from_nla(m2.get_attr("IPVS_CMD_ATTR_DEST"), svc.key.family))


@pytest.mark.parametrize("svc,dest", [
    (Service(ServiceKey(4, 6, "198.18.0.1", 80), sched="sh", flags=F_PERSISTENT | F_SCHED1, timeout=300, netmask=24),
     Dest(DestKey("198.18.1.1", 8080), 4, FWD_TUN, 7, 10, 2, 1, 6080, 1)),
    (Service(ServiceKey(6, 17, "2001:db8::1", 53), sched="rr", netmask=64),
     Dest(DestKey("2001:db8::2", 53), 6, FWD_DR, 3)),
    (Service(ServiceKey.fwm(6, 7), sched="mh", netmask=128), Dest(DestKey("2001:db8::2", 0), 6, FWD_NAT, 0)),
    (Service(ServiceKey(4, 132, "198.18.0.1", 9), sched="wlc", pe_name="sip"), Dest(DestKey("198.18.1.1", 9))),
])
def test_pyroute2_message_roundtrip(svc, dest):
    assert _roundtrip(svc, dest) == (svc, dest)


def test_nat_is_fwd_zero_in_messages():
    fields = dest_fields(Dest(DestKey("198.18.1.1", 80), fwd=FWD_NAT))
    assert fields["fwd_method"] == 0      # pyroute2's IPVSDest defaults to DR (3): always set it


def test_timeouts_message_encodes_u32_seconds():
    from pyroute2.netlink.generic import ipvs as genl

    from hc_pyroute2 import timeouts_msg

    m = timeouts_msg(900, None, 300)
    m.encode()
    back = type(m)(m.data)
    back.decode()
    assert back["cmd"] == genl.IPVS_CMD_SET_CONFIG
    assert back.get_attr("IPVS_CMD_ATTR_TIMEOUT_TCP") == 900
    assert back.get_attr("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN") is None
    assert back.get_attr("IPVS_CMD_ATTR_TIMEOUT_UDP") == 300
    with pytest.raises(ValueError):
        timeouts_msg(-1, None, None)


async def test_engine_applies_lvs_timeouts():
    from healthcheck.engine import CheckerEngine
    from kvrrp.config.model import Config, GlobalDefs, LvsTimeouts

    kernel = FakeKernel()
    eng = CheckerEngine(Config(global_defs=GlobalDefs(lvs_timeouts=LvsTimeouts(tcp=900, udp=30))), kernel)
    await eng.start()
    await eng.stop()
    assert kernel.timeouts == {"tcp": 900, "udp": 30}


async def test_ownership_file_lets_a_restart_remove_what_the_old_config_owned(tmp_path):
    state = str(tmp_path / "owned.json")
    kernel = FakeKernel()
    rec = Reconciler(kernel, state_file=state)
    await rec.start()
    c1 = two_by_three()
    await rec.reconcile(table_for(c1), own(c1))
    await rec.stop(keep=True)                       # or a crash: the table and the file stay
    c2 = cfg(vs("198.18.0.1", 80, rs("198.18.1.1")))
    kernel.calls.clear()
    rec2 = Reconciler(kernel, state_file=state)
    await rec2.start()
    res = await rec2.reconcile(table_for(c2), own(c2))
    assert res.ok
    assert sorted(kernel.calls) == [("del_dest", "[198.18.0.1]:tcp:80 [198.18.1.2]:80"),
                                    ("del_dest", "[198.18.0.1]:tcp:80 [198.18.1.3]:80"),
                                    ("del_service", "[198.18.0.2]:tcp:443")]
    await rec2.stop()
    assert len(kernel.table) == 0 and not (tmp_path / "owned.json").exists()


def test_unreadable_ownership_file_is_ignored(tmp_path):
    from healthcheck.ipvs import load_ownership

    p = tmp_path / "bad.json"
    p.write_text("{not json")
    assert load_ownership(str(p)) == Ownership()
