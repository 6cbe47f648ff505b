"""SNMP writes on the fake LAN: the engine's set_base_priority / set_preempt (what keepalived's
vrrp_snmp.c write handlers do) and kvrrp.snmp.vrrp_set's answers to TestSet (the errors
keepalived's subagent gives)."""
from __future__ import annotations

from kvrrp import fastpath
from kvrrp.snmp import agentx, vrrp_set
from kvrrp.snmp.agentx import VarBind
from kvrrp.snmp.vrrp_mib import GLOBAL, RFC6527, VRRP
from vrrp_lan import conf, inst, pair


def priorities_sent(lan, node, since):
    return [fastpath.decode_advert(p.payload, 4).priority for p in lan.wire if p.node == node and p.time >= since]


def test_a_backup_raised_above_the_master_takes_over():
    # RFC 5798 6.4.2 / keepalived: with preempt a BACKUP discards adverts of a lower priority,
    # so its Master_Down_Timer runs out (3 adverts + skew) and it becomes MASTER
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    a, b = lan.nodes["a"], lan.nodes["b"]
    assert lan.masters() == ["a"]
    assert b.engine.set_base_priority("VI_1", 250) == 100
    assert b.engine.instance("VI_1").effective_priority == 250 and b.state() == "BACKUP"
    t0 = lan.clock.t
    lan.run_for(5)                           # 3 x 1 s + (256 - 250) / 256 s after a's last advert
    assert lan.masters() == ["b"] and set(priorities_sent(lan, "b", t0)) == {250}
    assert [t[6] for t in b.transitions if t[4] == "MASTER"][-1] == "master down timer expired"
    assert a.state() == "BACKUP"


def test_a_master_lowered_below_its_backup_advertises_it_and_loses():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    a = lan.nodes["a"]
    t0 = lan.clock.t
    assert a.engine.set_base_priority("VI_1", 50) == 200
    lan.run_for(3)
    assert priorities_sent(lan, "a", t0)[:1] == [50]
    assert lan.masters() == ["b"]


def test_preempt_toggled():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    b = lan.nodes["b"]
    assert b.engine.set_preempt("VI_1", False) is True
    b.engine.set_base_priority("VI_1", 250)
    lan.run_for(5)
    assert lan.masters() == ["a"]            # nopreempt: b stays BACKUP above the master
    assert b.engine.set_preempt("VI_1", True) is False
    lan.run_for(5)
    assert lan.masters() == ["b"]


def test_tracking_weights_stay_in_the_effective_priority():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    b = lan.nodes["b"]
    b.engine.set_tracker("VI_1", "chk", -20)
    assert b.engine.instance("VI_1").effective_priority == 80
    b.engine.set_base_priority("VI_1", 150)
    assert b.engine.instance("VI_1").effective_priority == 130
    b.engine.set_base_priority("VI_1", 254)
    assert b.engine.instance("VI_1").effective_priority == 234
    b.engine.set_tracker("VI_1", "chk", 30)
    assert b.engine.instance("VI_1").effective_priority == 254          # clamped to 1..254


def test_base_255_on_a_non_owner_keeps_the_effective_priority_as_keepalived():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    b = lan.nodes["b"]
    b.engine.set_base_priority("VI_1", 255)
    inst_b = b.engine.instance("VI_1")
    assert inst_b.settings.priority == 255 and inst_b.effective_priority == 100
    b.engine.set_tracker("VI_1", "chk", 20)          # keepalived's trackers skip an owner
    assert inst_b.effective_priority == 100
    lan.run_for(5)
    assert lan.masters() == ["a"]
    b.engine.set_base_priority("VI_1", 190)          # no longer "owner": recomputed with the weights
    assert inst_b.effective_priority == 210
    lan.run_for(5)
    assert lan.masters() == ["b"]


def test_a_reload_brings_the_configured_values_back():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    b = lan.nodes["b"]
    b.engine.set_base_priority("VI_1", 250)
    b.engine.set_preempt("VI_1", False)
    b.engine.apply_config(conf(inst(prio=100)))
    s = b.engine.instance("VI_1").settings
    assert (s.priority, s.preempt, b.engine.instance("VI_1").effective_priority) == (100, True, 100)
    lan.run_for(5)
    assert lan.masters() == ["a"]


# ------------------------------------------------------------------- TestSet answers (vrrp_set)
ENTRY = VRRP + (3, 1)


def test_set_checks_answer_as_keepalived():
    lan = pair(conf(inst(prio=200), inst(name="VI_3", vrid=53, version=3, vip="198.18.1.100")),
               conf(inst(prio=100)))
    engine = lan.nodes["a"].engine

    def check(oid, vtype=agentx.INTEGER, value=1):
        return vrrp_set.check(engine, VarBind(oid, vtype, value))

    assert callable(check(ENTRY + (7, 1), value=120)) and callable(check(ENTRY + (13, 2), value=2))
    assert check(ENTRY + (7, 1), value=255) is not None and callable(check(ENTRY + (7, 1), value=255))
    assert check(ENTRY + (7, 1), value=0) == agentx.WRONG_VALUE
    assert check(ENTRY + (7, 1), value=256) == agentx.WRONG_VALUE
    assert check(ENTRY + (7, 1), value=-1) == agentx.WRONG_VALUE
    assert check(ENTRY + (13, 1), value=3) == agentx.WRONG_VALUE
    assert check(ENTRY + (7, 1), agentx.OCTET_STRING, b"120") == agentx.WRONG_TYPE
    assert check(ENTRY + (7, 1), agentx.GAUGE32, 120) == agentx.WRONG_TYPE
    assert check(ENTRY + (7, 3)) == agentx.NOT_WRITABLE                 # no third instance
    assert check(ENTRY + (7, 0)) == agentx.NOT_WRITABLE
    assert check(ENTRY + (7,)) == agentx.NOT_WRITABLE
    assert check(ENTRY + (7, 1, 0)) == agentx.NOT_WRITABLE
    assert check(ENTRY + (8, 1)) == agentx.NOT_WRITABLE                 # effective priority
    assert check(ENTRY + (28, 1)) == agentx.NOT_WRITABLE                # promote_secondaries: RWRITE, no method
    assert check(ENTRY + (29, 1)) == agentx.NOT_WRITABLE                # linkbeat: the same
    assert check(ENTRY + (27, 1)) == agentx.NOT_WRITABLE                # accept of a VRRPv2 instance
    assert check(ENTRY + (27, 2), agentx.OCTET_STRING, b"x") == agentx.NO_ACCESS   # VRRPv3: refused first
    assert check(GLOBAL + (4, 0)) == agentx.NOT_WRITABLE
    assert check(RFC6527 + (1, 1, 1, 1, 7, 1, 53, 1)) == agentx.NOT_WRITABLE

    commit = check(ENTRY + (7, 2), value=99)
    undo = commit()
    assert engine.instance("VI_3").settings.priority == 99
    undo()
    assert engine.instance("VI_3").settings.priority == 100
