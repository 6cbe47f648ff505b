"""Binding plan: weight overrides, primary interface, sync group and owner rules."""
from __future__ import annotations

from kvrrp.config.model import (BfdInstance, Config, ScriptCall, SyncGroup, TrackFile, TrackProcess, TrackRef,
                                VrrpInstance, VrrpScript)
from kvrrp.track.plan import build_plan

CHK = VrrpScript(name="chk", script=ScriptCall(command="true", argv=("true",)), weight=-20)
FILE = TrackFile(name="tf", file="/tmp/x")
PROC = TrackProcess(name="tp", process="haproxy", weight=-10)


def plan_of(*instances, groups=(), scripts=(CHK,)):
    cfg = Config(vrrp_scripts=scripts, track_files=(FILE,), track_processes=(PROC,),
                 instances=instances, sync_groups=groups)
    return build_plan(cfg)


def keyed(plan):
    return {(b.instance, b.key): (b.weight, b.reverse) for b in plan.bindings}


def test_overrides_and_primary_interface():
    inst = VrrpInstance(name="VI_1", interface="eth0", vrid=1,
                        track_scripts=(TrackRef(name="chk"), TrackRef(name="chk2", weight=5)),
                        track_interfaces=(TrackRef(name="eth1"), TrackRef(name="eth2", weight=-30, reverse=True)),
                        track_files=(TrackRef(name="tf"),), track_processes=(TrackRef(name="tp", weight=7),))
    p = plan_of(inst, scripts=(CHK, VrrpScript(name="chk2", script=CHK.script, weight=-3)))
    assert keyed(p) == {
        ("VI_1", "interface:eth0#primary"): (0, False),
        ("VI_1", "script:chk"): (-20, False), ("VI_1", "script:chk2"): (5, False),
        ("VI_1", "interface:eth1"): (0, False), ("VI_1", "interface:eth2"): (-30, True),
        ("VI_1", "file:tf"): (1, False), ("VI_1", "process:tp"): (7, False),
    }


def test_dont_track_primary_and_undefined_script():
    inst = VrrpInstance(name="VI_1", interface="eth0", vrid=1, dont_track_primary=True,
                        track_scripts=(TrackRef(name="nope"),))
    p = plan_of(inst)
    assert p.bindings == ()
    assert any("nope" in w for w in p.warnings)


def test_sync_group_members_do_not_float():
    a = VrrpInstance(name="A", interface="eth0", vrid=1, track_scripts=(TrackRef(name="chk"),),
                     track_interfaces=(TrackRef(name="eth1", weight=-10),),
                     track_files=(TrackRef(name="tf"),), dont_track_primary=True)
    b = VrrpInstance(name="B", interface="eth0", vrid=2, dont_track_primary=True)
    g = SyncGroup(name="G", group=("A", "B"), track_scripts=(TrackRef(name="chk"),),
                  track_interfaces=(TrackRef(name="eth9"),))
    p = plan_of(a, b, groups=(g,))
    assert keyed(p) == {
        ("A", "interface:eth1"): (0, False),           # weight dropped: down = FAULT
        ("A", "file:tf"): (0, False),                  # default weight 1 -> 0
        ("A", "script:chk@G"): (-20, False), ("B", "script:chk@G"): (-20, False),
        ("A", "interface:eth9@G"): (0, False), ("B", "interface:eth9@G"): (0, False),
    }
    assert any("ignoring tracked script chk" in w for w in p.warnings)


def test_sync_group_tracking_weight_allows_floating():
    a = VrrpInstance(name="A", vrid=1, track_scripts=(TrackRef(name="chk"),))
    g = SyncGroup(name="G", group=("A",), sync_group_tracking_weight=True)
    assert keyed(plan_of(a, groups=(g,))) == {("A", "script:chk"): (-20, False)}


def test_address_owner_ignores_weights():
    o = VrrpInstance(name="O", vrid=1, priority=255, track_scripts=(TrackRef(name="chk"), TrackRef(name="z", weight=0)),
                     track_interfaces=(TrackRef(name="eth1", weight=5), TrackRef(name="eth2")),
                     track_processes=(TrackRef(name="tp"),))
    p = plan_of(o, scripts=(CHK, VrrpScript(name="z", script=CHK.script)))
    assert keyed(p) == {("O", "script:z"): (0, False), ("O", "interface:eth2"): (0, False)}


def test_track_bfd_bindings_weights_and_rules():
    bfds = (BfdInstance(name="b1", neighbor_ip="198.18.0.2"),
            BfdInstance(name="b2", neighbor_ip="198.18.0.3", weight=-20, weight_reverse=True),
            BfdInstance(name="chk_only", neighbor_ip="198.18.0.4", vrrp=False, checker=True))
    inst = VrrpInstance(name="VI_1", vrid=1, dont_track_primary=True,
                        track_bfds=(TrackRef(name="b1"), TrackRef(name="b2"), TrackRef(name="chk_only"),
                                    TrackRef(name="nope")))
    cfg = Config(instances=(inst,), bfd_instances=bfds)
    p = build_plan(cfg)
    assert keyed(p) == {("VI_1", "bfd:b1"): (0, False), ("VI_1", "bfd:b2"): (-20, True)}
    assert any("tracked bfd chk_only is not defined" in w for w in p.warnings)
    assert any("tracked bfd nope is not defined" in w for w in p.warnings)
    # a track_bfd line's weight overrides the bfd_instance's
    inst = VrrpInstance(name="VI_1", vrid=1, dont_track_primary=True, track_bfds=(TrackRef(name="b2", weight=7),))
    assert keyed(build_plan(Config(instances=(inst,), bfd_instances=bfds))) == {("VI_1", "bfd:b2"): (7, True)}
    # sync group without sync_group_tracking_weight: weighted BFDs are ignored, as keepalived does;
    # the group's own track_bfd applies to every member
    a = VrrpInstance(name="A", vrid=1, dont_track_primary=True, track_bfds=(TrackRef(name="b2"), TrackRef(name="b1")))
    b = VrrpInstance(name="B", vrid=2, dont_track_primary=True)
    sg = SyncGroup(name="G", group=("A", "B"), track_bfds=(TrackRef(name="b1"),))
    p = build_plan(Config(instances=(a, b), sync_groups=(sg,), bfd_instances=bfds))
    assert keyed(p) == {("A", "bfd:b1"): (0, False), ("A", "bfd:b1@G"): (0, False), ("B", "bfd:b1@G"): (0, False)}
    assert any("ignoring tracked bfd b2 with weight -20" in w for w in p.warnings)


def test_sync_group_interface_already_tracked_by_a_member():
    """keepalived keeps one tracker per instance and interface: the group's weight replaces a
    weighted entry of the member and is lost on an unweighted one (its own interface, or an
    unweighted track_interface); the other members get the group's entry."""
    a = VrrpInstance(name="A", interface="eth0", vrid=1, track_interfaces=(TrackRef(name="eth1"),))
    b = VrrpInstance(name="B", interface="eth1", vrid=2, dont_track_primary=True,
                     track_interfaces=(TrackRef(name="eth0", weight=-5),))
    g = SyncGroup(name="G", group=("A", "B"), sync_group_tracking_weight=True,
                  track_interfaces=(TrackRef(name="eth0", weight=3), TrackRef(name="eth1", weight=4, reverse=True)))
    p = plan_of(a, b, groups=(g,))
    assert keyed(p) == {
        ("A", "interface:eth0#primary"): (0, False),    # unweighted: the group's 3 is lost
        ("A", "interface:eth1"): (0, False),            # unweighted: the group's 4 is lost
        ("B", "interface:eth0"): (3, False),            # weighted: the group's weight wins
        ("B", "interface:eth1@G"): (4, True),           # B does not track eth1 (dont_track_primary)
    }
    assert sum("configured on VRRP instance and sync group" in w for w in p.warnings) == 3
    # without sync_group_tracking_weight B's -5 is cleared, but keepalived registered it weighted:
    # the group's weight still replaces it
    g0 = SyncGroup(name="G", group=("A", "B"), track_interfaces=(TrackRef(name="eth0", weight=3),))
    assert keyed(plan_of(a, b, groups=(g0,)))[("B", "interface:eth0")] == (3, False)
