"""Real keepalived.conf files (the config area's fixtures) -> the IPVS table kvrrp starts with.

Pure: nothing is contacted (these configs carry addresses outside any test namespace)."""
from __future__ import annotations

from pathlib import Path

import pytest

from healthcheck.health import declared, initial_view
from kvrrp.config import load

DATA = Path(__file__).resolve().parent.parent / "data"


def view(name):
    res = load(str(DATA / name))
    assert not res.errors, [d.format() for d in res.errors]
    return res.config, initial_view(res.config)


def test_vsg_ranges_fwmarks_and_fwmark_vs():
    config, (_, _, table) = view("configs/ok_vsg_fwmark.conf")
    assert table.weights() == {
        "FWM 7": {"[198.18.4.100]:80": 1},
        "FWM 8": {"[198.18.4.101]:0": 2},
        **{f"[198.18.4.{i}]:tcp:80": {"[198.18.4.100]:80": 1} for i in range(1, 6)},
        "[198.18.4.10]:tcp:8080": {"[198.18.4.100]:80": 1},
    }
    assert "Route" in table.format() and "Masq" in table.format()


def test_full_lvs_config_alpha_quorum_sorry_inhibit():
    config, (states, quorum, table) = view("configs/ok_lvs_full.conf")
    # alpha: every real server of VS :80 starts down -> quorum 2 (+1) not met -> sorry server in,
    # the inhibit_on_failure server stays at weight 0
    assert table.weights()["[198.18.3.1]:tcp:80"] == {"[198.18.3.10]:80": 0, "[198.18.3.9]:80": 1}
    svc = table.entries[next(k for k in table.entries if k.port == 80)].service
    assert (svc.sched, svc.timeout, svc.netmask) == ("wrr", 50, 24)
    # the UDP DNS service without alpha starts with its real server in
    assert table.weights()["[198.18.3.1]:udp:53"] == {"[198.18.3.20]:53": 1}
    services, dests = declared(config)
    assert len(services) == 2 and len(dests) == 5


@pytest.mark.parametrize("name", ["seeds/seed000_lvs_dr.conf", "seeds/seed001_k8s_sync_group_lvs.conf"])
def test_seed_lvs_configs_build_a_table(name):
    res = load(str(DATA / name))
    _, _, table = initial_view(res.config)
    assert len(table) >= 1
    for entry in table.entries.values():
        assert entry.dests                         # non-alpha real servers start in the pool
