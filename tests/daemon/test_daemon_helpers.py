"""Pure helpers of the daemon: metrics, checker pid file, leftover selection, dump paths."""
from __future__ import annotations

import types

from kvrrp.daemon import Daemon, checker_pid_file, wants_checker
from kvrrp.daemon.services.engine import sweepable
from kvrrp.io.ports import AddressSpec
from prometheus_client.parser import text_string_to_metric_families

from kvrrp.metrics import render, vrrp_registry
from kvrrp.transition_log import TransitionRecorder
from kvrrp.vrrp.fsm import State

STATUS = {
    "fastpath": "cython",
    "instances": [{
        "data": {"iname": "VI_1", "ifp_ifname": "eth0", "vrid": 51, "state": "MASTER", "base_priority": 140,
                 "effective_priority": 150, "vipset": True, "garp_delay": 5, "maintenance": False,
                 "vips": ["198.18.0.200/32 dev eth0 scope global", "198.18.0.201/32 dev eth1 scope global"],
                 "evips": ["198.18.0.202/32 dev eth0 scope global"]},
        "stats": {"advert_sent": 12, "auth_failure": 0, "pri_zero_rcvd": 4, "drops": {"bad_ttl": 2}},
    }, {
        "data": {"iname": 'V"2', "ifp_ifname": "eth0", "vrid": 52, "state": "FAULT", "vips": [],
                 "maintenance": True},
        "stats": {},
    }],
    "drops": {"unknown_vrid": 3},
    "sockets": {"eth0/v4": {"sent": 12, "received": 30}},
    "announcer": {"garp_sent": 5},
    "reload": {"requested": 3, "applied": 2, "refused": 1, "failed": 0},
    "tracking": {"scripts": {"chk": {"healthy": False, "running": True, "runs": 7, "failures": 3, "timeouts": 1},
                             "new": {"healthy": None, "running": False, "runs": 0, "failures": 0, "timeouts": 0}},
                 "interfaces": {"eth1": False}, "files": {"f": 12}, "processes": {"p": {"count": 2, "quorum": 1}}},
}


def scrape(status: dict) -> dict:
    text = render(vrrp_registry(lambda: status)).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_kvrrp_families_cover_states_priorities_counters_drops_and_tracking() -> None:
    m = scrape(STATUS)
    vi = {"iname": "VI_1", "intf": "eth0", "vrid": "51"}

    def get(metric: str, **labels: str) -> float:
        return m[(metric, frozenset(labels.items()))]

    assert get("kvrrp_vrrp_state", state="MASTER", **vi) == 1 and get("kvrrp_vrrp_state", state="BACKUP", **vi) == 0
    assert get("kvrrp_vrrp_effective_priority", **vi) == 150 and get("kvrrp_vrrp_base_priority", **vi) == 140
    assert get("kvrrp_vrrp_vips_set", **vi) == 1
    assert get("kvrrp_vrrp_maintenance", iname='V"2', intf="eth0", vrid="52") == 1
    assert get("kvrrp_vrrp_advert_sent_total", **vi) == 12
    assert get("kvrrp_vrrp_dropped_adverts_total", reason="bad_ttl", **vi) == 2
    assert get("kvrrp_vrrp_dropped_adverts_total", iname="", intf="", vrid="0", reason="unknown_vrid") == 3
    assert get("kvrrp_socket_events_total", socket="eth0/v4", counter="sent") == 12
    assert get("kvrrp_announcer_events_total", counter="garp_sent") == 5
    assert get("kvrrp_track_script_up", name="chk") == 0 and ("kvrrp_track_script_up", frozenset({("name", "new")})) not in m
    assert get("kvrrp_track_script_failures_total", name="chk") == 3
    assert get("kvrrp_track_interface_up", interface="eth1") == 0
    assert get("kvrrp_track_file_value", name="f") == 12 and get("kvrrp_track_process_count", name="p") == 2
    assert get("kvrrp_build_info", version=__import__("kvrrp").version(), fastpath="cython",
               python=__import__("platform").python_version()) == 1
    assert get("kvrrp_up") == 1 and ("process_cpu_seconds_total", frozenset()) in m
    assert get("kvrrp_reloads_total", outcome="applied") == 2 and get("kvrrp_reloads_total", outcome="refused") == 1


def test_keepalived_exporter_names_labels_and_values() -> None:
    """mehdy/keepalived-exporter: keepalived_vrrp_state per VIP with keepalived's numbers
    (MASTER 2, FAULT 3), the interface from the VIP's dev, one sample with ip_address "" for an
    instance without VIPs; counters per {iname,intf,vrid}; script status BAD 0 / GOOD 1."""
    m = scrape(STATUS)

    def get(metric: str, **labels: str) -> float:
        return m[(metric, frozenset(labels.items()))]

    ids = {"iname": "VI_1", "vrid": "51"}
    assert get("keepalived_up") == 1
    assert get("keepalived_vrrp_state", intf="eth0", ip_address="198.18.0.200/32", **ids) == 2
    assert get("keepalived_vrrp_state", intf="eth1", ip_address="198.18.0.201/32", **ids) == 2
    assert get("keepalived_vrrp_excluded_state", intf="eth0", ip_address="198.18.0.202/32", **ids) == 2
    assert get("keepalived_vrrp_state", iname='V"2', intf="eth0", vrid="52", ip_address="") == 3
    assert get("keepalived_advertisements_sent_total", intf="eth0", **ids) == 12
    assert get("keepalived_priority_zero_received_total", intf="eth0", **ids) == 4
    assert get("keepalived_gratuitous_arp_delay_total", intf="eth0", **ids) == 5
    assert get("keepalived_script_status", name="chk") == 0 and get("keepalived_script_state", name="chk") == 1


def test_transition_recorder_counts_by_reason_and_keeps_the_last() -> None:
    rec = TransitionRecorder(clock=lambda: 1000.0)
    rec("VI_1", State.BACKUP, State.MASTER, "master down timer expired", 150)
    rec("VI_1", State.MASTER, State.FAULT, "maintenance on", 150)
    rec("VI_1", State.BACKUP, State.MASTER, "master down timer expired", 150)
    snap = rec.snapshot()
    assert snap["last"]["VI_1"] == {"from": "BACKUP", "to": "MASTER", "reason": "master down timer expired",
                                    "priority": 150, "time": 1000.0}
    assert rec.last("VI_1") == snap["last"]["VI_1"] and rec.last("VI_2") is None
    m = scrape({**STATUS, "transitions": snap})
    assert m[("kvrrp_vrrp_transitions_total", frozenset({"iname": "VI_1", "from_state": "BACKUP",
              "to_state": "MASTER", "reason": "master down timer expired"}.items()))] == 2


def test_transition_recorder_counts_each_instance_apart() -> None:
    rec = TransitionRecorder(clock=lambda: 5.0)
    for name in ("VI_2", "VI_1", "VI_2"):
        rec(name, State.INIT, State.BACKUP, "startup", 100)
    rec("VI_1", State.BACKUP, State.MASTER, "master down timer expired", 100)
    assert rec.snapshot()["counts"] == [
        {"instance": "VI_1", "from": "BACKUP", "to": "MASTER", "reason": "master down timer expired", "count": 1},
        {"instance": "VI_1", "from": "INIT", "to": "BACKUP", "reason": "startup", "count": 1},
        {"instance": "VI_2", "from": "INIT", "to": "BACKUP", "reason": "startup", "count": 2}]
    assert rec.last("VI_2") == {"from": "INIT", "to": "BACKUP", "reason": "startup", "priority": 100, "time": 5.0}
    assert rec.last("VI_1")["to"] == "MASTER"


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
    assert sweepable(instances) == [vip, evip]


def test_dump_paths_default_to_keepalived_and_follow_global_defs() -> None:
    g = types.SimpleNamespace(state_dump_file="/var/tmp/d", stats_dump_file=None, json_dump_file="")
    daemon = Daemon.__new__(Daemon)
    daemon.config = types.SimpleNamespace(global_defs=g)
    assert daemon.dump_path("data") == "/var/tmp/d"
    assert daemon.dump_path("stats") == "/tmp/keepalived.stats"
    assert daemon.dump_path("json") == "/tmp/keepalived.json"
