"""Top-level link keywords (keepalived's vrrp_parser.c): `linkbeat_interfaces { IF [MII|ETHTOOL|
IOCTL] ... }` and `interface_up_down_delays { IF DOWN_DELAY [UP_DELAY] ... }`, with
keepalived's messages for mistakes."""
from __future__ import annotations

from typing import TYPE_CHECKING

from kvrrp.config import model as m
from kvrrp.config.kw_handlers import Fields
from kvrrp.config.tree import Node

if TYPE_CHECKING:
    from kvrrp.config.parser import Parser

LINKBEAT_TYPES = ("MII", "ETHTOOL", "IOCTL")
MAX_DELAY = 255.0          # seconds, keepalived's read_timer bound


def linkbeat_interfaces(p: Parser, node: Node, f: Fields) -> None:
    out = f.setdefault("linkbeat_interfaces", [])
    for line in p.value_lines(node):
        kind = None
        if len(line) > 1:
            kind = line[1].text if line[1].text in LINKBEAT_TYPES else None
            if kind is None or len(line) > 2:
                p.diags.error(line[1].loc, f"extra characters {line[1].text} in linkbeat interface",
                              "extra-parameter")
        out.append(m.LinkbeatInterface(interface=line[0].text, type=kind, loc=line[0].loc))


def _delay(p: Parser, tok, what: str, ifname: str) -> float | None:
    try:
        val = float(tok.text)
    except ValueError:
        val = -1.0
    if not 0.0 <= val <= MAX_DELAY or tok.text.lower() in ("nan", "inf", "infinity"):
        p.diags.error(tok.loc, f"Invalid {what} delay {tok.text} for {ifname}", "invalid-number")
        return None
    return round(val, 6)


def interface_up_down_delays(p: Parser, node: Node, f: Fields) -> None:
    out = f.setdefault("interface_up_down_delays", [])
    for line in p.value_lines(node):
        ifname = line[0].text
        if len(line) < 2:
            p.diags.warning(line[0].loc, f"No timeouts specified for {ifname} up/down delays", "missing-parameter",
                            fails_test=False)
            continue
        if len(line) > 3:
            p.diags.warning(line[3].loc, f"Too many parameters for {ifname} up/down delays", "extra-parameter",
                            fails_test=False)
        down = _delay(p, line[1], "down", ifname)
        if down is None:
            continue
        up = _delay(p, line[2], "up", ifname) if len(line) > 2 else 0.0
        if up is None:
            continue
        out.append(m.InterfaceDelays(interface=ifname, down=down, up=up, loc=line[0].loc))
