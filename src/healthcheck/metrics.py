"""Prometheus families for the checker (served by kvrrp.status_http.StatusServer)."""
from __future__ import annotations

from kvrrp.status_http import prometheus_text

from healthcheck.engine import CheckerEngine


def checker_metrics(engine: CheckerEngine) -> str:
    st = engine.status()
    c = st["counters"]
    up, weight, quorum, live = [], [], [], []
    for vs in st["virtual_servers"]:
        quorum.append(({"vs": vs["virtual_server"]}, 1 if vs["quorum_up"] else 0))
        live.append(({"vs": vs["virtual_server"]}, vs["live_weight"]))
        for rs in vs["real_servers"]:
            labels = {"vs": vs["virtual_server"], "rs": rs["address"]}
            up.append((labels, 1 if rs["alive"] else 0))
            weight.append((labels, rs["weight"]))
    families = [
        ("kvrrp_checker_checks_total", "counter", "Completed health checks by checker type",
         [({"kind": k}, v) for k, v in sorted(c["by_kind"].items())]),
        ("kvrrp_checker_failures_total", "counter", "Failed health checks", [({}, c["failures"])]),
        ("kvrrp_checker_transitions_total", "counter", "Real server up/down transitions", [({}, c["transitions"])]),
        ("kvrrp_checker_notifies_total", "counter", "Notify scripts started", [({}, c["notifies"])]),
        ("kvrrp_ipvs_operations_total", "counter", "IPVS operations applied (and errors)",
         [({"op": k}, v) for k, v in sorted(st["ipvs"].items())]),
        ("kvrrp_real_server_up", "gauge", "1 when the real server is alive", up),
        ("kvrrp_real_server_weight", "gauge", "Effective weight of the real server", weight),
        ("kvrrp_virtual_server_quorum_up", "gauge", "1 when the virtual server has quorum", quorum),
        ("kvrrp_virtual_server_live_weight", "gauge", "Sum of the weights of alive real servers", live),
    ]
    return prometheus_text(families)
