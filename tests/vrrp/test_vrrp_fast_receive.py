"""The fast path's steady-state receive changes nothing the state machine would have done.

Each scenario runs twice on the in-memory LAN: once as the daemon runs (every received advert
offered to the instance's fastpath.ReceiveTable first), once with no table at all (every advert
through the Python checks and the state machine). The wire, the transitions, every counter and
every timer deadline must come out identical, and the first run must really have taken adverts
in the fast path.
"""
from __future__ import annotations

import math

import pytest

from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp import EngineSettings, InstanceSettings, engine as engine_module
from kvrrp.vrrp.instance import FAULT, OK
from kvrrp.vrrp.settings import AUTH_PASS, pad_password
from vrrp_lan import FakeLan


class _NoTable:
    def set(self, vrid, slot):
        pass

    def clear(self):
        pass

    def accept(self, *args):
        return False


def cfg(prio, vrid=51, family=4, **kw):
    vip = "198.18.0.100" if family == 4 else "2001:db8::100"
    kw.setdefault("vips", (AddressSpec(vip, 24 if family == 4 else 64, "eth0", family),))
    if family == 6:
        kw.setdefault("version", 3)
    return InstanceSettings(name=f"VI_{vrid}", ifname="eth0", vrid=vrid, priority=prio, family=family, **kw)


def two_instances(prio, **kw):
    return EngineSettings(instances=(cfg(prio, 51, **kw), cfg(300 - prio if prio != 255 else 100, 52, **kw)))


def _steps_default(lan):
    lan.run_for(20)
    lan.kill("n1")
    lan.run_for(10)


def _steps_trackers(lan):
    lan.run_for(10)
    b = lan.nodes["n2"].engine
    b.set_tracker("VI_51", "chk", -20)          # backup's priority drops: Skew_Time changes
    lan.run_for(5)
    b.set_tracker("VI_51", "chk", 120)          # above the master: preempts
    lan.run_for(5)
    b.set_tracker("VI_51", "f", FAULT)
    lan.run_for(5)
    b.set_tracker("VI_51", "f", OK)
    lan.run_for(10)


def _steps_stop(lan):
    lan.run_for(10)
    lan.nodes["n1"].engine.stop()               # priority 0: the backups start at Skew_Time
    lan.run_for(10)


def _steps_reload(lan):
    lan.run_for(10)
    node = lan.nodes["n2"]
    node.engine.apply_config(EngineSettings(instances=(cfg(150, 51), cfg(120, 53))))
    lan.run_for(10)


def _steps_reload_in_place(lab):
    lab.run_for(10)
    other_vip = (AddressSpec("198.18.0.101", 24, "eth0", 4),)
    # the backup alone gets another VIP (the master's adverts no longer match: address_list
    # drops), then a new password on every node, then the VIP everywhere
    lab.nodes["n2"].engine.apply_config(EngineSettings(instances=(cfg(200, 51, vips=other_vip), cfg(100, 52))))
    lab.run_for(5)
    for i, name in enumerate(("n1", "n2", "n3"), start=1):
        vips = other_vip if name == "n2" else (AddressSpec("198.18.0.100", 24, "eth0", 4),)
        lab.nodes[name].engine.apply_config(EngineSettings(instances=(
            cfg(250 - 50 * i, 51, vips=vips, auth_type=AUTH_PASS, auth_pass=pad_password("new")),
            cfg(50 + 50 * i, 52, auth_type=AUTH_PASS, auth_pass=pad_password("new")))))
        lab.run_for(2)
    lab.run_for(5)
    for i, name in enumerate(("n1", "n2", "n3"), start=1):
        lab.nodes[name].engine.apply_config(EngineSettings(instances=(
            cfg(250 - 50 * i, 51, vips=other_vip, auth_type=AUTH_PASS, auth_pass=pad_password("new")),
            cfg(50 + 50 * i, 52, auth_type=AUTH_PASS, auth_pass=pad_password("new")))))
    lab.run_for(10)


SCENARIOS = {
    "reload_in_place": (lambda i: EngineSettings(instances=(cfg(250 - 50 * i, 51), cfg(50 + 50 * i, 52))),
                        _steps_reload_in_place),
    "v2": (lambda i: two_instances(250 - 50 * i), _steps_default),
    "v3": (lambda i: two_instances(250 - 50 * i, version=3), _steps_default),
    "v3_ipv6": (lambda i: two_instances(250 - 50 * i, family=6), _steps_default),
    "v3_fast_interval": (lambda i: two_instances(250 - 50 * i, version=3, adver_int=0.1), _steps_default),
    "v2_pass": (lambda i: two_instances(250 - 50 * i, auth_type=AUTH_PASS, auth_pass=pad_password("pw")),
                _steps_default),
    "nopreempt": (lambda i: two_instances(100 + 50 * i, preempt=False), _steps_default),
    "preempt_delay": (lambda i: two_instances(100 + 50 * i, preempt_delay=3.0), _steps_default),
    "trackers": (lambda i: two_instances(250 - 50 * i, version=3), _steps_trackers),
    "priority_zero": (lambda i: two_instances(250 - 50 * i), _steps_stop),
    "reload": (lambda i: two_instances(250 - 50 * i), _steps_reload),
    "unicast_v3": (lambda i: EngineSettings(instances=(cfg(250 - 50 * i, version=3,
                                                           unicast_src_ip=f"198.18.0.{i}",
                                                           unicast_peers=tuple(f"198.18.0.{j}" for j in (1, 2, 3)
                                                                               if j != i)),)),
                   _steps_default),
    "startup_delay": (lambda i: EngineSettings(instances=(cfg(250 - 50 * i),), startup_delay=4.0), _steps_default),
}


def _run(name):
    config, steps = SCENARIOS[name]
    lan = FakeLan()
    for i in (1, 2, 3):
        lan.add_node(f"n{i}", config(i), v4=f"198.18.0.{i}", v6=f"fe80::{i}")
    steps(lan)
    nodes = {}
    fast = 0
    for n in lan.nodes.values():
        for inst in n.engine.instances.values():
            d = inst.deadline()
            nodes[(n.name, inst.name)] = (inst.state, inst.stats.as_dict(), None if d is None else round(d, 9),
                                          inst.master_address, inst.master_priority, inst.master_adver_int)
            fast += inst.fast.fast_rcvd
    wire = [(p.time, p.node, p.dst, p.payload) for p in lan.wire]
    return lan.transitions(), wire, nodes, fast


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fast_receive_changes_nothing(name, monkeypatch):
    transitions, wire, nodes, fast = _run(name)
    assert fast > 0, "the fast path took no advert: the scenario does not test it"
    with monkeypatch.context() as m:
        m.setattr(engine_module.VrrpEngine, "_rx_table", lambda self, ifname, family: _NoTable())
        transitions2, wire2, nodes2, fast2 = _run(name)
    assert fast2 == 0
    assert transitions == transitions2
    assert wire == wire2
    assert nodes == nodes2


def test_stats_count_fast_and_slow_adverts_together():
    lan = FakeLan()
    lan.add_node("m", EngineSettings(instances=(cfg(200),)), v4="198.18.0.1")
    lan.add_node("b", EngineSettings(instances=(cfg(100),)), v4="198.18.0.2")
    lan.run_for(10.5)
    b = lan.nodes["b"].engine.instance("VI_51")
    sent = lan.nodes["m"].engine.instance("VI_51").stats.advert_sent
    assert b.stats.advert_rcvd == sent and 0 < b.fast.fast_rcvd < sent
    assert b.stats.as_dict()["advert_rcvd"] == sent
    b.stats.clear()
    assert b.stats.advert_rcvd == 0 and b.fast.advert_rcvd == 0
    lan.run_for(2)
    assert b.stats.advert_rcvd == 2
    assert not math.isnan(b.fast.down_started)
