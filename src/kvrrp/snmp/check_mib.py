"""The checker process's MIB rows and traps: KEEPALIVED-MIB's check branch (virtualServerGroup,
virtualServer and realServer tables; realServerStateChange, virtualServerQuorumStateChange),
as keepalived's check_snmp.c serves them. Pure: the rows come from the checker's
configuration, its health state and the last IPVS traffic counters read (`traffic`, in
kernel.dump_stats()'s shape, keyed as CheckerEngine.kernel_keys() names the entries).

Indexes are keepalived's: virtual servers count from 1 in configuration order; real servers
are (virtual server, n) with the sorry server first when there is one.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Iterable

from kvrrp.snmp.agentx import (COUNTER32, COUNTER64, GAUGE32, INTEGER, OCTET_STRING, VarBind)
from kvrrp.snmp.mibview import Row
from kvrrp.snmp.vrrp_mib import KEEPALIVED, ROUTER_ID_0, _trap, packed, script_text, truth

CHECK = KEEPALIVED + (3,)
VS_COL = CHECK + (3, 1)
RS_COL = CHECK + (4, 1)
TRAP_RS_STATE = CHECK + (5, 0, 1)
TRAP_VS_QUORUM = CHECK + (5, 0, 2)

LB_ALGO = {"rr": 1, "wrr": 2, "lc": 3, "wlc": 4, "lblc": 5, "lblcr": 6, "dh": 7, "sh": 8, "sed": 9, "nq": 10,
           "fo": 11, "ovf": 12, "mh": 13, "twos": 14}
LB_KIND = {"NAT": 1, "DR": 2, "TUN": 3}
PROTOCOL = {"TCP": 1, "UDP": 2, "SCTP": 3}
STATS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")


def vs_type(vs: Any) -> int:
    return 3 if vs.group else 1 if vs.fwmark is not None else 2


def _zero() -> dict[str, int]:
    return dict.fromkeys(STATS, 0)


def _add(total: dict[str, int], part: dict[str, int]) -> None:
    for k in STATS:
        total[k] += int(part.get(k, 0))


def _stats_rows(col: Any, idx: tuple, s: dict[str, int], first: int) -> list[Row]:
    """The shared stats columns: conns, in/out packets (Counter32), in/out bytes (Counter64),
    the five rates (Gauge32) from `first`, then (vs: 38-40, rs: 27-29) the 64-bit counters."""
    out = [(col + (first,), idx, GAUGE32, s["conns"] & 0xFFFFFFFF),
           (col + (first + 1,), idx, COUNTER32, s["inpkts"] & 0xFFFFFFFF),
           (col + (first + 2,), idx, COUNTER32, s["outpkts"] & 0xFFFFFFFF),
           (col + (first + 3,), idx, COUNTER64, s["inbytes"]),
           (col + (first + 4,), idx, COUNTER64, s["outbytes"])]
    out += [(col + (first + 5 + i,), idx, GAUGE32, s[k] & 0xFFFFFFFF)
            for i, k in enumerate(("cps", "inpps", "outpps", "inbps", "outbps"))]
    return out


def traffic_by_server(traffic: dict | None, kernel_keys: dict) -> tuple[dict, dict]:
    """(vs text -> summed stats, (vs text, rs text) -> summed stats) from a dump_stats() result."""
    vs_stats: dict[str, dict[str, int]] = {}
    rs_stats: dict[tuple[str, str], dict[str, int]] = {}
    if not traffic:
        return vs_stats, rs_stats
    seen: dict[str, set] = {}
    for (vs_text, rs_text), entries in kernel_keys.items():
        for svc_key, dest_key in entries:
            entry = traffic.get(svc_key)
            if entry is None:
                continue
            svc_stats, dests = entry
            if svc_key not in seen.setdefault(vs_text, set()):
                seen[vs_text].add(svc_key)
                _add(vs_stats.setdefault(vs_text, _zero()), svc_stats)
            if dest_key in dests:
                _add(rs_stats.setdefault((vs_text, rs_text), _zero()), dests[dest_key])
    return vs_stats, rs_stats


def check_rows(engine: Any, traffic: dict | None = None) -> list[Row]:
    from healthcheck.engine import _fmt_rs, _fmt_vs
    from healthcheck.health import iter_real_servers, rs_alive, rs_weight
    from healthcheck.table import vs_ident

    config = engine.config
    rows: list[Row] = []
    vs_stats, rs_stats = traffic_by_server(traffic, engine.kernel_keys() if traffic else {})
    for gi, group in enumerate(config.virtual_server_groups, 1):
        rows.append((CHECK + (1, 1, 2), (gi,), OCTET_STRING, group.name))
        for mi, entry in enumerate(group.entries, 1):
            rows.extend(_group_member_rows((gi, mi), entry))
    for i, vs in enumerate(config.virtual_servers, 1):
        idx = (i,)
        vs_text = _fmt_vs(vs)
        servers = list(iter_real_servers(vs))
        alive = [rs_alive(engine.rs_states.get(rid, ())) for rid, _rs in servers]
        quorum_up = engine.quorum.get(vs_ident(vs), True)
        vaddr = packed(vs.ip) if vs.group is None and vs.fwmark is None else None
        method = vs.lvs_method.method if vs.lvs_method is not None else "NAT"
        rows += [
            (VS_COL + (2,), idx, INTEGER, vs_type(vs)),
            (VS_COL + (3,), idx, OCTET_STRING, vs.group),
            (VS_COL + (4,), idx, GAUGE32, vs.fwmark),
            (VS_COL + (5,), idx, INTEGER, None if vaddr is None else (2 if len(vaddr) == 16 else 1)),
            (VS_COL + (6,), idx, OCTET_STRING, vaddr),
            (VS_COL + (7,), idx, GAUGE32, vs.port if vaddr is not None else None),
            (VS_COL + (8,), idx, INTEGER, PROTOCOL.get((vs.protocol or "").upper(), 4)),
            (VS_COL + (9,), idx, INTEGER, LB_ALGO.get(vs.lvs_sched, 99)),
            (VS_COL + (10,), idx, INTEGER, LB_KIND.get(method, 1)),
            (VS_COL + (11,), idx, INTEGER, truth(quorum_up or vs.sorry_server is not None)),
            (VS_COL + (12,), idx, OCTET_STRING, vs.virtualhost),
            (VS_COL + (13,), idx, INTEGER, truth(vs.persistence_timeout is not None)),
            (VS_COL + (14,), idx, GAUGE32, vs.persistence_timeout or 0),
            (VS_COL + (16,), idx, GAUGE32, int(vs.delay_loop)),
            (VS_COL + (17,), idx, INTEGER, truth(vs.ha_suspend)),
            (VS_COL + (18,), idx, INTEGER, truth(vs.alpha)),
            (VS_COL + (19,), idx, INTEGER, truth(vs.omega)),
            (VS_COL + (20,), idx, GAUGE32, len(servers)),
            (VS_COL + (21,), idx, GAUGE32, sum(alive)),
            (VS_COL + (22,), idx, GAUGE32, vs.quorum),
            (VS_COL + (23,), idx, INTEGER, 1 if quorum_up else 2),
            (VS_COL + (24,), idx, OCTET_STRING, script_text(vs.quorum_up)),
            (VS_COL + (25,), idx, OCTET_STRING, script_text(vs.quorum_down)),
            (VS_COL + (26,), idx, GAUGE32, vs.hysteresis),
            (VS_COL + (37,), idx, INTEGER, truth(vs.ops)),
            (VS_COL + (52,), idx, INTEGER, truth(vs.hashed)),
            (VS_COL + (71,), idx, OCTET_STRING, vs.snmp_name),
        ]
        if vs.persistence_granularity is not None and vs.family == 4:
            rows.append((VS_COL + (15,), idx, OCTET_STRING, packed(vs.persistence_granularity)))
        if traffic is not None:
            s = vs_stats.get(vs_text, _zero())
            rows += _stats_rows(VS_COL, idx, s, 27)
            rows += [(VS_COL + (38,), idx, COUNTER64, s["conns"]), (VS_COL + (39,), idx, COUNTER64, s["inpkts"]),
                     (VS_COL + (40,), idx, COUNTER64, s["outpkts"])]
        n = 0
        if vs.sorry_server is not None:
            n += 1
            ss = vs.sorry_server
            rows += [(RS_COL + (2,), (i, n), INTEGER, 2),
                     (RS_COL + (3,), (i, n), INTEGER, 2 if ss.family == 6 else 1),
                     (RS_COL + (4,), (i, n), OCTET_STRING, packed(ss.ip)),
                     (RS_COL + (5,), (i, n), GAUGE32, ss.port),
                     (RS_COL + (6,), (i, n), INTEGER, truth(not quorum_up))]
        for (rid, rs), up in zip(servers, alive):
            n += 1
            ridx = (i, n)
            states = engine.rs_states.get(rid, ())
            weight = 0 if rid in engine.drained else rs_weight(rs, states, engine.weight_bases.get(rid))
            rs_method = (rs.lvs_method or vs.lvs_method)
            rows += [
                (RS_COL + (2,), ridx, INTEGER, 1),
                (RS_COL + (3,), ridx, INTEGER, 2 if rs.family == 6 else 1),
                (RS_COL + (4,), ridx, OCTET_STRING, packed(rs.ip)),
                (RS_COL + (5,), ridx, GAUGE32, rs.port),
                (RS_COL + (6,), ridx, INTEGER, truth(up)),
                (RS_COL + (7,), ridx, INTEGER, weight),
                (RS_COL + (8,), ridx, GAUGE32, rs.uthreshold),
                (RS_COL + (9,), ridx, GAUGE32, rs.lthreshold),
                (RS_COL + (10,), ridx, INTEGER, 2 if (rs.inhibit_on_failure or vs.inhibit_on_failure) else 1),
                (RS_COL + (11,), ridx, OCTET_STRING, script_text(rs.notify_up)),
                (RS_COL + (12,), ridx, OCTET_STRING, script_text(rs.notify_down)),
                (RS_COL + (13,), ridx, GAUGE32, sum(1 for c in states if not c.is_up)),
                (RS_COL + (40,), ridx, INTEGER, LB_KIND.get(rs_method.method if rs_method else "NAT", 1)),
                (RS_COL + (41,), ridx, OCTET_STRING, rs.virtualhost),
                (RS_COL + (42,), ridx, INTEGER, truth(rs.alpha or vs.alpha)),
            ]
            if traffic is not None:
                s = rs_stats.get((vs_text, _fmt_rs(rs, vs)), _zero())
                # rs: conns 14, active 15, inactive 16, persistent 17 (not in the stats dump),
                # in/out packets 18-19, bytes 20-21, rates 22-26, 64-bit 27-29
                rows += [(RS_COL + (14,), ridx, GAUGE32, s["conns"] & 0xFFFFFFFF),
                         (RS_COL + (18,), ridx, COUNTER32, s["inpkts"] & 0xFFFFFFFF),
                         (RS_COL + (19,), ridx, COUNTER32, s["outpkts"] & 0xFFFFFFFF),
                         (RS_COL + (20,), ridx, COUNTER64, s["inbytes"]),
                         (RS_COL + (21,), ridx, COUNTER64, s["outbytes"])]
                rows += [(RS_COL + (22 + k,), ridx, GAUGE32, s[f] & 0xFFFFFFFF)
                         for k, f in enumerate(("cps", "inpps", "outpps", "inbps", "outbps"))]
                rows += [(RS_COL + (27,), ridx, COUNTER64, s["conns"]), (RS_COL + (28,), ridx, COUNTER64, s["inpkts"]),
                         (RS_COL + (29,), ridx, COUNTER64, s["outpkts"])]
    return rows


def _range_end(entry: Any) -> str | None:
    """The last address of a virtual_server_group range (a-b or a/nn), None for one address."""
    if entry.prefixlen is not None:
        net = ipaddress.ip_network(f"{entry.ip}/{entry.prefixlen}", strict=False)
        return None if net.num_addresses == 1 else str(net[-1])
    return entry.ip_end if entry.ip_end not in (None, entry.ip) else None


def _group_member_rows(idx: tuple, entry: Any) -> list[Row]:
    """virtualServerGroupMemberTable: fwmark(1) / ip(2) / iprange(3) and its columns."""
    col = CHECK + (2, 1)
    if entry.fwmark is not None:
        return [(col + (2,), idx, INTEGER, 1), (col + (3,), idx, GAUGE32, entry.fwmark)]
    try:
        start = packed(str(ipaddress.ip_network(f"{entry.ip}/{entry.prefixlen}", strict=False)[0])
                       if entry.prefixlen is not None else entry.ip)
        end = _range_end(entry)
    except ValueError:
        return []
    rows: list[Row] = [(col + (4,), idx, INTEGER, 2 if start is not None and len(start) == 16 else 1),
                       (col + (8,), idx, GAUGE32, entry.port)]
    if end is None:
        rows += [(col + (2,), idx, INTEGER, 2), (col + (5,), idx, OCTET_STRING, start)]
    else:
        rows += [(col + (2,), idx, INTEGER, 3), (col + (6,), idx, OCTET_STRING, start),
                 (col + (7,), idx, OCTET_STRING, packed(end))]
    return rows


def _vs_varbinds(vs: Any) -> Iterable[VarBind]:
    yield VarBind(VS_COL + (2,), INTEGER, vs_type(vs))
    if vs.group:
        yield VarBind(VS_COL + (3,), OCTET_STRING, vs.group)
    elif vs.fwmark is not None:
        yield VarBind(VS_COL + (4,), GAUGE32, vs.fwmark)
    else:
        raw = packed(vs.ip) or bytes(4)
        yield VarBind(VS_COL + (5,), INTEGER, 2 if len(raw) == 16 else 1)
        yield VarBind(VS_COL + (6,), OCTET_STRING, raw)
        yield VarBind(VS_COL + (7,), GAUGE32, vs.port)
    yield VarBind(VS_COL + (8,), INTEGER, truth((vs.protocol or "").upper() == "TCP"))


def real_server_trap(vs: Any, rs: Any, alive: bool, up: int, total: int, rid: str) -> list[VarBind]:
    """realServerStateChange, with keepalived's objects and OIDs (no instance index)."""
    raw = packed(rs.ip) or bytes(4)
    return _trap(TRAP_RS_STATE,
                 VarBind(RS_COL + (3,), INTEGER, 2 if len(raw) == 16 else 1),
                 VarBind(RS_COL + (4,), OCTET_STRING, raw),
                 VarBind(RS_COL + (5,), GAUGE32, rs.port),
                 VarBind(RS_COL + (6,), INTEGER, truth(alive)),
                 *_vs_varbinds(vs),
                 VarBind(VS_COL + (21,), GAUGE32, up),
                 VarBind(VS_COL + (20,), GAUGE32, total),
                 VarBind(ROUTER_ID_0, OCTET_STRING, rid))


def quorum_trap(vs: Any, quorum_up: bool, up: int, total: int, rid: str, stopping: bool = False) -> list[VarBind]:
    """virtualServerQuorumStateChange: met(1) / notMet(2) / shutdown(3)."""
    return _trap(TRAP_VS_QUORUM,
                 *_vs_varbinds(vs),
                 VarBind(VS_COL + (23,), INTEGER, 3 if stopping else 1 if quorum_up else 2),
                 VarBind(VS_COL + (22,), GAUGE32, vs.quorum),
                 VarBind(VS_COL + (21,), GAUGE32, up),
                 VarBind(VS_COL + (20,), GAUGE32, total),
                 VarBind(ROUTER_ID_0, OCTET_STRING, rid))
