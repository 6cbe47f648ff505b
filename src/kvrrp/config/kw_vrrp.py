"""VRRP keywords: vrrp_script, track_file, vrrp_track_process, bfd_instance, sync and track groups, vrrp_instance
(keepalived's vrrp_parser.c, track_file.c, bfd_parser.c)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterator

from kvrrp.config import model as m
from kvrrp.config.argv import split_command
from kvrrp.config.kw_handlers import (Fields, Handler, _deprecated, _script_user, _set_flag,
                                      _set_int, _set_ip, _set_repeat, _set_ignoring_args, _set_notify, _set_seconds, _set_str,
                                      _set_timer, _track, _weight)
from kvrrp.config.tree import Node
from kvrrp.vrrp import auth_hmac
from kvrrp.config.kw_global import _g_extra_if

if TYPE_CHECKING:
    from kvrrp.config.lexer import Token
    from kvrrp.config.parser import Parser


# ---- vrrp_script / track_file / track_process / bfd ----------------------------------------------

def _script_cmd(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        # `script` takes the whole rest of the line (keepalived joins unquoted words)
        cmd = " ".join(t.text for t in node.args) if len(node.args) > 1 else node.args[0].text
        s["script"] = m.ScriptCall(command=cmd, argv=split_command(cmd), loc=node.kw.loc)


SCRIPT: dict[str, Handler] = {
    "script": _script_cmd,
    "interval": _set_timer("interval", 0.001, 2147483),
    "timeout": _set_timer("timeout", 0.001, 2147483),
    "weight": _weight(-253, 253),
    "rise": _set_int("rise", 1, 2147483647),
    "fall": _set_int("fall", 1, 2147483647),
    "user": _script_user,
    "init_fail": _set_flag("init_fail"),
}


def _tf_init(p: Parser, node: Node, s: Fields) -> None:
    s["init_file"] = True
    for t in node.args:
        if t.text == "overwrite":
            s["init_overwrite"] = True
        else:
            v = p.r.int(t, -2147483648, 2147483647, "init_file value")
            if v is not None:
                s["init_value"] = v


TRACK_FILE: dict[str, Handler] = {
    "file": _set_str("file"),
    "weight": _weight(-2147483647, 2147483647),
    "init_file": _tf_init,
}


def _tp_process(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        s["process"] = node.args[0].text
        s["params"] = [t.text for t in node.args[1:]]
        if s["params"]:
            # keepalived: parameters mean the whole command line, matched exactly unless a
            # param_match before this line said otherwise
            if s.get("param_match", "none") == "none":
                s["param_match"] = "exact"
            s["full_command"] = True


def _tp_param_match(p: Parser, node: Node, s: Fields) -> None:
    """`param_match` alone is exact; any param_match compares the whole command line."""
    v = node.args[0].text if node.args else "exact"
    if v in ("initial", "partial") or not node.args:
        s["param_match"] = v
        s["full_command"] = True
    else:
        p.diags.error(node.args[0].loc, f"Invalid param_match type {v} - ignoring", "bad-value")


def _tp_delay(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = p.r.timer(node.args[0], 0, 2147483, "delay")
        if v is not None:
            s["fork_delay"] = s["terminate_delay"] = v


TRACK_PROCESS: dict[str, Handler] = {
    "process": _tp_process,
    "param_match": _tp_param_match,
    "weight": _weight(-254, 254),
    "quorum": _set_int("quorum", 1, 65535),
    "quorum_max": _set_int("quorum_max", 0, 65535),
    "delay": _tp_delay,
    "terminate_delay": _set_timer("terminate_delay", 0, 2147483),
    "fork_delay": _set_timer("fork_delay", 0, 2147483),
    "full_command": _set_flag("full_command"),
}

BFD: dict[str, Handler] = {
    "source_ip": _set_ip("source_ip"),
    "neighbor_ip": _set_ip("neighbor_ip"),
    "neighbour_ip": _set_ip("neighbor_ip"),
    # milliseconds with up to 3 decimals (keepalived's BFD_MINRX_MIN.. in bfd.h)
    "min_rx": _set_timer("min_rx", 1, 4294967),
    "min_tx": _set_timer("min_tx", 1, 4294967),
    "idle_tx": _set_timer("idle_tx", 1000, 4294967),
    "multiplier": _set_int("multiplier", 1, 255),
    "passive": _set_flag("passive"),
    "ttl": _set_int("ttl", 1, 255),
    "hoplimit": _set_int("ttl", 1, 255),
    "max_hops": _set_int("max_hops", -1, 255),
    "multihop": _set_flag("multihop"),
    "weight": _weight(-253, 253),
    "vrrp": lambda p, n, s: (s.__setitem__("vrrp", True), s.setdefault("checker", False)),
    "checker": lambda p, n, s: (s.__setitem__("checker", True), s.setdefault("vrrp", False)),
}


# ---- sync group / track group -------------------------------------------------------------------

def _group_members(p: Parser, node: Node, s: Fields) -> None:
    s.setdefault("group", []).extend(t.text for t in p.value_words(node))


def _sg_notify_deleted(p: Parser, node: Node, s: Fields) -> None:
    s["notify_deleted_enabled"] = True
    if node.args:
        s["notify_deleted"] = p.script(node)


SYNC_GROUP: dict[str, Handler] = {
    "group": _group_members,
    "track_interface": _track("track_interfaces", -253, 253, False),
    "track_script": _track("track_scripts", -253, 253, True),
    "track_file": _track("track_files", -254, 254, True),
    "track_process": _track("track_processes", -254, 254, True),
    "track_bfd": _track("track_bfds", -253, 253, True),
    "notify_master": _set_notify("notify_master"),
    "notify_backup": _set_notify("notify_backup"),
    "notify_fault": _set_notify("notify_fault"),
    "notify_stop": _set_notify("notify_stop"),
    "notify_deleted": _sg_notify_deleted,
    "notify": _set_notify("notify"),
    "smtp_alert": _set_flag("smtp_alert"),
    "global_tracking": _deprecated("track_interface/script/file on the sync group",
                                   _set_flag("global_tracking")),
    "sync_group_tracking_weight": _set_flag("sync_group_tracking_weight"),
    "notify_priority_changes": _set_flag("notify_priority_changes"),
}


def _tg_group(p: Parser, node: Node, s: Fields) -> None:
    s["group"] = tuple(s.get("group", ())) + tuple(t.text for t in p.value_words(node))


TRACK_GROUP: dict[str, Handler] = {"group": _tg_group}


def _gg_interface(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        s.setdefault("interfaces", []).append(node.args[0].text)


def _gg_interfaces(p: Parser, node: Node, s: Fields) -> None:
    s.setdefault("interfaces", []).extend(t.text for t in p.value_words(node))


GARP_GROUP: dict[str, Handler] = {
    "garp_interval": _set_timer("garp_interval", 0, 4294.967295),
    "gna_interval": _set_timer("gna_interval", 0, 4294.967295),
    "interface": _gg_interface,
    "interfaces": _gg_interfaces,
}




# ---- vrrp_instance --------------------------------------------------------------------------

def _i_state(p: Parser, node: Node, s: Fields) -> None:
    if not p.r.need(node.kw, node.args):
        return
    v = node.args[0].text
    if v == "MASTER":
        s["state"] = "MASTER"
    elif v == "BACKUP":
        if s.get("state") == "MASTER":
            p.diags.error(node.args[0].loc, "state previously set as MASTER - ignoring BACKUP", "conflict")
        else:
            s["state"] = "BACKUP"
    else:
        p.diags.error(node.args[0].loc, f"unknown state '{v}' (MASTER or BACKUP, upper case), "
                      "defaulting to BACKUP", "bad-value")
        s["state"] = "BACKUP"


def _i_priority(p: Parser, node: Node, s: Fields) -> None:
    s["_priority_set"] = True
    if p.r.need(node.kw, node.args):
        v = p.r.int(node.args[0], 1, 255, "priority")
        if v is not None:
            s["priority"] = v


def _i_advert(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = p.r.timer(node.args[0], 0.01, 255, "advert_int")
        if v is not None:
            if v <= 0:
                p.diags.error(node.args[0].loc, f"advert_int {node.args[0].text} not valid - must be > 0",
                              "out-of-range")
            else:
                s["advert_int"] = v
                s["_advert_tok"] = node.args[0]


def _i_version(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = p.r.int(node.args[0], 2, 3, "version")
        if v is not None:
            if s.get("version") not in (None, v):
                p.diags.error(node.args[0].loc, f"version {v} conflicts with the version {s['version']} given "
                              "before - ignoring", "conflict")
                return
            s["version"] = v


def _i_auth(p: Parser, node: Node, s: Fields) -> None:
    a: Fields = {"loc": node.kw.loc}
    p.dispatch("authentication", AUTH, p.block(node), a)
    if "auth_type" not in a:
        p.diags.error(node.kw.loc, "authentication block without auth_type", "missing-parameter")
        return
    s["authentication"] = p.build(m.Authentication, a)


def _a_type(p: Parser, node: Node, a: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = node.args[0].text
        if v in ("PASS", "AH"):
            a["auth_type"] = v
        else:
            p.diags.error(node.args[0].loc, f"unknown authentication type '{v}' (PASS or AH)", "bad-value")


def _a_pass(p: Parser, node: Node, a: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = node.args[0].text
        if len(v) > 8:
            p.diags.warning(node.args[0].loc, f"auth_pass longer than 8 characters - truncated to '{v[:8]}' "
                            "(keepalived does the same)", "truncated", fails_test=True)
            v = v[:8]
        a["auth_pass"] = v


AUTH: dict[str, Handler] = {"auth_type": _a_type, "auth_pass": _a_pass}


def _i_vips(field: str) -> Handler:
    def h(p: Parser, node: Node, s: Fields) -> None:
        addrs = p.addresses(node)
        s.setdefault(field, []).extend(addrs)
        if field == "virtual_ipaddress" and addrs and "_family" not in s:
            s["_family"] = addrs[0].family        # the first address keyword fixes the family
    return h


def _i_src_ip(field: str) -> Handler:
    """unicast_src_ip / mcast_src_ip: like keepalived, the first address given (source or VIP)
    fixes the instance's family, and a source of the other family is skipped."""
    def h(p: Parser, node: Node, s: Fields) -> None:
        if not p.one_value(node):
            return
        ip = p.r.ip(node.args[0], node.kw.text)
        if ip is None:
            return
        fam = s.get("_family")
        if fam is not None and fam != ip[1]:
            p.diags.error(node.args[0].loc, f"{node.kw.text} {ip[0]} is not IPv{fam} like the instance - skipping",
                          "family-mismatch")
            return
        s[field] = ip[0]
        s.setdefault("_family", ip[1])
    return h


def _i_routes(p: Parser, node: Node, s: Fields) -> None:
    s.setdefault("virtual_routes", []).extend(p.routes(node))


def _i_rules(p: Parser, node: Node, s: Fields) -> None:
    s.setdefault("virtual_rules", []).extend(p.rules(node))


def _i_peers(p: Parser, node: Node, s: Fields) -> None:
    s.setdefault("unicast_peers", []).extend(p.unicast_peers(node))


def _i_accept(value: bool) -> Handler:
    def h(p: Parser, node: Node, s: Fields) -> None:
        s["accept"] = value
    return h


def _i_preempt(p: Parser, node: Node, s: Fields) -> None:
    s["nopreempt"] = False


def _i_notify_deleted(p: Parser, node: Node, s: Fields) -> None:
    s["notify_deleted_enabled"] = True
    if node.args:
        s["notify_deleted"] = p.script(node)


def _i_extra_if(p: Parser, node: Node, s: Fields) -> None:
    _g_extra_if(p, node, s, prefix="")


def _i_timer_expired(p: Parser, node: Node, s: Fields) -> None:
    s["timer_expired_backup"] = True
    if node.args:
        p.extra(node, s)


def _i_vmac_xmit(p: Parser, node: Node, s: Fields) -> None:
    # a flag as in keepalived: applied to use_vmac when the instance ends (either order)
    p.no_block(node)
    s["_vmac_xmit_base"] = node.kw.loc


def _i_use_ipvlan(p: Parser, node: Node, s: Fields) -> None:
    """keepalived's vrrp_ipvlan_handler: name, ADDRESS[/PREFIX], bridge|private|vepa, group."""
    p.no_block(node)
    if s.get("use_ipvlan") is not None:
        p.diags.warning(node.kw.loc, f"({s['name']}) use_ipvlan already specified", "duplicate", fails_test=True)
        return
    v: Fields = {}
    for key, tok in _link_words(node.args):
        w = tok.text
        if key is not None:
            v[key] = w
        elif w in m.IPVLAN_MODES:
            if "mode" in v:
                p.diags.warning(tok.loc, f"({s['name']}) ipvlan type already specified - ignoring '{w}'",
                                "duplicate", fails_test=True)
            else:
                v["mode"] = w
        elif _looks_like_ip(w):
            ip = p.r.prefix(tok, "ipvlan address")
            if ip is not None:
                if "address" in v:
                    p.diags.warning(tok.loc, f"({s['name']}) ipvlan address already specified - "
                                    f"ignoring '{w}'", "duplicate", fails_test=True)
                elif s.get("_family") is not None and ip[2] != s["_family"]:
                    p.diags.error(tok.loc, f"({s['name']}) ipvlan address [{w}] MUST match vrrp "
                                  "instance family", "family-mismatch")
                else:
                    v["address"], v["prefixlen"] = ip[0], ip[1]
                    s.setdefault("_family", ip[2])
        elif "name" not in v:
            if len(w) > 15:
                p.diags.error(tok.loc, f"({s['name']}) IPVLAN interface name '{w}' too long", "bad-value")
            else:
                v["name"] = w
        else:
            p.diags.warning(tok.loc, f"({s['name']}) IPVLAN interface already specified - ignoring '{w}'",
                            "duplicate", fails_test=True)
    s["use_ipvlan"] = m.Ipvlan(**v)


def _i_use_vmac(p: Parser, node: Node, s: Fields) -> None:
    """keepalived's vrrp_vmac_handler: [name] IFNAME, a MAC, group, netlink_notify_msg."""
    v: Fields = {}
    for key, tok in _link_words(node.args):
        w = tok.text
        if key is not None:
            v[key] = w
        elif w == "netlink_notify_msg":
            v["netlink_notify_msg"] = True
        elif ":" in w and len(w) == 17:
            v["mac"] = w.lower()
        elif "name" not in v:
            v["name"] = w
        else:
            p.diags.error(tok.loc, f"unexpected use_vmac option '{w}'", "bad-option")
    s["use_vmac"] = m.Vmac(**v)


def _link_words(args: list[Token]) -> Iterator[tuple[str | None, Token]]:
    """The words of use_vmac / use_ipvlan: `name X` and `group X` come as ("name" / "group", X),
    every other word (a last `name` or `group` with nothing after it too) as (None, word)."""
    i = 0
    while i < len(args):
        w = args[i].text
        if w in ("name", "group") and i + 1 < len(args):
            yield w, args[i + 1]
            i += 2
        else:
            yield None, args[i]
            i += 1


def _looks_like_ip(word: str) -> bool:
    addr = word.split("/", 1)[0]
    return ":" in addr or (addr.count(".") == 3 and addr.replace(".", "").isdigit())


def _i_debug(p: Parser, node: Node, s: Fields) -> None:
    # keepalived stores it, prints it in its data dump ("Debug level") and acts on nothing:
    # no warning for a valid value, its own words for an invalid one
    if not p.r.need(node.kw, node.args):
        return
    text = node.args[0].text
    if text.isdigit() and 0 <= int(text) <= 4:
        s["debug"] = int(text)
    else:
        p.diags.error(node.args[0].loc, f"({s.get('name', '')}) Debug value '{text}' not valid; must be between 0-4",
                      "invalid-number")


def _i_old_csum(p: Parser, node: Node, s: Fields) -> None:
    # bare = always the old form; "never" = never the old form (not even auto-detected); any
    # other mode is reported and ignored, as keepalived does
    if not node.args:
        s["old_unicast_checksum"] = True
    elif node.args[0].text == "never":
        s["old_unicast_checksum"] = "never"
    else:
        p.diags.warning(node.args[0].loc, f"Unknown old_unicast_checksum mode {node.args[0].text} - ignoring",
                        fails_test=True)


def _i_mcast_dst(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        ip = p.r.ip(node.args[0], "mcast_dst_ip")
        if ip is None:
            return
        import ipaddress
        if not ipaddress.ip_address(ip[0]).is_multicast:
            p.diags.error(node.args[0].loc, f"mcast_dst_ip {ip[0]} is not a multicast address", "bad-ip")
            return
        s["mcast_dst_ip"] = ip[0]


def _i_auth_hmac(p: Parser, node: Node, s: Fields) -> None:
    # like keepalived, a second auth_hmac block adds to the first rather than replacing it
    prev = s.get("auth_hmac")
    a: Fields = {"loc": node.kw.loc, "_name": s.get("name", ""), "keys": list(prev.keys) if prev else []}
    if prev is not None:
        a.update(active_key=prev.active_key, anti_replay=prev.anti_replay, time_window=prev.time_window,
                 mode=prev.mode, loc=prev.loc)
    p.dispatch("auth_hmac", AUTH_HMAC, p.block(node), a)
    a["keys"] = tuple(a["keys"])
    s["auth_hmac"] = p.build(m.AuthHmac, a)


def _hmac_key_value(p: Parser, tok: Token, name: str) -> bytes | None:
    """An inline value (hex:.. or ASCII) or file:PATH holding one, as keepalived reads them."""
    text = tok.text
    if text.startswith("file:"):
        path = text[5:]
        try:
            with open(path, "rb") as fh:
                mode = os.fstat(fh.fileno()).st_mode
                raw = fh.read(4 + auth_hmac.KEY_MAX * 2 + 8)
                too_large = fh.read(1) != b""
        except OSError:
            p.diags.error(tok.loc, f"({name}) auth_hmac key file '{path}' cannot be opened", "bad-file")
            return None
        if mode & 0o077:
            p.diags.warning(tok.loc, f"({name}) auth_hmac key file '{path}' is readable by group or others",
                            "security", fails_test=True)
        if too_large:
            p.diags.error(tok.loc, f"({name}) auth_hmac key file '{path}' is too large", "bad-file")
            return None
        text = raw.rstrip(b"\r\n").decode(errors="replace")
    try:
        return auth_hmac.decode_key(text)
    except ValueError:          # bad hex digits: reported as a wrong length like keepalived
        return b""


def _h_key(p: Parser, node: Node, a: Fields) -> None:
    name = a["_name"]
    if len(node.args) < 2:
        p.diags.error(node.kw.loc, f"({name}) auth_hmac key needs an id and a value", "missing-parameter")
        return
    kid = _hmac_id(node.args[0])
    if kid is None:
        p.diags.error(node.args[0].loc, f"({name}) auth_hmac key id '{node.args[0].text}' must be between 1 "
                      "and 255", "out-of-range")
        return
    data = _hmac_key_value(p, node.args[1], name)
    if data is None or not auth_hmac.KEY_MIN <= len(data) <= auth_hmac.KEY_MAX:
        p.diags.error(node.args[1].loc, f"({name}) auth_hmac key {kid} length {len(data or b'')} not in range "
                      f"[{auth_hmac.KEY_MIN}, {auth_hmac.KEY_MAX}]", "out-of-range")
    elif any(k == kid for k, _ in a["keys"]):
        p.diags.error(node.args[0].loc, f"({name}) duplicate auth_hmac key id {kid}", "duplicate")
    else:
        a["keys"].append((kid, data))


def _hmac_id(tok: Token) -> int | None:
    return int(tok.text) if tok.text.isdigit() and 1 <= int(tok.text) <= 255 else None


def _h_active(p: Parser, node: Node, a: Fields) -> None:
    if p.r.need(node.kw, node.args):
        kid = _hmac_id(node.args[0])
        if kid is None:
            p.diags.error(node.args[0].loc, f"({a['_name']}) auth_hmac active_key '{node.args[0].text}' must be "
                          "between 1 and 255", "out-of-range")
        else:
            a["active_key"] = kid


def _h_window(p: Parser, node: Node, a: Fields) -> None:
    if p.r.need(node.kw, node.args):
        t = node.args[0].text
        if t.isdigit() and auth_hmac.WINDOW_MIN <= int(t) <= auth_hmac.WINDOW_MAX:
            a["time_window"] = int(t)
        else:
            p.diags.error(node.args[0].loc, f"({a['_name']}) auth_hmac time_window '{t}' must be between "
                          f"{auth_hmac.WINDOW_MIN} and {auth_hmac.WINDOW_MAX} seconds", "out-of-range")


def _h_replay(p: Parser, node: Node, a: Fields) -> None:
    if p.r.need(node.kw, node.args):
        t = node.args[0].text
        if t in ("time", "monotonic"):
            a["anti_replay"] = t
        else:
            p.diags.error(node.args[0].loc, f"({a['_name']}) auth_hmac anti_replay '{t}' must be time or "
                          "monotonic", "bad-value")


def _h_mode(p: Parser, node: Node, a: Fields) -> None:
    if p.r.need(node.kw, node.args):
        t = node.args[0].text
        if t in ("enforce", "permissive", "receive-only"):
            a["mode"] = t
        else:
            p.diags.error(node.args[0].loc, f"({a['_name']}) auth_hmac mode '{t}' must be enforce, permissive "
                          "or receive-only", "bad-value")


AUTH_HMAC: dict[str, Handler] = {"key": _h_key, "active_key": _h_active, "time_window": _h_window,
                                 "anti_replay": _h_replay, "mode": _h_mode}


INSTANCE: dict[str, Handler] = {
    "kvrrp_announce": _set_flag("kvrrp_announce"),     # kvrrp only (kvrrp.bgp); keepalived rejects it
    "state": _i_state,
    "interface": _set_str("interface"),
    "vrf": _set_str("vrf"),
    "virtual_router_id": _set_int("vrid", 1, 255),
    "priority": _i_priority,
    "advert_int": _i_advert,
    "version": _i_version,
    "authentication": _i_auth,
    "auth_hmac": _i_auth_hmac,
    "virtual_ipaddress": _i_vips("virtual_ipaddress"),
    "virtual_ipaddress_excluded": _i_vips("virtual_ipaddress_excluded"),
    "no_virtual_ipaddress": _set_flag("no_virtual_ipaddress"),
    "promote_secondaries": _set_flag("promote_secondaries"),
    "virtual_routes": _i_routes,
    "virtual_rules": _i_rules,
    "unicast_src_ip": _i_src_ip("unicast_src_ip"),
    "unicast_peer": _i_peers,
    "unicast_ttl": _set_int("unicast_ttl", 0, 255),
    "unicast_fault_no_peer": _set_flag("unicast_fault_no_peer"),
    "check_unicast_src": _set_flag("check_unicast_src"),
    "old_unicast_checksum": _i_old_csum,
    "mcast_src_ip": _i_src_ip("mcast_src_ip"),
    "mcast_dst_ip": _i_mcast_dst,
    "track_src_ip": _set_flag("track_src_ip"),
    "track_interface": _track("track_interfaces", -253, 253, False),
    "track_script": _track("track_scripts", -253, 253, True),
    "track_file": _track("track_files", -254, 254, True),
    "track_process": _track("track_processes", -254, 254, True),
    "track_bfd": _track("track_bfds", -253, 253, True),
    "dont_track_primary": _set_flag("dont_track_primary"),
    "notify_master": _set_notify("notify_master"),
    "notify_backup": _set_notify("notify_backup"),
    "notify_fault": _set_notify("notify_fault"),
    "notify_stop": _set_notify("notify_stop"),
    "notify_deleted": _i_notify_deleted,
    "notify": _set_notify("notify"),
    "notify_master_rx_lower_pri": _set_notify("notify_master_rx_lower_pri"),
    "notify_priority_changes": _set_flag("notify_priority_changes"),
    "smtp_alert": _set_flag("smtp_alert"),
    "garp_master_delay": _set_seconds("garp_master_delay", 4294),
    "garp_master_repeat": _set_repeat("garp_master_repeat"),
    "garp_lower_prio_delay": _set_seconds("garp_lower_prio_delay", 4294),
    "garp_lower_prio_repeat": _set_int("garp_lower_prio_repeat", 0, 2147483647),
    "garp_master_refresh": _set_seconds("garp_master_refresh", 4294967295),
    "garp_master_refresh_repeat": _set_repeat("garp_master_refresh_repeat"),
    "garp_extra_if": _i_extra_if,
    "vmac_garp_intvl": _deprecated("garp_extra_if", _i_extra_if),
    "down_timer_adverts": _set_int("down_timer_adverts", 1, 100),
    "timer_expired_backup": _i_timer_expired,
    "thread_timer_expired": _i_timer_expired,
    "lower_prio_no_advert": _set_flag("lower_prio_no_advert"),
    "higher_prio_send_advert": _set_flag("higher_prio_send_advert"),
    "owner_ignore_adverts": _set_flag("owner_ignore_adverts"),
    "use_vmac": _i_use_vmac,
    "use_vmac_addr": _set_flag("use_vmac_addr"),
    "vmac_xmit_base": _i_vmac_xmit,
    "use_ipvlan": _i_use_ipvlan,
    "native_ipv6": _set_flag("native_ipv6"),
    "skip_check_adv_addr": _set_flag("skip_check_adv_addr"),
    "strict_mode": _set_flag("strict_mode"),
    "accept": _i_accept(True),
    "no_accept": _i_accept(False),
    "preempt": _i_preempt,
    "nopreempt": _set_ignoring_args("nopreempt", True),
    "preempt_delay": _set_timer("preempt_delay", 0, 1000),
    "debug": _i_debug,
    "v3_checksum_as_v2": _set_flag("v3_checksum_as_v2"),
    "kernel_rx_buf_size": _set_int("kernel_rx_buf_size", 0, 2**31 - 1),
    "linkbeat_use_polling": _deprecated("a top-level linkbeat_interfaces block", _set_flag("linkbeat_use_polling")),
    "lvs_sync_daemon_interface": _deprecated("lvs_sync_daemon in global_defs",
                                             _set_str("lvs_sync_daemon_interface")),
}
