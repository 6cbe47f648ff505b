"""What each VRRP instance keeps (docs/scale.md, memory): the runtime has slots, and instances
without tracker faults, weights or extra timers share empty containers, copied on a change."""
from __future__ import annotations

import pytest

from kvrrp.vrrp import FAULT, OK
from kvrrp.vrrp.instance import T_PREEMPT, VrrpInstanceRuntime
from vrrp_lan import conf, inst, pair


def two_instances():
    return pair(conf(inst("VI_1", 51, 200), inst("VI_2", 52, 200, vip="198.18.0.101")),
                conf(inst("VI_1", 51, 100), inst("VI_2", 52, 100, vip="198.18.0.101")))


def test_runtime_has_no_instance_dict():
    lan = two_instances()
    one = lan.nodes["a"].engine.instances["VI_1"]
    assert isinstance(one, VrrpInstanceRuntime) and not hasattr(one, "__dict__")
    with pytest.raises(AttributeError):
        one.not_an_attribute = 1


def test_trackers_are_copied_on_write_not_shared_between_instances():
    lan = two_instances()
    engine = lan.nodes["a"].engine
    one, two = engine.instances["VI_1"], engine.instances["VI_2"]
    assert one.tracker_faults is two.tracker_faults and one.tracker_weights is two.tracker_weights
    engine.set_tracker("VI_1", "chk", FAULT)
    assert one.tracker_faults == {"chk"} and two.tracker_faults == frozenset() and one.state.value == "FAULT"
    engine.set_tracker("VI_1", "chk", OK)
    engine.set_tracker("VI_2", "w", -20)
    assert one.tracker_faults == frozenset() and dict(two.tracker_weights) == {"w": -20}
    assert dict(one.tracker_weights) == {} and two.effective_priority == 180
    engine.set_tracker("VI_2", "w", OK)
    assert one.tracker_faults is two.tracker_faults and one.tracker_weights is two.tracker_weights
    assert two.effective_priority == 200
    with pytest.raises(TypeError):
        one.tracker_weights["x"] = 1          # read-only: set_tracker changes it, with its transitions


def test_extra_timers_keep_a_map_only_while_they_run():
    lan = two_instances()
    one = lan.nodes["a"].engine.instances["VI_1"]
    assert one.deadline(T_PREEMPT) is None and not one.timer_armed(T_PREEMPT)
    one.schedule_timer(T_PREEMPT, 5.0)
    assert one.timer_armed(T_PREEMPT) and one.deadline(T_PREEMPT) == pytest.approx(lan.clock.t + 5.0)
    one.cancel_timer(T_PREEMPT)
    assert one.deadline(T_PREEMPT) is None and one._deadlines is None


def test_drop_counters_are_shared_empty_until_the_first_drop():
    from kvrrp.vrrp.stats import InstanceStats

    a, b = InstanceStats(), InstanceStats()
    assert a.drops is b.drops and a.drops == {}
    a.count_drop("checksum")
    a.count_drop("checksum")
    assert a.drops == {"checksum": 2} and a.checksum_err == 2 and b.drops == {} and b.as_dict()["drops"] == {}
    a.clear()
    assert a.drops is b.drops and a.as_dict()["drops"] == {}


def test_a_host_route_vip_keeps_one_string_for_address_and_broadcast():
    from kvrrp.config.model import VirtualAddress
    from kvrrp.vrrp.settings import address_spec

    host = address_spec(VirtualAddress(address="198.18.0.10", prefixlen=32, family=4, brd="+"), "eth0")
    net = address_spec(VirtualAddress(address="198.18.0.10", prefixlen=24, family=4, brd="+"), "eth0")
    assert host.broadcast is host.address
    assert net.broadcast == "198.18.0.255"
