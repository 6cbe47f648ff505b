"""Operator actions on the fake LAN: maintenance and hand-over (kvrrp.vrrp.operate)."""
from __future__ import annotations

import pytest

from kvrrp import fastpath
from kvrrp.vrrp import FAULT, OK, SyncGroupSettings
from kvrrp.vrrp.operate import OperateError
from vrrp_lan import FakeLan, conf, inst, pair


def priorities_sent(lan, node, since):
    return [fastpath.decode_advert(p.payload, 4).priority for p in lan.wire if p.node == node and p.time >= since]


def test_maintenance_gives_up_mastership_and_stays_out_until_off():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    a = lan.nodes["a"]
    t0 = lan.clock.t
    assert a.engine.set_maintenance("VI_1", True)
    assert not a.engine.set_maintenance("VI_1", True)          # idempotent
    assert a.state() == "FAULT" and not a.addresses.holds("198.18.0.100")
    assert priorities_sent(lan, "a", t0) == [0]
    lan.run_for(30)
    assert lan.masters() == ["b"] and priorities_sent(lan, "a", t0) == [0]
    # other trackers coming and going do not end maintenance
    a.engine.set_tracker("VI_1", "chk", FAULT)
    a.engine.set_tracker("VI_1", "chk", OK)
    lan.run_for(5)
    assert a.state() == "FAULT" and lan.masters() == ["b"]
    assert a.engine.set_maintenance("VI_1", False)
    assert a.state() == "BACKUP"
    lan.run_for(10)
    assert lan.masters() == ["a"]                                # preempts again as usual
    reasons = [t[6] for t in a.transitions if t[2] == "VI_1"]
    assert "maintenance on" in reasons


def test_maintenance_of_a_backup_and_before_start():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    b = lan.nodes["b"]
    b.engine.set_maintenance("VI_1", True)
    assert b.state() == "FAULT" and lan.masters() == ["a"]
    lan2 = FakeLan()
    node = lan2.add_node("c", conf(inst(prio=200)), v4="198.18.0.3", start=False)
    node.engine.set_maintenance("VI_1", True)
    node.engine.start()
    lan2.run_for(10)
    assert node.state() == "FAULT" and lan2.wire == []


def test_maintenance_survives_a_reload_that_restarts_the_instance():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    a = lan.nodes["a"]
    a.engine.set_maintenance("VI_1", True)
    result = a.engine.apply_config(conf(inst(prio=210)))          # priority: updated in place
    assert "VI_1" in result.kept + tuple(getattr(result, "updated", ()))
    lan.run_for(10)
    assert a.state() == "FAULT" and lan.masters() == ["b"]
    result = a.engine.apply_config(conf(inst(prio=210, adver_int=2.0)))   # advert_int: restarted
    assert result.restarted == ("VI_1",)
    lan.run_for(10)
    assert a.state() == "FAULT" and lan.masters() == ["b"]
    assert a.engine.set_maintenance("VI_1", False) and a.state() == "BACKUP"


def test_maintenance_drags_the_sync_group_like_a_fault():
    g = (SyncGroupSettings(name="G", members=("VI_1", "VI_2")),)
    mk = lambda p: conf(inst("VI_1", 51, p, sync_group="G"), inst("VI_2", 52, p, "198.18.0.101", sync_group="G"), groups=g)  # noqa: E731
    lan = pair(mk(200), mk(100))
    a = lan.nodes["a"]
    a.engine.set_maintenance("VI_1", True)
    lan.run_for(5)
    assert a.state("VI_2") == "FAULT" and lan.masters("VI_2") == ["b"]
    a.engine.set_maintenance("VI_1", False)
    lan.run_for(10)
    assert lan.masters("VI_1") == lan.masters("VI_2") == ["a"]


def test_hand_over_moves_the_role_and_holds_until_ended():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100), inst("VI_X", 60, 100, "198.18.0.160")))
    a, b = lan.nodes["a"], lan.nodes["b"]
    t0 = lan.clock.t
    a.engine.hand_over("VI_1")
    assert a.state() == "BACKUP" and not a.addresses.holds("198.18.0.100")
    assert priorities_sent(lan, "a", t0) == [0]
    ai = a.engine.instance("VI_1")
    assert ai.effective_priority == 1
    lan.run_for(2)                                               # b takes over at Skew_Time
    assert lan.masters() == ["b"]
    lan.run_for(60)
    assert lan.masters() == ["b"] and a.state() == "BACKUP"      # held: no preemption
    assert a.engine.end_hand_over("VI_1") and not a.engine.end_hand_over("VI_1")
    assert ai.effective_priority == 200
    lan.run_for(10)
    assert lan.masters() == ["a"]                                # normal rules again: preempts
    reasons = [t[6] for t in a.transitions if t[2] == "VI_1"]
    assert "master role handed over" in reasons
    with pytest.raises(OperateError, match="not MASTER"):
        b.engine.hand_over("VI_1")


def test_hand_over_without_a_backup_takes_the_role_back():
    lan = FakeLan()
    a = lan.add_node("a", conf(inst(prio=200)), v4="198.18.0.1")
    lan.run_for(5)
    a.engine.hand_over("VI_1")
    assert a.state() == "BACKUP"
    lan.run_for(5)                                               # nobody answers: Master_Down_Interval
    assert a.state() == "MASTER" and a.addresses.holds("198.18.0.100")


def test_owner_cannot_hand_over():
    lan = FakeLan()
    a = lan.add_node("a", conf(inst(prio=255)), v4="198.18.0.1")
    lan.run_for(2)
    with pytest.raises(OperateError, match="address owner"):
        a.engine.hand_over("VI_1")
    assert a.state() == "MASTER"
