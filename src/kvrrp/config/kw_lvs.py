"""LVS keywords: SSL, virtual_server, real_server and the checkers (keepalived's check_parser.c, check_*.c)."""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from kvrrp.config import model as m
from kvrrp.config.argv import split_command
from kvrrp.config.kw_handlers import (Fields, Handler, _deprecated, _extra, _script_user, _set_flag,
                                      _set_int, _set_ip, _set_script, _set_str, _set_timer)
from kvrrp.config.tree import Node

if TYPE_CHECKING:
    from kvrrp.config.parser import Parser

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "mh", "dh", "fo", "ovf", "sed", "nq", "twos")
DNS_TYPES = ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA")


# ---- SSL -------------------------------------------------------------------------------------------

SSL: dict[str, Handler] = {
    "password": _set_str("password"),
    "ca": _set_str("ca"),
    "certificate": _set_str("certificate"),
    "key": _set_str("key"),
}


# ---- virtual_server / real_server ---------------------------------------------------------------

def _vs_sched(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = node.args[0].text
        if v not in SCHEDULERS:
            close = difflib.get_close_matches(v, SCHEDULERS, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            p.diags.error(node.args[0].loc, f"invalid IPVS scheduler '{v}' ({', '.join(SCHEDULERS)}){hint} "
                          "- ignoring, default wlc stays", "bad-scheduler")
            return
        s["lvs_sched"] = v


def _vs_sched_flag(field: str) -> Handler:
    """sh-port/sh-fallback/mh-port/mh-fallback: keepalived only takes them once the matching
    scheduler was set above them (the order matters), and silently drops the other pair."""
    def h(p: Parser, node: Node, s: Fields) -> None:
        sched = s.get("lvs_sched")
        if sched in ("sh", "mh"):
            if field.startswith(sched + "_"):
                s[field] = True
            return
        p.diags.warning(node.kw.loc, f"'{node.kw.text}' only applies to the sh/mh scheduler, which must be set "
                        "before it - ignoring", "ignored", fails_test=True)
    return h


def _vs_method(p: Parser, node: Node, s: Fields) -> None:
    v = p.lvs_method(node)
    if v is not None:
        s["lvs_method"] = v


def _vs_persistence_timeout(p: Parser, node: Node, s: Fields) -> None:
    if not node.args:
        s["persistence_timeout"] = 360
        return
    v = p.r.int(node.args[0], 1, 2678400, "persistence_timeout")
    if v is not None:
        s["persistence_timeout"] = v


def _vs_protocol(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = node.args[0].text.upper()
        if v in ("TCP", "UDP", "SCTP"):
            s["protocol"] = v
        else:
            p.diags.error(node.args[0].loc, f"unknown protocol '{node.args[0].text}' (TCP, UDP or SCTP)",
                          "bad-value")


def _vs_ip_family(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = node.args[0].text
        if v in ("inet", "inet6"):
            s["_ip_family"] = True
            s["_fam"] = 4 if v == "inet" else 6
        else:
            p.diags.error(node.args[0].loc, f"unknown ip_family '{v}' (inet or inet6)", "bad-value")


def _vs_sorry(p: Parser, node: Node, s: Fields) -> None:
    if not p.r.need(node.kw, node.args):
        return
    ip = p.r.ip(node.args[0], "sorry server")
    if ip is None:
        return
    port = 0
    if len(node.args) > 1:
        port = p.r.port(node.args[1]) or 0
    old = s.get("sorry_server")
    s["sorry_server"] = m.SorryServer(ip=ip[0], family=ip[1], port=port,
                                      inhibit=old.inhibit if old else False,
                                      lvs_method=old.lvs_method if old else None)


def _vs_sorry_mod(attr: str) -> Handler:
    def h(p: Parser, node: Node, s: Fields) -> None:
        old = s.get("sorry_server")
        if attr == "inhibit":
            val = True
        else:
            val = p.lvs_method(node)
            if val is None:
                return
        if old is None:
            p.diags.error(node.kw.loc, f"'{node.kw.text}' before sorry_server - put sorry_server first",
                          "order")
            return
        s["sorry_server"] = m.SorryServer(**{**{k: getattr(old, k) for k in
                                                ("ip", "port", "family", "inhibit", "lvs_method")}, attr: val})
    return h


def _vs_quorum_script(field: str) -> Handler:
    return _set_script(field)


def _vs_real_server(p: Parser, node: Node, s: Fields) -> None:
    node.used = True            # its block is parsed once the whole virtual_server is read
    s.setdefault("_rs_nodes", []).append(node)


def _vs_bool_opt(field: str) -> Handler:
    """VS-level inhibit_on_failure / alpha take an optional <BOOL> in 2.x."""
    return _set_flag(field)


_TIMING: dict[str, Handler] = {
    "connect_timeout": _set_timer("connect_timeout", 0.000001, 2147483),
    "retry": _set_int("retry", 0, 2147483647),
    "delay_before_retry": _set_timer("delay_before_retry", 0, 2147483),
    "warmup": _set_timer("warmup", 0, 2147483),
    "delay_loop": _set_timer("delay_loop", 0.000001, 2147483),
}

VS: dict[str, Handler] = {
    **_TIMING,
    "kvrrp_announce": _set_flag("kvrrp_announce"),     # kvrrp only (kvrrp.bgp); keepalived rejects it
    "ip_family": _vs_ip_family,
    "inhibit_on_failure": _vs_bool_opt("inhibit_on_failure"),
    "lb_algo": _vs_sched,
    "lvs_sched": _vs_sched,
    "hashed": _vs_sched_flag("hashed"),     # keepalived treats it like the sh/mh flags (and never sets it)
    "ops": _set_flag("ops"),
    "flag-1": _set_flag("flag_1"),
    "flag-2": _set_flag("flag_2"),
    "flag-3": _set_flag("flag_3"),
    "sh-port": _vs_sched_flag("sh_port"),
    "sh-fallback": _vs_sched_flag("sh_fallback"),
    "mh-port": _vs_sched_flag("mh_port"),
    "mh-fallback": _vs_sched_flag("mh_fallback"),
    "lb_kind": _vs_method,
    "lvs_method": _vs_method,
    "persistence_engine": _set_str("persistence_engine"),
    "persistence_timeout": _vs_persistence_timeout,
    "persistence_granularity": _set_str("persistence_granularity"),
    "protocol": _vs_protocol,
    "ha_suspend": _set_flag("ha_suspend"),
    "smtp_alert": _set_flag("smtp_alert"),
    "virtualhost": _set_str("virtualhost"),
    "snmp_name": _set_str("snmp_name"),
    "alpha": _vs_bool_opt("alpha"),
    "omega": _set_flag("omega"),
    "quorum_up": _vs_quorum_script("quorum_up"),
    "quorum_down": _vs_quorum_script("quorum_down"),
    "quorum": _set_int("quorum", 1, 2**31 - 1),
    "hysteresis": _set_int("hysteresis", 0, 2**31 - 1),
    "weight": _set_int("weight", 0, 65535),
    "sorry_server": _vs_sorry,
    "sorry_server_inhibit": _vs_sorry_mod("inhibit"),
    "sorry_server_lvs_method": _vs_sorry_mod("lvs_method"),
    "real_server": _vs_real_server,
}


def _rs_method(p: Parser, node: Node, r: Fields) -> None:
    v = p.lvs_method(node)
    if v is not None:
        r["lvs_method"] = v


def _rs_checker(p: Parser, node: Node, r: Fields) -> None:
    node.used = True            # parsed after the real_server block, to inherit its timings
    r.setdefault("_checkers", []).append(node)


RS: dict[str, Handler] = {
    **_TIMING,
    "weight": _set_int("weight", 0, 65535),
    "lvs_method": _rs_method,
    "uthreshold": _set_int("uthreshold", 0, 2**31 - 1),
    "lthreshold": _set_int("lthreshold", 0, 2**31 - 1),
    "inhibit_on_failure": _set_flag("inhibit_on_failure"),
    "notify_up": _set_script("notify_up"),
    "notify_down": _set_script("notify_down"),
    "alpha": _set_flag("alpha"),
    "smtp_alert": _set_flag("smtp_alert"),
    "virtualhost": _set_str("virtualhost"),
    "snmp_name": _extra,
}


# ---- checkers --------------------------------------------------------------------------------------

def _c_port(field: str) -> Handler:
    def h(p: Parser, node: Node, c: Fields) -> None:
        if p.r.need(node.kw, node.args):
            v = p.r.port(node.args[0], node.kw.text)
            if v is not None:
                c[field] = v
    return h


def _c_fwmark(p: Parser, node: Node, c: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = p.r.uint_base(node.args[0], 0, 0xFFFFFFFF, "fwmark")
        if v is not None:
            c["fwmark"] = v


COMMON: dict[str, Handler] = {
    **_TIMING,
    "connect_ip": _set_ip("connect_ip"),
    "connect_port": _c_port("connect_port"),
    "bindto": _set_ip("bindto"),
    "bind_port": _c_port("bind_port"),
    "bind_if": _set_str("bind_if"),
    "fwmark": _c_fwmark,
    "alpha": _set_flag("alpha"),
    "log_all_failures": _set_flag("log_all_failures"),
}


def _h_protocol(p: Parser, node: Node, c: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = node.args[0].text
        if v in ("1.0", "1.0C", "1.1"):
            c["http_protocol"] = v
        else:
            p.diags.error(node.args[0].loc, f"invalid http_protocol '{v}' (1.0, 1.0C or 1.1)", "bad-value")


HTTP: dict[str, Handler] = {
    **COMMON,
    "nb_get_retry": _deprecated("retry", _set_int("retry", 0, 2147483647)),
    "virtualhost": _set_str("virtualhost"),
    "http_protocol": _h_protocol,
    "enable_sni": _set_flag("enable_sni"),
    "sni_name": _set_str("sni_name"),
    "fast_recovery": _set_flag("fast_recovery"),
    "tls_compliant": _set_flag("tls_compliant"),
    "url": "url",
}


def _u_digest(p: Parser, node: Node, u: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = node.args[0].text.lower()
        if len(v) != 32 or any(ch not in "0123456789abcdef" for ch in v):
            p.diags.error(node.args[0].loc, f"digest '{node.args[0].text}' is not a 32-digit hex MD5", "bad-value")
            return
        u["digest"] = v


def _u_status(p: Parser, node: Node, u: Fields) -> None:
    if not p.r.need(node.kw, node.args):
        return
    ranges: list[tuple[int, int]] = list(u.get("_codes", []))
    for t in node.args:
        lo_s, sep, hi_s = t.text.partition("-")
        lo = p.r.int(type(t)(lo_s, t.file, t.line, t.col), 100, 599, "status code")
        hi = p.r.int(type(t)(hi_s, t.file, t.line, t.col), 100, 599, "status code") if sep else lo
        if lo is None or hi is None:
            continue
        if hi < lo:
            p.diags.error(t.loc, f"status code range {t.text} is reversed", "bad-value")
            continue
        ranges.append((lo, hi))
    u["_codes"] = ranges
    if ranges:
        u["status_codes"] = tuple(ranges)


def _u_regex_options(p: Parser, node: Node, u: Fields) -> None:
    u["regex_options"] = tuple(t.text for t in node.args)


def _u_regex_stack(p: Parser, node: Node, u: Fields) -> None:
    for t in node.args:
        p.r.int(t, 0, 2**31 - 1, "regex_stack")


URL: dict[str, Handler] = {
    "path": _set_str("path"),
    "digest": _u_digest,
    "status_code": _u_status,
    "virtualhost": _set_str("virtualhost"),
    "regex": _set_str("regex"),
    "regex_no_match": _set_flag("regex_no_match"),
    "regex_options": _u_regex_options,
    "regex_min_offset": _set_int("regex_min_offset", 0, 2**31 - 1),
    "regex_max_offset": _set_int("regex_max_offset", 0, 2**31 - 1),
    "regex_stack": _u_regex_stack,
    "tls_compliant": _set_flag("tls_compliant"),
}


def _m_path(p: Parser, node: Node, c: Fields) -> None:
    if p.r.need(node.kw, node.args):
        cmd = " ".join(t.text for t in node.args) if len(node.args) > 1 and not node.args[0].quoted \
            else node.args[0].text
        c["misc_path"] = m.ScriptCall(command=cmd, argv=split_command(cmd), loc=node.kw.loc)


# MISC_CHECK takes only the non-connection common keywords (install_checker_common_keywords(false))
MISC: dict[str, Handler] = {
    **{k: v for k, v in COMMON.items() if k not in ("connect_ip", "connect_port", "bindto", "bind_port", "bind_if",
                                                    "connect_timeout", "fwmark")},
    "misc_path": _m_path,
    "misc_timeout": _set_timer("misc_timeout", 0.000001, 2147483),
    "misc_dynamic": _set_flag("misc_dynamic"),
    "user": _script_user,
}


def _smtp_host(p: Parser, node: Node, c: Fields) -> None:
    # legacy multi-host form: the first host's options apply
    p.dispatch("checker", COMMON, p.block(node), c)


SMTP: dict[str, Handler] = {**COMMON, "helo_name": _set_str("helo_name"), "host": _smtp_host}


def _d_type(p: Parser, node: Node, c: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = node.args[0].text.upper()
        if v in DNS_TYPES:
            c["type"] = v
        else:
            p.diags.error(node.args[0].loc, f"unknown DNS type '{node.args[0].text}' ({', '.join(DNS_TYPES)})",
                          "bad-value")


DNS: dict[str, Handler] = {**COMMON, "type": _d_type, "name": _set_str("name")}


def _hex(field: str) -> Handler:
    def h(p: Parser, node: Node, c: Fields) -> None:
        if p.r.need(node.kw, node.args):
            v = "".join(t.text for t in node.args).replace(" ", "")
            if any(ch not in "0123456789abcdefABCDEFxX" for ch in v):
                p.diags.error(node.args[0].loc, f"'{node.kw.text}' must be hex digits", "bad-value")
                return
            c[field] = v.lower()
    return h


def _udp_require(p: Parser, node: Node, c: Fields) -> None:
    c["require_reply"] = True
    if node.args:
        _hex("reply_pattern")(p, node, c)


UDP: dict[str, Handler] = {
    **COMMON,
    "payload": _hex("payload"),
    "require_reply": _udp_require,
    "min_reply_length": _set_int("min_reply_length", 0, 65535),
    "max_reply_length": _set_int("max_reply_length", 0, 65535),
}


def _f_weight(p: Parser, node: Node, c: Fields) -> None:
    p.weight(node, -2147483647, 2147483647, c)


FILE: dict[str, Handler] = {"track_file": _set_str("track_file"), "weight": _f_weight,
                            "dynamic": _set_flag("dynamic")}
BFDC: dict[str, Handler] = {"name": _set_str("name"), "alpha": _set_flag("alpha")}

CHECKERS: dict[str, tuple[type, dict[str, Handler]]] = {
    "TCP_CHECK": (m.TcpCheck, COMMON),
    "HTTP_GET": (m.HttpGet, HTTP),
    "SSL_GET": (m.SslGet, HTTP),
    "MISC_CHECK": (m.MiscCheck, MISC),
    "SMTP_CHECK": (m.SmtpCheck, SMTP),
    "DNS_CHECK": (m.DnsCheck, DNS),
    "UDP_CHECK": (m.UdpCheck, UDP),
    "PING_CHECK": (m.PingCheck, COMMON),
    "FILE_CHECK": (m.FileCheck, FILE),
    "BFD_CHECK": (m.BfdCheck, BFDC),
}
for _kind in CHECKERS:
    RS[_kind] = _rs_checker
