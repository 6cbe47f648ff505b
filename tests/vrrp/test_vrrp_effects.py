"""The state machine's handlers return effects (kvrrp.vrrp.effects) that the engine carries out:
each step's list is asserted here, in order, with the event's data passed in (no advert parked
on the instance)."""
from __future__ import annotations

from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp import EngineSettings, InstanceSettings
from kvrrp.vrrp.effects import AddAddress, Announce, InstanceEvent, RemoveAddress, SendAdvert, Transitioned
from kvrrp.vrrp.fsm import AdvertIn, Event, State, classify_advert
from kvrrp.vrrp.instance import EVENT_MASTER_RX_LOWER_PRI
from kvrrp.vrrp.settings import SyncGroupSettings
from vrrp_lan import FakeLan

ME = "198.18.0.2"
PEER = "198.18.0.9"
VIP = AddressSpec("198.18.0.100", 24, "eth0", 4)
VIP2 = AddressSpec("198.18.0.101", 24, "eth0", 4)


def make(start: bool = True, groups=(), **kw):
    base = dict(name="VI_1", ifname="eth0", vrid=51, priority=100, vips=(VIP, VIP2),
                garp_master_repeat=2, garp_master_delay=0.0)
    base.update(kw)
    instances = [InstanceSettings(**base)]
    if groups:
        instances.append(InstanceSettings(name="VI_2", ifname="eth0", vrid=52, priority=100, vips=(VIP,)))
    lan = FakeLan()
    node = lan.add_node("me", EngineSettings(instances=tuple(instances), sync_groups=groups), v4=ME, start=start)
    return node.engine.instance("VI_1")


def kinds(effects) -> list[str]:
    return [type(e).__name__ for e in effects]


def test_master_down_timer_sends_adds_announces_then_reports():
    inst = make()
    assert inst.state is State.BACKUP
    effects = inst.dispatch(Event.MASTER_DOWN_TIMER)
    assert kinds(effects) == ["SendAdvert", "AddAddress", "AddAddress"] + ["Announce"] * 4 + ["Transitioned"]
    assert effects[1:3] == [AddAddress(VIP), AddAddress(VIP2)]
    assert effects[3:7] == [Announce("eth0", 4, VIP.address), Announce("eth0", 4, VIP2.address)] * 2
    assert effects[-1] == Transitioned(State.BACKUP, State.MASTER, Event.MASTER_DOWN_TIMER.value)
    assert effects[0].dst == "224.0.0.18" and effects[0].payload[2] == 100      # our priority on the wire


def test_higher_advert_to_a_master_releases_and_takes_the_advert_from_the_event():
    inst = make()
    inst.dispatch(Event.MASTER_DOWN_TIMER)
    effects = inst.dispatch(Event.ADVERT_HIGHER, AdvertIn(PEER, 200, 1))
    assert effects == [RemoveAddress(VIP), RemoveAddress(VIP2),
                       Transitioned(State.MASTER, State.BACKUP, Event.ADVERT_HIGHER.value)]
    assert (inst.master_address, inst.master_priority) == (PEER, 200)


def test_yield_advert_with_higher_prio_send_advert():
    inst = make(higher_prio_send_advert=True)
    inst.dispatch(Event.MASTER_DOWN_TIMER)
    effects = inst.dispatch(Event.ADVERT_HIGHER, AdvertIn(PEER, 200, 1))
    assert kinds(effects) == ["SendAdvert", "RemoveAddress", "RemoveAddress", "Transitioned"]


def test_lower_advert_to_a_master_is_answered():
    inst = make(garp_lower_prio_repeat=1, garp_lower_prio_delay=0.0)
    inst.dispatch(Event.MASTER_DOWN_TIMER)
    effects = inst.dispatch(Event.ADVERT_LOWER, AdvertIn(PEER, 50, 1))
    assert effects[0] == InstanceEvent(EVENT_MASTER_RX_LOWER_PRI)
    assert kinds(effects[1:]) == ["SendAdvert", "Announce", "Announce"]
    quiet = make(lower_prio_no_advert=True, garp_lower_prio_repeat=0)
    quiet.dispatch(Event.MASTER_DOWN_TIMER)
    assert quiet.dispatch(Event.ADVERT_LOWER, AdvertIn(PEER, 50, 1)) == [InstanceEvent(EVENT_MASTER_RX_LOWER_PRI)]


def test_shutdown_of_a_master_sends_priority_zero_and_removes_vips():
    inst = make()
    inst.dispatch(Event.MASTER_DOWN_TIMER)
    effects = inst.dispatch(Event.SHUTDOWN)
    assert kinds(effects) == ["SendAdvert", "RemoveAddress", "RemoveAddress", "Transitioned"]
    assert effects[0].payload[2] == 0
    assert inst.stats.pri_zero_sent == 1


def test_backup_accepting_a_master_has_no_outside_effect():
    inst = make()
    assert inst.dispatch(Event.ADVERT_HIGHER, AdvertIn(PEER, 200, 1, rx_time=None)) == []
    assert inst.master_address == PEER and inst.deadline() is not None


def test_owner_ignoring_adverts_is_classified_not_special_cased():
    inst = make(priority=255, owner_ignore_adverts=True)
    assert inst.state is State.MASTER
    event = classify_advert(State.MASTER, 254, 255, PEER, ME, False, owner_ignores=True)
    assert event is Event.ADVERT_OWNER_IGNORES
    assert inst.dispatch(event, AdvertIn(PEER, 254, 1)) == []
    assert inst.state is State.MASTER


def test_sync_group_hold_back_is_a_table_row():
    inst = make(groups=(SyncGroupSettings(name="G", members=("VI_1", "VI_2")),), sync_group="G")
    other = inst.sync.others(inst)[0]
    assert other.state is State.BACKUP and not other.want_master
    # VI_2 does not want MASTER yet: VI_1 waits, restarting its down timer
    assert inst.dispatch(Event.MASTER_DOWN_SYNC_HELD) == []
    assert inst.want_master and inst.state is State.BACKUP and inst.deadline() is not None


def test_startup_as_owner_becomes_master_with_its_effects():
    inst = make(start=False, priority=255)
    effects = inst.dispatch(Event.STARTUP_OWNER)
    assert isinstance(effects[0], SendAdvert)
    assert effects[-1] == Transitioned(State.INIT, State.MASTER, Event.STARTUP_OWNER.value)
    backup = make(start=False)
    assert backup.dispatch(Event.STARTUP) == [Transitioned(State.INIT, State.BACKUP, Event.STARTUP.value)]
