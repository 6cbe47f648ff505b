"""VRRP engine benchmarks: the cost of one received advert and of a whole second of a
10 000-instance LAN (two engines, fake transports, fake clock - no sockets, no sleeping).

    python3 -m pytest bench/bench_vrrp_engine.py --benchmark-only [--benchmark-json out.json]

Seeded, deterministic; outputs are asserted; extra_info records the fast-path implementation.
Targets (reported, never asserted): < 15 us per received advert through validation and the
state machine, and a 10k-instance steady second well under 1 s of CPU for both nodes together.
"""
from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "vrrp"))

from kvrrp.io.ports import AddressSpec, Received  # noqa: E402
from kvrrp.vrrp import EngineSettings, InstanceSettings  # noqa: E402
from kvrrp import fastpath  # noqa: E402
from vrrp_lan import FakeLan  # noqa: E402

IFACES, PER_IFACE = 40, 250


def many(prio: int) -> EngineSettings:
    return EngineSettings(instances=tuple(
        InstanceSettings(name=f"VI_{i}_{v}", ifname=f"eth{i}", vrid=v, priority=prio, version=3,
                         vips=(AddressSpec(f"198.18.{i}.{v}", 24, f"eth{i}", 4),))
        for i in range(IFACES) for v in range(1, PER_IFACE + 1)))


def sources(host: int) -> dict:
    return {(f"eth{i}", 4): f"198.19.{i}.{host}" for i in range(IFACES)}


@pytest.fixture(scope="module")
def lan():
    lan = FakeLan()
    lan.add_node("a", many(200), sources=sources(1))
    lan.add_node("b", many(100), sources=sources(2))
    lan.run_for(10)
    assert len(lan.masters("VI_0_1")) == 1
    lan.wire.clear()
    return lan


def test_receive_one_advert(benchmark, lan):
    b = lan.nodes["b"].engine
    inst = b.instance("VI_7_77")
    payload = fastpath.encode_advert(3, 77, 200, [ipaddress.ip_address("198.18.7.77").packed], 100,
                                     src=ipaddress.ip_address("198.19.7.1").packed,
                                     dst=ipaddress.ip_address("224.0.0.18").packed)
    rx = Received("eth7", 4, "198.19.7.1", "224.0.0.18", 255, payload)
    before = inst.stats.advert_rcvd
    benchmark.extra_info["fastpath"] = fastpath.IMPLEMENTATION
    benchmark(b.on_receive, rx)
    assert inst.stats.advert_rcvd > before and not inst.stats.drops


def test_steady_second_of_10k_instances(benchmark, lan):
    benchmark.extra_info["fastpath"] = fastpath.IMPLEMENTATION
    benchmark.extra_info["instances_per_node"] = IFACES * PER_IFACE

    def one_second():
        lan.wire.clear()
        lan.run_for(1.0)
        return len(lan.wire)

    sent = benchmark.pedantic(one_second, rounds=5, iterations=1)
    assert sent == IFACES * PER_IFACE
