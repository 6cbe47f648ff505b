"""Engine features on the fake LAN: reload, trackers, listeners, sockets, asyncio."""
from __future__ import annotations

import asyncio

import pytest

from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp import FAULT, OK, EngineSettings, VrrpEngine
from kvrrp import fastpath
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.timers import master_down_interval
from vrrp_lan import FakeAddresses, FakeAnnouncer, FakeClock, FakeLan, conf, inst, pair

TICK = 0.002


# ---------------------------------------------------------------------------------- reload
def test_reload_unchanged_keeps_state_with_zero_transitions_and_no_missed_adverts():
    c = conf(inst(), inst("VI_2", vrid=52, vip="198.18.0.101"))
    lan = pair(c, conf(inst(prio=50), inst("VI_2", vrid=52, prio=50, vip="198.18.0.101")))
    a = lan.nodes["a"]
    assert lan.masters("VI_1") == ["a"] and lan.masters("VI_2") == ["a"]
    before = len(lan.transitions())
    adds_before = list(a.addresses.log)
    lan.run_for(0.5)
    result = a.engine.apply_config(c)
    assert result.kept == ("VI_1", "VI_2") and result.restarted == result.added == result.removed == ()
    lan.run_for(10)
    assert len(lan.transitions()) == before
    assert a.addresses.log == adds_before          # VIPs untouched
    sent = [p.time for p in lan.wire if p.node == "a" and fastpath.decode_advert(p.payload, 4).vrid == 51]
    assert {round(y - x, 3) for x, y in zip(sent, sent[1:])} == {1.0}


def test_reload_changed_instance_restarts_and_removed_is_deleted():
    a_conf = conf(inst(prio=200), inst("VI_2", vrid=52, prio=200, vip="198.18.0.101"))
    lan = pair(a_conf, conf(inst(prio=100), inst("VI_2", vrid=52, prio=100, vip="198.18.0.101")))
    a = lan.nodes["a"]
    new = conf(inst(prio=90), inst("VI_3", vrid=53, prio=100, vip="198.18.0.102"))
    result = a.engine.apply_config(new)
    # a priority change applies in place (vrrp.reload_plan); the lower priority then loses the
    # election to b through the protocol, without a STOP / priority-0 restart
    assert result.updated == ("VI_1",) and result.restarted == ()
    assert result.removed == ("VI_2",) and result.added == ("VI_3",)
    trans = [(t[2], t[3], t[4]) for t in a.transitions]
    assert ("VI_2", "MASTER", "DELETED") in trans and ("VI_1", "MASTER", "STOP") not in trans
    assert not a.addresses.holds("198.18.0.101")
    lan.run_for(10)
    assert lan.masters("VI_1") == ["b"]                 # lower priority, b preempted
    assert lan.masters("VI_2") == ["b"]                 # removed: b took over after priority 0
    assert a.engine.instance("VI_3").state is State.MASTER
    with pytest.raises(KeyError):
        a.engine.instance("VI_2")


def test_reload_with_a_bad_config_changes_nothing():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    a = lan.nodes["a"]
    with pytest.raises(ValueError, match="VRID 51"):
        a.engine.apply_config(conf(inst(prio=200), inst("VI_X", vrid=51)))
    assert a.engine.instance("VI_1").state is State.MASTER
    lan.run_for(5)
    assert lan.masters() == ["a"]


def test_duplicate_vrid_rejected_at_construction():
    with pytest.raises(ValueError, match="already used"):
        FakeLan().add_node("a", conf(inst(), inst("VI_2")), v4="198.18.0.1")


# ---------------------------------------------------------------------------------- trackers
def test_tracker_weight_lowers_master_priority_and_backup_takes_over():
    lan = pair(conf(inst(prio=100)), conf(inst(prio=90)))
    a = lan.nodes["a"]
    t0 = lan.clock.t
    last_accepted = max(p.time for p in lan.wire if p.node == "a")
    a.engine.set_tracker("VI_1", "chk_haproxy", -20)
    ai = a.engine.instance("VI_1")
    assert ai.effective_priority == 80
    # the master advertised the new priority at once
    now_pkts = [fastpath.decode_advert(p.payload, 4) for p in lan.wire if p.node == "a" and p.time == t0]
    assert [d.priority for d in now_pkts] == [80]
    lan.run_for(10)
    assert lan.masters() == ["b"]
    # b preempted: it discarded the lower adverts and its down timer ran out
    took = [t for t in lan.transitions() if t[1] == "b" and t[4] == "MASTER"][0][0]
    assert took - last_accepted == pytest.approx(master_down_interval(90, 1.0, 2), abs=TICK)
    # recovery: with preempt, a takes the VIP back
    a.engine.set_tracker("VI_1", "chk_haproxy", 0)
    assert ai.effective_priority == 100
    lan.run_for(10)
    assert lan.masters() == ["a"]


def test_effective_priority_clamps_and_owner_is_untouched():
    lan = FakeLan()
    n = lan.add_node("a", conf(inst(prio=100), inst("OWN", vrid=52, prio=255, vip="198.18.0.101")), v4="198.18.0.1")
    e = n.engine
    e.set_tracker("VI_1", "s1", 200)
    assert e.instance("VI_1").effective_priority == 254
    e.set_tracker("VI_1", "s1", -300)
    assert e.instance("VI_1").effective_priority == 1
    e.set_tracker("VI_1", "s2", 50)
    e.set_tracker("VI_1", "s1", 10)
    assert e.instance("VI_1").effective_priority == 160
    e.set_tracker("OWN", "s1", -50)
    assert e.instance("OWN").effective_priority == 255
    with pytest.raises(ValueError):
        e.set_tracker("VI_1", "s1", "broken")
    with pytest.raises(KeyError):
        e.set_tracker("nope", "s1", 1)


def test_tracker_fault_sends_priority_zero_and_recovers():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    a = lan.nodes["a"]
    t0 = lan.clock.t
    a.engine.set_tracker("VI_1", "eth1", FAULT)
    ai = a.engine.instance("VI_1")
    assert ai.state is State.FAULT and not a.addresses.holds("198.18.0.100")
    zero = [fastpath.decode_advert(p.payload, 4).priority for p in lan.wire if p.node == "a" and p.time == t0]
    assert zero == [0]
    lan.run_for(2)
    assert lan.masters() == ["b"]
    a.engine.set_tracker("VI_1", "eth2", FAULT)
    a.engine.set_tracker("VI_1", "eth1", OK)
    assert ai.state is State.FAULT                   # still one tracker down
    a.engine.set_tracker("VI_1", "eth2", OK)
    assert ai.state is State.BACKUP
    lan.run_for(10)
    assert lan.masters() == ["a"]
    reasons = [t[6] for t in a.transitions if t[2] == "VI_1"]
    assert "tracker fault" in reasons and "trackers recovered" in reasons


def test_tracker_fault_before_start_starts_in_fault():
    lan = FakeLan()
    node = lan.add_node("a", conf(inst(prio=200)), v4="198.18.0.1", start=False)
    node.engine.set_tracker("VI_1", "chk", FAULT)
    node.engine.start()
    assert node.engine.instance("VI_1").state is State.FAULT
    lan.run_for(10)
    assert lan.masters() == [] and lan.wire == []


# ---------------------------------------------------------------------------------- API odds
def test_transition_listener_gets_name_states_reason_priority():
    seen = []
    lan = FakeLan()
    node = lan.add_node("a", conf(inst(prio=120)), v4="198.18.0.1", start=False)
    node.engine.add_transition_listener(lambda *a: seen.append(a))
    node.engine.start()
    lan.run_for(5)
    assert seen[0] == ("VI_1", State.INIT, State.BACKUP, "startup", 120)
    assert seen[1] == ("VI_1", State.BACKUP, State.MASTER, "master down timer expired", 120)
    # VIPs are in place when the listener hears MASTER
    node.engine.add_transition_listener(lambda *a: seen.append(node.addresses.holds("198.18.0.100")))
    node.engine.stop()
    assert seen[-2][2] is State.STOP and seen[-1] is False


def test_one_transport_per_interface_and_family_shared():
    lan = FakeLan()
    node = lan.add_node("a", conf(inst("A", 1), inst("B", 2, vip="198.18.0.101"),
                                  inst("C", 3, ifname="eth1", vip="198.18.1.100"),
                                  inst("D", 4, family=6, version=3,
                                       vips=(AddressSpec("2001:db8::1", 64, "eth0", 6),))),
                        v4="198.18.0.1", v6="fe80::1")
    assert sorted(node.engine._transport_factory.opened) == [
        ("eth0", 4, "224.0.0.18"), ("eth0", 6, "ff02::12"), ("eth1", 4, "224.0.0.18")]
    node.engine.stop()
    assert all(t.closed for t in node.transports.values())


def test_v3_without_a_source_address_counts_send_errors():
    lan = FakeLan()
    node = lan.add_node("a", conf(inst(version=3)), ifname="eth9")   # no address on eth0
    lan.run_for(10)
    i = node.engine.instance("VI_1")
    assert i.state is State.MASTER and i.stats.send_errors > 0 and i.stats.advert_sent == 0


def test_adapter_errors_are_logged_not_raised(caplog):
    class Broken(FakeAddresses):
        def add(self, spec):
            raise OSError("netlink says no")

    clock = FakeClock()
    engine = VrrpEngine(conf(inst(prio=255)), transports=type("F", (), {"open": lambda *a: None})(),
                        addresses=Broken(), announcer=FakeAnnouncer(clock), clock=clock, drive_timers=False)
    engine.start()
    assert engine.instance("VI_1").state is State.MASTER
    assert "netlink says no" in caplog.text


async def test_asyncio_drives_the_wheel_with_one_handle():
    clock = type("C", (), {"monotonic": staticmethod(asyncio.get_running_loop().time)})()
    sent = []

    class T:
        def send(self, payload, dst, src=None):
            sent.append(clock.monotonic())

        def close(self):
            pass

    class F:
        def open(self, *a):
            return T()

    engine = VrrpEngine(conf(*(inst(f"V{i}", i, prio=100, version=3, adver_int=0.05,
                                    vip=f"198.18.0.{i}") for i in range(1, 21))),
                        transports=F(), addresses=FakeAddresses(), announcer=FakeAnnouncer(FakeClock()),
                        clock=clock, source_address=lambda i, f: "198.18.0.250")
    engine.start()
    await asyncio.sleep(0.6)
    states = {i.state for i in engine.instances.values()}
    handle_count = 1 if engine._handle is not None else 0
    engine.stop()
    assert states == {State.MASTER}
    assert handle_count == 1
    assert len(sent) >= 20 * 3


@pytest.mark.parametrize("preempt", [True, False])
def test_backup_priority_rising_above_master_preempts_unless_nopreempt(preempt):
    lan = pair(conf(inst(prio=100)), conf(inst(prio=90, preempt=preempt)))
    lan.nodes["b"].engine.set_tracker("VI_1", "chk_file", +30)
    assert lan.nodes["b"].engine.instance("VI_1").effective_priority == 120
    lan.run_for(10)
    assert lan.masters() == (["b"] if preempt else ["a"])


def test_transitions_are_logged_with_keepalived_wording_and_reason(caplog):
    import logging
    caplog.set_level(logging.INFO, logger="kvrrp.vrrp")
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    lan.kill("a")
    lan.run_for(5)
    text = caplog.text
    assert "(VI_1) Entering BACKUP STATE (init)" in text
    assert "(VI_1) Entering MASTER STATE" in text
    assert "(VI_1) Receive advertisement timeout" in text
    assert "(VI_1) BACKUP -> MASTER: master down timer expired (effective priority 100)" in text


def test_validate_settings_rejects_duplicates():
    from kvrrp.vrrp import validate_settings
    validate_settings(conf(inst(), inst("VI_2", vrid=52)))
    with pytest.raises(ValueError, match="defined twice"):
        validate_settings(conf(inst(), inst()))


def test_event_listener_priority_and_master_rx_lower_pri():
    lan = FakeLan()
    m = lan.add_node("m", conf(inst(prio=200)), v4="198.18.0.1")
    events = []
    m.engine.add_event_listener(lambda *a: events.append(a))
    lan.run_for(10)
    m.engine.set_tracker("VI_1", "w", -10)
    assert events == [("VI_1", "PRIORITY", State.MASTER, 190)]
    lan.add_node("b", conf(inst(prio=100)), v4="198.18.0.2")
    lan.deaf = {"b"}
    lan.run_for(5)
    assert ("VI_1", "MASTER_RX_LOWER_PRI", State.MASTER, 190) in events


def test_startup_delay_holds_every_takeover():
    lan = FakeLan()
    delayed = EngineSettings(instances=(inst(prio=100), inst("OWN", vrid=52, prio=255, vip="198.18.0.101")),
                             startup_delay=10.0)
    n = lan.add_node("a", delayed, v4="198.18.0.1")
    assert n.state("OWN") == "BACKUP"
    lan.run_for(9.9)
    assert lan.masters("VI_1") == [] and lan.masters("OWN") == []
    lan.run_for(0.11)
    assert lan.masters("OWN") == ["a"]                    # the owner right after the delay
    lan.run_for(3.6)
    assert lan.masters("VI_1") == ["a"]                   # others a Master_Down_Interval later
    took = [t[0] for t in n.transitions if t[2] == "VI_1" and t[4] == "MASTER"][0]
    assert took - 1000.0 == pytest.approx(10.0 + master_down_interval(100, 1.0, 2), abs=TICK)


def test_owner_ignore_adverts():
    lan = FakeLan()
    lan.add_node("own", conf(inst(prio=255, owner_ignore_adverts=True)), v4="198.18.0.1")
    lan.add_node("b", conf(inst(prio=100)), v4="198.18.0.2")
    lan.deaf = {"b"}
    lan.run_for(6)
    own = lan.nodes["own"].engine.instance("VI_1")
    assert own.stats.advert_rcvd > 0
    sent = [p.time for p in lan.wire if p.node == "own"]
    assert {round(y - x, 3) for x, y in zip(sent, sent[1:])} == {1.0}     # never answered early


def test_a_failing_transport_does_not_stop_the_master(caplog):
    clock = FakeClock()
    calls = []

    class Flaky:
        def send(self, payload, dst, src=None):
            calls.append(clock.t)
            if len(calls) % 2:
                raise RuntimeError("driver bug")

        def close(self):
            pass

    factory = type("F", (), {"open": lambda self, *a: Flaky()})()
    engine = VrrpEngine(conf(inst(prio=255)), transports=factory, addresses=FakeAddresses(),
                        announcer=FakeAnnouncer(clock), clock=clock, drive_timers=False,
                        source_address=lambda i, f: "198.18.0.1")
    engine.start()
    for _ in range(5):
        clock.t = engine.next_deadline()
        engine.run_due()
    i = engine.instance("VI_1")
    assert len(calls) >= 5 and i.stats.send_errors >= 2 and i.state is State.MASTER
    assert "driver bug" in caplog.text


def test_drop_logging_is_rate_limited(caplog):
    import logging

    from kvrrp.io.ports import Received
    caplog.set_level(logging.INFO, logger="kvrrp.vrrp")
    lan = FakeLan()
    node = lan.add_node("a", conf(inst()), v4="198.18.0.2")
    payload = fastpath.encode_advert(2, 51, 100, [bytes([198, 18, 0, 100])], 2)     # wrong interval
    for _ in range(150):
        node.engine.on_receive(Received("eth0", 4, "198.18.0.1", "224.0.0.18", 255, payload))
    lines = [r for r in caplog.records if "dropped advert" in r.getMessage()]
    assert node.engine.instance("VI_1").stats.drops == {"advert_interval": 150}
    assert [r.getMessage().split("(")[-1] for r in lines] == ["1 so far)", "10 so far)", "100 so far)"]


def test_restarted_instance_keeps_tracker_states():
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    a = lan.nodes["a"]
    a.engine.set_tracker("VI_1", "w", -20)
    a.engine.set_tracker("VI_1", "link", FAULT)
    a.engine.apply_config(conf(inst(prio=210)))         # changed: restarted
    i = a.engine.instance("VI_1")
    assert i.state is State.FAULT and i.effective_priority == 190
    a.engine.set_tracker("VI_1", "link", OK)
    assert i.state is State.BACKUP


# ---------------------------------------------------------------------------------- SendGarp
def test_send_garp_announces_every_address_once_only_on_a_master():
    """engine.send_garp (DBus SendGarp): keepalived's vrrp_send_link_update(vrrp, 1) - one
    announcement per VIP while MASTER, nothing (and False) in another state."""
    lan = pair(conf(inst(prio=200)), conf(inst(prio=100)))
    a, b = lan.nodes["a"], lan.nodes["b"]
    assert lan.masters("VI_1") == ["a"]
    a_before, b_before = len(a.announcer.sent), len(b.announcer.sent)
    assert a.engine.send_garp("VI_1") is True
    assert [s[1:] for s in a.announcer.sent[a_before:]] == [("garp", "eth0", "198.18.0.100")]
    assert a.engine.instance("VI_1").stats.garp_sent == a_before + 1
    assert b.engine.send_garp("VI_1") is False
    assert len(b.announcer.sent) == b_before
    with pytest.raises(KeyError):
        a.engine.send_garp("nope")
