"""Print a Config: normalised JSON for tools, or keepalived.conf text.

The keepalived form is written so that parsing it again gives an equal Config (locations
aside): every resolved value (effective version, priority, checker timings inherited from
the real/virtual server) is written explicitly.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from kvrrp.config import model as m

# ==== JSON ==================================================================================


def to_data(obj: Any) -> Any:
    """Model -> plain JSON-able data (locations dropped, checkers tagged with their kind)."""
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            if f.name == "loc":
                continue
            out[f.name] = to_data(getattr(obj, f.name))
        return out
    if isinstance(obj, tuple):
        return [to_data(x) for x in obj]
    if isinstance(obj, bytes):          # auth_hmac key material, as the hex the config takes
        return "hex:" + obj.hex()
    return obj


def to_json(cfg: m.Config, indent: int | None = 2) -> str:
    return json.dumps(to_data(cfg), indent=indent, sort_keys=False, ensure_ascii=False)


# ==== keepalived text ========================================================================

_NEEDS_QUOTES = set(' \t"#!{}\'\\')


def _q(s: str) -> str:
    if s and not (set(s) & _NEEDS_QUOTES):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _num(v: float | int) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = f"{v:.6f}".rstrip("0").rstrip(".")
    return s or "0"


def _script(kw: str, s: m.ScriptCall) -> str:
    parts = [kw, _q(s.command)]
    if s.user:
        parts.append(s.user)
        if s.group:
            parts.append(s.group)
    return " ".join(parts)


class _W:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def open(self, text: str) -> None:
        self.line(text + " {")
        self.depth += 1

    def close(self) -> None:
        self.depth -= 1
        self.line("}")

    def extra(self, extra: m.ExtraKeywords) -> None:
        i = 0
        while i < len(extra):
            kw, args = extra[i]
            block = []
            j = i + 1
            while j < len(extra) and extra[j][0] == kw + ".":
                block.append(extra[j][1])
                j += 1
            head = " ".join([kw, *(_q(a) for a in args)])
            if block:
                self.open(head)
                for b in block:
                    self.line(" ".join(_q(a) for a in b))
                self.close()
            else:
                self.line(head)
            i = j


def _simple(w: _W, obj: Any, names: dict[str, str], skip: set[str]) -> None:
    """Emit scalar fields that differ from their default: `keyword value`."""
    for f in dataclasses.fields(obj):
        if f.name in skip or f.name in ("loc", "extra", "kind"):
            continue
        v = getattr(obj, f.name)
        default = f.default
        if v == default and type(v) is type(default):
            continue
        kw = names.get(f.name, f.name)
        if isinstance(v, m.ScriptCall):
            w.line(_script(kw, v))
        elif isinstance(v, bool):
            if v:
                w.line(kw)
            elif default is not False:
                w.line(f"{kw} false")
        elif isinstance(v, (int, float)):
            w.line(f"{kw} {_num(v)}")
        elif isinstance(v, str):
            w.line(f"{kw} {_q(v)}")
        elif v is None:
            continue
        else:
            raise TypeError(f"no keepalived form for {type(obj).__name__}.{f.name}={v!r}")


def _global(w: _W, g: m.GlobalDefs) -> None:
    w.open("global_defs")
    if g.notification_email:
        w.open("notification_email")
        for e in g.notification_email:
            w.line(_q(e))
        w.close()
    if g.smtp_server is not None:
        w.line(f"smtp_server {_q(g.smtp_server)} {g.smtp_server_port}")
    if g.script_user is not None:
        w.line(f"script_user {_q(g.script_user)}" + (f" {_q(g.script_group)}" if g.script_group else ""))
    for name in ("notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo"):
        fifo = getattr(g, name)
        if fifo is not None:
            if fifo.path:
                w.line(" ".join([name, _q(fifo.path), *([fifo.user] if fifo.user else []),
                                 *([fifo.group] if fifo.group else [])]))
            if fifo.script is not None:
                w.line(_script(name + "_script", fifo.script))
    if g.lvs_flush_on_stop:
        w.line("lvs_flush_on_stop" + (" VS" if g.lvs_flush_on_stop_vs_only else ""))
    if g.vrrp_garp_extra_if is not None:
        w.line("vrrp_garp_extra_if " + ("all " if g.vrrp_garp_extra_if_all else "") + _num(g.vrrp_garp_extra_if))
    if g.dynamic_interfaces:
        w.line("dynamic_interfaces" + (" allow_if_changes" if g.dynamic_interfaces_allow_if_changes else ""))
    if g.reload_check_config is not None:
        w.line("reload_check_config" + (f" {_q(g.reload_check_config)}" if g.reload_check_config else ""))
    # lvs_sync_daemon / lvs_timeouts are written back verbatim from extra
    _simple(w, g, {}, {"notification_email", "smtp_server", "smtp_server_port", "script_user", "script_group",
                       "notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo", "lvs_flush_on_stop",
                       "lvs_flush_on_stop_vs_only", "vrrp_garp_extra_if", "vrrp_garp_extra_if_all",
                       "dynamic_interfaces", "dynamic_interfaces_allow_if_changes", "reload_check_config",
                       "lvs_sync_daemon", "lvs_timeouts", "process"})
    _process(w, g.process)
    w.extra(g.extra)
    w.close()


def _process(w: _W, p: m.ProcessDefs) -> None:
    """process names, per-process scheduling, umask, script start-up (kvrrp.config.kw_process)."""
    for name in ("process_name", "vrrp_process_name", "checker_process_name", "bfd_process_name"):
        if getattr(p, name) is not None:
            w.line(f"{name} {_q(getattr(p, name))}")
    for which in ("vrrp", "checker", "bfd"):
        t: m.ProcessTuning = getattr(p, which)
        if t.nice is not None:
            w.line(f"{which}_priority {t.nice}")
        if t.no_swap:
            w.line(f"{which}_no_swap")
        if t.rt_priority is not None:
            w.line(f"{which}_rt_priority {t.rt_priority}")
        if t.cpu_affinity:
            w.line(f"{which}_cpu_affinity " + " ".join(str(c) for c in t.cpu_affinity))
        if t.rlimit_rttime != m.ProcessTuning().rlimit_rttime:
            w.line(f"{which}_rlimit_rttime {t.rlimit_rttime}")
    default = m.ProcessDefs()
    if p.max_auto_priority != default.max_auto_priority:
        w.line(f"max_auto_priority {p.max_auto_priority}")
    if p.min_auto_priority_delay != default.min_auto_priority_delay:
        w.line(f"min_auto_priority_delay {p.min_auto_priority_delay}")
    if p.umask is not None:
        w.line(f"umask 0{p.umask:o}")
    if p.use_symlink_paths:
        w.line("use_symlink_paths")
    if p.set_supplementary_groups:
        w.line("set_supplementary_groups")


def _weight_line(w: _W, obj: Any, default: int) -> None:
    if obj.weight != default or obj.weight_reverse:
        w.line(f"weight {obj.weight}" + (" reverse" if obj.weight_reverse else ""))


def _script_block(w: _W, s: m.VrrpScript) -> None:
    w.open(f"vrrp_script {_q(s.name)}")
    if s.script is not None:
        w.line(f"script {_q(s.script.command)}")
    if s.user is not None:
        w.line(f"user {_q(s.user)}" + (f" {_q(s.group)}" if s.group else ""))
    _weight_line(w, s, 0)
    _simple(w, s, {}, {"name", "script", "user", "group", "weight", "weight_reverse"})
    w.close()


def _track_file(w: _W, t: m.TrackFile) -> None:
    w.open(f"track_file {_q(t.name)}")
    if t.file is not None:
        w.line(f"file {_q(t.file)}")
    _weight_line(w, t, 1)
    if t.init_file:
        w.line("init_file " + str(t.init_value) + (" overwrite" if t.init_overwrite else ""))
    w.close()


def _track_process(w: _W, t: m.TrackProcess) -> None:
    w.open(f"vrrp_track_process {_q(t.name)}")
    if t.process is not None:
        w.line(" ".join(["process", _q(t.process), *(_q(p) for p in t.params)]))
    _weight_line(w, t, 0)
    _simple(w, t, {}, {"name", "process", "params", "weight", "weight_reverse"})
    w.close()


def _bfd(w: _W, b: m.BfdInstance) -> None:
    w.open(f"bfd_instance {_q(b.name)}")
    _weight_line(w, b, 0)
    if not (b.vrrp and b.checker):
        if b.vrrp:
            w.line("vrrp")
        if b.checker:
            w.line("checker")
    _simple(w, b, {}, {"name", "weight", "weight_reverse", "vrrp", "checker"})
    w.close()


def _refs(w: _W, kw: str, refs: tuple[m.TrackRef, ...]) -> None:
    if not refs:
        return
    w.open(kw)
    for r in refs:
        w.line(_q(r.name) + (f" weight {r.weight}" if r.weight is not None else "")
               + (" reverse" if r.reverse else ""))
    w.close()


_TRACK_KW = (("track_interfaces", "track_interface"), ("track_scripts", "track_script"),
             ("track_files", "track_file"), ("track_processes", "track_process"), ("track_bfds", "track_bfd"))


def _sync_group(w: _W, s: m.SyncGroup) -> None:
    w.open(f"vrrp_sync_group {_q(s.name)}")
    if s.group:
        w.open("group")
        for g in s.group:
            w.line(_q(g))
        w.close()
    for field, kw in _TRACK_KW:
        _refs(w, kw, getattr(s, field))
    if s.notify_deleted_enabled:
        w.line(_script("notify_deleted", s.notify_deleted) if s.notify_deleted else "notify_deleted")
    _simple(w, s, {}, {"name", "group", "notify_deleted", "notify_deleted_enabled", *(f for f, _ in _TRACK_KW)})
    w.close()


def _address(a: m.VirtualAddress) -> str:
    plen_default = 32 if a.family == 4 else 128
    parts = [a.address + (f"/{a.prefixlen}" if a.prefixlen != plen_default else "")]
    if a.brd is not None:
        parts += ["brd", a.brd]
    if a.dev is not None:
        parts += ["dev", _q(a.dev)]
    if a.scope is not None:
        parts += ["scope", a.scope]
    if a.label is not None:
        parts += ["label", _q(a.label)]
    if a.peer is not None:
        parts += ["peer", a.peer + (f"/{a.peer_prefixlen}" if a.peer_prefixlen is not None else "")]
    for flag in ("use_vmac", "home", "mngtmpaddr", "noprefixroute", "autojoin", "no_track"):
        if getattr(a, flag):
            parts.append(flag)
    if a.nodad:
        parts.append("-nodad")
    if a.preferred_lft is not None:
        parts += ["preferred_lft", "forever" if a.preferred_lft == 0xFFFFFFFF else str(a.preferred_lft)]
    if a.track_group is not None:
        parts += ["track_group", _q(a.track_group)]
    return " ".join(parts)


def _route(r: m.VirtualRoute) -> str:
    parts: list[str] = []
    if r.type != "unicast":
        parts.append(r.type)
    if r.src is not None:
        parts += ["src", r.src]
    if r.from_ is not None:
        parts += ["from", r.from_]
    parts.append(r.to)
    for key in ("via", "dev", "scope", "table", "protocol", "metric", "tos"):
        v = getattr(r, key)
        if v is not None:
            parts += [key, _q(str(v))]
    for nh in r.nexthops:
        parts.append("nexthop")
        if nh.via is not None:
            parts += ["via", nh.via]
        if nh.dev is not None:
            parts += ["dev", nh.dev]
        if nh.weight is not None:
            parts += ["weight", str(nh.weight)]
        if nh.realms is not None:
            parts += ["realms", nh.realms]
        if nh.onlink:
            parts.append("onlink")
    encap = None
    for k, v in r.options:
        if k == "action":
            parts.append(v)
        elif k == "encap":
            encap = v
        else:
            parts += [k, v]
    if r.onlink:
        parts.append("onlink")
    if r.no_track:
        parts.append("no_track")
    if r.family == 6 and r.to in ("default", "all", "any") and r.via is None:
        parts.append("inet6")
    if r.track_group is not None:
        parts += ["track_group", r.track_group]
    if encap is not None:
        parts += ["encap", encap]
    return " ".join(parts)


def _rule(r: m.VirtualRule) -> str:
    parts: list[str] = []
    if r.from_ is not None:
        parts += ["from", r.from_]
    if r.to is not None:
        parts += ["to", r.to]
    if r.table is not None:
        parts += ["table", r.table]
    if r.goto is not None:
        parts += ["goto", str(r.goto)]
    elif r.action not in ("table", "goto"):
        parts.append(r.action)
    for key in ("preference", "iif", "oif", "tos"):
        v = getattr(r, key)
        if v is not None:
            parts += [key, str(v)]
    if r.fwmark is not None:
        parts += ["fwmark", str(r.fwmark) + (f"/{r.fwmask}" if r.fwmask is not None else "")]
    for k, v in r.options:
        parts += [k] + ([v] if v else [])
    if r.no_track:
        parts.append("no_track")
    if r.family == 6 and r.from_ in (None, "all", "default", "any") and r.to in (None, "all", "default", "any"):
        parts.append("inet6")
    if r.track_group is not None:
        parts += ["track_group", r.track_group]
    return " ".join(parts)


_INSTANCE_NAMES = {"vrid": "virtual_router_id"}
_INSTANCE_SKIP = {
    "name", "state", "interface", "vrid", "priority", "advert_int", "version", "family", "authentication", "auth_hmac",
    "virtual_ipaddress", "virtual_ipaddress_excluded", "virtual_routes", "virtual_rules", "unicast_peers",
    "use_vmac", "accept", "nopreempt", "notify_deleted", "notify_deleted_enabled", "garp_extra_if",
    "garp_extra_if_all", "timer_expired_backup", "old_unicast_checksum", "use_ipvlan",
    *(f for f, _ in _TRACK_KW)}


def _instance(w: _W, i: m.VrrpInstance) -> None:
    w.open(f"vrrp_instance {_q(i.name)}")
    w.line(f"state {i.state}")
    if i.interface is not None:
        w.line(f"interface {_q(i.interface)}")
    if i.vrid is not None:
        w.line(f"virtual_router_id {i.vrid}")
    w.line(f"priority {i.priority}")
    w.line(f"advert_int {_num(i.advert_int)}")
    if i.version is not None:
        w.line(f"version {i.version}")
    if i.nopreempt:
        w.line("nopreempt")
    if i.accept is not None:
        w.line("accept" if i.accept else "no_accept")
    if i.authentication is not None:
        w.open("authentication")
        w.line(f"auth_type {i.authentication.auth_type}")
        if i.authentication.auth_pass:
            w.line(f"auth_pass {_q(i.authentication.auth_pass)}")
        w.close()
    if i.auth_hmac is not None:
        h = i.auth_hmac
        w.open("auth_hmac")
        for kid, key in h.keys:          # as hex: a re-read gives the same bytes, whatever they are
            w.line(f"key {kid} hex:{key.hex()}")
        if h.active_key is not None:
            w.line(f"active_key {h.active_key}")
        w.line(f"anti_replay {h.anti_replay}")
        if h.time_window is not None:
            w.line(f"time_window {h.time_window}")
        w.line(f"mode {h.mode}")
        w.close()
    for field in ("virtual_ipaddress", "virtual_ipaddress_excluded"):
        addrs = getattr(i, field)
        if addrs:
            w.open(field)
            for a in addrs:
                w.line(_address(a))
            w.close()
    if i.virtual_routes:
        w.open("virtual_routes")
        for r in i.virtual_routes:
            w.line(_route(r))
        w.close()
    if i.virtual_rules:
        w.open("virtual_rules")
        for r in i.virtual_rules:
            w.line(_rule(r))
        w.close()
    if i.unicast_peers:
        w.open("unicast_peer")
        for p in i.unicast_peers:
            w.line(p.address + (f" min_ttl {p.min_ttl}" if p.min_ttl is not None else "")
                   + (f" max_ttl {p.max_ttl}" if p.max_ttl is not None else ""))
        w.close()
    for field, kw in _TRACK_KW:
        _refs(w, kw, getattr(i, field))
    if i.use_vmac is not None:
        v = i.use_vmac
        if v.name or v.mac or v.netlink_notify_msg or v.group or not v.xmit_base:
            w.line(" ".join(["use_vmac", *([_q(v.name)] if v.name else []), *([v.mac] if v.mac else []),
                             *(["netlink_notify_msg"] if v.netlink_notify_msg else []),
                             *(["group", _q(v.group)] if v.group else [])]))
        if v.xmit_base:
            w.line("vmac_xmit_base")
    if i.use_ipvlan is not None:
        v = i.use_ipvlan
        w.line(" ".join(["use_ipvlan", *(["name", _q(v.name)] if v.name else []),
                         *([f"{v.address}/{v.prefixlen}"] if v.address else []), v.mode,
                         *(["group", _q(v.group)] if v.group else [])]))
    if i.notify_deleted_enabled:
        w.line(_script("notify_deleted", i.notify_deleted) if i.notify_deleted else "notify_deleted")
    if i.garp_extra_if is not None:
        w.line("garp_extra_if " + ("all " if i.garp_extra_if_all else "") + _num(i.garp_extra_if))
    if i.timer_expired_backup:
        w.line("timer_expired_backup")
    if i.old_unicast_checksum == "never":
        w.line("old_unicast_checksum never")
    elif i.old_unicast_checksum:
        w.line("old_unicast_checksum")
    _simple(w, i, _INSTANCE_NAMES, _INSTANCE_SKIP)
    w.extra(i.extra)
    w.close()


def _lvs_method(kw: str, lm: m.LvsMethod) -> str:
    parts = [kw, lm.method]
    if lm.tunnel_type is not None:
        parts += ["type", lm.tunnel_type]
    if lm.tunnel_port is not None:
        parts += ["port", str(lm.tunnel_port)]
    if lm.tunnel_csum is not None:
        parts.append(lm.tunnel_csum)
    return " ".join(parts)


_VS_NAMES = {"flag_1": "flag-1", "flag_2": "flag-2", "flag_3": "flag-3", "sh_port": "sh-port",
             "sh_fallback": "sh-fallback", "mh_port": "mh-port", "mh_fallback": "mh-fallback"}
_CHECKER_SKIP = {"urls", "misc_path", "user", "group", "weight", "weight_reverse", "require_reply",
                 "reply_pattern", "alpha"}


def _checker(w: _W, c: m.Checker) -> None:
    w.open(c.kind)
    # timing options are always written: they are the resolved (inherited) values
    for k in ("connect_timeout", "retry", "delay_before_retry", "delay_loop"):
        if c.kind in ("FILE_CHECK", "BFD_CHECK"):
            break
        if k == "connect_timeout" and c.kind == "MISC_CHECK":
            continue            # MISC_CHECK has no connection keywords (misc_timeout instead)
        w.line(f"{k} {_num(getattr(c, k))}")
    if c.kind != "FILE_CHECK":
        # explicit, because an unset alpha would be inherited from the real/virtual server
        w.line("alpha" if c.alpha else "alpha false")
    if isinstance(c, m.MiscCheck):
        if c.misc_path is not None:
            w.line(f"misc_path {_q(c.misc_path.command)}")
        if c.user is not None:
            w.line(f"user {_q(c.user)}" + (f" {_q(c.group)}" if c.group else ""))
    if isinstance(c, m.FileCheck):
        _weight_line(w, c, 1)
    if isinstance(c, m.UdpCheck) and c.require_reply:
        w.line("require_reply" + (f" {c.reply_pattern}" if c.reply_pattern else ""))
    if isinstance(c, m.HttpGet):
        for u in c.urls:
            w.open("url")
            if u.status_codes != ((200, 299),):
                w.line("status_code " + " ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in u.status_codes))
            if u.regex_options:
                w.line("regex_options " + " ".join(u.regex_options))
            _simple(w, u, {}, {"status_codes", "regex_options"})
            w.close()
    _simple(w, c, {}, _CHECKER_SKIP | {"connect_timeout", "retry", "delay_before_retry", "delay_loop"})
    w.close()


def _real_server(w: _W, rs: m.RealServer) -> None:
    w.open(f"real_server {rs.ip} {rs.port}")
    w.line(f"weight {rs.weight}")
    if rs.lvs_method is not None:
        w.line(_lvs_method("lvs_method", rs.lvs_method))
    if rs.inhibit_on_failure:
        w.line("inhibit_on_failure")
    if rs.alpha:
        w.line("alpha")
    _simple(w, rs, {}, {"ip", "port", "family", "weight", "lvs_method", "inhibit_on_failure", "alpha", "checkers"})
    w.extra(rs.extra)
    for c in rs.checkers:
        _checker(w, c)
    w.close()


def _virtual_server(w: _W, vs: m.VirtualServer, fwmark_only_groups: frozenset[str] = frozenset()) -> None:
    if vs.fwmark is not None:
        head = f"virtual_server fwmark {vs.fwmark}"
    elif vs.group is not None:
        head = f"virtual_server group {_q(vs.group)}"
    else:
        head = f"virtual_server {vs.ip} {vs.port}"
    w.open(head)
    if vs.ip is None and vs.family == 6:
        w.line("ip_family inet6")
    w.line(f"lvs_sched {vs.lvs_sched}")
    w.line(_lvs_method("lvs_method", vs.lvs_method))
    if vs.fwmark is None and vs.group not in fwmark_only_groups:
        w.line(f"protocol {vs.protocol}")   # keepalived warns about a protocol on fwmark services
    if vs.sorry_server is not None:
        s = vs.sorry_server
        w.line(f"sorry_server {s.ip} {s.port}")
        if s.inhibit:
            w.line("sorry_server_inhibit")
        if s.lvs_method is not None:
            w.line(_lvs_method("sorry_server_lvs_method", s.lvs_method))
    _simple(w, vs, _VS_NAMES, {"ip", "port", "fwmark", "group", "family", "lvs_sched", "lvs_method", "protocol",
                               "sorry_server", "real_servers"})
    w.extra(vs.extra)
    for rs in vs.real_servers:
        _real_server(w, rs)
    w.close()


def to_keepalived(cfg: m.Config) -> str:
    w = _W()
    if cfg.net_namespace is not None:
        w.line(f"net_namespace {_q(cfg.net_namespace)}")
    if cfg.instance_name is not None:
        w.line(f"instance {_q(cfg.instance_name)}")
    if cfg.net_namespace_ipvs is not None:
        w.line("net_namespace_ipvs" + (f" {_q(cfg.net_namespace_ipvs)}" if cfg.net_namespace_ipvs else ""))
    if cfg.namespace_with_ipsets:
        w.line("namespace_with_ipsets")
    if cfg.use_pid_dir:
        w.line("use_pid_dir")
    if cfg.child_wait_time is not None:
        w.line(f"child_wait_time {cfg.child_wait_time}")
    w.extra(cfg.extra)
    _global(w, cfg.global_defs)
    for s in cfg.vrrp_scripts:
        _script_block(w, s)
    for t in cfg.track_files:
        _track_file(w, t)
    for t in cfg.track_processes:
        _track_process(w, t)
    for b in cfg.bfd_instances:
        _bfd(w, b)
    for tg in cfg.track_groups:
        w.open(f"track_group {_q(tg.name)}")
        w.open("group")
        for n in tg.group:
            w.line(_q(n))
        w.close()
        w.close()
    if cfg.linkbeat_use_polling:
        w.line("linkbeat_use_polling")
    if cfg.linkbeat_interfaces:
        w.open("linkbeat_interfaces")
        for lb in cfg.linkbeat_interfaces:
            w.line(" ".join([_q(lb.interface), *([lb.type] if lb.type else [])]))
        w.close()
    if cfg.interface_up_down_delays:
        w.open("interface_up_down_delays")
        for d in cfg.interface_up_down_delays:
            w.line(f"{_q(d.interface)} {_num(d.down)} {_num(d.up)}")
        w.close()
    for gg in cfg.garp_groups:
        w.open("garp_group")
        if gg.garp_interval is not None:
            w.line(f"garp_interval {_num(gg.garp_interval)}")
        if gg.gna_interval is not None:
            w.line(f"gna_interval {_num(gg.gna_interval)}")
        w.open("interfaces")
        for i in gg.interfaces:
            w.line(_q(i))
        w.close()
        w.close()
    if cfg.static_addresses:
        w.open("static_ipaddress")
        for a in cfg.static_addresses:
            w.line(_address(a))
        w.close()
    if cfg.static_routes:
        w.open("static_routes")
        for r in cfg.static_routes:
            w.line(_route(r))
        w.close()
    if cfg.static_rules:
        w.open("static_rules")
        for r in cfg.static_rules:
            w.line(_rule(r))
        w.close()
    for sg in cfg.sync_groups:
        _sync_group(w, sg)
    for i in cfg.instances:
        _instance(w, i)
    if cfg.ssl is not None:
        w.open("SSL")
        _simple(w, cfg.ssl, {}, set())
        w.close()
    for vg in cfg.virtual_server_groups:
        w.open(f"virtual_server_group {_q(vg.name)}")
        for e in vg.entries:
            if e.fwmark is not None:
                w.line(f"fwmark {e.fwmark}" + (" inet6" if e.family == 6 else ""))
                continue
            addr = e.ip or ""
            if e.prefixlen is not None:
                addr += f"/{e.prefixlen}"
            elif e.ip_end is not None:
                addr += f"-{e.ip_end}"
            w.line(f"{addr} {e.port}")
        w.close()
    fwmark_only = frozenset(vg.name for vg in cfg.virtual_server_groups
                            if vg.entries and all(e.fwmark is not None for e in vg.entries))
    for vs in cfg.virtual_servers:
        _virtual_server(w, vs, fwmark_only)
    if cfg.bgp is not None:                      # kvrrp only (kw_bgp.py)
        w.open("kvrrp_bgp")
        _simple(w, cfg.bgp, {}, {"communities"})
        if cfg.bgp.communities:
            w.line("community " + " ".join(cfg.bgp.communities))
        w.close()
    return "\n".join(w.lines) + "\n"
