"""Prometheus metrics of the checker process, rendered by prometheus-client.

- kvrrp's checker families: real server health, weight and drain, quorum, per-check runs,
  failures, last result and durations, IPVS operations;
- IPVS traffic read from the kernel's own counters (IPVS_*_ATTR_STATS64, what `ipvsadm -Ln
  --stats --rate` shows): kvrrp_ipvs_* per virtual and real server, and gen2brain/
  keepalived_exporter's keepalived_lvs_vip_* {addr,proto} / keepalived_lvs_rs_* {vip,addr,proto}.
  Those carry no _total suffix in that exporter, so they are exposed untyped to keep the exact
  names (prometheus-client would add _total to a counter).

The traffic counters are read from the kernel for each scrape (one netlink dump), so
CheckerMetrics.render is a coroutine; the families are built from that snapshot and engine.status().
In the default mode the VRRP daemon appends this text to its own /metrics (kvrrp.daemon).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Iterable

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, UnknownMetricFamily

from healthcheck.engine import CheckerEngine
from healthcheck.table import ServiceKey

log = logging.getLogger("kvrrp.healthcheck")

# gen2brain/keepalived_exporter family suffix -> kernel stats field
LVS_FIELDS = (("in_packets", "inpkts", "in packets"), ("out_packets", "outpkts", "out packets"),
              ("in_bytes", "inbytes", "in bytes"), ("out_bytes", "outbytes", "out bytes"),
              ("conn", "conns", "connections"))
RATES = ("cps", "inpps", "outpps", "inbps", "outbps")


def _hostport(addr: str, port: int) -> str:
    return f"{addr}:{port}"         # as Go's IP.String() + ":" + port (no brackets for IPv6)


def _vip_label(key: ServiceKey) -> str:
    return f"fwm:{key.fwmark}" if key.fwmark else _hostport(key.addr, key.port)


class CheckerCollector:
    def __init__(self, engine: CheckerEngine) -> None:
        self.engine = engine
        self.traffic: dict | None = None        # the last kernel dump_stats(), None if it failed
        self.snapshot: dict | None = None       # engine.status() taken for this scrape
        self.bgp: Any = None

    def collect(self) -> Iterable[Metric]:
        st = self.snapshot if self.snapshot is not None else self.engine.status()
        yield from self._checker(st)
        yield from self._traffic()
        snap = self.bgp() if self.bgp is not None else None
        if snap:
            from kvrrp.bgp.metrics import families as bgp_families

            yield from bgp_families(snap, prefix="kvrrp_checker_bgp")

    @staticmethod
    def _checker(st: dict[str, Any]) -> Iterable[Metric]:
        c = st["counters"]
        checks = CounterMetricFamily("kvrrp_checker_checks", "Completed health checks by checker type", labels=["kind"])
        for kind, n in sorted(c["by_kind"].items()):
            checks.add_metric([kind], n)
        yield checks
        for name, text, value in (("kvrrp_checker_failures", "Failed health checks", c["failures"]),
                                  ("kvrrp_checker_transitions", "Real server up/down transitions", c["transitions"]),
                                  ("kvrrp_checker_notifies", "Notify scripts started", c["notifies"]),
                                  ("kvrrp_checker_reconciles", "IPVS reconcile passes", c["reconciles"])):
            fam = CounterMetricFamily(name, text)
            fam.add_metric([], value)
            yield fam
        ops = CounterMetricFamily("kvrrp_ipvs_operations", "IPVS operations applied (and errors)", labels=["op"])
        for op, n in sorted(st["ipvs"].items()):
            ops.add_metric([op], n)
        yield ops
        rs_lab = ["vs", "rs"]
        up = GaugeMetricFamily("kvrrp_real_server_up", "1 when the real server is alive", labels=rs_lab)
        weight = GaugeMetricFamily("kvrrp_real_server_weight", "Weight in IPVS (0 while drained)", labels=rs_lab)
        drained = GaugeMetricFamily("kvrrp_real_server_drained", "1 while drained by kvrrpctl rs drain", labels=rs_lab)
        quorum = GaugeMetricFamily("kvrrp_virtual_server_quorum_up", "1 when the virtual server has quorum", labels=["vs"])
        live = GaugeMetricFamily("kvrrp_virtual_server_live_weight", "Sum of the weights of alive real servers",
                                 labels=["vs"])
        chk_lab = ["vs", "rs", "kind", "index"]
        runs = CounterMetricFamily("kvrrp_checker_rs_checks", "Checks run against a real server", labels=chk_lab)
        fails = CounterMetricFamily("kvrrp_checker_rs_check_failures", "Checks of a real server that failed",
                                    labels=chk_lab)
        last = GaugeMetricFamily("kvrrp_checker_rs_check_last_ok", "1 if the last check succeeded", labels=chk_lab)
        state = GaugeMetricFamily("kvrrp_checker_rs_check_up", "the checker's reduced verdict (retries applied)",
                                  labels=chk_lab)
        dur = GaugeMetricFamily("kvrrp_checker_rs_check_last_duration_seconds", "How long the last check took",
                                labels=chk_lab)
        dur_sum = CounterMetricFamily("kvrrp_checker_rs_check_duration_seconds",
                                      "Total time spent in checks (rate over rs_checks: the mean)", labels=chk_lab)
        for vs in st["virtual_servers"]:
            vname = vs["virtual_server"]
            quorum.add_metric([vname], 1 if vs["quorum_up"] else 0)
            live.add_metric([vname], vs["live_weight"])
            for rs in vs["real_servers"]:
                labels = [vname, rs["address"]]
                up.add_metric(labels, 1 if rs["alive"] else 0)
                weight.add_metric(labels, rs["weight"])
                drained.add_metric(labels, 1 if rs.get("drained") else 0)
                for i, chk in enumerate(rs["checkers"]):
                    if "kind" not in chk:
                        continue
                    cl = labels + [chk["kind"], str(i)]
                    runs.add_metric(cl, chk["runs"])
                    fails.add_metric(cl, chk["failures"])
                    state.add_metric(cl, 1 if chk["up"] else 0)
                    if chk["last_ok"] is not None:
                        last.add_metric(cl, 1 if chk["last_ok"] else 0)
                        dur.add_metric(cl, chk["last_duration"])
                    dur_sum.add_metric(cl, chk["duration_sum"])
        yield from (up, weight, drained, quorum, live, runs, fails, last, state, dur, dur_sum)

    def _traffic(self) -> Iterable[Metric]:
        ok = GaugeMetricFamily("kvrrp_ipvs_stats_up", "1 when the kernel's IPVS counters were read for this scrape")
        ok.add_metric([], 0 if self.traffic is None else 1)
        yield ok
        if self.traffic is None:
            return
        vs_lab, rs_lab = ["vs"], ["vs", "rs"]
        own = {
            "vs_conns": CounterMetricFamily("kvrrp_ipvs_vs_connections", "Connections scheduled", labels=vs_lab),
            "vs_packets": CounterMetricFamily("kvrrp_ipvs_vs_packets", "Packets", labels=vs_lab + ["direction"]),
            "vs_bytes": CounterMetricFamily("kvrrp_ipvs_vs_bytes", "Bytes", labels=vs_lab + ["direction"]),
            "vs_rate": GaugeMetricFamily("kvrrp_ipvs_vs_rate", "The kernel's rate estimates (per second)",
                                         labels=vs_lab + ["rate"]),
            "rs_conns": CounterMetricFamily("kvrrp_ipvs_rs_connections", "Connections scheduled", labels=rs_lab),
            "rs_packets": CounterMetricFamily("kvrrp_ipvs_rs_packets", "Packets", labels=rs_lab + ["direction"]),
            "rs_bytes": CounterMetricFamily("kvrrp_ipvs_rs_bytes", "Bytes", labels=rs_lab + ["direction"]),
            "rs_rate": GaugeMetricFamily("kvrrp_ipvs_rs_rate", "The kernel's rate estimates (per second)",
                                         labels=rs_lab + ["rate"]),
            "rs_active": GaugeMetricFamily("kvrrp_ipvs_rs_active_connections", "Active connections", labels=rs_lab),
            "rs_inactive": GaugeMetricFamily("kvrrp_ipvs_rs_inactive_connections", "Inactive connections",
                                             labels=rs_lab),
        }
        vip = {s: UnknownMetricFamily(f"keepalived_lvs_vip_{s}", f"VIP {t}", labels=["addr", "proto"])
               for s, _, t in LVS_FIELDS}
        rsf = {s: UnknownMetricFamily(f"keepalived_lvs_rs_{s}", f"RS {t}", labels=["vip", "addr", "proto"])
               for s, _, t in LVS_FIELDS}
        for key in sorted(self.traffic):
            stats, dests = self.traffic[key]
            name, vaddr, proto = str(key), _vip_label(key), str(key.protocol)
            own["vs_conns"].add_metric([name], stats["conns"])
            for direction in ("in", "out"):
                own["vs_packets"].add_metric([name, direction], stats[f"{direction}pkts"])
                own["vs_bytes"].add_metric([name, direction], stats[f"{direction}bytes"])
            for rate in RATES:
                own["vs_rate"].add_metric([name, rate], stats[rate])
            for suffix, field, _ in LVS_FIELDS:
                vip[suffix].add_metric([vaddr, proto], stats[field])
            for dkey in sorted(dests, key=lambda d: (d.addr, d.port)):
                ds = dests[dkey]
                rs = str(dkey)
                own["rs_conns"].add_metric([name, rs], ds["conns"])
                for direction in ("in", "out"):
                    own["rs_packets"].add_metric([name, rs, direction], ds[f"{direction}pkts"])
                    own["rs_bytes"].add_metric([name, rs, direction], ds[f"{direction}bytes"])
                for rate in RATES:
                    own["rs_rate"].add_metric([name, rs, rate], ds[rate])
                own["rs_active"].add_metric([name, rs], ds.get("active_conns", 0))
                own["rs_inactive"].add_metric([name, rs], ds.get("inactive_conns", 0))
                for suffix, field, _ in LVS_FIELDS:
                    rsf[suffix].add_metric([vaddr, _hostport(dkey.addr, dkey.port), proto], ds[field])
        yield from own.values()
        yield from vip.values()
        yield from rsf.values()


class CheckerMetrics:
    """The checker's registry: CheckerCollector plus kvrrp_checker_process_* (its own process)."""

    def __init__(self, engine: CheckerEngine, bgp: Any = None) -> None:
        self.collector = CheckerCollector(engine)
        self.collector.bgp = bgp                # () -> the announcer's snapshot or None (kvrrp.bgp)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._lock = asyncio.Lock()
        ProcessCollector(namespace="kvrrp_checker", registry=self.registry)

    async def render(self) -> bytes:
        """Kernel counters and the engine's snapshot are read on the loop; the text is made in
        a worker thread (one scrape at a time), so checks keep their schedule meanwhile."""
        async with self._lock:
            try:
                self.collector.traffic = await self.collector.engine.reconciler.kernel.dump_stats()
            except Exception as exc:  # noqa: BLE001 - health metrics still render without traffic
                log.warning("reading IPVS traffic counters failed: %s", exc)
                self.collector.traffic = None
            self.collector.snapshot = self.collector.engine.status()
            try:
                return await asyncio.to_thread(generate_latest, self.registry)
            finally:
                self.collector.snapshot = None
