"""Integration on an in-memory LAN with a fake clock: elections, failover, preemption, timers."""
from __future__ import annotations

import pytest

from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp import EngineSettings, InstanceSettings
from kvrrp import fastpath
from kvrrp.vrrp.settings import AUTH_PASS, pad_password
from kvrrp.vrrp.timers import master_down_interval, skew_time
from vrrp_lan import TICK, FakeLan, takeover_time

VIP = "198.18.0.100"


def cfg(prio=100, name="VI_1", vrid=51, vip=VIP, **kw):
    family = kw.get("family", 4)
    prefix = 24 if family == 4 else 64
    kw.setdefault("vips", (AddressSpec(vip, prefix, "eth0", family),))
    return InstanceSettings(name=name, ifname="eth0", vrid=vrid, priority=prio, **kw)


def conf(*instances, groups=()):
    return EngineSettings(instances=tuple(instances), sync_groups=tuple(groups))


def lan_of(prios, **kw):
    lan = FakeLan()
    for i, p in enumerate(prios, start=1):
        lan.add_node(f"n{i}", conf(cfg(p, **kw)), v4=f"198.18.0.{i}", v6=f"fe80::{i}")
    return lan


def decoded_wire(lan, node=None, since=0.0):
    out = []
    for pkt in lan.wire:
        if (node is None or pkt.node == node) and pkt.time >= since:
            out.append((pkt, fastpath.decode_advert(pkt.payload, pkt.family, pkt.src, pkt.dst)))
    return out


@pytest.mark.parametrize("prios", [(100, 200, 150), (10, 20, 30, 40, 50)])
def test_highest_priority_wins_and_holds_the_vip(prios):
    lan = lan_of(prios)
    lan.run_for(10)
    winner = f"n{prios.index(max(prios)) + 1}"
    assert lan.masters() == [winner]
    for name, node in lan.nodes.items():
        assert node.addresses.holds(VIP) == (name == winner)
    # the winner waited exactly its Master_Down_Interval before taking over
    assert takeover_time(lan, winner, 1000.0) == pytest.approx(master_down_interval(max(prios), 1.0, 2), abs=TICK)
    # only one node ever became master
    assert [t for t in lan.transitions() if t[4] == "MASTER"] == [t for t in lan.transitions()
                                                                  if t[4] == "MASTER" and t[1] == winner]


def test_master_adverts_every_interval_and_garps_in_two_bursts():
    lan = lan_of((200, 100))
    lan.run_for(20)
    sent = [p.time for p, d in decoded_wire(lan, "n1")]
    gaps = {round(b - a, 3) for a, b in zip(sent, sent[1:])}
    assert gaps == {1.0}
    became = takeover_time(lan, "n1", 1000.0) + 1000.0
    garps = [t for t, kind, ifname, addr in lan.nodes["n1"].announcer.sent]
    assert garps.count(pytest.approx(became, abs=TICK)) == 5              # vrrp_garp_master_repeat
    assert garps.count(pytest.approx(became + 5.0, abs=TICK)) == 5        # garp_master_delay burst
    assert len(garps) == 10
    assert lan.nodes["n2"].announcer.sent == []


def test_failover_after_master_dies_takes_master_down_interval():
    lan = lan_of((200, 150, 100))
    lan.run_for(10)
    last_advert = max(p.time for p in lan.wire if p.node == "n1")
    lan.kill("n1")
    lan.run_for(10)
    assert lan.masters() == ["n2"]
    assert takeover_time(lan, "n2", last_advert) == pytest.approx(master_down_interval(150, 1.0, 2), abs=TICK)
    assert lan.nodes["n2"].addresses.holds(VIP)
    assert lan.nodes["n3"].engine.instance("VI_1").master_address == "198.18.0.2"


def test_priority_zero_on_shutdown_backup_takes_over_after_skew_time():
    lan = lan_of((200, 100))
    lan.run_for(10.3)
    stopped_at = lan.clock.t
    lan.nodes["n1"].engine.stop()
    assert not lan.nodes["n1"].addresses.holds(VIP)
    zero = [d for p, d in decoded_wire(lan, "n1", since=stopped_at)]
    assert [d.priority for d in zero] == [0]
    lan.run_for(5)
    lan.kill("n1")
    wait = takeover_time(lan, "n2", stopped_at)
    assert wait == pytest.approx(skew_time(100, 1.0, 2), abs=TICK)
    assert wait < 1.0 < master_down_interval(100, 1.0, 2)
    n1 = lan.nodes["n1"].engine.instance("VI_1")
    assert n1.state.value == "STOP" and n1.stats.pri_zero_sent == 1
    assert lan.nodes["n2"].engine.instance("VI_1").stats.pri_zero_rcvd == 1


def test_preempt_returning_higher_priority_takes_back():
    lan = lan_of((100,))
    lan.run_for(10)
    assert lan.masters() == ["n1"]
    lan.add_node("n2", conf(cfg(200)), v4="198.18.0.2")
    joined = lan.clock.t
    lan.run_for(10)
    assert lan.masters() == ["n2"]
    # it discarded the lower priority adverts and took over when its down timer ran out
    assert takeover_time(lan, "n2", joined) == pytest.approx(master_down_interval(200, 1.0, 2), abs=TICK)
    assert lan.nodes["n2"].addresses.holds(VIP) and not lan.nodes["n1"].addresses.holds(VIP)
    n1 = lan.nodes["n1"].engine.instance("VI_1")
    assert n1.state.value == "BACKUP" and n1.stats.release_master == 1


def test_nopreempt_returning_higher_priority_stays_backup():
    lan = lan_of((100,))
    lan.run_for(10)
    lan.add_node("n2", conf(cfg(200, preempt=False)), v4="198.18.0.2")
    lan.run_for(30)
    assert lan.masters() == ["n1"]
    n2 = lan.nodes["n2"].engine.instance("VI_1")
    assert n2.state.value == "BACKUP" and n2.master_priority == 100
    # but it still takes over when the master dies
    lan.kill("n1")
    lan.run_for(5)
    assert lan.masters() == ["n2"]


def test_preempt_delay_postpones_the_takeover():
    lan = lan_of((100,))
    lan.run_for(10)
    lan.add_node("n2", conf(cfg(200, preempt_delay=5.0)), v4="198.18.0.2")
    joined = lan.clock.t
    lan.run_for(4.5)
    assert lan.masters() == ["n1"]
    lan.run_for(10)
    assert lan.masters() == ["n2"]
    wait = takeover_time(lan, "n2", joined)
    assert 5.0 <= wait <= 5.0 + master_down_interval(200, 1.0, 2) + 1.0 + TICK


def test_equal_priority_higher_address_wins():
    lan = FakeLan()
    lan.add_node("low", conf(cfg(100)), v4="198.18.0.9")
    lan.add_node("high", conf(cfg(100)), v4="198.18.0.10")
    lan.run_for(20)
    assert lan.masters() == ["high"]
    # even when the lower address got there first
    lan2 = FakeLan()
    lan2.add_node("low", conf(cfg(100)), v4="198.18.0.9")
    lan2.run_for(10)
    lan2.add_node("high", conf(cfg(100)), v4="198.18.0.10")
    lan2.run_for(10)
    assert lan2.masters() == ["low"]        # RFC: backups accept equal priority, no preemption
    lan2.nodes["low"].engine.stop()
    lan2.run_for(5)
    assert lan2.masters() == ["high"]


def test_simultaneous_masters_resolve_by_address():
    """Split brain healing: two masters of equal priority see each other; the lower address yields."""
    lan = FakeLan()
    lan.add_node("a", conf(cfg(100)), v4="198.18.0.9")
    lan.add_node("b", conf(cfg(100)), v4="198.18.0.10")
    lan.blocked = {"a"}
    lan.run_for(10)
    assert sorted(lan.masters()) == ["a", "b"]
    lan.blocked = set()
    lan.run_for(3)
    assert lan.masters() == ["b"]
    assert not lan.nodes["a"].addresses.holds(VIP)


def test_v3_backup_learns_master_interval():
    lan = FakeLan()
    lan.add_node("m", conf(cfg(200, version=3, adver_int=0.5)), v4="198.18.0.1")
    lan.add_node("b", conf(cfg(100, version=3, adver_int=2.0)), v4="198.18.0.2")
    lan.run_for(10)
    assert lan.masters() == ["m"]
    b = lan.nodes["b"].engine.instance("VI_1")
    assert b.master_adver_int == pytest.approx(0.5)
    last = max(p.time for p in lan.wire if p.node == "m")
    lan.kill("m")
    lan.run_for(10)
    assert takeover_time(lan, "b", last) == pytest.approx(master_down_interval(100, 0.5, 3), abs=TICK)
    # a new master adverts with its own configured interval again
    assert b.master_adver_int == pytest.approx(2.0)
    sent = [p.time for p in lan.wire if p.node == "b"]
    assert round(sent[-1] - sent[-2], 3) == 2.0


def test_v3_fast_adverts_failover():
    lan = lan_of((200, 100), version=3, adver_int=0.1)
    lan.run_for(3)
    last = max(p.time for p in lan.wire if p.node == "n1")
    lan.kill("n1")
    lan.run_for(2)
    assert takeover_time(lan, "n2", last) == pytest.approx(0.3 + 156 * 0.1 / 256, abs=TICK)


def test_unicast_peers():
    lan = FakeLan()
    a = cfg(200, unicast_src_ip="198.18.0.1", unicast_peers=("198.18.0.2", "198.18.0.3"))
    b = cfg(100, unicast_src_ip="198.18.0.2", unicast_peers=("198.18.0.1", "198.18.0.3"))
    c = cfg(50, unicast_src_ip="198.18.0.3", unicast_peers=("198.18.0.1", "198.18.0.2"))
    for i, s in enumerate((a, b, c), start=1):
        lan.add_node(f"n{i}", conf(s), v4=f"198.18.0.{i}")
    lan.run_for(10)
    assert lan.masters() == ["n1"]
    pkts = [p for p in lan.wire if p.node == "n1"]
    assert {p.dst for p in pkts} == {"198.18.0.2", "198.18.0.3"}
    assert {p.src for p in pkts} == {"198.18.0.1"}
    per_advert = [p for p in pkts if p.dst == "198.18.0.2"]
    assert len(per_advert) * 2 == len(pkts)
    assert lan.nodes["n1"].engine.instance("VI_1").stats.advert_sent == len(per_advert)
    lan.kill("n1")
    lan.run_for(5)
    assert lan.masters() == ["n2"]


def test_unicast_v3_checksums_per_peer():
    lan = FakeLan()
    a = cfg(200, version=3, unicast_src_ip="198.18.0.1", unicast_peers=("198.18.0.2",))
    b = cfg(100, version=3, unicast_src_ip="198.18.0.2", unicast_peers=("198.18.0.1",))
    lan.add_node("a", conf(a), v4="198.18.0.1")
    lan.add_node("b", conf(b), v4="198.18.0.2")
    lan.run_for(10)
    assert lan.masters() == ["a"]
    assert lan.nodes["b"].engine.instance("VI_1").stats.drops == {}
    for pkt, d in decoded_wire(lan):
        assert d.checksum_ok is True


def test_v2_wrong_password_is_counted_and_ignored():
    lan = FakeLan()
    good = dict(auth_type=AUTH_PASS, auth_pass=pad_password("s3cret"))
    lan.add_node("m", conf(cfg(200, **good)), v4="198.18.0.1")
    lan.add_node("b", conf(cfg(100, **good)), v4="198.18.0.2")
    lan.add_node("x", conf(cfg(250, auth_type=AUTH_PASS, auth_pass=pad_password("wrong"))), v4="198.18.0.3")
    lan.run_for(10)
    b = lan.nodes["b"].engine.instance("VI_1")
    assert b.state.value == "BACKUP" and b.master_address == "198.18.0.1"
    assert b.stats.auth_failure > 0 and b.stats.drops["auth_failure"] == b.stats.auth_failure
    # the intruder's priority 250 never made the real group yield
    assert lan.nodes["m"].engine.instance("VI_1").state.value == "MASTER"
    assert lan.nodes["m"].engine.instance("VI_1").stats.release_master == 0


def test_master_answers_lower_priority_advert():
    lan = FakeLan()
    lan.add_node("m", conf(cfg(200)), v4="198.18.0.1")
    lan.run_for(10)
    lan.add_node("b", conf(cfg(100)), v4="198.18.0.2")
    lan.deaf = {"b"}            # b cannot hear m: it becomes master and adverts priority 100 to m
    t0 = lan.clock.t
    garps_before = len(lan.nodes["m"].announcer.sent)
    lan.run_for(5)
    assert sorted(lan.masters()) == ["b", "m"]
    b_times = [p.time for p in lan.wire if p.node == "b"]
    m_times = {p.time for p in lan.wire if p.node == "m" and p.time >= t0}
    # m answered each lower priority advert at once, not on its next Adver_Timer
    assert b_times and all(t in m_times for t in b_times)
    assert lan.nodes["m"].engine.instance("VI_1").state.value == "MASTER"
    # and re-announced the VIP (garp_lower_prio_repeat, default = garp_master_repeat 5)
    answered_garps = [t for t, *_ in lan.nodes["m"].announcer.sent[garps_before:]]
    assert answered_garps.count(b_times[0]) == 5
    lan.deaf = set()
    lan.run_for(3)
    assert lan.masters() == ["m"]
    assert not lan.nodes["b"].addresses.holds(VIP)


def test_owner_priority_255_goes_master_at_once():
    lan = lan_of((100,))
    lan.run_for(10)
    lan.add_node("owner", conf(cfg(255)), v4="198.18.0.9")
    started = lan.clock.t
    lan.run_for(0.0)
    assert "owner" in lan.masters()
    assert takeover_time(lan, "owner", started) == 0.0
    lan.run_for(1)
    assert lan.masters() == ["owner"]


def test_ipv6_v3_election_sends_na():
    lan = FakeLan()
    v6 = dict(family=6, version=3, vip="2001:db8::100")
    lan.add_node("a", conf(cfg(200, **v6)), v6="fe80::1")
    lan.add_node("b", conf(cfg(100, **v6)), v6="fe80::2")
    lan.run_for(10)
    assert lan.masters() == ["a"]
    assert {p.dst for p in lan.wire} == {"ff02::12"}
    assert {p.src for p in lan.wire} == {"fe80::1"}
    kinds = {k for t, k, i, a in lan.nodes["a"].announcer.sent}
    assert kinds == {"na"}
    assert lan.nodes["a"].addresses.holds("2001:db8::100")


from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402


@hsettings(max_examples=40, deadline=None)
@given(nodes=st.lists(st.tuples(st.integers(1, 254), st.integers(1, 250)), min_size=2, max_size=5,
                      unique_by=lambda t: t[1]),
       version=st.sampled_from([2, 3]), kill_winner=st.booleans())
def test_property_one_master_the_best_one(nodes, version, kill_winner):
    """Any mix of priorities and addresses: exactly one master, the highest (priority, address),
    also after the winner dies."""
    lan = FakeLan()
    for prio, host in nodes:
        lan.add_node(f"h{host}", conf(cfg(prio, version=version)), v4=f"198.18.0.{host}")
    lan.run_for(12)
    best = max(nodes)
    assert lan.masters() == [f"h{best[1]}"]
    if kill_winner:
        lan.kill(f"h{best[1]}")
        lan.run_for(8)
        rest = [n for n in nodes if n != best]
        assert lan.masters() == [f"h{max(rest)[1]}"]
    holders = [n for n, node in lan.nodes.items() if node.alive and node.addresses.holds(VIP)]
    assert holders == lan.masters()


def test_v3_checksum_as_v2_interoperates_and_rejects_pseudo_header_checksums():
    lan = FakeLan()
    lan.add_node("a", conf(cfg(200, version=3, v3_checksum_as_v2=True)), v4="198.18.0.1")
    lan.add_node("b", conf(cfg(100, version=3, v3_checksum_as_v2=True)), v4="198.18.0.2")
    lan.run_for(10)
    assert lan.masters() == ["a"]
    assert lan.nodes["b"].engine.instance("VI_1").stats.drops == {}
    for pkt in lan.wire:
        assert fastpath.inet_checksum(pkt.payload) == 0          # no pseudo-header in the sum
    # a standard RFC 5798 peer does not accept them (and we do not accept its adverts)
    lan.add_node("c", conf(cfg(50, version=3)), v4="198.18.0.3")
    lan.run_for(5)
    assert lan.nodes["c"].engine.instance("VI_1").stats.drops.get("checksum", 0) > 0
