"""kvrrp-only keywords for announcing VIPs over BGP (kvrrp.bgp; docs/scale-out.md).

    kvrrp_bgp {                       # top level, at most once
        daemon frr                    # the routing daemon kvrrp drives (FRR bgpd through vtysh)
        asn 65101                     # required: the `router bgp ASN` of that bgpd
        vtysh /usr/bin/vtysh          # default
        vty_socket /run/frr           # vtysh --vty_socket (FRR in a namespace), optional
        med 10                        # optional, this node's MULTI_EXIT_DISC on every route
        local_preference 200          # optional, LOCAL_PREF (iBGP)
        community 65000:100 no-export # optional, one or more
        ipvs off                      # optional: checks and quorum only, no kernel IPVS
    }
    vrrp_instance X { ... kvrrp_announce }     # follow VRRP: the VIPs while MASTER
    virtual_server IP PORT { ... kvrrp_announce }   # anycast: IP while the service has quorum

keepalived's parser reports all of these as unknown keywords (`keepalived -t` fails), so a
file using them is visibly not a keepalived file any more.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kvrrp.config import model as m
from kvrrp.config.diagnostics import Diagnostics
from kvrrp.config.kw_handlers import Fields, Handler, _set_flag, _set_int, _set_str
from kvrrp.config.tree import Node

if TYPE_CHECKING:
    from kvrrp.config.parser import Parser
    from kvrrp.config.validate import Where

DAEMONS = ("frr",)
# FRR's `set community` well-known names (bgpd/bgp_community.c)
WELL_KNOWN_COMMUNITIES = ("no-export", "no-advertise", "local-AS", "no-peer", "blackhole",
                          "graceful-shutdown", "accept-own", "no-llgr", "llgr-stale")
_COMMUNITY = re.compile(r"^(\d{1,5}):(\d{1,5})$")
U32 = 4294967295


def _daemon(p: Parser, node: Node, f: Fields) -> None:
    if p.one_value(node):
        word = node.args[0].text.lower()
        if word not in DAEMONS:
            p.diags.error(node.args[0].loc, f"kvrrp_bgp daemon '{node.args[0].text}': kvrrp drives "
                          f"{', '.join(DAEMONS)}", "invalid-value")
            return
        f["daemon"] = word


def _communities(p: Parser, node: Node, f: Fields) -> None:
    if not p.r.need(node.kw, node.args):
        return
    out = list(f.get("communities", ()))
    for tok in node.args:
        mm = _COMMUNITY.match(tok.text)
        if mm is not None and int(mm.group(1)) <= 65535 and int(mm.group(2)) <= 65535:
            out.append(tok.text)
        elif tok.text in WELL_KNOWN_COMMUNITIES:
            out.append(tok.text)
        else:
            p.diags.error(tok.loc, f"community '{tok.text}' is neither AA:NN (0-65535 each) nor one of "
                          f"{', '.join(WELL_KNOWN_COMMUNITIES)}", "invalid-value")
    f["communities"] = tuple(out)


BGP: dict[str, Handler] = {
    "daemon": _daemon,
    "vtysh": _set_str("vtysh"),
    "vty_socket": _set_str("vty_socket"),
    "asn": _set_int("asn", 1, U32),
    "med": _set_int("med", 0, U32),
    "local_preference": _set_int("local_preference", 0, U32),
    "community": _communities,
    "ipvs": _set_flag("ipvs"),
}


def kvrrp_bgp(p: Parser, node: Node, f: Fields) -> None:
    """The top-level block; a second one is an error (which node's attributes would win?)."""
    if node.args:
        p.diags.warning(node.args[0].loc, "kvrrp_bgp takes no name - extra words ignored", "extra-parameter",
                        fails_test=False)
    s: Fields = {"loc": node.kw.loc}
    p.dispatch("kvrrp_bgp", BGP, p.block(node), s)
    if "bgp" in f:
        p.diags.error(node.kw.loc, "kvrrp_bgp given twice - this block is ignored", "duplicate")
        return
    if "asn" not in s:
        p.diags.error(node.kw.loc, "kvrrp_bgp needs 'asn' (the `router bgp` number of the BGP daemon)",
                      "missing-parameter")
    f["bgp"] = p.build(m.BgpAnnounce, s)


def validate_bgp(cfg: m.Config, diags: Diagnostics, where: Where) -> None:
    """kvrrp_announce needs a kvrrp_bgp block and something to announce."""
    for inst in cfg.instances:
        if not inst.kvrrp_announce:
            continue
        if cfg.bgp is None:
            diags.error(where(inst, "kvrrp_announce"), f"({inst.name}) kvrrp_announce needs a kvrrp_bgp "
                        "block (which BGP daemon, which ASN)", "undefined-reference")
        elif not inst.virtual_ipaddress and not inst.virtual_ipaddress_excluded:
            diags.warning(where(inst, "kvrrp_announce"), f"({inst.name}) kvrrp_announce: the instance has no "
                          "virtual_ipaddress - nothing to announce", "ignored", fails_test=True)
    followed = {a.address for i in cfg.instances if i.kvrrp_announce
                for a in (*i.virtual_ipaddress, *i.virtual_ipaddress_excluded)}
    for vs in cfg.virtual_servers:
        if not vs.kvrrp_announce:
            continue
        if vs.ip is not None and vs.ip in followed:
            # one `network` statement per prefix in bgpd: the two owners would fight over it
            diags.error(where(vs, "kvrrp_announce"), f"virtual server {vs.key}: {vs.ip} is also the VIP of a "
                        "vrrp_instance with kvrrp_announce - announce it one way only", "duplicate")
        if cfg.bgp is None:
            diags.error(where(vs, "kvrrp_announce"), f"virtual server {vs.key}: kvrrp_announce needs a "
                        "kvrrp_bgp block (which BGP daemon, which ASN)", "undefined-reference")
        if vs.ip is None:
            diags.error(where(vs, "kvrrp_announce"), f"virtual server {vs.key}: kvrrp_announce needs an "
                        "address (virtual_server IP PORT), not a fwmark or a group", "invalid-value")
