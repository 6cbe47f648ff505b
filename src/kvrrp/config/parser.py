"""Keyword tree -> typed model, one keyword table per block (like keepalived's install_keyword).

Each block has a table mapping keyword -> handler. A handler reads the node's arguments with
`values.Reader` (which reports located errors) and stores into the dict of fields for the
block's dataclass; the dataclass is built when the block ends. Unknown keywords get a warning
with a "did you mean" suggestion; keywords listed in `support.NOT_IMPLEMENTED` get a warning
that names them. Cross-object rules live in `validate.py`.
"""
from __future__ import annotations

import dataclasses
import difflib
from typing import Callable

from kvrrp.config import model as m
from kvrrp.config.diagnostics import Diagnostics
from kvrrp.config.lexer import Token
from kvrrp.config.support import NOT_IMPLEMENTED, not_implemented

_NOT_IMPLEMENTED_KWS = frozenset(kw for _block, kw in NOT_IMPLEMENTED)
from kvrrp.config.tree import Node
from kvrrp.config.values import Reader

Fields = dict
Handler = Callable[["Parser", Node, Fields], None]

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "mh", "dh", "fo", "ovf", "sed", "nq", "twos")
SCOPES = ("global", "site", "link", "host", "nowhere")
ROUTE_TYPES = ("unicast", "blackhole", "unreachable", "prohibit", "throw", "local", "broadcast",
               "anycast", "multicast", "nat")
DNS_TYPES = ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA")


_ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _split_command(text: str) -> tuple[str, ...]:
    """Split a script command into argv the way keepalived's alloc_strvec_quoted_escaped()
    does: whitespace separates words, '...' and "..." group, backslash escapes (\\n \\t \\xHH
    \\nnn octal \\cC control ...). No shell is involved. An unterminated quote ends the word."""
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    quote = ""
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            i += 1
            e = text[i]
            if e == "x" and i + 1 < n and text[i + 1] in "0123456789abcdefABCDEF":
                j = i + 1
                while j < n and j < i + 3 and text[j] in "0123456789abcdefABCDEF":
                    j += 1
                cur.append(chr(int(text[i + 1:j], 16)))
                i = j
            elif e == "c" and i + 1 < n:
                cur.append(chr(ord(text[i + 1]) & 0x1F))
                i += 2
            elif "0" <= e <= "7":
                j = i
                while j < n and j < i + 3 and "0" <= text[j] <= "7":
                    j += 1
                cur.append(chr(int(text[i:j], 8) & 0xFF))
                i = j
            else:
                cur.append(_ESCAPES.get(e, e))
                i += 1
            in_word = True
            continue
        if quote:
            if ch == quote:
                quote = ""
            else:
                cur.append(ch)
            i += 1
            continue
        if ch in "\"'":
            quote = ch
            in_word = True
        elif ch in " \t":
            if in_word:
                words.append("".join(cur))
                cur = []
                in_word = False
        else:
            cur.append(ch)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(cur))
    return tuple(words)


class Parser:
    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.r = Reader(diags)
        self.kwlocs: dict[int, dict] = {}

    # ==== generic machinery ===================================================================

    def build(self, cls: type, f: Fields):
        """Construct a model object from collected fields; remember where each keyword was."""
        kw = f.pop("_kw", None)
        for k in [k for k in f if k[0] == "_"]:
            del f[k]
        obj = cls(**f)
        if kw:
            self.kwlocs[id(obj)] = kw
        return obj

    def kwloc(self, obj, keyword: str):
        """Location of `keyword` inside obj's block, or None if it was not written."""
        tok = self.kwlocs.get(id(obj), {}).get(keyword)
        return None if tok is None else tok.loc

    def where(self, obj, keyword: str):
        """Location of `keyword` inside obj's block, else of the block itself."""
        tok = self.kwlocs.get(id(obj), {}).get(keyword)
        return tok.loc if tok is not None else getattr(obj, "loc", None)

    def dispatch(self, block: str, table: dict[str, Handler], nodes: list[Node], f: Fields) -> None:
        kwlocs = f.setdefault("_kw", {})
        for node in nodes:
            kw = node.kw.text
            handler = table.get(kw)
            if handler is None:
                self.unknown(block, table, node)
                continue
            kwlocs[kw] = node.kw              # a Token; turned into a Location only when asked
            if kw in _NOT_IMPLEMENTED_KWS and (why := not_implemented(block, kw)) is not None:
                self.diags.warning(node.kw.loc, f"'{kw}' is recognised but not implemented by kvrrp "
                                   f"({why}) - ignored", "not-implemented", fails_test=False)
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
        return m.ScriptCall(command=cmd, argv=_split_command(cmd), user=user or None, group=group,
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
        f: Fields = {"vrrp_scripts": [], "track_files": [], "track_processes": [], "bfd_instances": [],
                     "sync_groups": [], "instances": [], "track_groups": [], "static_addresses": [],
                     "static_routes": [], "static_rules": [], "virtual_server_groups": [],
                     "virtual_servers": []}
        self.dispatch("top", TOP, roots, f)
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
        fams = {a.family for a in s.get("virtual_ipaddress", ())}
        if len(fams) == 1:
            s["family"] = fams.pop()
        elif len(fams) > 1:
            s["family"] = s["virtual_ipaddress"][0].family
        if "version" not in s:
            # resolve like keepalived (IPv6 -> 3, else global vrrp_version); validate() re-checks
            # in case global_defs comes later in the file
            gd = f.get("global_defs")
            s["version"] = 3 if s.get("family") == 6 else (gd.vrrp_version if gd is not None else 2)
        if s.pop("_priority_set", False) is False and s.get("state") == "MASTER":
            # keepalived: no priority given + state MASTER => address owner (255)
            s["priority"] = 255
        if name is not None:
            f["instances"].append(self.build(m.VrrpInstance, s))

    def addresses(self, node: Node, static: bool = False) -> list[m.VirtualAddress]:
        return [a for a in (self.address(line, static) for line in self.value_lines(node)) if a is not None]

    def address(self, line: list[Token], static: bool) -> m.VirtualAddress | None:
        p = self.r.prefix(line[0], "virtual address")
        if p is None:
            return None
        addr, plen, fam = p
        a: Fields = {"address": addr, "prefixlen": plen, "family": fam, "loc": line[0].loc}
        i = 1
        n = len(line)

        def arg() -> Token | None:
            if i + 1 >= n:
                self.diags.error(line[i].loc, f"'{line[i].text}' needs a value", "missing-parameter")
                return None
            return line[i + 1]

        while i < n:
            w = line[i].text
            if w in ("brd", "broadcast"):
                t = arg()
                if t is None:
                    break
                if t.text in ("-", "+"):
                    a["brd"] = t.text
                else:
                    ip = self.r.ip(t, "broadcast address")
                    if ip is not None:
                        a["brd"] = ip[0]
                i += 2
            elif w == "dev":
                t = arg()
                if t is None:
                    break
                a["dev"] = t.text
                i += 2
            elif w == "scope":
                t = arg()
                if t is None:
                    break
                if t.text in SCOPES or t.text.isdigit():
                    a["scope"] = t.text
                else:
                    self.diags.error(t.loc, f"invalid scope '{t.text}' (one of {', '.join(SCOPES)})", "bad-value")
                i += 2
            elif w == "label":
                t = arg()
                if t is None:
                    break
                a["label"] = t.text
                i += 2
            elif w == "peer":
                t = arg()
                if t is None:
                    break
                pp = self.r.prefix(t, "peer address")
                if pp is not None:
                    a["peer"] = pp[0]
                    if "/" in t.text:
                        a["peer_prefixlen"] = pp[1]
                i += 2
            elif w == "preferred_lft":
                t = arg()
                if t is None:
                    break
                if t.text in ("forever", "infinity"):
                    a["preferred_lft"] = 0xFFFFFFFF
                else:
                    v = self.r.int(t, 0, 0xFFFFFFFF, "preferred_lft")
                    if v is not None:
                        a["preferred_lft"] = v
                i += 2
            elif w == "track_group" and static:
                t = arg()
                if t is None:
                    break
                a["track_group"] = t.text
                i += 2
            elif w in ("use_vmac", "home", "mngtmpaddr", "noprefixroute", "autojoin", "no_track"):
                a[w] = True
                i += 1
            elif w in ("-nodad", "nodad"):
                a["nodad"] = True
                i += 1
            else:
                self.diags.error(line[i].loc, f"unknown virtual_ipaddress option '{w}'", "bad-option")
                i += 1
        if a.get("label") and fam == 6:
            self.diags.warning(line[0].loc, "label is ignored for IPv6 addresses", "ignored", fails_test=False)
            a.pop("label")
        return m.VirtualAddress(**a)

    def routes(self, node: Node, static: bool = False) -> list[m.VirtualRoute]:
        return [r for r in (self.route(line, static) for line in self.value_lines(node)) if r is not None]

    _ROUTE_VALUE_OPTS = frozenset((
        "realms", "mtu", "hoplimit", "advmss", "rtt", "rttvar", "reordering", "window", "cwnd",
        "ssthresh", "rto_min", "initcwnd", "initrwnd", "features", "fastopen_no_cookie", "congctl",
        "quickack", "expires", "ttl-propagate", "pref", "vrf", "or"))

    _ROUTE_KEYS = frozenset(("src", "via", "gw", "dev", "oif", "scope", "table", "protocol", "proto", "metric",
                             "priority", "preference", "tos", "dsfield", "encap")) | _ROUTE_VALUE_OPTS

    def route(self, line: list[Token], static: bool) -> m.VirtualRoute | None:
        r: Fields = {"loc": line[0].loc}
        opts: list[tuple[str, str]] = []
        nexthops: list[m.Nexthop] = []
        to_tok: Token | None = None
        fam = 0
        i = 0
        n = len(line)
        ok = True
        while i < n:
            tok = line[i]
            w = tok.text
            nxt = line[i + 1] if i + 1 < n else None
            if w in ROUTE_TYPES and to_tok is None and "type" not in r:
                r["type"] = w
                i += 1
            elif w in self._ROUTE_KEYS:
                if nxt is None:
                    self.diags.error(tok.loc, f"route option '{w}' needs a value", "missing-parameter")
                    return None
                step = 2
                if w == "src":
                    ip = self.r.ip(nxt, "route source")
                    ok &= ip is not None
                    if ip:
                        r["src"] = ip[0]
                elif w in ("via", "gw"):
                    if w == "gw":
                        self.diags.warning(tok.loc, '"gw" for routes is deprecated - please use "via"',
                                           "deprecated", fails_test=True)
                    if nxt.text in ("inet", "inet6") and i + 2 < n:
                        nxt = line[i + 2]
                        step = 3
                    ip = self.r.ip(nxt, "gateway")
                    ok &= ip is not None
                    if ip:
                        r["via"] = ip[0]
                        fam = fam or ip[1]
                elif w in ("dev", "oif"):
                    r["dev"] = nxt.text
                elif w == "scope":
                    r["scope"] = nxt.text
                elif w == "table":
                    r["table"] = nxt.text
                elif w in ("protocol", "proto"):
                    r["protocol"] = nxt.text
                elif w in ("metric", "priority", "preference"):
                    v = self.r.int(nxt, 0, 0xFFFFFFFF, "metric")
                    ok &= v is not None
                    r["metric"] = v
                elif w in ("tos", "dsfield"):
                    v = self.r.uint_base(nxt, 0, 255, "tos")
                    ok &= v is not None
                    r["tos"] = v
                elif w in ("mtu", "ssthresh", "window", "cwnd", "initcwnd", "initrwnd", "advmss", "rtt",
                           "rttvar", "rto_min", "hoplimit", "reordering") and nxt.text == "lock" and i + 2 < n:
                    opts.append((w, "lock " + line[i + 2].text))
                    step = 3
                elif w == "encap":
                    # encap TYPE ... : keep the rest of the line verbatim
                    opts.append(("encap", " ".join(t.text for t in line[i + 1:])))
                    step = n - i
                else:
                    if w == "or":
                        self.diags.warning(tok.loc, '"or" for routes is deprecated - please use "nexthop"',
                                           "deprecated", fails_test=True)
                    opts.append((w, nxt.text))
                i += step
            elif w == "nexthop":
                nh: Fields = {}
                i += 1
                while i < n and line[i].text in ("via", "dev", "weight", "onlink", "realms"):
                    k = line[i].text
                    if k == "onlink":
                        nh["onlink"] = True
                        i += 1
                        continue
                    if i + 1 >= n:
                        self.diags.error(line[i].loc, f"nexthop '{k}' needs a value", "missing-parameter")
                        return None
                    v = line[i + 1]
                    if k == "via":
                        ip = self.r.ip(v, "nexthop gateway")
                        ok &= ip is not None
                        if ip:
                            nh["via"] = ip[0]
                    elif k == "weight":
                        nh["weight"] = self.r.int(v, 1, 256, "nexthop weight")
                    else:
                        nh[k] = v.text
                    i += 2
                nexthops.append(m.Nexthop(**nh))
            elif w in ("onlink", "no_track"):
                r[w] = True
                i += 1
            elif w in ("inet6", "add", "append", "prepend"):
                if w == "inet6":
                    fam = 6
                else:
                    opts.append(("action", w))
                i += 1
            elif w == "track_group" and static:
                if nxt is None:
                    self.diags.error(tok.loc, "track_group needs a name", "missing-parameter")
                    return None
                r["track_group"] = nxt.text
                i += 2
            elif w == "to" and nxt is not None:
                i += 1
            elif to_tok is None:
                to_tok = tok
                i += 1
            else:
                self.diags.error(tok.loc, f"unknown route option '{w}'", "bad-option")
                i += 1
                ok = False
        if to_tok is None:
            self.diags.error(line[0].loc, "route has no destination prefix", "missing-parameter")
            return None
        net = self.r.network(to_tok, "route destination")
        if net is None:
            return None
        r["to"] = net[0]
        fam = net[1] or fam or 4
        r["family"] = fam
        if opts:
            r["options"] = tuple(opts)
        if nexthops:
            r["nexthops"] = tuple(nexthops)
        return m.VirtualRoute(**r)

    def rules(self, node: Node, static: bool = False) -> list[m.VirtualRule]:
        return [r for r in (self.rule(line, static) for line in self.value_lines(node)) if r is not None]

    _RULE_VALUE_OPTS = frozenset(("realms", "suppress_prefixlength", "suppress_ifgroup", "uidrange",
                                  "protocol", "ipproto", "sport", "dport", "tunnel-id"))

    def rule(self, line: list[Token], static: bool) -> m.VirtualRule | None:
        r: Fields = {"loc": line[0].loc}
        opts: list[tuple[str, str]] = []
        fam = 0
        i = 0
        n = len(line)
        while i < n:
            tok = line[i]
            w = tok.text
            nxt = line[i + 1] if i + 1 < n else None
            if w in ("l3mdev", "no_track", "not"):
                if w == "no_track":
                    r["no_track"] = True
                else:
                    opts.append((w, ""))
                i += 1
                continue
            if w in ("nop", "blackhole", "unreachable", "prohibit"):
                r["action"] = w
                i += 1
                continue
            if w == "inet6":
                fam = 6
                i += 1
                continue
            if nxt is None:
                self.diags.error(tok.loc, f"rule option '{w}' needs a value", "missing-parameter")
                return None
            if w in ("from", "to"):
                net = self.r.network(nxt, f"rule '{w}' prefix")
                if net is None:
                    return None
                r["from_" if w == "from" else "to"] = net[0]
                fam = fam or net[1]
            elif w in ("table", "lookup"):
                r["table"] = nxt.text
                r["action"] = "table"
            elif w in ("iif", "dev"):
                r["iif"] = nxt.text
            elif w == "oif":
                r["oif"] = nxt.text
            elif w in ("tos", "dsfield"):
                r["tos"] = self.r.uint_base(nxt, 0, 255, "tos")
            elif w == "fwmark":
                mark, _, mask = nxt.text.partition("/")
                r["fwmark"] = self.r.uint_base(Token(mark, nxt.file, nxt.line, nxt.col), 0, 0xFFFFFFFF, "fwmark")
                if mask:
                    r["fwmask"] = self.r.uint_base(Token(mask, nxt.file, nxt.line, nxt.col), 0, 0xFFFFFFFF,
                                                   "fwmark mask")
            elif w in ("preference", "priority", "order", "pref"):
                r["preference"] = self.r.int(nxt, 0, 0xFFFFFFFF, "rule preference")
            elif w == "goto":
                r["goto"] = self.r.int(nxt, 0, 0xFFFFFFFF, "goto target")
                r["action"] = "goto"
            elif w == "track_group" and static:
                r["track_group"] = nxt.text
            elif w in self._RULE_VALUE_OPTS:
                opts.append((w, nxt.text))
            else:
                self.diags.error(tok.loc, f"unknown rule option '{w}'", "bad-option")
                i += 1
                continue
            i += 2
        r["family"] = fam or 4
        if opts:
            r["options"] = tuple(opts)
        return m.VirtualRule(**r)

    def unicast_peers(self, node: Node) -> list[m.UnicastPeer]:
        out = []
        for line in self.value_lines(node):
            ip = self.r.ip(line[0], "unicast peer")
            if ip is None:
                continue
            p: Fields = {"address": ip[0], "family": ip[1], "loc": line[0].loc}
            i = 1
            while i < len(line):
                w = line[i].text
                if w in ("min_ttl", "max_ttl") and i + 1 < len(line):
                    p[w] = self.r.int(line[i + 1], 0, 255, w)
                    i += 2
                else:
                    self.diags.error(line[i].loc, f"unknown unicast_peer option '{w}'", "bad-option")
                    i += 1
            out.append(m.UnicastPeer(**p))
        return out

    def use_vmac(self, node: Node, s: Fields) -> None:
        v: Fields = {}
        args = node.args
        i = 0
        while i < len(args):
            w = args[i].text
            if w == "netlink_notify_msg":
                v["netlink_notify_msg"] = True
            elif w == "group" and i + 1 < len(args):
                v["group"] = args[i + 1].text
                i += 1
            elif w == "name" and i + 1 < len(args):
                v["name"] = args[i + 1].text
                i += 1
            elif ":" in w and len(w) == 17:
                v["mac"] = w.lower()
            elif "name" not in v:
                v["name"] = w
            else:
                self.diags.error(args[i].loc, f"unexpected use_vmac option '{w}'", "bad-option")
            i += 1
        if s.get("use_vmac") is not None and s["use_vmac"].xmit_base:
            v["xmit_base"] = True
        s["use_vmac"] = m.Vmac(**v)

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

    def vsg_entry(self, line: list[Token]) -> m.VsgEntry | None:
        first = line[0]
        if first.text == "fwmark":
            if len(line) < 2:
                self.diags.error(first.loc, "fwmark needs a value", "missing-parameter")
                return None
            mark = self.r.uint_base(line[1], 1, 0xFFFFFFFF, "fwmark")
            fam = 6 if len(line) > 2 and line[2].text == "inet6" else 4
            return None if mark is None else m.VsgEntry(fwmark=mark, family=fam, loc=first.loc)
        text = first.text
        e: Fields = {"loc": first.loc}
        if "/" in text:
            p = self.r.prefix(first, "virtual_server_group range")
            if p is None:
                return None
            e.update(ip=p[0], prefixlen=p[1], family=p[2])
        elif "-" in text:
            start, _, end = text.rpartition("-")
            ip = self.r.ip(Token(start, first.file, first.line, first.col), "virtual_server_group range")
            if ip is None:
                return None
            e.update(ip=ip[0], family=ip[1])
            if ip[1] == 4 and end.isdigit():
                last = start.rsplit(".", 1)[0] + "." + end
            else:
                last = end if ("." in end or ":" in end) else start.rsplit(":", 1)[0] + ":" + end
            ipe = self.r.ip(Token(last, first.file, first.line, first.col), "range end")
            if ipe is None:
                return None
            e["ip_end"] = ipe[0]
        else:
            ip = self.r.ip(first, "virtual_server_group address")
            if ip is None:
                return None
            e.update(ip=ip[0], family=ip[1])
        if len(line) > 1:
            port = self.r.port(line[1])
            if port is not None:
                e["port"] = port
        return m.VsgEntry(**e)

    def lvs_method(self, node: Node) -> m.LvsMethod | None:
        if not self.r.need(node.kw, node.args):
            return None
        meth = node.args[0].text.upper()
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


# ==== handler builders ================================================================================

def _set_str(field: str) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        if p.one_value(node):
            f[field] = node.args[0].text
    return h


def _set_int(field: str, lo: int, hi: int) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        if p.one_value(node):
            v = p.r.int(node.args[0], lo, hi, node.kw.text)
            if v is not None:
                f[field] = v
    return h


def _set_timer(field: str, lo: float = 0.0, hi: float | None = None) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        if p.one_value(node):
            v = p.r.timer(node.args[0], lo, hi, node.kw.text)
            if v is not None:
                f[field] = v
    return h


def _set_flag(field: str, value: bool = True) -> Handler:
    """Keyword alone = on; optional <BOOL> argument."""
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        v = p.r.flag(node.kw, node.args)
        if v is not None:
            f[field] = v if value else not v
    return h


def _set_ip(field: str, fam_field: str | None = None) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        if p.one_value(node):
            ip = p.r.ip(node.args[0], node.kw.text)
            if ip is not None:
                f[field] = ip[0]
                if fam_field:
                    f[fam_field] = ip[1]
    return h


def _set_script(field: str) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        s = p.script(node)
        if s is not None:
            f[field] = s
    return h


def _deprecated(instead: str, handler: Handler) -> Handler:
    """A deprecated alias: works, but keepalived reports it (and `-t` fails), so we do too."""
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.diags.warning(node.kw.loc, f"'{node.kw.text}' is deprecated - please use '{instead}'", "deprecated",
                        fails_test=True)
        handler(p, node, f)
    return h


def _extra(p: Parser, node: Node, f: Fields) -> None:
    p.extra(node, f)


def _weight(lo: int, hi: int) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        p.weight(node, lo, hi, f)
    return h


# ---- top ----------------------------------------------------------------------------------------

def _top_store(field: str) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        if p.r.need(node.kw, node.args):
            f[field] = node.args[0].text
    return h


def _static_addrs(p: Parser, node: Node, f: Fields) -> None:
    f["static_addresses"].extend(p.addresses(node, static=True))


def _static_routes(p: Parser, node: Node, f: Fields) -> None:
    f["static_routes"].extend(p.routes(node, static=True))


def _static_rules(p: Parser, node: Node, f: Fields) -> None:
    f["static_rules"].extend(p.rules(node, static=True))


def _top_extra_block(p: Parser, node: Node, f: Fields) -> None:
    p.extra(node, f)


TOP: dict[str, Handler] = {
    "global_defs": Parser.global_defs,
    "vrrp_script": Parser.vrrp_script,
    "track_file": Parser.track_file,
    "vrrp_track_file": Parser.track_file,
    "vrrp_track_process": Parser.track_process,
    "bfd_instance": Parser.bfd_instance,
    "vrrp_sync_group": Parser.sync_group,
    "vrrp_instance": Parser.vrrp_instance,
    "track_group": Parser.track_group,
    "static_ipaddress": _static_addrs,
    "static_routes": _static_routes,
    "static_rules": _static_rules,
    "SSL": Parser.ssl,
    "virtual_server_group": Parser.vs_group,
    "virtual_server": Parser.virtual_server,
    "net_namespace": _top_store("net_namespace"),
    "instance": _top_store("instance_name"),
    "net_namespace_ipvs": _extra,
    "namespace_with_ipsets": _extra,
    "use_pid_dir": _extra,
    "linkbeat_use_polling": _extra,
    "child_wait_time": _extra,
    "linkbeat_interfaces": _top_extra_block,
    "garp_group": _top_extra_block,
    "interface_up_down_delays": _top_extra_block,
}


# ---- global_defs -------------------------------------------------------------------------------

def _g_email(p: Parser, node: Node, g: Fields) -> None:
    g.setdefault("notification_email", []).extend(t.text for t in p.value_words(node))


def _g_smtp_server(p: Parser, node: Node, g: Fields) -> None:
    if p.r.need(node.kw, node.args):
        g["smtp_server"] = node.args[0].text
        if len(node.args) > 1:
            port = p.r.port(node.args[1], "smtp port")
            if port is not None:
                g["smtp_server_port"] = port


def _g_script_user(p: Parser, node: Node, g: Fields) -> None:
    if p.r.need(node.kw, node.args):
        user = node.args[0].text
        group = node.args[1].text.lstrip(":") if len(node.args) > 1 else None
        if ":" in user and group is None:
            user, _, group = user.partition(":")
        g["script_user"] = user
        g["script_group"] = group or None


def _g_fifo(field: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        if p.r.need(node.kw, node.args):
            a = node.args
            old = g.get(field)
            g[field] = m.NotifyFifo(path=a[0].text, user=a[1].text if len(a) > 1 else None,
                                    group=a[2].text if len(a) > 2 else None,
                                    script=old.script if old else None)
    return h


def _g_fifo_script(field: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        s = p.script(node)
        if s is None:
            return
        old = g.get(field)
        if old is None:
            p.diags.warning(node.kw.loc, f"'{node.kw.text}' given before its fifo - the fifo must be "
                            "defined first", "order", fails_test=False)
            old = m.NotifyFifo(path="")
        g[field] = m.NotifyFifo(path=old.path, user=old.user, group=old.group, script=s)
    return h


def _g_lvs_sync_daemon(p: Parser, node: Node, g: Fields) -> None:
    a = node.args
    if not p.r.need(node.kw, a):
        return
    v: Fields = {"interface": a[0].text, "loc": node.kw.loc}
    i = 1
    if i < len(a) and a[i].text not in ("id", "maxlen", "port", "ttl", "group", "inst"):
        v["instance"] = a[i].text
        i += 1
    while i < len(a):
        w = a[i].text
        if i + 1 >= len(a):
            p.diags.error(a[i].loc, f"lvs_sync_daemon '{w}' needs a value", "missing-parameter")
            break
        t = a[i + 1]
        if w == "inst":
            v["instance"] = t.text
        elif w == "id":
            v["sync_id"] = p.r.int(t, 0, 255, "sync id")
        elif w == "maxlen":
            v["maxlen"] = p.r.int(t, 1, 65535 - 20 - 8, "maxlen")
        elif w == "port":
            v["port"] = p.r.port(t) or 8848
        elif w == "ttl":
            v["ttl"] = p.r.int(t, 1, 255, "ttl")
        elif w == "group":
            ip = p.r.ip(t, "sync group")
            if ip:
                v["group"] = ip[0]
        else:
            p.diags.error(a[i].loc, f"unknown lvs_sync_daemon option '{w}'", "bad-option")
        i += 2
    g["lvs_sync_daemon"] = m.LvsSyncDaemon(**v)
    p.extra(node, g)


def _g_lvs_timeouts(p: Parser, node: Node, g: Fields) -> None:
    a = node.args
    v: Fields = {}
    for i in range(0, len(a) - 1, 2):
        k = a[i].text
        if k in ("tcp", "tcpfin", "udp"):
            v[k] = p.r.int(a[i + 1], 0, 86400 * 31, f"lvs_timeouts {k}")
        else:
            p.diags.error(a[i].loc, f"unknown lvs_timeouts option '{k}'", "bad-option")
    if len(a) % 2:
        p.diags.error(a[-1].loc, "lvs_timeouts takes pairs: tcp N tcpfin N udp N", "missing-parameter")
    g["lvs_timeouts"] = m.LvsTimeouts(**v)
    p.extra(node, g)


def _g_flush_on_stop(p: Parser, node: Node, g: Fields) -> None:
    g["lvs_flush_on_stop"] = True
    if node.args:
        if node.args[0].text == "VS":
            g["lvs_flush_on_stop_vs_only"] = True
        else:
            p.diags.error(node.args[0].loc, f"unexpected '{node.args[0].text}' (expected VS)", "bad-option")


def _g_extra_if(p: Parser, node: Node, g: Fields, prefix: str = "vrrp_") -> None:
    a = list(node.args)
    if a and a[0].text == "all":
        g[prefix + "garp_extra_if_all"] = True
        a = a[1:]
    if a:
        v = p.r.timer(a[0], 0, 86400, node.kw.text)
        if v is not None:
            g[prefix + "garp_extra_if"] = v
    else:
        p.diags.error(node.kw.loc, f"'{node.kw.text}' needs an interval", "missing-parameter")


def _g_dynamic_interfaces(p: Parser, node: Node, g: Fields) -> None:
    g["dynamic_interfaces"] = True
    if node.args:
        if node.args[0].text == "allow_if_changes":
            g["dynamic_interfaces_allow_if_changes"] = True
        else:
            p.diags.error(node.args[0].loc, f"unexpected '{node.args[0].text}'", "bad-option")


def _g_reload_check(p: Parser, node: Node, g: Fields) -> None:
    g["reload_check_config"] = node.args[0].text if node.args else ""


def _g_version(p: Parser, node: Node, g: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = p.r.int(node.args[0], 2, 3, "vrrp_version")
        if v is not None:
            g["vrrp_version"] = v


def _g_mcast(field: str, fam: int) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        if p.r.need(node.kw, node.args):
            ip = p.r.ip(node.args[0], node.kw.text)
            if ip is None:
                return
            import ipaddress
            if ip[1] != fam or not ipaddress.ip_address(ip[0]).is_multicast:
                p.diags.error(node.args[0].loc, f"{node.kw.text} must be an IPv{fam} multicast address",
                              "bad-ip")
                return
            g[field] = ip[0]
    return h


def _g_json_version(p: Parser, node: Node, g: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = p.r.int(node.args[0], 1, 2, "json_version")
        if v is not None:
            g["json_version"] = v


def _g_startup(field: str) -> Handler:
    return _set_script(field)


def _g_snmp(field: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        g[field] = True
        p.extra(node, g) if node.args else None
    return h


def _g_lower_prio(p: Parser, node: Node, g: Fields) -> None:
    v = p.r.flag(node.kw, node.args)
    if v is not None:
        g["vrrp_lower_prio_no_advert"] = v


GLOBAL: dict[str, Handler] = {
    "router_id": _set_str("router_id"),
    "notification_email": _g_email,
    "notification_email_from": _set_str("notification_email_from"),
    "smtp_server": _g_smtp_server,
    "smtp_helo_name": _set_str("smtp_helo_name"),
    "smtp_connect_timeout": _set_timer("smtp_connect_timeout", 0.000001, 2147),
    "smtp_alert": _set_flag("smtp_alert"),
    "smtp_alert_vrrp": _set_flag("smtp_alert_vrrp"),
    "smtp_alert_checker": _set_flag("smtp_alert_checker"),
    "no_email_faults": _set_flag("no_email_faults"),
    "checker_log_all_failures": _set_flag("checker_log_all_failures"),
    "default_interface": _set_str("default_interface"),
    "vrrp_mcast_group4": _g_mcast("vrrp_mcast_group4", 4),
    "vrrp_mcast_group6": _g_mcast("vrrp_mcast_group6", 6),
    "vrrp_garp_master_delay": _set_timer("vrrp_garp_master_delay", 0, 86400),
    "vrrp_garp_master_repeat": _set_int("vrrp_garp_master_repeat", 0, 2147483647),
    "vrrp_garp_lower_prio_delay": _set_timer("vrrp_garp_lower_prio_delay", 0, 86400),
    "vrrp_garp_lower_prio_repeat": _set_int("vrrp_garp_lower_prio_repeat", 0, 2147483647),
    "vrrp_garp_master_refresh": _set_timer("vrrp_garp_master_refresh", 0, 86400),
    "vrrp_garp_master_refresh_repeat": _set_int("vrrp_garp_master_refresh_repeat", 0, 2147483647),
    # keepalived requires at least 1us here (0 is rejected, even though 0 is the default)
    "vrrp_garp_interval": _set_timer("vrrp_garp_interval", 0.000001, 4294.967295),
    "vrrp_gna_interval": _set_timer("vrrp_gna_interval", 0.000001, 4294.967295),
    "vrrp_min_garp": _set_flag("vrrp_min_garp"),
    "vrrp_garp_extra_if": _g_extra_if,
    "vrrp_vmac_garp_intvl": _deprecated("vrrp_garp_extra_if", _g_extra_if),
    "vrrp_down_timer_adverts": _set_int("vrrp_down_timer_adverts", 1, 100),
    "vrrp_lower_prio_no_advert": _g_lower_prio,
    "vrrp_higher_prio_send_advert": _set_flag("vrrp_higher_prio_send_advert"),
    "vrrp_version": _g_version,
    "v3_checksum_as_v2": _set_flag("v3_checksum_as_v2"),
    "vrrp_strict": _set_flag("vrrp_strict"),
    "vrrp_check_unicast_src": _set_flag("vrrp_check_unicast_src"),
    "vrrp_skip_check_adv_addr": _set_flag("vrrp_skip_check_adv_addr"),
    "vrrp_owner_ignore_adverts": _set_flag("vrrp_owner_ignore_adverts"),
    "vrrp_notify_priority_changes": _set_flag("vrrp_notify_priority_changes"),
    "vrrp_startup_delay": _set_timer("vrrp_startup_delay", 0, 3600),
    "vrrp_delay_after_boot": _set_timer("vrrp_delay_after_boot", 0, 3600),
    "log_unknown_vrids": _set_flag("log_unknown_vrids"),
    "dynamic_interfaces": _g_dynamic_interfaces,
    "vmac_prefix": _set_str("vmac_prefix"),
    "vmac_addr_prefix": _set_str("vmac_addr_prefix"),
    "script_user": _g_script_user,
    "enable_script_security": _set_flag("enable_script_security"),
    "notify_fifo": _g_fifo("notify_fifo"),
    "notify_fifo_script": _g_fifo_script("notify_fifo"),
    "vrrp_notify_fifo": _g_fifo("vrrp_notify_fifo"),
    "vrrp_notify_fifo_script": _g_fifo_script("vrrp_notify_fifo"),
    "lvs_notify_fifo": _g_fifo("lvs_notify_fifo"),
    "lvs_notify_fifo_script": _g_fifo_script("lvs_notify_fifo"),
    "fifo_write_vrrp_states_on_reload": _set_flag("fifo_write_vrrp_states_on_reload"),
    "lvs_sync_daemon": _g_lvs_sync_daemon,
    "lvs_timeouts": _g_lvs_timeouts,
    "lvs_flush": _set_flag("lvs_flush"),
    "lvs_flush_on_stop": _g_flush_on_stop,
    "lvs_flush_onstop": _g_flush_on_stop,
    "rs_init_notifies": _set_flag("rs_init_notifies"),
    "no_checker_emails": _set_flag("no_checker_emails"),
    "startup_script": _g_startup("startup_script"),
    "startup_script_timeout": _set_timer("startup_script_timeout", 1, 1000),
    "shutdown_script": _g_startup("shutdown_script"),
    "shutdown_script_timeout": _set_timer("shutdown_script_timeout", 1, 1000),
    "random_seed": _set_int("random_seed", 0, 2**32 - 1),
    "state_dump_file": _set_str("state_dump_file"),
    "stats_dump_file": _set_str("stats_dump_file"),
    "json_dump_file": _set_str("json_dump_file"),
    "state_file_location": _set_str("state_dump_file"),
    "stats_file_location": _set_str("stats_dump_file"),
    "json_file_location": _set_str("json_dump_file"),
    "json_version": _g_json_version,
    "reload_check_config": _g_reload_check,
    "enable_snmp_vrrp": _g_snmp("enable_snmp_vrrp"),
    "enable_snmp_keepalived": _g_snmp("enable_snmp_vrrp"),
    "enable_snmp_checker": _g_snmp("enable_snmp_checker"),
    "enable_snmp_rfc": _g_snmp("enable_snmp_rfc"),
    "enable_snmp_rfcv2": _g_snmp("enable_snmp_rfcv2"),
    "enable_snmp_rfcv3": _g_snmp("enable_snmp_rfcv3"),
    "enable_traps": _g_snmp("enable_traps"),
    "enable_dbus": _g_snmp("enable_dbus"),
}
for _kw in ("tmp_config_directory", "config_save_dir", "process_names", "process_name", "vrrp_process_name",
            "checker_process_name", "lvs_process_name", "bfd_process_name", "use_symlink_paths",
            "set_supplementary_groups", "max_auto_priority", "min_auto_priority_delay", "disable_local_igmp",
            "vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority", "nftables_ifindex",
            "nftables_counters", "nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark",
            "vrrp_priority", "vrrp_no_swap", "vrrp_rt_priority", "vrrp_cpu_affinity", "vrrp_rlimit_rttime",
            "vrrp_rlimit_rtime", "checker_priority", "checker_no_swap", "checker_rt_priority",
            "checker_cpu_affinity", "checker_rlimit_rttime", "checker_rlimit_rtime", "bfd_priority",
            "bfd_no_swap", "bfd_rt_priority", "bfd_cpu_affinity", "bfd_rlimit_rttime", "bfd_rlimit_rtime",
            "snmp_socket", "snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval",
            "dbus_service_name", "dbus_no_interface_name", "vrrp_netlink_cmd_rcv_bufs",
            "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
            "vrrp_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force",
            "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs",
            "lvs_netlink_monitor_rcv_bufs_force", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "umask",
            "reload_time_file", "reload_repeat", "reload_file", "include_check", "data_use_instance",
            "iproute_usr_dir", "iproute_etc_dir"):
    GLOBAL[_kw] = _extra


# ---- vrrp_script / track_file / track_process / bfd ----------------------------------------------

def _script_user(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        user = node.args[0].text
        group = node.args[1].text.lstrip(":") if len(node.args) > 1 else None
        if ":" in user and group is None:
            user, _, group = user.partition(":")
        s["user"] = user
        s["group"] = group or None


def _script_cmd(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        # `script` takes the whole rest of the line (keepalived joins unquoted words)
        cmd = " ".join(t.text for t in node.args) if len(node.args) > 1 else node.args[0].text
        s["script"] = m.ScriptCall(command=cmd, argv=_split_command(cmd), loc=node.kw.loc)


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


def _tp_param_match(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = node.args[0].text
        if v in ("initial", "partial"):
            s["param_match"] = v
        else:
            p.diags.error(node.args[0].loc, f"invalid param_match '{v}' (initial or partial)", "bad-value")


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
    "min_rx": _set_timer("min_rx", 0, 1000),
    "min_tx": _set_timer("min_tx", 0, 1000),
    "idle_tx": _set_timer("idle_tx", 0, 1000),
    "multiplier": _set_int("multiplier", 1, 255),
    "passive": _set_flag("passive"),
    "ttl": _set_int("ttl", 1, 255),
    "hoplimit": _set_int("ttl", 1, 255),
    "max_hops": _set_int("max_hops", 0, 255),
    "multihop": _set_flag("multihop"),
    "weight": _weight(-253, 253),
    "vrrp": lambda p, n, s: (s.__setitem__("vrrp", True), s.setdefault("checker", False)),
    "checker": lambda p, n, s: (s.__setitem__("checker", True), s.setdefault("vrrp", False)),
}


# ---- sync group / track group -------------------------------------------------------------------

def _group_members(p: Parser, node: Node, s: Fields) -> None:
    s.setdefault("group", []).extend(t.text for t in p.value_words(node))


def _track(field: str, lo: int, hi: int, noreverse: bool) -> Handler:
    def h(p: Parser, node: Node, s: Fields) -> None:
        s.setdefault(field, []).extend(p.track_refs(node, lo, hi, noreverse))
    return h


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
    "notify_master": _set_script("notify_master"),
    "notify_backup": _set_script("notify_backup"),
    "notify_fault": _set_script("notify_fault"),
    "notify_stop": _set_script("notify_stop"),
    "notify_deleted": _sg_notify_deleted,
    "notify": _set_script("notify"),
    "smtp_alert": _set_flag("smtp_alert"),
    "global_tracking": _deprecated("track_interface/script/file on the sync group",
                                   _set_flag("global_tracking")),
    "sync_group_tracking_weight": _set_flag("sync_group_tracking_weight"),
    "notify_priority_changes": _set_flag("notify_priority_changes"),
}


def _tg_group(p: Parser, node: Node, s: Fields) -> None:
    s["group"] = tuple(s.get("group", ())) + tuple(t.text for t in p.value_words(node))


TRACK_GROUP: dict[str, Handler] = {"group": _tg_group}


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
        s.setdefault(field, []).extend(p.addresses(node))
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
    old = s.get("use_vmac")
    s["use_vmac"] = m.Vmac(**{**({} if old is None else {k: getattr(old, k) for k in
                                                          ("name", "mac", "netlink_notify_msg", "group")}),
                              "xmit_base": True})


def _i_use_ipvlan(p: Parser, node: Node, s: Fields) -> None:
    s["use_ipvlan"] = True
    p.extra(node, s)


def _i_debug(p: Parser, node: Node, s: Fields) -> None:
    if node.args:
        p.r.int(node.args[0], 0, 4, "debug")


def _i_old_csum(p: Parser, node: Node, s: Fields) -> None:
    s["old_unicast_checksum"] = not (node.args and node.args[0].text == "never")


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
    p.extra(node, s)


INSTANCE: dict[str, Handler] = {
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
    "unicast_src_ip": _set_ip("unicast_src_ip"),
    "unicast_peer": _i_peers,
    "unicast_ttl": _set_int("unicast_ttl", 0, 255),
    "unicast_fault_no_peer": _set_flag("unicast_fault_no_peer"),
    "check_unicast_src": _set_flag("check_unicast_src"),
    "old_unicast_checksum": _i_old_csum,
    "mcast_src_ip": _set_ip("mcast_src_ip"),
    "mcast_dst_ip": _i_mcast_dst,
    "track_src_ip": _set_flag("track_src_ip"),
    "track_interface": _track("track_interfaces", -253, 253, False),
    "track_script": _track("track_scripts", -253, 253, True),
    "track_file": _track("track_files", -254, 254, True),
    "track_process": _track("track_processes", -254, 254, True),
    "track_bfd": _track("track_bfds", -253, 253, True),
    "dont_track_primary": _set_flag("dont_track_primary"),
    "notify_master": _set_script("notify_master"),
    "notify_backup": _set_script("notify_backup"),
    "notify_fault": _set_script("notify_fault"),
    "notify_stop": _set_script("notify_stop"),
    "notify_deleted": _i_notify_deleted,
    "notify": _set_script("notify"),
    "notify_master_rx_lower_pri": _set_script("notify_master_rx_lower_pri"),
    "notify_priority_changes": _set_flag("notify_priority_changes"),
    "smtp_alert": _set_flag("smtp_alert"),
    "garp_master_delay": _set_timer("garp_master_delay", 0, 86400),
    "garp_master_repeat": _set_int("garp_master_repeat", 0, 2147483647),
    "garp_lower_prio_delay": _set_timer("garp_lower_prio_delay", 0, 86400),
    "garp_lower_prio_repeat": _set_int("garp_lower_prio_repeat", 0, 2147483647),
    "garp_master_refresh": _set_timer("garp_master_refresh", 0, 86400),
    "garp_master_refresh_repeat": _set_int("garp_master_refresh_repeat", 0, 2147483647),
    "garp_extra_if": _i_extra_if,
    "vmac_garp_intvl": _deprecated("garp_extra_if", _i_extra_if),
    "down_timer_adverts": _set_int("down_timer_adverts", 1, 100),
    "timer_expired_backup": _i_timer_expired,
    "thread_timer_expired": _i_timer_expired,
    "lower_prio_no_advert": _set_flag("lower_prio_no_advert"),
    "higher_prio_send_advert": _set_flag("higher_prio_send_advert"),
    "owner_ignore_adverts": _set_flag("owner_ignore_adverts"),
    "use_vmac": Parser.use_vmac,
    "use_vmac_addr": _set_flag("use_vmac_addr"),
    "vmac_xmit_base": _i_vmac_xmit,
    "use_ipvlan": _i_use_ipvlan,
    "native_ipv6": _set_flag("native_ipv6"),
    "skip_check_adv_addr": _set_flag("skip_check_adv_addr"),
    "strict_mode": _set_flag("strict_mode"),
    "accept": _i_accept(True),
    "no_accept": _i_accept(False),
    "preempt": _i_preempt,
    "nopreempt": _set_flag("nopreempt"),
    "preempt_delay": _set_timer("preempt_delay", 0, 1000),
    "debug": _i_debug,
    "v3_checksum_as_v2": _set_flag("v3_checksum_as_v2"),
    "kernel_rx_buf_size": _set_int("kernel_rx_buf_size", 0, 2**31 - 1),
    "linkbeat_use_polling": _deprecated("a top-level linkbeat_interfaces block", _extra),
    "lvs_sync_daemon_interface": _deprecated("lvs_sync_daemon in global_defs",
                                             _set_str("lvs_sync_daemon_interface")),
}


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
    "ip_family": _vs_ip_family,
    "inhibit_on_failure": _vs_bool_opt("inhibit_on_failure"),
    "lb_algo": _vs_sched,
    "lvs_sched": _vs_sched,
    "hashed": _set_flag("hashed"),
    "ops": _set_flag("ops"),
    "flag-1": _set_flag("flag_1"),
    "flag-2": _set_flag("flag_2"),
    "flag-3": _set_flag("flag_3"),
    "sh-port": _set_flag("sh_port"),
    "sh-fallback": _set_flag("sh_fallback"),
    "mh-port": _set_flag("mh_port"),
    "mh-fallback": _set_flag("mh_fallback"),
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
    "url": Parser.url,
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
        c["misc_path"] = m.ScriptCall(command=cmd, argv=_split_command(cmd), loc=node.kw.loc)


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

# Every table by block name, for tooling (dump of recognised keywords, docs, tests).
TABLES: dict[str, dict[str, Handler]] = {
    "top": TOP, "global_defs": GLOBAL, "vrrp_script": SCRIPT, "track_file": TRACK_FILE,
    "vrrp_track_process": TRACK_PROCESS, "bfd_instance": BFD, "vrrp_sync_group": SYNC_GROUP,
    "track_group": TRACK_GROUP, "vrrp_instance": INSTANCE, "authentication": AUTH, "SSL": SSL,
    "virtual_server": VS, "real_server": RS, "HTTP_GET": HTTP, "MISC_CHECK": MISC, "SMTP_CHECK": SMTP,
    "DNS_CHECK": DNS, "UDP_CHECK": UDP, "FILE_CHECK": FILE, "BFD_CHECK": BFDC, "TCP_CHECK": COMMON,
    "url": URL,
}
