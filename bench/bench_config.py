"""Parse-time benchmarks for the configuration layer (pytest-benchmark, opt-in).

    PYTHONPATH=src python -m pytest bench/bench_config.py --benchmark-only -p no:cacheprovider

Generated, deterministic configs: 10,000 vrrp_instances, and 1,000 virtual_servers with 10
real_servers each (one TCP_CHECK per real server). Each run asserts the parse result so a
broken parser cannot look fast. Target on the team machine: under 2 s each.
"""
from __future__ import annotations

import platform
import sys

import pytest

from kvrrp.config import parse_text


def make_instances(n: int) -> str:
    out = ["global_defs {\n    router_id BENCH\n}\n"]
    for i in range(n):
        vrid = i % 255 + 1
        iface = f"eth{i // 255}"
        out.append(
            f"vrrp_instance VI_{i} {{\n"
            f"    state BACKUP\n"
            f"    interface {iface}\n"
            f"    virtual_router_id {vrid}\n"
            f"    priority {100 + i % 50}\n"
            f"    advert_int 1\n"
            f"    authentication {{\n        auth_type PASS\n        auth_pass pw{i % 1000}\n    }}\n"
            f"    virtual_ipaddress {{\n        198.18.{i // 250}.{i % 250 + 1}/32 dev {iface}\n    }}\n"
            f"}}\n")
    return "".join(out)


def make_virtual_servers(n_vs: int, n_rs: int) -> str:
    out = []
    for v in range(n_vs):
        out.append(f"virtual_server 198.18.{v // 250}.{v % 250 + 1} 80 {{\n"
                   "    delay_loop 6\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n")
        for r in range(n_rs):
            out.append(f"    real_server 198.19.{v // 25}.{(v % 25) * 10 + r + 1} 8080 {{\n"
                       f"        weight {r + 1}\n"
                       "        TCP_CHECK {\n            connect_timeout 3\n            retry 2\n"
                       "            delay_before_retry 2\n        }\n    }\n")
        out.append("}\n")
    return "".join(out)


@pytest.fixture(scope="module")
def instances_text() -> str:
    return make_instances(10_000)


@pytest.fixture(scope="module")
def vs_text() -> str:
    return make_virtual_servers(1_000, 10)


def _info(benchmark) -> None:
    benchmark.extra_info["python"] = sys.version.split()[0]
    benchmark.extra_info["implementation"] = platform.python_implementation()


def test_parse_10000_vrrp_instances(benchmark, instances_text):
    _info(benchmark)
    res = benchmark.pedantic(parse_text, args=(instances_text,), kwargs={"config_id": "bench"},
                             rounds=3, iterations=1)
    assert len(res.config.instances) == 10_000
    assert res.config.instances[-1].vrid == 9_999 % 255 + 1
    assert not res.errors


def test_parse_1000_virtual_servers_x_10_real_servers(benchmark, vs_text):
    _info(benchmark)
    res = benchmark.pedantic(parse_text, args=(vs_text,), kwargs={"config_id": "bench"}, rounds=3, iterations=1)
    assert len(res.config.virtual_servers) == 1_000
    assert sum(len(v.real_servers) for v in res.config.virtual_servers) == 10_000
    assert not res.errors
