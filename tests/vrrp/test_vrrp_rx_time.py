"""Timers a received advert restarts run from the kernel's receive time (Received.rx_time)."""
from __future__ import annotations

import pytest

from kvrrp import fastpath
from kvrrp.io.ports import AddressSpec, Received
from kvrrp.vrrp import EngineSettings, InstanceSettings, VrrpEngine
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.timers import master_down_interval, skew_time
from vrrp_lan import FakeAddresses, FakeAnnouncer, FakeClock

VIP = "198.18.0.100"
MASTER = "198.18.0.1"


class _Factory:
    def __init__(self) -> None:
        self.transports = {}

    def open(self, ifname, family, on_receive, group):
        factory = self

        class T:
            def send(self, payload, dst, src=None, ttl=None):
                pass

            def close(self):
                pass

        factory.transports[(ifname, family)] = T()
        return factory.transports[(ifname, family)]


def _backup(clock: FakeClock, **kw) -> VrrpEngine:
    s = InstanceSettings(name="VI_1", ifname="eth0", vrid=51, priority=100, version=3, adver_int=1.0,
                         vips=(AddressSpec(VIP, 24, "eth0", 4),), **kw)
    engine = VrrpEngine(EngineSettings(instances=(s,)), transports=_Factory(), addresses=FakeAddresses(),
                        announcer=FakeAnnouncer(clock), clock=clock,
                        source_address=lambda i, f: "198.18.0.2", drive_timers=False, raise_errors=True)
    engine.start()
    assert engine.instance("VI_1").state is State.BACKUP
    return engine


def _advert(priority: int, rx_time: float | None) -> Received:
    payload = fastpath.encode_advert(3, 51, priority, (bytes([198, 18, 0, 100]),), 100, family=4,
                                     src=MASTER, dst="224.0.0.18")
    return Received("eth0", 4, MASTER, "224.0.0.18", 255, payload, rx_time)


def test_master_down_timer_starts_at_the_kernel_receive_time():
    clock = FakeClock()
    engine = _backup(clock)
    inst = engine.instance("VI_1")
    arrived = clock.t
    clock.t += 0.004            # the daemon woke up 4 ms after the kernel had the advert
    engine.on_receive(_advert(200, arrived))
    assert inst.stats.advert_rcvd == 1
    assert inst.deadline() == pytest.approx(arrived + master_down_interval(100, 1.0, 3))
    # and the takeover happens Master_Down_Interval after the arrival, not after the wake-up
    clock.t = arrived + master_down_interval(100, 1.0, 3) + 0.0002
    engine.run_due()
    assert inst.state is State.MASTER


def test_skew_timer_after_priority_zero_starts_at_the_receive_time():
    clock = FakeClock()
    engine = _backup(clock)
    inst = engine.instance("VI_1")
    engine.on_receive(_advert(200, clock.t))
    clock.t += 0.5
    arrived = clock.t
    clock.t += 0.003
    engine.on_receive(_advert(0, arrived))
    assert inst.deadline() == pytest.approx(arrived + skew_time(100, 1.0, 3))


@pytest.mark.parametrize("offset", [None, +0.010, -0.5])
def test_unknown_future_or_stale_receive_time_falls_back_to_now(offset):
    clock = FakeClock()
    engine = _backup(clock)
    inst = engine.instance("VI_1")
    clock.t += 0.2
    rx_time = None if offset is None else clock.t + offset
    engine.on_receive(_advert(200, rx_time))
    assert inst.deadline() == pytest.approx(clock.t + master_down_interval(100, 1.0, 3))


def test_timers_not_restarted_by_an_advert_do_not_use_a_receive_time():
    clock = FakeClock()
    engine = _backup(clock)
    inst = engine.instance("VI_1")
    engine.on_receive(_advert(200, clock.t - 0.004))
    clock.t += master_down_interval(100, 1.0, 3) + 0.001
    engine.run_due()
    assert inst.state is State.MASTER
    # the master's Adver_Timer runs from the takeover itself
    assert inst.deadline() == pytest.approx(clock.t + 1.0)


def test_a_skew_time_already_over_on_wake_up_fires_at_once():
    clock = FakeClock()
    engine = _backup(clock)
    inst = engine.instance("VI_1")
    engine.on_receive(_advert(200, clock.t))
    arrived = clock.t + 0.1
    clock.t = arrived + 0.03        # woke up 30 ms late; with advert_int 0.01 s Skew_Time is far less
    inst.master_adver_int = 0.01
    engine.on_receive(_advert(0, arrived))
    assert inst.deadline() < clock.t
    engine.run_due()
    assert inst.state is State.MASTER
