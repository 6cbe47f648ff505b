"""vrrp_sync_group behaviour on the fake LAN: members follow each other into FAULT, BACKUP and
MASTER; a group goes MASTER only when every member wants it; owners and faults before start."""
from __future__ import annotations

from kvrrp.vrrp import FAULT, OK, SyncGroupSettings
from kvrrp.vrrp.fsm import State
from vrrp_lan import FakeLan, conf, inst, pair


def _synced(prio):
    return conf(inst("VI_1", 51, prio, "198.18.0.100", sync_group="G"),
                inst("VI_2", 52, prio, "198.18.0.101", sync_group="G"),
                groups=(SyncGroupSettings(name="G", members=("VI_1", "VI_2")),))


def test_sync_group_members_follow_into_fault_and_back():
    lan = pair(_synced(200), _synced(100))
    a, b = lan.nodes["a"], lan.nodes["b"]
    assert lan.masters("VI_1") == lan.masters("VI_2") == ["a"]
    a.engine.set_tracker("VI_1", "eth1", FAULT)
    assert a.state("VI_1") == "FAULT" and a.state("VI_2") == "FAULT"
    assert not a.addresses.holds("198.18.0.101")
    assert a.engine.sync_groups["G"].state is State.FAULT
    lan.run_for(5)
    assert b.state("VI_1") == b.state("VI_2") == "MASTER"
    a.engine.set_tracker("VI_1", "eth1", OK)
    assert a.state("VI_1") == "BACKUP" and a.state("VI_2") == "BACKUP"
    lan.run_for(10)
    assert lan.masters("VI_1") == lan.masters("VI_2") == ["a"]


def test_sync_group_member_forced_fault_does_not_recover_alone():
    lan = pair(_synced(200), _synced(100))
    a = lan.nodes["a"]
    a.engine.set_tracker("VI_1", "t", FAULT)
    a.engine.set_tracker("VI_2", "t", FAULT)
    a.engine.set_tracker("VI_2", "t", OK)            # VI_1 still faulted: VI_2 stays with it
    assert a.state("VI_2") == "FAULT"
    a.engine.set_tracker("VI_1", "t", OK)
    assert a.state("VI_1") == a.state("VI_2") == "BACKUP"


def test_sync_group_backup_follows_when_one_member_loses_mastership():
    lan = FakeLan()
    lan.add_node("a", _synced(150), v4="198.18.0.1")
    lan.run_for(10)
    # a node that only runs VI_1 with a higher priority takes VI_1: VI_2 must follow to BACKUP
    lan.add_node("c", conf(inst("VI_1", 51, 250)), v4="198.18.0.3")
    lan.run_for(10)
    a = lan.nodes["a"]
    assert a.state("VI_1") == "BACKUP"
    assert a.state("VI_2") == "BACKUP"
    assert not a.addresses.holds("198.18.0.101")


def test_sync_group_goes_master_only_when_all_members_want_it():
    lan = FakeLan()
    lan.add_node("a", _synced(100), v4="198.18.0.1")
    # c is master of VI_2 only, so a's VI_2 keeps hearing a master
    lan.add_node("c", conf(inst("VI_2", 52, 250, "198.18.0.101")), v4="198.18.0.3")
    lan.run_for(20)
    a = lan.nodes["a"]
    assert a.state("VI_1") == "BACKUP" and a.state("VI_2") == "BACKUP"
    assert a.engine.instance("VI_1").want_master
    lan.kill("c")
    lan.run_for(10)
    assert a.state("VI_1") == "MASTER" and a.state("VI_2") == "MASTER"


def test_sync_group_with_an_owner_member_starts_all_master_without_flapping():
    lan = FakeLan()
    c = conf(inst("VI_1", 51, 255, "198.18.0.100", sync_group="G"),
             inst("VI_2", 52, 100, "198.18.0.101", sync_group="G"),
             groups=(SyncGroupSettings(name="G", members=("VI_1", "VI_2")),))
    n = lan.add_node("a", c, v4="198.18.0.1")
    assert n.state("VI_1") == n.state("VI_2") == "MASTER"
    lan.run_for(10)
    masters = [t for t in n.transitions if t[4] == "MASTER"]
    assert len(masters) == 2 and not [t for t in n.transitions if t[3] == "MASTER"]
    assert n.engine.sync_groups["G"].state is State.MASTER


def test_sync_group_member_faulted_before_start_holds_the_group():
    lan = FakeLan()
    n = lan.add_node("a", _synced(200), v4="198.18.0.1", start=False)
    n.engine.set_tracker("VI_2", "t", FAULT)
    n.engine.start()
    assert n.state("VI_1") == n.state("VI_2") == "FAULT"
    lan.run_for(10)
    assert lan.masters("VI_1") == []
    n.engine.set_tracker("VI_2", "t", OK)
    lan.run_for(10)
    assert n.state("VI_1") == n.state("VI_2") == "MASTER"
