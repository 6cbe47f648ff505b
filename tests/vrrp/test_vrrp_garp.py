"""keepalived's gratuitous ARP / unsolicited NA schedule on the in-memory LAN (fake clock):
the master's bursts and refreshes, vrrp_garp_interval spacing per interface, garp_group
spacing across interfaces, and VMACs paced on their base interface (kvrrp.vrrp.garp)."""
from __future__ import annotations

import pytest

from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp import EngineSettings, InstanceSettings
from vrrp_lan import TICK, FakeLan, conf, inst, takeover_time


def test_garp_interval_paces_announcements():
    lan = FakeLan()
    two = (AddressSpec("198.18.0.100", 24, "eth0", 4), AddressSpec("198.18.0.101", 24, "eth0", 4))
    lan.add_node("m", conf(inst(prio=200, vips=two, garp_master_repeat=2, garp_interval=0.01,
                               garp_master_delay=0)), v4="198.18.0.1")
    lan.run_for(10)
    sent = lan.nodes["m"].announcer.sent
    assert [a for t, k, i, a in sent] == ["198.18.0.100", "198.18.0.101"] * 2
    times = [t for t, k, i, a in sent]
    assert [round(b - a, 3) for a, b in zip(times, times[1:])] == [0.01, 0.01, 0.01]


def test_garp_master_refresh():
    lan = FakeLan()
    lan.add_node("m", conf(inst(prio=200, garp_master_refresh=2.0, garp_master_refresh_repeat=1,
                               garp_master_delay=0, garp_master_repeat=1)), v4="198.18.0.1")
    lan.run_for(10.5)
    times = [t for t, *_ in lan.nodes["m"].announcer.sent]
    became = takeover_time(lan, "m", 1000.0) + 1000.0
    assert times == pytest.approx([became + 2 * k for k in range(len(times))], abs=TICK)
    assert len(times) == 4


def _two_interfaces(garp_groups=(), garp_interval=0.0):
    lan = FakeLan()
    a = inst(prio=200, name="A", vrid=1, garp_master_repeat=2, garp_master_delay=0, garp_interval=garp_interval)
    b = InstanceSettings(name="B", ifname="eth1", vrid=2, priority=200, garp_master_repeat=2, garp_master_delay=0,
                         garp_interval=garp_interval, vips=(AddressSpec("198.18.1.100", 24, "eth1", 4),))
    lan.add_node("m", EngineSettings(instances=(a, b), garp_groups=garp_groups), v4="198.18.0.1",
                 sources={("eth1", 4): "198.18.1.1"})
    lan.run_for(10)
    return [(t, i, a) for t, k, i, a in lan.nodes["m"].announcer.sent]


def test_garp_group_spaces_announcements_across_its_interfaces():
    from kvrrp.vrrp.garp import GarpGroupSettings

    sent = _two_interfaces((GarpGroupSettings(("eth0", "eth1"), garp_interval=0.05),))
    assert sorted(a for _t, _i, a in sent) == ["198.18.0.100"] * 2 + ["198.18.1.100"] * 2
    times = [t for t, _i, _a in sent]
    # one switch: every announcement of either interface 50 ms after the previous one
    assert [round(b - a, 3) for a, b in zip(times, times[1:])] == [0.05, 0.05, 0.05]


def test_garp_interval_is_per_interface_not_per_group_without_garp_group():
    sent = _two_interfaces(garp_interval=0.05)
    for ifname in ("eth0", "eth1"):
        times = [t for t, i, _a in sent if i == ifname]
        assert [round(b - a, 3) for a, b in zip(times, times[1:])] == [0.05]
    # the two interfaces do not wait for each other
    assert min(t for t, i, _a in sent if i == "eth1") - min(t for t, i, _a in sent if i == "eth0") < 0.05


def _two_vmacs(vmac_bases):
    lan = FakeLan()
    insts = tuple(InstanceSettings(name=name, ifname="eth0", vrid=vrid, priority=200, garp_master_repeat=2,
                                   garp_master_delay=0, garp_interval=0.05, vmac_ifname=vmac,
                                   vips=(AddressSpec(vip, 24, vmac, 4),))
                  for name, vrid, vmac, vip in (("A", 1, "vrrp.1", "198.18.0.100"), ("B", 2, "vrrp.2", "198.18.0.101")))
    lan.add_node("m", EngineSettings(instances=insts, vmac_bases=vmac_bases), v4="198.18.0.1",
                 sources={("vrrp.1", 4): "198.18.0.1", ("vrrp.2", 4): "198.18.0.1"})
    lan.run_for(10)
    return [(t, i, a) for t, k, i, a in lan.nodes["m"].announcer.sent]


def test_garps_leaving_vmacs_are_paced_on_their_base_interface():
    # keepalived paces on IF_BASE_IFP: two VMACs on eth0 share eth0's vrrp_garp_interval
    sent = _two_vmacs((("vrrp.1", "eth0"), ("vrrp.2", "eth0")))
    assert sorted(i for _t, i, _a in sent) == ["vrrp.1", "vrrp.1", "vrrp.2", "vrrp.2"]   # sent on the VMACs
    times = sorted(t for t, _i, _a in sent)
    assert [round(b - a, 3) for a, b in zip(times, times[1:])] == [0.05, 0.05, 0.05]
    # without the bases known, each VMAC would be its own pacing domain
    apart = _two_vmacs(())
    firsts = [min(t for t, i, _a in apart if i == v) for v in ("vrrp.1", "vrrp.2")]
    assert abs(firsts[0] - firsts[1]) < 0.05
