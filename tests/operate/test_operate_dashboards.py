"""The dashboards' queries name metrics kvrrp really exposes, with the labels they use.

* packaging/grafana/kvrrp.json: every metric name in its expressions is a family the VRRP or
  the checker collector renders (from a sample status, so a renamed family fails here).
* mehdy/keepalived-exporter's Grafana dashboard (not copied here: its queries' metric names and
  legend labels, read from its grafana/dashboards/keepalived-exporter.json) works unchanged.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from healthcheck.metrics import CheckerCollector
from healthcheck.table import DestKey, ServiceKey
from kvrrp.metrics import render, vrrp_registry

ROOT = Path(__file__).resolve().parents[2]

VRRP_STATUS = {
    "fastpath": "cython",
    "checker": {"pid": 2, "starts": 1, "control_socket": "/run/kvrrp-checkers.ctl", "scraped": True},
    "instances": [{"data": {"iname": "VI_1", "ifp_ifname": "eth0", "vrid": 51, "state": "MASTER",
                            "vips": ["198.18.0.200/32 dev eth0 scope global"], "effective_priority": 100,
                            "base_priority": 100, "time_in_state": 3.0, "maintenance": False},
                   "stats": {"advert_sent": 1, "drops": {"bad_ttl": 1}}}],
    "tracking": {"scripts": {"chk": {"healthy": True, "running": False, "runs": 1, "failures": 0, "timeouts": 0}},
                 "interfaces": {"eth1": True}},
    "transitions": {"last": {"VI_1": {"from": "BACKUP", "to": "MASTER", "reason": "r", "priority": 100, "time": 1.0}},
                    "counts": [{"instance": "VI_1", "from": "BACKUP", "to": "MASTER", "reason": "r", "count": 1}]},
}
CHECKER_STATUS = {
    "counters": {"checks": 1, "failures": 0, "transitions": 0, "reconciles": 1, "notifies": 0,
                 "by_kind": {"TCP_CHECK": 1}},
    "ipvs": {"add_dest": 1, "errors": 0},
    "virtual_servers": [{"virtual_server": "[198.18.0.10]:tcp:80", "quorum_up": True, "live_weight": 1,
                         "real_servers": [{"address": "[198.19.1.2]:tcp:8080", "alive": True, "weight": 1,
                                           "drained": False, "checkers": [
                                               {"up": True, "has_run": True, "retry_it": 0, "kind": "TCP_CHECK",
                                                "runs": 1, "failures": 0, "last_ok": True, "last_reason": "",
                                                "last_duration": 0.01, "duration_sum": 0.01}]}]}],
}


def exposed() -> dict[str, set[str]]:
    """family name -> label names, from both collectors."""
    text = render(vrrp_registry(lambda: VRRP_STATUS)).decode()
    checker = CheckerCollector(engine=None)  # type: ignore[arg-type]
    key = ServiceKey(family=4, protocol=6, addr="198.18.0.10", port=80)
    stats = dict.fromkeys(("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps",
                           "inbps", "outbps"), 1)
    checker.traffic = {key: (stats, {DestKey("198.19.1.2", 8080): {**stats, "active_conns": 1}})}
    out: dict[str, set[str]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, set()).update(s.labels)
    for fam in list(checker._checker(CHECKER_STATUS)) + list(checker._traffic()):
        for s in fam.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


NAME = re.compile(r"\b((?:keepalived|kvrrp|process)_[a-z0-9_]+)")


def test_every_metric_in_our_dashboard_is_exposed_with_its_legend_labels():
    dash = json.loads((ROOT / "packaging/grafana/kvrrp.json").read_text())
    have = exposed()
    panels = [p for p in dash["panels"] if p.get("type") != "row"]
    assert len(panels) >= 15
    for p in panels:
        for t in p["targets"]:
            names = NAME.findall(t["expr"])
            assert names, t["expr"]
            for name in names:
                assert name in have, f"{p['title']}: {name} is not exposed"
            legend = set(re.findall(r"\{\{(\w+)\}\}", t["legendFormat"])) - {"instance"}
            if "sum by" not in t["expr"]:
                assert legend <= set().union(*(have[n] for n in names)), (p["title"], legend)


# mehdy/keepalived-exporter's dashboard: metric names in its queries and the labels its legends
# use ({{ iname }}, {{ ip_address }}); keepalived_exporter_check_script_status only exists when
# that exporter runs its own --ka.check-script per VIP, which is not keepalived's state.
EXPORTER_DASHBOARD = {
    "keepalived_up": set(),
    "keepalived_vrrp_state": {"iname", "intf", "vrid", "ip_address"},
    "keepalived_script_status": {"name"}, "keepalived_script_state": {"name"},
    **{f"keepalived_{n}_total": {"iname", "intf", "vrid"} for n in (
        "address_list_errors", "advertisements_interval_errors", "advertisements_received",
        "advertisements_sent", "authentication_failure", "authentication_invalid",
        "authentication_mismatch", "become_master", "gratuitous_arp_delay", "invalid_type_received",
        "ip_ttl_errors", "packet_length_errors", "priority_zero_received", "priority_zero_sent",
        "release_master")},
}


def test_keepalived_exporter_dashboard_metrics_are_all_there_with_its_labels():
    have = exposed()
    for name, labels in EXPORTER_DASHBOARD.items():
        assert name in have, name
        assert have[name] == labels, (name, have[name])


def test_gen2brain_lvs_families():
    have = exposed()
    for n in ("in_packets", "out_packets", "in_bytes", "out_bytes", "conn"):
        assert have[f"keepalived_lvs_vip_{n}"] == {"addr", "proto"}
        assert have[f"keepalived_lvs_rs_{n}"] == {"vip", "addr", "proto"}
