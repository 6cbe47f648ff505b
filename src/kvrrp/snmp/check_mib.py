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
import sys
from typing import Any, Iterable, Iterator

from kvrrp.snmp.agentx import GAUGE32, INTEGER, OCTET_STRING, VarBind
from kvrrp.snmp.check_traffic import SORRY, rs_traffic_rows, traffic_by_server, vs_traffic_rows, zero
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
TUN_TYPE = {"ipip": 1, "gue": 2, "gre": 3}
TUN_CSUM = {"nocsum": 1, "csum": 2, "remcsum": 3}


def vs_type(vs: Any) -> int:
    return 3 if vs.group else 1 if vs.fwmark is not None else 2


def _usec(seconds: float | None) -> int:
    return 0 if seconds is None else int(round(seconds * 1_000_000)) & 0xFFFFFFFF


def _secs(seconds: float | None) -> int:
    return 0 if seconds is None else int(seconds)


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _smtp_alert(own: bool | None, g: Any, default: bool) -> int:
    """keepalived's rule: the server's own, else smtp_alert_checker, else smtp_alert, else the
    default (off for a virtual server, on for a real server, "for backwards compatibility")."""
    return truth(_first(own, g.smtp_alert_checker, g.smtp_alert, default))


def _script_path(call: Any) -> str | None:
    """keepalived's *NotifyUpPath columns: the program, without its arguments."""
    if call is None:
        return None
    return call.argv[0] if call.argv else call.command.split()[0] if call.command.split() else None


def _tunnel_rows(col: Any, idx: tuple, method: Any, first: int) -> list[Row]:
    """tunnelType (ipip 1 / gue 2 / gre 3), tunnelPort (gue), tunnelChecksum (nocsum 1 / csum 2 /
    remcsum 3; not for ipip): served for TUN forwarding only."""
    if method is None or method.method != "TUN":
        return []
    kind = method.tunnel_type or "ipip"
    rows: list[Row] = [(col + (first,), idx, INTEGER, TUN_TYPE.get(kind, 1))]
    if kind == "gue":
        rows.append((col + (first + 1,), idx, GAUGE32, method.tunnel_port or 0))
    if kind != "ipip":
        rows.append((col + (first + 2,), idx, INTEGER, TUN_CSUM.get(method.tunnel_csum or "nocsum", 1)))
    return rows


def _granularity_rows(vs: Any, idx: tuple) -> list[Row]:
    """virtualServerPersistGranularity (15, IPv4: the netmask) and ...Granularity6 (51, IPv6:
    the prefix length). keepalived keeps one 32-bit value (0xffffffff when unset: reads
    255.255.255.255) and serves it as 15 unless the virtual address is IPv6, as 51 unless it is
    IPv4; a fwmark or group service has no address, so both read the same four bytes."""
    text = (vs.persistence_granularity or "").strip().lstrip("/")
    if vs.persistence_granularity is None:
        raw = b"\xff" * 4
    elif vs.family == 6:
        if not text.isdigit():
            return []
        raw = int(text).to_bytes(4, sys.byteorder)
    else:
        try:
            raw = ipaddress.IPv4Network(f"0.0.0.0/{text}").netmask.packed
        except ValueError:
            return []
    addressed = vs.group is None and vs.fwmark is None
    rows: list[Row] = []
    if not (addressed and vs.family == 6):
        rows.append((VS_COL + (15,), idx, OCTET_STRING, raw))
    if not (addressed and vs.family == 4):
        rows.append((VS_COL + (51,), idx, GAUGE32, int.from_bytes(raw, sys.byteorder)))
    return rows


def _vs_rows(vs: Any, idx: tuple, g: Any) -> list[Row]:
    """The configuration columns of virtualServerTable past keepalived 1.x's (51-73)."""
    sched1 = vs.flag_1 or vs.sh_fallback or vs.mh_fallback     # one IPVS flag bit, three names
    sched2 = vs.flag_2 or vs.sh_port or vs.mh_port
    rows: list[Row] = [
        (VS_COL + (53,), idx, INTEGER, truth(sched1)),
        (VS_COL + (54,), idx, INTEGER, truth(sched2)),
        (VS_COL + (55,), idx, INTEGER, truth(vs.flag_3)),
        (VS_COL + (56,), idx, INTEGER, truth(not vs.inhibit_on_failure)),
        (VS_COL + (57,), idx, GAUGE32, vs.retry or 0),
        (VS_COL + (58,), idx, GAUGE32, _secs(vs.delay_before_retry)),
        (VS_COL + (59,), idx, GAUGE32, _secs(vs.warmup)),
        (VS_COL + (60,), idx, INTEGER, vs.weight),
        (VS_COL + (61,), idx, INTEGER, _smtp_alert(vs.smtp_alert, g, False)),
        (VS_COL + (62,), idx, INTEGER, truth(sched1)),
        (VS_COL + (63,), idx, INTEGER, truth(sched2)),
        (VS_COL + (64,), idx, GAUGE32, _usec(vs.delay_loop)),
        (VS_COL + (65,), idx, GAUGE32, _usec(vs.delay_before_retry)),
        (VS_COL + (66,), idx, GAUGE32, _usec(vs.warmup)),
        (VS_COL + (67,), idx, GAUGE32, _usec(vs.connect_timeout)),
        (VS_COL + (72,), idx, OCTET_STRING, _script_path(vs.quorum_up)),
        (VS_COL + (73,), idx, OCTET_STRING, _script_path(vs.quorum_down)),
    ]
    return rows + _tunnel_rows(VS_COL, idx, vs.lvs_method, 68) + _granularity_rows(vs, idx)


def _rs_rows(vs: Any, rs: Any, idx: tuple, states: Any, g: Any) -> list[Row]:
    """The per-checker columns of realServerTable (43-57, 63): the real server's own timers,
    else the virtual server's (keepalived copies them down at load; unset reads 0)."""
    retry = _first(rs.retry, vs.retry)
    before = _first(rs.delay_before_retry, vs.delay_before_retry)
    warmup = _first(rs.warmup, vs.warmup)
    loop = _first(rs.delay_loop, vs.delay_loop)
    name = next((args[0] for kw, args in rs.extra if kw == "snmp_name" and args), None)
    rows: list[Row] = [
        (RS_COL + (43,), idx, GAUGE32, retry or 0),
        (RS_COL + (44,), idx, GAUGE32, _secs(before)),
        (RS_COL + (45,), idx, GAUGE32, _secs(warmup)),
        (RS_COL + (46,), idx, GAUGE32, _secs(loop)),
        (RS_COL + (47,), idx, INTEGER, _smtp_alert(rs.smtp_alert, g, True)),
        (RS_COL + (48,), idx, GAUGE32, _usec(before)),
        (RS_COL + (49,), idx, GAUGE32, _usec(warmup)),
        (RS_COL + (50,), idx, GAUGE32, _usec(loop)),
        (RS_COL + (51,), idx, GAUGE32, _usec(_first(rs.connect_timeout, vs.connect_timeout))),
        (RS_COL + (55,), idx, OCTET_STRING, name),
        (RS_COL + (56,), idx, OCTET_STRING, _script_path(rs.notify_up)),
        (RS_COL + (57,), idx, OCTET_STRING, _script_path(rs.notify_down)),
        (RS_COL + (63,), idx, GAUGE32, sum(1 for c in states if not c.has_run)),
    ]
    return rows + _tunnel_rows(RS_COL, idx, rs.lvs_method or vs.lvs_method, 52)


def _sorry_dests(engine: Any) -> dict:
    """vs text -> (service key -> the sorry server's IPVS destination key in that service)."""
    from healthcheck.engine import _fmt_vs
    from healthcheck.table import TableError, dest_of

    def dest_in(vs: Any) -> Any:
        def key(svc_key: Any) -> Any:
            try:
                return dest_of(vs.sorry_server, vs, 0, svc_key).key
            except TableError:
                return None
        return key

    return {_fmt_vs(vs): dest_in(vs) for vs in engine.config.virtual_servers if vs.sorry_server is not None}


def lvs_rows(config: Any) -> list[Row]:
    """The lvsSyncDaemon (check 6) and lvsTimeouts (check 7) scalars. The sync id is the one the
    kernel daemon runs with (the instance's VRID when not given; keepalived's checker process
    serves its "unset" value there)."""
    from kvrrp.vrrp.lvs_sync import sync_plan

    plan = sync_plan(config)
    sync, s = CHECK + (6,), (0,)
    rows: list[Row] = [(sync + (1,), s, INTEGER, truth(plan is not None))]
    if plan is not None:
        d = plan.daemon
        group = packed(d.group)
        rows += [(sync + (2,), s, OCTET_STRING, d.ifname), (sync + (3,), s, OCTET_STRING, plan.instance),
                 (sync + (4,), s, INTEGER, d.sync_id), (sync + (5,), s, INTEGER, d.maxlen or 0),
                 (sync + (6,), s, INTEGER, d.port or 0), (sync + (7,), s, INTEGER, d.ttl or 0)]
        if group is not None:
            rows += [(sync + (8,), s, INTEGER, 2 if len(group) == 16 else 1), (sync + (9,), s, OCTET_STRING, group)]
    t = config.global_defs.lvs_timeouts
    if t is not None:
        rows += [(CHECK + (7, n), s, INTEGER, v or None) for n, v in ((1, t.tcp), (2, t.tcpfin), (3, t.udp))]
    return rows


def check_rows(engine: Any, traffic: dict | None = None) -> list[Row]:
    return [row for part in check_row_parts(engine, traffic) for row in part]


def check_row_parts(engine: Any, traffic: dict | None = None) -> Iterator[list[Row]]:
    """The check branch's rows in parts (the groups, then one virtual server with its real
    servers at a time, then the scalars), so that a caller may let its loop run between them."""
    from healthcheck.engine import _fmt_rs, _fmt_vs
    from healthcheck.health import iter_real_servers, rs_alive, rs_weight
    from healthcheck.table import PERSISTENT_TIMEOUT_DEFAULT, vs_ident

    config = engine.config
    g = config.global_defs
    rows: list[Row] = []
    vs_stats, rs_stats = traffic_by_server(traffic, engine.kernel_keys() if traffic else {},
                                           _sorry_dests(engine) if traffic else None)
    for gi, group in enumerate(config.virtual_server_groups, 1):
        rows.append((CHECK + (1, 1, 2), (gi,), OCTET_STRING, group.name))
        # keepalived keeps a group's fwmarks and its address ranges in two lists: fwmarks first
        members = [e for e in group.entries if e.fwmark is not None] + [e for e in group.entries if e.fwmark is None]
        for mi, entry in enumerate(members, 1):
            rows.extend(_group_member_rows((gi, mi), entry))
    for i, vs in enumerate(config.virtual_servers, 1):
        yield rows
        rows = []
        idx = (i,)
        vs_text = _fmt_vs(vs)
        servers = list(iter_real_servers(vs))
        alive = [rs_alive(engine.rs_states.get(rid, ())) for rid, _rs in servers]
        quorum_up = engine.quorum.get(vs_ident(vs), True)
        vaddr = packed(vs.ip) if vs.group is None and vs.fwmark is None else None
        method = vs.lvs_method.method if vs.lvs_method is not None else "NAT"
        # a granularity alone makes the service persistent, with the default timeout (keepalived)
        persistent = vs.persistence_timeout is not None or vs.persistence_granularity is not None
        rows += [
            (VS_COL + (2,), idx, INTEGER, vs_type(vs)),
            (VS_COL + (3,), idx, OCTET_STRING, vs.group),
            (VS_COL + (4,), idx, GAUGE32, vs.fwmark),
            (VS_COL + (5,), idx, INTEGER, 2 if vs.family == 6 else 1),
            (VS_COL + (6,), idx, OCTET_STRING, vaddr),
            (VS_COL + (7,), idx, GAUGE32, vs.port if vaddr is not None else None),
            (VS_COL + (8,), idx, INTEGER, None if vs.fwmark is not None else PROTOCOL.get((vs.protocol or "").upper(), 4)),
            (VS_COL + (9,), idx, INTEGER, LB_ALGO.get(vs.lvs_sched, 99)),
            (VS_COL + (10,), idx, INTEGER, LB_KIND.get(method, 1)),
            (VS_COL + (11,), idx, INTEGER, truth(quorum_up or vs.sorry_server is not None)),
            (VS_COL + (12,), idx, OCTET_STRING, vs.virtualhost),
            (VS_COL + (13,), idx, INTEGER, truth(persistent)),
            (VS_COL + (14,), idx, GAUGE32, (vs.persistence_timeout or PERSISTENT_TIMEOUT_DEFAULT) if persistent else None),
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
        rows += _vs_rows(vs, idx, g)
        if traffic is not None:
            rows += vs_traffic_rows(VS_COL, idx, vs_stats.get(vs_text, zero()))
        n = 0
        if vs.sorry_server is not None:
            n += 1
            ss = vs.sorry_server
            rows += [(RS_COL + (2,), (i, n), INTEGER, 2),
                     (RS_COL + (3,), (i, n), INTEGER, 2 if ss.family == 6 else 1),
                     (RS_COL + (4,), (i, n), OCTET_STRING, packed(ss.ip)),
                     (RS_COL + (5,), (i, n), GAUGE32, ss.port),
                     (RS_COL + (6,), (i, n), INTEGER, truth(not quorum_up)),
                     (RS_COL + (40,), (i, n), INTEGER, LB_KIND.get((ss.lvs_method or vs.lvs_method).method, 1)),
                     (RS_COL + (63,), (i, n), GAUGE32, 0)]
            # keepalived's sorry server has no checkers and inherits nothing: its alpha, smtp_alert
            # and timers read off / 0
            rows += [(RS_COL + (c,), (i, n), INTEGER, 2) for c in (42, 47)]
            rows += [(RS_COL + (c,), (i, n), GAUGE32, 0) for c in (43, 44, 45, 46, 48, 49, 50, 51)]
            rows += _tunnel_rows(RS_COL, (i, n), ss.lvs_method or vs.lvs_method, 52)
            if traffic is not None:
                rows += rs_traffic_rows(RS_COL, (i, n), rs_stats.get((vs_text, SORRY), zero()))
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
                (RS_COL + (8,), ridx, GAUGE32, rs.uthreshold or None),      # 0: no limit, not served
                (RS_COL + (9,), ridx, GAUGE32, rs.lthreshold or None),
                (RS_COL + (10,), ridx, INTEGER, 2 if (rs.inhibit_on_failure or vs.inhibit_on_failure) else 1),
                (RS_COL + (11,), ridx, OCTET_STRING, script_text(rs.notify_up)),
                (RS_COL + (12,), ridx, OCTET_STRING, script_text(rs.notify_down)),
                (RS_COL + (13,), ridx, GAUGE32, sum(1 for c in states if not c.is_up)),
                (RS_COL + (40,), ridx, INTEGER, LB_KIND.get(rs_method.method if rs_method else "NAT", 1)),
                (RS_COL + (41,), ridx, OCTET_STRING, rs.virtualhost),
                (RS_COL + (42,), ridx, INTEGER, truth(rs.alpha or vs.alpha)),
            ]
            rows += _rs_rows(vs, rs, ridx, states, g)
            if traffic is not None:
                rows += rs_traffic_rows(RS_COL, ridx, rs_stats.get((vs_text, _fmt_rs(rs, vs)), zero()))
    yield rows + lvs_rows(config)


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
