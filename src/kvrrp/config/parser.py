"""Keyword tree -> typed model, one keyword table per block (like keepalived's install_keyword).

Each block has a table mapping keyword -> handler. A handler reads the node's arguments with
`values.Reader` (which reports located errors) and stores into the dict of fields for the
block's dataclass; the dataclass is built when the block ends. Unknown keywords get a warning
with a "did you mean" suggestion; keywords listed in `support.NOT_IMPLEMENTED` get a warning
that names them and says why kvrrp ignores them. Cross-object rules live in `validate.py`. The tables themselves live in
`keywords.py` (top level), `kw_global.py`, `kw_vrrp.py` and `kw_lvs.py`; value-block entries
(VIPs, routes, rules, peers) are parsed by `entries.py`.
"""
from __future__ import annotations

import dataclasses
import difflib
import sys

from kvrrp.config import model as m
from kvrrp.config.diagnostics import Diagnostics
from kvrrp.config.lexer import Location, Token
from kvrrp.config.argv import split_command
from kvrrp.config.entries import EntryParsers
from kvrrp.config.keywords import (BFD, CHECKERS, GARP_GROUP, GLOBAL, INSTANCE, RS, SCRIPT, SSL, SYNC_GROUP,
                                   TABLES, TOP, TRACK_FILE, TRACK_GROUP, TRACK_PROCESS, URL, VS)
from kvrrp.config.kw_handlers import Fields, Handler
from kvrrp.config.support import IGNORED, NOT_IMPLEMENTED, ignored_message, not_implemented
from kvrrp.config.tree import Node
from kvrrp.config.values import Reader

_NOT_IMPLEMENTED_KWS = frozenset(kw for _block, kw in NOT_IMPLEMENTED)
# kept importable under its old private name (tests, other areas)
_split_command = split_command


def pack_places(kw: dict[str, Token]) -> tuple:
    """The keywords' places as one flat tuple (keyword, file, line, col, ...), kept per model
    object until validation is done: a dict of Tokens (with their text) per object was ~1.4 KB
    per vrrp_instance, 14 MB at 10,000 instances, all freed at the end of the load in between
    the objects that stay - memory the process never got back (docs/scale.md)."""
    out: list = []
    for keyword, tok in kw.items():
        out += (sys.intern(keyword), tok.file, tok.line, tok.col)
    return tuple(out)


def place_of(packed: tuple, keyword: str) -> Location | None:
    for i in range(0, len(packed), 4):
        if packed[i] == keyword:
            return Location(file=packed[i + 1], line=packed[i + 2], col=packed[i + 3])
    return None


class Parser(EntryParsers):
    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.r = Reader(diags)
        self.kwlocs: dict[int, tuple] = {}     # id(model object) -> pack_places()
        self._next_rule_preference = {4: 16384, 6: 16384}

    # ==== generic machinery ===================================================================

    def build(self, cls: type, f: Fields):
        """Construct a model object from collected fields; remember where each keyword was."""
        kw = f.pop("_kw", None)
        for k in [k for k in f if k[0] == "_"]:
            del f[k]
        obj = cls(**f)
        if kw:
            self.kwlocs[id(obj)] = pack_places(kw)
        return obj

    def kwloc(self, obj, keyword: str):
        """Location of `keyword` inside obj's block, or None if it was not written."""
        return place_of(self.kwlocs.get(id(obj), ()), keyword)

    def where(self, obj, keyword: str):
        """Location of `keyword` inside obj's block, else of the block itself."""
        loc = place_of(self.kwlocs.get(id(obj), ()), keyword)
        return loc if loc is not None else getattr(obj, "loc", None)

    def dispatch(self, block: str, table: dict[str, Handler], nodes: list[Node], f: Fields) -> None:
        kwlocs = f.setdefault("_kw", {})
        for node in nodes:
            kw = node.kw.text
            handler = table.get(kw)
            if handler is None:
                self.unknown(block, table, node)
                continue
            kwlocs[kw] = node.kw              # a Token; turned into a Location only when asked
            if handler.__class__ is str:      # a Parser method named in a table
                handler = getattr(Parser, handler)
            if kw in _NOT_IMPLEMENTED_KWS and (why := not_implemented(block, kw)) is not None:
                self.diags.warning(node.kw.loc, ignored_message(kw, why), IGNORED, fails_test=False)
            handler(self, node, f)
            if node.children is not None and not node.used:
                tok = node.open_tok or node.kw
                self.diags.error(tok.loc, f"'{kw}' does not take a block - block ignored", "unexpected-bob")

    def unknown(self, block: str, table: dict[str, Handler], node: Node) -> None:
        kw = node.kw.text
        close = difflib.get_close_matches(kw, list(table), n=1, cutoff=0.75)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        if not close:
            homes = [b for b, t in TABLES.items() if kw in t and b != block]
            if homes:
                hint = f" (it is a keyword of {' / '.join(homes[:3])})"
        where = "at top level" if block == "top" else f"in {block}"
        self.diags.warning(node.kw.loc, f"unknown keyword '{kw}' {where}{hint}", "unknown-keyword",
                           fails_test=True)

    def block(self, node: Node) -> list[Node]:
        node.used = True
        if node.children is None:
            self.diags.error(node.kw.loc, f"'{node.kw.text}' needs a block {{ ... }}", "missing-bob")
            return []
        return node.children

    def one_value(self, node: Node) -> bool:
        """Check a single-value keyword: value present; extra words get a (non-fatal) warning."""
        if not self.r.need(node.kw, node.args):
            return False
        if len(node.args) > 1:
            self.diags.warning(node.args[1].loc, f"'{node.kw.text}' takes one value - extra words "
                               f"'{' '.join(t.text for t in node.args[1:])}' ignored", "extra-parameter",
                               fails_test=False)
        return True

    def no_block(self, node: Node) -> None:
        """Kept for readability at call sites; dispatch() reports unused blocks for every keyword."""

    def value_lines(self, node: Node) -> list[list[Token]]:
        """The lines of a value block (virtual_ipaddress { ... } and the like)."""
        out = []
        for child in self.block(node):
            if child.children is not None:
                self.diags.error(child.kw.loc, f"unexpected block inside '{node.kw.text}'", "unexpected-bob")
            out.append([child.kw, *child.args])
        return out

    def value_words(self, node: Node) -> list[Token]:
        """All words of a value block, also written on one line: group { a b c }."""
        words = list(node.args)
        if node.children is not None:
            for line in self.value_lines(node):
                words.extend(line)
        return words

    def script(self, node: Node, args: list[Token] | None = None) -> m.ScriptCall | None:
        args = node.args if args is None else args
        if not self.r.need(node.kw, args):
            return None
        cmd = args[0].text
        user = group = None
        if len(args) > 1:
            user = args[1].text
            if len(args) > 2:
                group = args[2].text.lstrip(":")
            elif ":" in user:
                user, _, group = user.partition(":")
                group = group or None
            if len(args) > 3:
                self.diags.error(args[3].loc, f"too many arguments for '{node.kw.text}' "
                                 "(quote the command if it has arguments)", "extra-parameter")
        return m.ScriptCall(command=cmd, argv=split_command(cmd), user=user or None, group=group,
                            loc=node.kw.loc)

    def weight(self, node: Node, lo: int, hi: int, f: Fields, field: str = "weight",
               rev_field: str = "weight_reverse") -> None:
        if not self.r.need(node.kw, node.args):
            return
        w = self.r.int(node.args[0], lo, hi, "weight")
        if w is not None:
            f[field] = w
        if len(node.args) > 1:
            if node.args[1].text == "reverse":
                f[rev_field] = True
            else:
                self.diags.error(node.args[1].loc, f"unexpected '{node.args[1].text}' after weight "
                                 "(expected 'reverse')", "extra-parameter")

    def extra(self, node: Node, f: Fields) -> None:
        f.setdefault("extra", []).append((node.kw.text, tuple(t.text for t in node.args)))
        if node.children is not None:
            for line in self.value_lines(node):
                f["extra"].append((node.kw.text + ".", tuple(t.text for t in line)))

    # ==== top level ===============================================================================

    def parse(self, roots: list[Node]) -> m.Config:
        f = self.begin()
        self.dispatch("top", TOP, roots, f)
        return self.finish(f)

    # Streaming form of parse(): begin(), top(node, f) for each top-level node in order, finish(f).
    def begin(self) -> Fields:
        return {"vrrp_scripts": [], "track_files": [], "track_processes": [], "bfd_instances": [],
                "sync_groups": [], "instances": [], "track_groups": [], "garp_groups": [],
                "static_addresses": [], "static_routes": [], "static_rules": [],
                "virtual_server_groups": [], "virtual_servers": []}

    def top(self, node: Node, f: Fields) -> None:
        self.dispatch("top", TOP, (node,), f)

    def finish(self, f: Fields) -> m.Config:
        for k, v in list(f.items()):
            if isinstance(v, list):
                f[k] = tuple(v)
        return self.build(m.Config, f)

    # ---- global_defs -------------------------------------------------------------------------

    def global_defs(self, node: Node, f: Fields) -> None:
        g: Fields = {"loc": node.kw.loc}
        if "global_defs" in f:      # several global_defs blocks merge, as in keepalived
            old = f["global_defs"]
            g = {fl.name: getattr(old, fl.name) for fl in dataclasses.fields(old)}
            g["notification_email"] = list(g["notification_email"])
            g["extra"] = list(g["extra"])
        self.dispatch("global_defs", GLOBAL, self.block(node), g)
        if "extra" in g:
            g["extra"] = tuple(g["extra"])
        if "notification_email" in g:
            g["notification_email"] = tuple(g["notification_email"])
        f["global_defs"] = self.build(m.GlobalDefs, g)

    # ---- vrrp_script / track_file / track_process / bfd_instance -----------------------------

    def named(self, node: Node, what: str) -> str | None:
        if not node.args:
            self.diags.error(node.kw.loc, f"{what} needs a name", "missing-parameter")
            return None
        if len(node.args) > 1:
            self.diags.warning(node.args[1].loc, f"extra words after {what} name ignored", "extra-parameter",
                               fails_test=False)
        return node.args[0].text

    def vrrp_script(self, node: Node, f: Fields) -> None:
        name = self.named(node, "vrrp_script")
        s: Fields = {"name": name or "", "loc": node.kw.loc}
        self.dispatch("vrrp_script", SCRIPT, self.block(node), s)
        if name is not None:
            f["vrrp_scripts"].append(self.build(m.VrrpScript, s))

    def track_file(self, node: Node, f: Fields) -> None:
        name = self.named(node, node.kw.text)
        s: Fields = {"name": name or "", "loc": node.kw.loc}
        self.dispatch("track_file", TRACK_FILE, self.block(node), s)
        if name is not None:
            f["track_files"].append(self.build(m.TrackFile, s))

    def track_process(self, node: Node, f: Fields) -> None:
        name = self.named(node, "vrrp_track_process")
        s: Fields = {"name": name or "", "loc": node.kw.loc}
        self.dispatch("vrrp_track_process", TRACK_PROCESS, self.block(node), s)
        if "params" in s:
            s["params"] = tuple(s["params"])
        if name is not None:
            f["track_processes"].append(self.build(m.TrackProcess, s))

    def bfd_instance(self, node: Node, f: Fields) -> None:
        name = self.named(node, "bfd_instance")
        s: Fields = {"name": name or "", "loc": node.kw.loc}
        self.dispatch("bfd_instance", BFD, self.block(node), s)
        if name is not None:
            f["bfd_instances"].append(self.build(m.BfdInstance, s))

    # ---- sync groups, track groups ----------------------------------------------------------

    def sync_group(self, node: Node, f: Fields) -> None:
        name = self.named(node, "vrrp_sync_group")
        s: Fields = {"name": name or "", "loc": node.kw.loc}
        self.dispatch("vrrp_sync_group", SYNC_GROUP, self.block(node), s)
        for k in ("group", "track_interfaces", "track_scripts", "track_files", "track_processes", "track_bfds"):
            if k in s:
                s[k] = tuple(s[k])
        if name is not None:
            f["sync_groups"].append(self.build(m.SyncGroup, s))

    def garp_group(self, node: Node, f: Fields) -> None:
        s: Fields = {"loc": node.kw.loc}
        self.dispatch("garp_group", GARP_GROUP, self.block(node), s)
        if "interfaces" in s:
            s["interfaces"] = tuple(s["interfaces"])
        if not s.get("interfaces"):
            self.diags.error(node.kw.loc, "garp_group has no interface/interfaces - ignoring it", "missing-parameter")
            return
        number = len(f["garp_groups"]) + 1
        if s.get("garp_interval") is None and s.get("gna_interval") is None:
            # keepalived's words and outcome: the group is removed (vrrp.settings skips it)
            self.diags.error(node.kw.loc, f"garp group {number} does not have any delay set - removing",
                             "garp-group")
        taken = {i for g in f["garp_groups"] for i in g.interfaces}
        for name in [i for i in s["interfaces"] if i in taken]:
            self.diags.error(node.kw.loc, f"garp_group already specified for {name} - ignoring", "garp-group")
        s["interfaces"] = tuple(i for i in s["interfaces"] if i not in taken)
        f["garp_groups"].append(self.build(m.GarpGroup, s))

    def track_group(self, node: Node, f: Fields) -> None:
        name = self.named(node, "track_group")
        s: Fields = {"name": name or "", "loc": node.kw.loc}
        self.dispatch("track_group", TRACK_GROUP, self.block(node), s)
        if name is not None:
            f["track_groups"].append(self.build(m.TrackGroup, s))

    def track_refs(self, node: Node, lo: int, hi: int, allow_noreverse: bool) -> list[m.TrackRef]:
        refs = []
        for line in self.value_lines(node):
            name = line[0].text
            weight = None
            reverse = False
            i = 1
            while i < len(line):
                w = line[i].text
                if w == "weight" and i + 1 < len(line):
                    weight = self.r.int(line[i + 1], lo, hi, "weight")
                    i += 2
                elif w == "reverse":
                    reverse = True
                    i += 1
                elif w == "noreverse" and allow_noreverse:
                    reverse = False
                    i += 1
                else:
                    self.diags.error(line[i].loc, f"unexpected '{w}' in {node.kw.text} entry '{name}'",
                                     "extra-parameter")
                    break
            refs.append(m.TrackRef(name=name, weight=weight, reverse=reverse, loc=line[0].loc))
        return refs

    # ---- vrrp_instance -------------------------------------------------------------------------

    def vrrp_instance(self, node: Node, f: Fields) -> None:
        name = self.named(node, "vrrp_instance")
        s: Fields = {"name": name or "", "loc": node.kw.loc}
        self.dispatch("vrrp_instance", INSTANCE, self.block(node), s)
        for k in ("virtual_ipaddress", "virtual_ipaddress_excluded", "virtual_routes", "virtual_rules",
                  "unicast_peers", "track_interfaces", "track_scripts", "track_files", "track_processes",
                  "track_bfds", "extra"):
            if k in s:
                s[k] = tuple(s[k])
        if "_family" in s:
            s["family"] = s["_family"]
        self._vmac_flags(s)
        if "version" not in s:
            # resolve like keepalived (IPv6 -> 3, else global vrrp_version); validate() re-checks
            # in case global_defs comes later in the file
            gd = f.get("global_defs")
            s["version"] = 3 if s.get("family") == 6 else (gd.vrrp_version if gd is not None else 2)
        if "state" not in s and s.get("priority") == 255:
            s["state"] = "MASTER"       # keepalived: no state given + address owner => MASTER
        if s.pop("_priority_set", False) is False and s.get("state") == "MASTER":
            # keepalived: no priority given + state MASTER => address owner (255)
            s["priority"] = 255
        if name is not None:
            f["instances"].append(self.build(m.VrrpInstance, s))

    def _vmac_flags(self, s: Fields) -> None:
        """keepalived's end-of-instance VMAC checks (vrrp_end_handler, vrrp_complete_instance)."""
        xmit_loc = s.pop("_vmac_xmit_base", None)
        if s.get("use_vmac") is not None and s.get("use_ipvlan") is not None:
            self.diags.error(s["loc"], f"({s['name']}) use_vmac and use_ipvlan together - using use_vmac",
                             "conflict")
            s["use_ipvlan"] = None
        ipv = s.get("use_ipvlan")
        if ipv is not None and ipv.address is None and (s.get("family") or 4) == 4:
            self.diags.warning(s["loc"], f"({s['name']}) IPv4 ipvlan requires a source ip address to be "
                               "configured. setting instance to fault state", "ipvlan-address", fails_test=True)
        family = s.get("family") or 4
        for a in list(s.get("virtual_ipaddress", ())) + list(s.get("virtual_ipaddress_excluded", ())):
            if not a.use_vmac:
                continue
            on_own_if = a.dev is None or a.dev == s.get("interface")
            if on_own_if and s.get("use_vmac") is not None and a.family == family:
                self.diags.warning(a.loc, f"({s['name']}) use_vmac specified for VIP/eVIP {a.address} and vrrp "
                                   "instance", "vmac", fails_test=True)
            elif (not on_own_if or a.family != family) and s.get("use_vmac_addr"):
                self.diags.warning(a.loc, f"({s['name']}) use_vmac_addr specified and use_vmac specified for "
                                   f"VIP/eVIP {a.address}", "vmac", fails_test=True)
        if xmit_loc is not None:
            if s.get("use_vmac") is None:
                self.diags.warning(xmit_loc, f"({s['name']}) vmac_xmit_base is only valid with a vmac",
                                   "ignored", fails_test=True)
            else:
                s["use_vmac"] = dataclasses.replace(s["use_vmac"], xmit_base=True)

    # ---- LVS ---------------------------------------------------------------------------------

    def ssl(self, node: Node, f: Fields) -> None:
        s: Fields = {"loc": node.kw.loc}
        self.dispatch("SSL", SSL, self.block(node), s)
        f["ssl"] = self.build(m.SslContext, s)

    def vs_group(self, node: Node, f: Fields) -> None:
        name = self.named(node, "virtual_server_group")
        entries = []
        for line in self.value_lines(node):
            e = self.vsg_entry(line)
            if e is not None:
                entries.append(e)
        if name is not None:
            f["virtual_server_groups"].append(m.VirtualServerGroup(name=name, entries=tuple(entries),
                                                                   loc=node.kw.loc))

    def lvs_method(self, node: Node) -> m.LvsMethod | None:
        if not self.r.need(node.kw, node.args):
            return None
        meth = node.args[0].text                 # keepalived compares case-sensitively
        if meth not in ("NAT", "DR", "TUN"):
            hint = " (FNAT exists only in forks such as DPVS)" if meth == "FNAT" else ""
            self.diags.error(node.args[0].loc, f"invalid {node.kw.text} '{node.args[0].text}' "
                             f"(NAT, DR or TUN){hint}", "bad-value")
            return None
        v: Fields = {"method": meth}
        args = node.args[1:]
        i = 0
        while i < len(args):
            w = args[i].text
            if w == "type" and i + 1 < len(args) and meth == "TUN":
                v["tunnel_type"] = args[i + 1].text
                i += 2
            elif w == "port" and i + 1 < len(args) and meth == "TUN":
                v["tunnel_port"] = self.r.port(args[i + 1], "tunnel port")
                i += 2
            elif w in ("nocsum", "csum", "remcsum") and meth == "TUN":
                v["tunnel_csum"] = w
                i += 1
            else:
                self.diags.error(args[i].loc, f"unexpected '{w}' after {node.kw.text} {meth}", "bad-option")
                i += 1
        return m.LvsMethod(**v)

    def virtual_server(self, node: Node, f: Fields) -> None:
        args = node.args
        s: Fields = {"loc": node.kw.loc}
        ok = True
        if not args:
            self.diags.error(node.kw.loc, "virtual_server needs IP PORT, fwmark N or group NAME", "missing-parameter")
            ok = False
        elif args[0].text == "fwmark":
            if len(args) < 2:
                self.diags.error(node.kw.loc, "virtual_server fwmark needs a number", "missing-parameter")
                ok = False
            else:
                mark = self.r.uint_base(args[1], 1, 0xFFFFFFFF, "fwmark")
                ok = mark is not None
                s["fwmark"] = mark
        elif args[0].text == "group":
            if len(args) < 2:
                self.diags.error(node.kw.loc, "virtual_server group needs a name", "missing-parameter")
                ok = False
            else:
                s["group"] = args[1].text
        else:
            ip = self.r.ip(args[0], "virtual server address")
            ok = ip is not None
            if ip is not None:
                s["ip"], s["family"] = ip
            if len(args) > 1:
                port = self.r.port(args[1])
                if port is None:
                    ok = False
                else:
                    s["port"] = port
        body = self.block(node)
        self.dispatch("virtual_server", VS, body, s)
        if s.get("fwmark") is not None and "protocol" in s.get("_kw", {}):
            self.diags.warning(s["_kw"]["protocol"].loc, f"virtual server fwmark {s['fwmark']}: protocol "
                               "specified for fwmark - protocol will be ignored", "ignored", fails_test=True)
        if ok and "lvs_sched" not in s:
            # keepalived (check_data.c) reports a missing scheduler and uses wlc
            self.diags.error(node.kw.loc, "virtual server: no scheduler set (lb_algo / lvs_sched), setting "
                             "default 'wlc'", "vs-no-scheduler")
        if s.get("ip") is not None and "protocol" not in s and ok:
            # keepalived (check_data.c): no protocol on an address service -> error, UDP is used
            self.diags.error(node.kw.loc, f"virtual server {s['ip']} {s.get('port', 0)}: no protocol set - "
                             "defaulting to UDP (write 'protocol TCP')", "vs-protocol")
            s["protocol"] = "UDP"
        quorum, hysteresis = s.get("quorum", 1), s.get("hysteresis", 0)
        if hysteresis and hysteresis >= quorum:
            # keepalived (check_data.c) lowers it to quorum - 1, which the quorum maths then uses
            self.diags.warning(s["_kw"]["hysteresis"].loc if "hysteresis" in s.get("_kw", {}) else node.kw.loc,
                               f"virtual server: hysteresis {hysteresis} >= quorum {quorum}; setting hysteresis "
                               f"to {quorum - 1}", "out-of-range", fails_test=False)
            s["hysteresis"] = quorum - 1
        if s.pop("_ip_family", None) is not None and s.get("ip") is None:
            s["family"] = s["_fam"]
        s.pop("_fam", None)
        rs_nodes = s.pop("_rs_nodes", [])
        if "extra" in s:
            s["extra"] = tuple(s["extra"])
        # default weight for real servers comes from the VS
        vs_defaults = dict(s)
        s["real_servers"] = tuple(r for r in (self.real_server(n, vs_defaults) for n in rs_nodes) if r is not None)
        if ok and "lvs_method" not in s and (
                any(r.lvs_method is None for r in s["real_servers"])
                or (s.get("sorry_server") is not None and s["sorry_server"].lvs_method is None)):
            # keepalived (check_data.c) reports a missing forwarding method and uses NAT
            self.diags.error(node.kw.loc, "virtual server: no forwarding method set (lb_kind / lvs_method), "
                             "setting default NAT", "vs-no-method")
        if s.get("group") is None and s["real_servers"]:
            # keepalived: a fwmark service takes its family from ip_family, else its first real server;
            # real servers of another family are skipped unless tunnelled
            ref = s.get("family", 4) if (s.get("ip") is not None or "ip_family" in s.get("_kw", {})) \
                else s["real_servers"][0].family
            s["family"] = ref
            kept = []
            for rs in s["real_servers"]:
                meth = (rs.lvs_method or s.get("lvs_method") or m.LvsMethod()).method
                if rs.family != ref and meth != "TUN":
                    self.diags.error(rs.loc, f"address family of virtual server and real server {rs.ip} don't "
                                     "match - skipping real server (only TUN can mix families)", "family-mismatch")
                else:
                    kept.append(rs)
            s["real_servers"] = tuple(kept)
        if ok and s.get("ha_suspend") and s.get("fwmark") is not None:
            self.diags.warning(s["_kw"]["ha_suspend"].loc, "cannot use ha_suspend with fwmarks - clearing ha_suspend",
                               "ignored", fails_test=True)
            s["ha_suspend"] = False
        if ok and not s["real_servers"]:
            # keepalived (check_parser.c vs_end_handler) drops a virtual server without real servers
            self.diags.error(node.kw.loc, f"Virtual server {_vs_label(s)} has no real servers - ignoring", "vs-no-rs")
            ok = False
        sorry = s.get("sorry_server")
        if ok and sorry is not None and s.get("ip") is not None and sorry.family != s.get("family", 4) \
                and (sorry.lvs_method or s.get("lvs_method") or m.LvsMethod()).method != "TUN":
            self.diags.error(node.kw.loc, "address family of virtual server and sorry server don't match - "
                             "skipping sorry server", "family-mismatch")
            s["sorry_server"] = None
        if ok:
            f["virtual_servers"].append(self.build(m.VirtualServer, s))

    def real_server(self, node: Node, vs: Fields) -> m.RealServer | None:
        args = node.args
        r: Fields = {"loc": node.kw.loc, "weight": vs.get("weight", 1)}
        if not args:
            self.diags.error(node.kw.loc, "real_server needs an IP address", "missing-parameter")
            self.block(node)
            return None
        ip = self.r.ip(args[0], "real server address")
        if len(args) > 1:
            port = self.r.port(args[1])
            if port is not None:
                r["port"] = port
        else:
            r["port"] = vs.get("port", 0)
        body = self.block(node) if node.children is not None else []
        self.dispatch("real_server", RS, body, r)
        checker_nodes = r.pop("_checkers", [])
        if "extra" in r:
            r["extra"] = tuple(r["extra"])
        method = (r.get("lvs_method") or vs.get("lvs_method") or m.LvsMethod()).method
        if method != "NAT" and vs.get("fwmark") is None and vs.get("ip") is not None:
            vport = vs.get("port", 0)
            if r.get("port", 0) and r["port"] != vport:
                self.diags.warning(node.kw.loc, f"virtual server {vs['ip']} {vport} and real server {args[0].text} "
                                   f"{r['port']} ports don't match ({method} cannot change ports) - resetting to "
                                   f"{vport}", "port-mismatch", fails_test=True)
                r["port"] = vport
        elif method != "NAT" and vs.get("fwmark") is not None and r.get("port", 0):
            self.diags.warning(node.kw.loc, f"fwmark virtual server, real server {args[0].text} has port "
                               f"{r['port']} - clearing", "port-mismatch", fails_test=True)
            r["port"] = 0
        r.setdefault("inhibit_on_failure", vs.get("inhibit_on_failure", False))
        r.setdefault("alpha", vs.get("alpha", False))
        if ip is None:
            return None
        r["ip"], r["family"] = ip
        r["checkers"] = tuple(c for c in (self.checker(n, r, vs) for n in checker_nodes) if c is not None)
        return self.build(m.RealServer, r)

    def checker(self, node: Node, rs: Fields, vs: Fields) -> m.Checker | None:
        kind = node.kw.text
        cls, table = CHECKERS[kind]
        c: Fields = {"loc": node.kw.loc}
        self.no_args(node)
        self.dispatch(kind, table,
                      self.block(node) if node.children is not None else [], c)
        if "urls" in c:
            c["urls"] = tuple(c["urls"])
        # inherit timing options: checker, else real_server, else virtual_server, else type default
        # (FILE_CHECK and BFD_CHECK follow another object's state and have no timing of their own)
        timed = kind not in ("FILE_CHECK", "BFD_CHECK")
        for k in ("connect_timeout", "retry", "delay_before_retry", "delay_loop", "warmup") if timed else ():
            if k not in c:
                if rs.get(k) is not None:
                    c[k] = rs[k]
                elif vs.get(k) is not None:
                    c[k] = vs[k]
        if "alpha" not in c and kind != "FILE_CHECK" and (rs.get("alpha") or vs.get("alpha")):
            c["alpha"] = True
        if issubclass(cls, m.HttpGet) and "virtualhost" not in c:
            vh = rs.get("virtualhost") or vs.get("virtualhost")
            if vh is not None:
                c["virtualhost"] = vh
        if cls is m.DnsCheck and "delay_before_retry" not in c:
            c["delay_before_retry"] = c.get("delay_loop", 60.0)
        return self.build(cls, c)

    def no_args(self, node: Node) -> None:
        if node.args:
            self.diags.warning(node.args[0].loc, f"'{node.kw.text}' takes no arguments - "
                               f"'{node.args[0].text}' ignored", "extra-parameter", fails_test=False)

    def url(self, node: Node, c: Fields) -> None:
        u: Fields = {"loc": node.kw.loc}
        self.dispatch("url", URL, self.block(node), u)
        c.setdefault("urls", []).append(self.build(m.Url, u))


def _vs_label(s: Fields) -> str:
    """keepalived's format_vs(): [group]:port, FWM n, or [ip]:proto:port."""
    if s.get("group") is not None:
        return f"[{s['group']}]:{s.get('port') or 0}"
    if s.get("fwmark") is not None:
        return f"FWM {s['fwmark']}"
    return f"[{s.get('ip')}]:{str(s.get('protocol') or 'TCP').lower()}:{s.get('port') or 0}"
