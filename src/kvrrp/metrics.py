"""Prometheus metrics of the VRRP daemon, rendered by prometheus-client.

Two sets of names, both from the same status snapshot the /status API and the JSON dump show:

- kvrrp's own families (kvrrp_vrrp_*, kvrrp_track_*, kvrrp_socket_*, kvrrp_build_info ...);
- the names and labels of mehdy/keepalived-exporter (keepalived_up, keepalived_vrrp_state
  {iname,intf,vrid,ip_address} with keepalived's numeric states, keepalived_*_total
  {iname,intf,vrid}, keepalived_script_status/state{name}), so its Grafana dashboard and alert
  rules work on a kvrrp node unchanged.

Transitions are counted by kvrrp.transition_log.TransitionRecorder, a listener on the engine
(the snapshot only has the current state).
"""
from __future__ import annotations

import platform
from typing import Any, Callable, Iterable

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from kvrrp import version

STATES = ("INIT", "BACKUP", "MASTER", "FAULT", "STOP")
# keepalived's numeric states (vrrp.h), the values of keepalived_vrrp_state
KEEPALIVED_STATE = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "DELETED": 97, "STOP": 98}
# keepalived's vrrp_script states (the exporter's VRRPScriptStates index)
SCRIPT_IDLE, SCRIPT_RUNNING = 0, 1

# keepalived-exporter family -> keepalived stats key (its VRRPStats JSON fields)
EXPORTER_COUNTERS = (
    ("keepalived_advertisements_received", "Advertisements received", "advert_rcvd"),
    ("keepalived_advertisements_sent", "Advertisements sent", "advert_sent"),
    ("keepalived_become_master", "Became master", "become_master"),
    ("keepalived_release_master", "Released master", "release_master"),
    ("keepalived_packet_length_errors", "Packet length errors", "packet_len_err"),
    ("keepalived_advertisements_interval_errors", "Advertisement interval errors", "advert_interval_err"),
    ("keepalived_ip_ttl_errors", "TTL errors", "ip_ttl_err"),
    ("keepalived_invalid_type_received", "Invalid type errors", "invalid_type_rcvd"),
    ("keepalived_address_list_errors", "Address list errors", "addr_list_err"),
    ("keepalived_authentication_invalid", "Authentication invalid", "invalid_authtype"),
    ("keepalived_authentication_mismatch", "Authentication mismatch", "authtype_mismatch"),
    ("keepalived_authentication_failure", "Authentication failure", "auth_failure"),
    ("keepalived_priority_zero_received", "Priority zero received", "pri_zero_rcvd"),
    ("keepalived_priority_zero_sent", "Priority zero sent", "pri_zero_sent"),
)


def _vip_labels(vip: str, default_intf: str) -> tuple[str, str]:
    """keepalived-exporter's ParseVIP: "ADDR dev IF ..." -> (ADDR, IF)."""
    parts = vip.split(" ")
    if len(parts) >= 3 and parts[1] == "dev":
        return parts[0], parts[2]
    return parts[0], default_intf


class VrrpCollector:
    """A prometheus-client collector over the daemon's status() snapshot."""

    def __init__(self, status: Callable[[], dict[str, Any]]) -> None:
        self._status = status

    def collect(self) -> Iterable[Metric]:
        st = self._status()
        yield from self._own(st)
        yield from self._tracking(st.get("tracking") or {})
        yield from self._bfd(st.get("bfd") or {})
        yield from self._exporter(st)
        if st.get("bgp"):
            from kvrrp.bgp.metrics import families as bgp_families

            yield from bgp_families(st["bgp"])

    # -- kvrrp's own ----------------------------------------------------------------------
    def _own(self, st: dict[str, Any]) -> Iterable[Metric]:
        build = GaugeMetricFamily("kvrrp_build_info", "always 1: the kvrrp version, Python and fast path running",
                                  labels=["version", "python", "fastpath"])
        build.add_metric([str(st.get("version") or version()), platform.python_version(),
                          str(st.get("fastpath", ""))], 1)
        yield build
        up = GaugeMetricFamily("kvrrp_up", "1 while the VRRP daemon answers")
        up.add_metric([], 1)
        yield up
        checker = st.get("checker")
        if checker is not None and checker.get("scraped") is not None:
            chk = GaugeMetricFamily("kvrrp_checker_up", "1 when the checker child answered this scrape")
            chk.add_metric([], 1 if checker["scraped"] else 0)
            yield chk
        lab = ["iname", "intf", "vrid"]     # not "instance": Prometheus's target label
        state = GaugeMetricFamily("kvrrp_vrrp_state", "1 for the state each VRRP instance is in", labels=lab + ["state"])
        prio = GaugeMetricFamily("kvrrp_vrrp_effective_priority", "priority after tracking weights", labels=lab)
        base = GaugeMetricFamily("kvrrp_vrrp_base_priority", "configured priority", labels=lab)
        vipset = GaugeMetricFamily("kvrrp_vrrp_vips_set", "1 while the instance holds its virtual addresses", labels=lab)
        maint = GaugeMetricFamily("kvrrp_vrrp_maintenance", "1 while the instance is in maintenance (kvrrpctl)", labels=lab)
        since = GaugeMetricFamily("kvrrp_vrrp_time_in_state_seconds", "seconds since the last transition", labels=lab)
        drops = CounterMetricFamily("kvrrp_vrrp_dropped_adverts", "received adverts dropped, by reason",
                                    labels=lab + ["reason"])
        counters: dict[str, CounterMetricFamily] = {}
        for inst in st.get("instances", []):
            data, stats = inst.get("data", {}), inst.get("stats", {})
            values = [str(data.get("iname", "")), str(data.get("ifp_ifname", "")), str(data.get("vrid", 0))]
            for s in STATES:
                state.add_metric(values + [s], 1 if data.get("state") == s else 0)
            prio.add_metric(values, data.get("effective_priority", 0))
            base.add_metric(values, data.get("base_priority", 0))
            vipset.add_metric(values, 1 if data.get("vipset") else 0)
            maint.add_metric(values, 1 if data.get("maintenance") else 0)
            if data.get("time_in_state") is not None:
                since.add_metric(values, data["time_in_state"])
            for key, value in stats.items():
                if key == "drops" and isinstance(value, dict):
                    for reason, count in value.items():
                        drops.add_metric(values + [reason], count)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    fam = counters.get(key)
                    if fam is None:
                        fam = counters[key] = CounterMetricFamily(f"kvrrp_vrrp_{key}", f"keepalived statistic {key}",
                                                                  labels=lab)
                    fam.add_metric(values, value)
        for reason, count in st.get("drops", {}).items():
            drops.add_metric(["", "", "0", reason], count)
        yield from (state, prio, base, vipset, maint, since, drops)
        yield from (counters[k] for k in sorted(counters))
        trans = CounterMetricFamily("kvrrp_vrrp_transitions", "state transitions, by reason",
                                    labels=["iname", "from_state", "to_state", "reason"])
        for row in (st.get("transitions") or {}).get("counts", []):
            trans.add_metric([row["instance"], row["from"], row["to"], row["reason"]], row["count"])
        yield trans
        last = GaugeMetricFamily("kvrrp_vrrp_last_transition_timestamp_seconds",
                                 "wall-clock time of the last transition", labels=["iname", "reason"])
        for name, row in sorted((st.get("transitions") or {}).get("last", {}).items()):
            last.add_metric([name, row["reason"]], row["time"])
        yield last
        reload = st.get("reload") or {}
        reloads = CounterMetricFamily("kvrrp_reloads", "configuration reloads by outcome (refused: the "
                                      "running configuration kept)", labels=["outcome"])
        for outcome in ("applied", "refused", "failed", "coalesced"):
            reloads.add_metric([outcome], reload.get(outcome, 0))
        yield reloads
        ignored = CounterMetricFamily("kvrrp_signals_ignored", "stray signals logged and ignored", labels=["signal"])
        for sig, count in sorted(((st.get("signals") or {}).get("ignored") or {}).items()):
            ignored.add_metric([sig], count)
        yield ignored
        leftovers = st.get("script_leftovers") or {}
        left = CounterMetricFamily("kvrrp_script_leftovers", "processes script runs left behind",
                                   labels=["action"])
        left.add_metric(["killed"], leftovers.get("leftovers_killed", 0))
        left.add_metric(["reaped"], leftovers.get("leftovers_reaped", 0))
        yield left
        sockets = CounterMetricFamily("kvrrp_socket_events", "raw VRRP socket counters", labels=["socket", "counter"])
        for sock, stats in st.get("sockets", {}).items():
            for key, value in stats.items():
                sockets.add_metric([sock, key], value)
        yield sockets
        announce = CounterMetricFamily("kvrrp_announcer_events", "gratuitous ARP / NA counters", labels=["counter"])
        for key, value in st.get("announcer", {}).items():
            announce.add_metric([key], value)
        yield announce

    @staticmethod
    def _tracking(tr: dict[str, Any]) -> Iterable[Metric]:
        status = GaugeMetricFamily("kvrrp_track_script_up", "1 when the vrrp_script is healthy (0 failed, "
                                   "absent before its first verdict)", labels=["name"])
        runs = CounterMetricFamily("kvrrp_track_script_runs", "vrrp_script runs", labels=["name"])
        fails = CounterMetricFamily("kvrrp_track_script_failures", "vrrp_script runs that failed", labels=["name"])
        timeouts = CounterMetricFamily("kvrrp_track_script_timeouts", "vrrp_script runs that timed out", labels=["name"])
        for name, s in sorted((tr.get("scripts") or {}).items()):
            if s.get("healthy") is not None:
                status.add_metric([name], 1 if s["healthy"] else 0)
            runs.add_metric([name], s.get("runs", 0))
            fails.add_metric([name], s.get("failures", 0))
            timeouts.add_metric([name], s.get("timeouts", 0))
        yield from (status, runs, fails, timeouts)
        intf = GaugeMetricFamily("kvrrp_track_interface_up", "1 when a tracked interface is up", labels=["interface"])
        for name, up in sorted((tr.get("interfaces") or {}).items()):
            intf.add_metric([str(name)], 1 if up else 0)
        yield intf
        files = GaugeMetricFamily("kvrrp_track_file_value", "the number read from a track_file", labels=["name"])
        for name, value in sorted((tr.get("files") or {}).items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                files.add_metric([name], value)
        yield files
        procs = GaugeMetricFamily("kvrrp_track_process_count", "processes matching a vrrp_track_process",
                                  labels=["name"])
        for name, p in sorted((tr.get("processes") or {}).items()):
            procs.add_metric([name], p.get("count", 0))
        yield procs

    @staticmethod
    def _bfd(bfd: dict[str, Any]) -> Iterable[Metric]:
        up = GaugeMetricFamily("kvrrp_bfd_session_up", "1 when the BFD session is Up", labels=["name", "neighbor"])
        state = GaugeMetricFamily("kvrrp_bfd_session_state", "RFC 5880 state: 0 AdminDown, 1 Down, 2 Init, 3 Up",
                                  labels=["name"])
        sent = CounterMetricFamily("kvrrp_bfd_packets_sent", "BFD control packets sent", labels=["name"])
        received = CounterMetricFamily("kvrrp_bfd_packets_received", "BFD control packets accepted",
                                       labels=["name"])
        ups = CounterMetricFamily("kvrrp_bfd_session_ups", "times the session came Up", labels=["name"])
        names = ("AdminDown", "Down", "Init", "Up")
        for name, s in sorted((bfd.get("sessions") or {}).items()):
            up.add_metric([name, str(s.get("neighbor", ""))], 1 if s.get("state") == "Up" else 0)
            if s.get("state") in names:
                state.add_metric([name], names.index(s["state"]))
            sent.add_metric([name], s.get("sent", 0))
            received.add_metric([name], s.get("received", 0))
            ups.add_metric([name], s.get("times_up", 0))
        drops = CounterMetricFamily("kvrrp_bfd_packets_dropped", "received BFD packets dropped, by reason",
                                    labels=["reason"])
        for reason, n in sorted((bfd.get("drops") or {}).items()):
            drops.add_metric([reason], n)
        yield from (up, state, sent, received, ups, drops)

    # -- mehdy/keepalived-exporter's names --------------------------------------------------
    @staticmethod
    def _exporter(st: dict[str, Any]) -> Iterable[Metric]:
        up = GaugeMetricFamily("keepalived_up", "Status")
        up.add_metric([], 1)
        yield up
        vip_labels = ["iname", "intf", "vrid", "ip_address"]
        state = GaugeMetricFamily("keepalived_vrrp_state", "State of vrrp", labels=vip_labels)
        excluded = GaugeMetricFamily("keepalived_vrrp_excluded_state", "State of vrrp with excluded VIP", labels=vip_labels)
        common = ["iname", "intf", "vrid"]
        families = [CounterMetricFamily(name, text, labels=common) for name, text, _ in EXPORTER_COUNTERS]
        garp = CounterMetricFamily("keepalived_gratuitous_arp_delay", "Gratuitous ARP delay", labels=common)
        for inst in st.get("instances", []):
            data, stats = inst.get("data", {}), inst.get("stats", {})
            name, intf, vrid = str(data.get("iname", "")), str(data.get("ifp_ifname", "")), str(data.get("vrid", 0))
            number = KEEPALIVED_STATE.get(str(data.get("state")), 0)
            for fam, (_, _, key) in zip(families, EXPORTER_COUNTERS):
                fam.add_metric([name, intf, vrid], stats.get(key, 0))
            garp.add_metric([name, intf, vrid], data.get("garp_delay", 0) or 0)
            for vip in data.get("vips", []):
                addr, dev = _vip_labels(vip, intf)
                state.add_metric([name, dev, vrid, addr], number)
            for vip in data.get("evips", []):
                addr, dev = _vip_labels(vip, intf)
                excluded.add_metric([name, dev, vrid, addr], number)
            if not data.get("vips"):
                state.add_metric([name, intf, vrid, ""], number)
        yield state
        yield excluded
        yield from families
        yield garp
        scripts = (st.get("tracking") or {}).get("scripts") or {}
        status = GaugeMetricFamily("keepalived_script_status", "Tracker Script Status", labels=["name"])
        sstate = GaugeMetricFamily("keepalived_script_state", "Tracker Script State", labels=["name"])
        for name, s in sorted(scripts.items()):
            status.add_metric([name], 1 if s.get("healthy") else 0)        # keepalived: BAD=0 GOOD=1
            sstate.add_metric([name], SCRIPT_RUNNING if s.get("running") else SCRIPT_IDLE)
        yield status
        yield sstate


def vrrp_registry(status: Callable[[], dict[str, Any]]) -> CollectorRegistry:
    """The VRRP daemon's registry: its collector plus this process's process_* metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(VrrpCollector(status))
    ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
