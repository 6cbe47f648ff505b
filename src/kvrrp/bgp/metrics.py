"""Prometheus families of one process's announcer (its /status `bgp` snapshot).

The VRRP daemon's are `kvrrp_bgp_*`, the checker's `kvrrp_checker_bgp_*`: the parent's /metrics
concatenates both registries, and a family name may appear only once in an exposition.
"""
from __future__ import annotations

from typing import Any, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


def families(snapshot: dict[str, Any] | None, prefix: str = "kvrrp_bgp") -> Iterable[Metric]:
    if not snapshot:
        return
    owner = str(snapshot.get("owner", ""))
    routes = GaugeMetricFamily(f"{prefix}_route_announced", "1 for each prefix this process has in bgpd",
                               labels=["owner", "prefix"])
    for p in snapshot.get("announced", ()):
        routes.add_metric([owner, p], 1)
    yield routes
    changes = CounterMetricFamily(f"{prefix}_route_changes", "Routes announced / withdrawn in bgpd",
                                  labels=["owner", "change"])
    changes.add_metric([owner, "announce"], snapshot.get("announced_total", 0))
    changes.add_metric([owner, "withdraw"], snapshot.get("withdrawn_total", 0))
    yield changes
    passes = CounterMetricFamily(f"{prefix}_reconcile_passes", "Reconcile passes against bgpd", labels=["owner"])
    passes.add_metric([owner], snapshot.get("passes", 0))
    yield passes
    errors = CounterMetricFamily(f"{prefix}_reconcile_errors", "Failed reconcile passes (vtysh/bgpd errors)",
                                 labels=["owner"])
    errors.add_metric([owner], snapshot.get("errors", 0))
    yield errors
    maint = GaugeMetricFamily(f"{prefix}_maintenance", "1 while node maintenance withdraws every route",
                              labels=["owner"])
    maint.add_metric([owner], 1 if snapshot.get("maintenance") else 0)
    yield maint
