"""KEEPALIVED-MIB's route and rule tables of the vrrp branch (vrrpRouteTable vrrp.7,
vrrpRouteNextHopTable vrrp.11, vrrpRuleTable vrrp.8), as keepalived's vrrp_snmp.c serves them.
Pure: rows come from the configuration (names of tables, protocols and scopes through
iproute_etc_dir / iproute_usr_dir as kvrrp installs them) and whether each is installed.

Indexes are keepalived's: (0, n) for static_routes / static_rules, (instance, n) for an
instance's virtual_routes / virtual_rules; next hops are (instance, route, n). Columns with no
value for an entry (no gateway, no metric lock, ...) are absent, as keepalived leaves them.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Iterable

from kvrrp.config.rtnames import RtNames
from kvrrp.io.routes import FR_ACTIONS, RTPROT_KEEPALIVED, RouteError, _named
from kvrrp.snmp.agentx import GAUGE32, INTEGER, OCTET_STRING
from kvrrp.snmp.mibview import Row
from kvrrp.snmp.vrrp_mib import packed

VRRP = (1, 3, 6, 1, 4, 1, 9586, 100, 5, 2)
ROUTE = VRRP + (7, 1)
RULE = VRRP + (8, 1)
NEXT_HOP = VRRP + (11, 1)

# vrrpRouteType by route type (a route with next hops is multipath(2))
ROUTE_TYPE = {"unicast": 1, "blackhole": 3, "anycast": 4, "multicast": 5, "broadcast": 6,
              "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10, "xresolve": 11}
# keepalived's snmp_scope: kernel scope number -> InetScopeType
SNMP_SCOPE = {0: 14, 200: 5, 253: 2, 254: 1, 255: 0}
# (route option, column, column of its lock flag or None); the values as written (keepalived
# keeps rtt x 8 and rttvar x 4 for the kernel and divides them back for the MIB)
METRICS = (("mtu", 22, 23), ("hoplimit", 24, None), ("advmss", 25, 26), ("rtt", 27, 28), ("rttvar", 29, 30),
           ("reordering", 31, 32), ("window", 33, None), ("cwnd", 34, 35), ("ssthresh", 36, 37),
           ("rto_min", 38, 39), ("initcwnd", 40, None), ("initrwnd", 41, None))
PREF = {"low": 1, "medium": 2, "high": 3}


def truth(value: Any) -> int:
    return 1 if value else 2


def _network(text: str | None, family: int) -> tuple[bytes, int] | None:
    if not text:
        return None
    if text == "default":
        return bytes(4 if family == 4 else 16), 0
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return net.network_address.packed, net.prefixlen


def _number(names: RtNames, kind: str, value: str | None, default: int | None) -> int | None:
    if value is None:
        return default
    try:
        return _named(names, kind, value, kind)
    except RouteError:
        return default


def _int(text: str | None) -> int | None:
    try:
        return int(str(text), 0)
    except (TypeError, ValueError):
        return None


def _realms(text: str | None) -> tuple[int | None, int | None]:
    """(destination realm, source realm) of `realms [SRC/]DST` (numbers only)."""
    if not text:
        return None, None
    src, _, dst = text.rpartition("/")
    return _int(dst), (_int(src) if src else None)


def one_route_rows(i: int, n: int, route: Any, installed: bool, names: RtNames,
                   ifindex: Any) -> list[Row]:
    idx = (i, n)
    opts = dict(route.options)
    fam = route.family
    rows: list[Row] = [(ROUTE + (2,), idx, INTEGER, 2 if fam == 6 else 1)]
    dst = _network(route.to, fam)
    if dst is not None:
        rows += [(ROUTE + (3,), idx, OCTET_STRING, dst[0]), (ROUTE + (4,), idx, GAUGE32, dst[1])]
    rows.append((ROUTE + (5,), idx, OCTET_STRING, packed(route.via)))
    if len(route.nexthops) == 1:
        rows.append((ROUTE + (6,), idx, OCTET_STRING, packed(route.nexthops[0].via)))
    rows.append((ROUTE + (7,), idx, OCTET_STRING, packed(route.src)))
    rows.append((ROUTE + (8,), idx, GAUGE32, route.metric or 0))
    scope = _number(names, "rt_scopes", route.scope, 0)
    rows.append((ROUTE + (9,), idx, INTEGER, SNMP_SCOPE.get(scope, 14)))
    rows.append((ROUTE + (10,), idx, INTEGER, 2 if route.nexthops else ROUTE_TYPE.get(route.type, 1)))
    if route.dev:
        rows += [(ROUTE + (11,), idx, INTEGER, ifindex(route.dev)), (ROUTE + (12,), idx, OCTET_STRING, route.dev)]
    rows.append((ROUTE + (13,), idx, GAUGE32, _number(names, "rt_tables", route.table, 254)))
    rows.append((ROUTE + (14,), idx, INTEGER, truth(installed)))
    frm = _network(route.from_, fam)
    if frm is not None:
        rows += [(ROUTE + (15,), idx, OCTET_STRING, frm[0]), (ROUTE + (16,), idx, GAUGE32, frm[1])]
    if route.tos is not None:
        rows.append((ROUTE + (17,), idx, GAUGE32, route.tos))
    # keepalived always sets the protocol (its own, 18, unless another is given); shown plus one
    rows.append((ROUTE + (18,), idx, INTEGER, _number(names, "rt_protos", route.protocol, RTPROT_KEEPALIVED) + 1))
    rows.append((ROUTE + (19,), idx, INTEGER, truth(opts.get("features") == "ecn")))
    rows.append((ROUTE + (20,), idx, INTEGER, truth("quickack" in opts)))
    if "expires" in opts:
        rows.append((ROUTE + (21,), idx, GAUGE32, _int(opts["expires"])))
    for key, col, lock_col in METRICS:
        if key not in opts:
            continue
        text = opts[key]
        locked = text.startswith("lock ")
        value = _int(text[5:] if locked else text)
        rows.append((ROUTE + (col,), idx, GAUGE32, value))
        if lock_col is not None:
            rows.append((ROUTE + (lock_col,), idx, INTEGER, truth(locked)))
    if "congctl" in opts:
        rows.append((ROUTE + (42,), idx, OCTET_STRING, opts["congctl"]))
    if "pref" in opts:
        rows.append((ROUTE + (43,), idx, INTEGER, PREF.get(opts["pref"], 0)))
    dst_realm, src_realm = _realms(opts.get("realms"))
    if dst_realm is not None or src_realm:
        rows.append((ROUTE + (44,), idx, GAUGE32, dst_realm or 0))
    if src_realm:
        rows.append((ROUTE + (45,), idx, GAUGE32, src_realm))
    if "fastopen_no_cookie" in opts:
        rows.append((ROUTE + (55,), idx, INTEGER, truth(_int(opts["fastopen_no_cookie"]))))
    return rows


def one_next_hop_rows(i: int, n: int, route: Any, ifindex: Any) -> list[Row]:
    rows: list[Row] = []
    for h, hop in enumerate(route.nexthops, 1):
        idx = (i, n, h)
        raw = packed(hop.via)
        if raw is not None:
            rows += [(NEXT_HOP + (2,), idx, INTEGER, 2 if len(raw) == 16 else 1),
                     (NEXT_HOP + (3,), idx, OCTET_STRING, raw)]
        if hop.dev:
            rows += [(NEXT_HOP + (4,), idx, INTEGER, ifindex(hop.dev)), (NEXT_HOP + (5,), idx, OCTET_STRING, hop.dev)]
        if hop.weight is not None:                       # only when given, as keepalived
            rows.append((NEXT_HOP + (6,), idx, GAUGE32, hop.weight))
        rows.append((NEXT_HOP + (7,), idx, INTEGER, truth(hop.onlink)))
        dst_realm, src_realm = _realms(hop.realms)
        if dst_realm is not None or src_realm:
            rows.append((NEXT_HOP + (8,), idx, GAUGE32, dst_realm or 0))
        if src_realm:
            rows.append((NEXT_HOP + (9,), idx, GAUGE32, src_realm))
    return rows


def one_rule_rows(i: int, n: int, rule: Any, installed: bool, names: RtNames) -> list[Row]:
    idx = (i, n)
    opts = dict(rule.options)
    to = _network(rule.to, rule.family)
    frm = _network(rule.from_, rule.family)
    inet = 2 if rule.family == 6 else 1
    rows: list[Row] = [(RULE + (2,), idx, OCTET_STRING,
                        ("both" if frm else "to") if to else ("from" if frm else ""))]
    first = to or frm                          # the obsolete address columns: to, else from
    if first is not None:
        rows += [(RULE + (3,), idx, INTEGER, inet), (RULE + (4,), idx, OCTET_STRING, first[0]),
                 (RULE + (5,), idx, GAUGE32, first[1])]
    action = FR_ACTIONS.get(rule.action, 1)
    table = _number(names, "rt_tables", rule.table, 254) if action == 1 else None
    rows.append((RULE + (6,), idx, GAUGE32, table))
    rows.append((RULE + (7,), idx, INTEGER, truth(installed)))
    rows.append((RULE + (8,), idx, INTEGER, truth("not" in opts)))
    if to is not None:
        rows += [(RULE + (9,), idx, INTEGER, inet), (RULE + (10,), idx, OCTET_STRING, to[0]),
                 (RULE + (11,), idx, GAUGE32, to[1])]
    if frm is not None:
        rows += [(RULE + (12,), idx, INTEGER, inet), (RULE + (13,), idx, OCTET_STRING, frm[0]),
                 (RULE + (14,), idx, GAUGE32, frm[1])]
    rows.append((RULE + (15,), idx, GAUGE32, rule.tos or 0))
    rows.append((RULE + (16,), idx, GAUGE32, rule.fwmark))
    rows.append((RULE + (17,), idx, GAUGE32, rule.fwmask))
    dst_realm, src_realm = _realms(opts.get("realms"))
    if dst_realm is not None or src_realm:
        rows.append((RULE + (18,), idx, GAUGE32, dst_realm or 0))
    if src_realm:
        rows.append((RULE + (19,), idx, GAUGE32, src_realm))
    rows.append((RULE + (20,), idx, OCTET_STRING, rule.iif))
    rows.append((RULE + (21,), idx, OCTET_STRING, rule.oif))
    if action == 2:
        rows.append((RULE + (22,), idx, GAUGE32, rule.goto))
    rows.append((RULE + (23,), idx, INTEGER, action))
    rows.append((RULE + (24,), idx, GAUGE32, table))
    if rule.preference:
        rows.append((RULE + (25,), idx, GAUGE32, rule.preference))
    spl = _int(opts.get("suppress_prefixlength"))
    if spl is not None:
        rows.append((RULE + (26,), idx, INTEGER, spl))
    if "suppress_ifgroup" in opts:
        rows.append((RULE + (27,), idx, OCTET_STRING, opts["suppress_ifgroup"]))
    tun = _int(opts.get("tun_id"))
    if tun:
        rows += [(RULE + (28,), idx, GAUGE32, tun >> 32), (RULE + (29,), idx, GAUGE32, tun & 0xFFFFFFFF)]
    uid = opts.get("uidrange")
    if uid:
        lo, _, hi = uid.partition("-")
        rows += [(RULE + (30,), idx, GAUGE32, _int(lo)), (RULE + (31,), idx, GAUGE32, _int(hi or lo))]
    if "l3mdev" in opts:
        rows.append((RULE + (32,), idx, INTEGER, 1))
    return rows


def route_rows(i: int, routes: Iterable[Any], installed: bool, names: RtNames, ifindex: Any) -> list[Row]:
    """vrrpRouteTable and vrrpRouteNextHopTable rows of one instance (i = 0: static routes)."""
    rows: list[Row] = []
    for n, route in enumerate(routes, 1):
        rows += one_route_rows(i, n, route, installed, names, ifindex)
        rows += one_next_hop_rows(i, n, route, ifindex)
    return rows


def rule_rows(i: int, rules: Iterable[Any], installed: bool, names: RtNames) -> list[Row]:
    rows: list[Row] = []
    for n, rule in enumerate(rules, 1):
        rows += one_rule_rows(i, n, rule, installed, names)
    return rows
