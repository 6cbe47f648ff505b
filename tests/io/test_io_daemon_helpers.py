"""Pure helpers of the daemon: metrics text, checker pid file, leftover selection, dump paths."""
from __future__ import annotations

import types

from kvrrp.daemon import Daemon, _sweepable, checker_pid_file, wants_checker
from kvrrp.io.ports import AddressSpec
from kvrrp.metrics import render_metrics
from kvrrp.status_http import prometheus_text

STATUS = {
    "instances": [{
        "data": {"iname": "VI_1", "ifp_ifname": "eth0", "vrid": 51, "state": "MASTER",
                 "effective_priority": 150, "vipset": True},
        "stats": {"advert_sent": 12, "auth_failure": 0, "drops": {"bad_ttl": 2}},
    }],
    "drops": {"unknown_vrid": 3},
    "sockets": {"eth0/v4": {"sent": 12, "received": 30}},
    "announcer": {"garp_sent": 5},
}


def test_metrics_cover_states_priorities_counters_and_drops() -> None:
    text = render_metrics(STATUS)
    assert 'kvrrp_vrrp_state{instance="VI_1",interface="eth0",state="MASTER",vrid="51"} 1' in text
    assert 'kvrrp_vrrp_state{instance="VI_1",interface="eth0",state="BACKUP",vrid="51"} 0' in text
    assert 'kvrrp_vrrp_effective_priority{instance="VI_1",interface="eth0",vrid="51"} 150' in text
    assert 'kvrrp_vrrp_vips_set{instance="VI_1",interface="eth0",vrid="51"} 1' in text
    assert 'kvrrp_vrrp_advert_sent_total{instance="VI_1",interface="eth0",vrid="51"} 12' in text
    assert 'kvrrp_vrrp_dropped_adverts_total{instance="VI_1",interface="eth0",reason="bad_ttl",vrid="51"} 2' in text
    assert 'reason="unknown_vrid"' in text
    assert 'kvrrp_socket_events_total{counter="sent",socket="eth0/v4"} 12' in text
    assert 'kvrrp_announcer_events_total{counter="garp_sent"} 5' in text
    assert "# TYPE kvrrp_vrrp_state gauge" in text and text.endswith("\n")


def test_prometheus_labels_are_escaped() -> None:
    text = prometheus_text([("m", "gauge", "help", [({"a": 'x"y\\z\nw'}, 1.5)])])
    assert 'm{a="x\\"y\\\\z\\nw"} 1.5' in text


def test_checker_pid_file_and_when_the_checker_runs() -> None:
    assert checker_pid_file("/run/kvrrp.pid") == "/run/kvrrp-checkers.pid"
    assert checker_pid_file("/tmp/x") == "/tmp/x-checkers.pid"
    with_vs = types.SimpleNamespace(virtual_servers=(object(),))
    without = types.SimpleNamespace(virtual_servers=())
    assert wants_checker(types.SimpleNamespace(vrrp=False), with_vs)
    assert not wants_checker(types.SimpleNamespace(vrrp=True), with_vs)
    assert not wants_checker(types.SimpleNamespace(vrrp=False), without)


def test_leftover_sweep_spares_address_owners() -> None:
    vip = AddressSpec("198.18.0.200", 32, "eth0", 4)
    evip = AddressSpec("198.18.0.201", 32, "eth0", 4)
    owned = AddressSpec("198.18.0.11", 24, "eth0", 4)
    instances = [types.SimpleNamespace(priority=100, vips=(vip,), excluded_vips=(evip,)),
                 types.SimpleNamespace(priority=255, vips=(owned,), excluded_vips=())]
    assert _sweepable(instances) == [vip, evip]


def test_dump_paths_default_to_keepalived_and_follow_global_defs() -> None:
    g = types.SimpleNamespace(state_dump_file="/var/tmp/d", stats_dump_file=None, json_dump_file="")
    daemon = Daemon.__new__(Daemon)
    daemon.config = types.SimpleNamespace(global_defs=g)
    assert daemon.dump_path("data") == "/var/tmp/d"
    assert daemon.dump_path("stats") == "/tmp/keepalived.stats"
    assert daemon.dump_path("json") == "/tmp/keepalived.json"
