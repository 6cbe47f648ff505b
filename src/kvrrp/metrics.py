"""Prometheus text for /metrics, rendered from the daemon's JSON status snapshot."""
from __future__ import annotations

from typing import Any

from kvrrp.status_http import prometheus_text

STATES = ("INIT", "BACKUP", "MASTER", "FAULT", "STOP")


def build_labels(status: dict[str, Any]) -> dict[str, str]:
    import platform

    from kvrrp import version
    from kvrrp.fastpath import IMPLEMENTATION

    return {"version": str(status.get("version") or version()), "python": platform.python_version(),
            "fastpath": IMPLEMENTATION}


def render_metrics(status: dict[str, Any]) -> str:
    state_samples, prio, vipset, counters = [], [], [], {}
    drops = []
    for inst in status.get("instances", []):
        data, stats = inst.get("data", {}), inst.get("stats", {})
        labels = {"instance": data.get("iname", "?"), "interface": data.get("ifp_ifname", "?"),
                  "vrid": data.get("vrid", 0)}
        for state in STATES:
            state_samples.append(({**labels, "state": state}, 1 if data.get("state") == state else 0))
        prio.append((labels, data.get("effective_priority", 0)))
        vipset.append((labels, 1 if data.get("vipset") else 0))
        for key, value in stats.items():
            if key == "drops" and isinstance(value, dict):
                for reason, count in value.items():
                    drops.append(({**labels, "reason": reason}, count))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                counters.setdefault(key, []).append((labels, value))
    for reason, count in status.get("drops", {}).items():
        drops.append(({"instance": "", "interface": "", "vrid": 0, "reason": reason}, count))
    families = [
        ("kvrrp_build_info", "gauge", "always 1: the kvrrp version, Python and fast path running",
         [(build_labels(status), 1)]),
        ("kvrrp_vrrp_state", "gauge", "1 for the state each VRRP instance is in", state_samples),
        ("kvrrp_vrrp_effective_priority", "gauge", "priority after tracking weights", prio),
        ("kvrrp_vrrp_vips_set", "gauge", "1 while the instance holds its virtual addresses", vipset),
        ("kvrrp_vrrp_dropped_adverts_total", "counter", "received adverts dropped, by reason", drops),
    ]
    for key in sorted(counters):
        families.append((f"kvrrp_vrrp_{key}_total", "counter", f"keepalived statistic {key}", counters[key]))
    sockets = []
    for sock, stats in status.get("sockets", {}).items():
        for key, value in stats.items():
            sockets.append(({"socket": sock, "counter": key}, value))
    families.append(("kvrrp_socket_events_total", "counter", "raw VRRP socket counters", sockets))
    announce = [({"counter": k}, v) for k, v in status.get("announcer", {}).items()]
    families.append(("kvrrp_announcer_events_total", "counter", "gratuitous ARP / NA counters", announce))
    reload = status.get("reload", {})
    families.append(("kvrrp_reloads_total", "counter", "reloads by outcome (refused: running configuration kept)",
                     [({"outcome": k}, reload.get(k, 0)) for k in ("applied", "refused", "failed", "coalesced")]))
    ignored = status.get("signals", {}).get("ignored", {})
    families.append(("kvrrp_signals_ignored_total", "counter", "stray signals logged and ignored",
                     [({"signal": k}, v) for k, v in sorted(ignored.items())]))
    leftovers = status.get("script_leftovers", {})
    families.append(("kvrrp_script_leftovers_total", "counter", "processes script runs left behind",
                     [({"action": "killed"}, leftovers.get("leftovers_killed", 0)),
                      ({"action": "reaped"}, leftovers.get("leftovers_reaped", 0))]))
    return prometheus_text(families)
