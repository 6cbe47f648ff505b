"""Parsers for the one-line entries of value blocks: virtual_ipaddress (and static_ipaddress),
virtual_routes / static_routes (ip route vocabulary), virtual_rules / static_rules (ip rule
vocabulary), unicast_peer and virtual_server_group members. A mixin of the Parser."""
from __future__ import annotations

from kvrrp.config import model as m
from kvrrp.config.lexer import Token
from kvrrp.config.tree import Node

Fields = dict
SCOPES = ("global", "site", "link", "host", "nowhere")
ROUTE_TYPES = ("unicast", "blackhole", "unreachable", "prohibit", "throw", "local", "broadcast",
               "anycast", "multicast", "nat")


class EntryParsers:
    """Needs self.r (values.Reader), self.diags and self.value_lines() from the Parser."""

    # the preference keepalived gives the next rule written without one, per family
    _next_rule_preference: dict[int, int]

    def addresses(self, node: Node, static: bool = False) -> list[m.VirtualAddress]:
        return [a for a in (self.address(line, static) for line in self.value_lines(node)) if a is not None]

    def address(self, line: list[Token], static: bool) -> m.VirtualAddress | None:
        p = self.r.prefix(line[0], "virtual address", clamp=True)
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
            elif w == "from":
                # a source-specific route (RTA_SRC): keepalived takes it for IPv6 only and drops
                # the whole route otherwise
                if nxt is None:
                    self.diags.error(tok.loc, "route option 'from' needs a value", "missing-parameter")
                    return None
                src_net = self.r.network(nxt, "route from address")
                if src_net is None:
                    return None
                if src_net[1] != 6:
                    self.diags.error(nxt.loc, f"route from address only supported with IPv6 ({nxt.text})",
                                     "bad-option")
                    return None
                if fam and fam != 6:
                    self.diags.error(nxt.loc, "Cannot mix IPv4 and IPv6 addresses for route", "bad-option")
                    return None
                r["from_"] = src_net[0]
                fam = 6
                i += 2
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
        if not static and not r.get("no_track") and r.get("protocol") not in (None, "keepalived", "18"):
            # keepalived tracks its routes by protocol: it resets any other (and reports it)
            self.diags.warning(line[0].loc, f"route cannot be tracked if protocol is not keepalived (18) - "
                               f"resetting protocol {r['protocol']}", "route-protocol", fails_test=True)
            r["protocol"] = None
        if r.get("from_") and net[1] not in (None, 6):
            self.diags.error(to_tok.loc, "Cannot mix IPv4 and IPv6 addresses for route", "bad-option")
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
        if r.get("preference") is None:
            # keepalived (vrrp_iprule.c) gives such rules 16384, 16383, ... per family and says so
            r["preference"] = self._next_rule_preference[r["family"]]
            self._next_rule_preference[r["family"]] -= 1
            self.diags.warning(line[0].loc, f"Rule has no preference specified - setting to {r['preference']}. "
                               "This is probably not what you want.", "rule-preference", fails_test=True)
        proto = [v for k, v in opts if k == "protocol"]
        if not static and not r.get("no_track") and proto and proto[-1] not in ("keepalived", "18"):
            self.diags.warning(line[0].loc, f"rule cannot be tracked if protocol is not keepalived (18) - "
                               f"resetting protocol {proto[-1]}", "rule-protocol", fails_test=True)
            opts = [(k, v) for k, v in opts if k != "protocol"]
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
