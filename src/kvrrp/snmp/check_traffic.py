"""The IPVS traffic columns of KEEPALIVED-MIB's virtualServerTable and realServerTable, as
keepalived's check_snmp.c serves them from its stats dump. Pure: `traffic` is in
kernel.dump_stats()'s shape ({service key: (service stats, {dest key: dest stats})}), keyed as
CheckerEngine.kernel_keys() names the entries.

A virtual server's counters are the sum over its kernel services (several for a
virtual_server_group), a real server's the sum over its destinations in them; the connection
state columns (active, inactive, persistent) are the destination's own counts, as `ipvsadm -Ln`
shows them.
"""
from __future__ import annotations

from typing import Any

from kvrrp.snmp.agentx import COUNTER32, COUNTER64, GAUGE32
from kvrrp.snmp.mibview import Row

STATS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")
CONN_STATES = ("active_conns", "inactive_conns", "persistent_conns")
RATES = ("cps", "inpps", "outpps", "inbps", "outbps")
SORRY = "sorry"            # the rs text under which traffic_by_server files a sorry server's counters
_U32 = 0xFFFFFFFF


def zero() -> dict[str, int]:
    return dict.fromkeys(STATS + CONN_STATES, 0)


def _add(total: dict[str, int], part: dict[str, int]) -> None:
    for k in total:
        total[k] += int(part.get(k, 0))


def traffic_by_server(traffic: dict | None, kernel_keys: dict,
                      sorry_dests: dict | None = None) -> tuple[dict, dict]:
    """(vs text -> summed stats, (vs text, rs text) -> summed stats) from a dump_stats() result.
    sorry_dests: vs text -> (service key -> the sorry server's dest key in it); its counters are
    filed as (vs text, SORRY)."""
    vs_stats: dict[str, dict[str, int]] = {}
    rs_stats: dict[tuple[str, str], dict[str, int]] = {}
    if not traffic:
        return vs_stats, rs_stats
    services: dict[str, set] = {}
    for (vs_text, rs_text), entries in kernel_keys.items():
        for svc_key, dest_key in entries:
            entry = traffic.get(svc_key)
            if entry is None:
                continue
            svc_stats, dests = entry
            if svc_key not in services.setdefault(vs_text, set()):
                services[vs_text].add(svc_key)
                _add(vs_stats.setdefault(vs_text, zero()), svc_stats)
            if dest_key in dests:
                _add(rs_stats.setdefault((vs_text, rs_text), zero()), dests[dest_key])
    for vs_text, dest_in in (sorry_dests or {}).items():
        for svc_key in services.get(vs_text, ()):
            dests, dest_key = traffic[svc_key][1], dest_in(svc_key)
            if dest_key in dests:
                _add(rs_stats.setdefault((vs_text, SORRY), zero()), dests[dest_key])
    return vs_stats, rs_stats


def _low_high(col: Any, idx: tuple, s: dict[str, int], first: int) -> list[Row]:
    """The rates as Unsigned32 low / high halves (keepalived's *RateCpsLow .. *RateOutBPSHigh)."""
    out: list[Row] = []
    for i, k in enumerate(RATES):
        out += [(col + (first + 2 * i,), idx, GAUGE32, s[k] & _U32),
                (col + (first + 2 * i + 1,), idx, GAUGE32, (s[k] >> 32) & _U32)]
    return out


def _counters(col: Any, idx: tuple, s: dict[str, int], conns: int, pkts: int, bytes_: int, rates: int) -> list[Row]:
    """conns (Gauge32), in/out packets (Counter32), in/out bytes (Counter64), the five rates (Gauge32)."""
    return ([(col + (conns,), idx, GAUGE32, s["conns"] & _U32),
             (col + (pkts,), idx, COUNTER32, s["inpkts"] & _U32),
             (col + (pkts + 1,), idx, COUNTER32, s["outpkts"] & _U32),
             (col + (bytes_,), idx, COUNTER64, s["inbytes"]),
             (col + (bytes_ + 1,), idx, COUNTER64, s["outbytes"])]
            + [(col + (rates + i,), idx, GAUGE32, s[k] & _U32) for i, k in enumerate(RATES)])


def _rates64(col: Any, idx: tuple, s: dict[str, int], first: int) -> list[Row]:
    return [(col + (first + i,), idx, COUNTER64, s[k]) for i, k in enumerate(RATES)]


def vs_traffic_rows(col: Any, idx: tuple, s: dict[str, int]) -> list[Row]:
    """virtualServerTable: stats 27-31, rates 32-36, 64-bit counters 38-40, rate halves 41-50,
    64-bit rates 74-78."""
    return (_counters(col, idx, s, 27, 28, 30, 32)
            + [(col + (38,), idx, COUNTER64, s["conns"]), (col + (39,), idx, COUNTER64, s["inpkts"]),
               (col + (40,), idx, COUNTER64, s["outpkts"])]
            + _low_high(col, idx, s, 41) + _rates64(col, idx, s, 74))


def rs_traffic_rows(col: Any, idx: tuple, s: dict[str, int]) -> list[Row]:
    """realServerTable: conns 14, active / inactive / persistent connections 15-17, packets
    18-19, bytes 20-21, rates 22-26, 64-bit counters 27-29, rate halves 30-39, 64-bit rates 58-62."""
    return (_counters(col, idx, s, 14, 18, 20, 22)
            + [(col + (15 + i,), idx, GAUGE32, s[k] & _U32) for i, k in enumerate(CONN_STATES)]
            + [(col + (27,), idx, COUNTER64, s["conns"]), (col + (28,), idx, COUNTER64, s["inpkts"]),
               (col + (29,), idx, COUNTER64, s["outpkts"])]
            + _low_high(col, idx, s, 30) + _rates64(col, idx, s, 58))
