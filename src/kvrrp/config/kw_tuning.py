"""global_defs keywords for socket buffers, scheduled reloads, config copies, iproute2 name
files and dump file names (keepalived's global_parser.c, same words for the same mistakes).

Merged into the global_defs table by kw_global.py (GLOBAL.update(TUNING)).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kvrrp.config.kw_handlers import Fields, Handler
from kvrrp.config.tree import Node

if TYPE_CHECKING:
    from kvrrp.config.parser import Parser

UINT_MAX = 2**32 - 1

# the sockets whose receive buffer global_defs can size: keyword prefix -> model field prefix
NETLINK_BUFFERS = ("vrrp_netlink_cmd", "vrrp_netlink_monitor", "lvs_netlink_cmd", "lvs_netlink_monitor",
                   "process_monitor")


def _unsigned(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) <= UINT_MAX else None


def _rcv_bufs(prefix: str) -> Handler:
    """<prefix>_rcv_bufs SIZE: 0 leaves keepalived's default (64 KiB) in place."""
    def h(p: Parser, node: Node, g: Fields) -> None:
        if not node.args:
            p.diags.error(node.kw.loc, f"{prefix}_rcv_bufs size missing", "missing-parameter")
            return
        val = _unsigned(node.args[0].text)
        if val is None:
            p.diags.error(node.args[0].loc, f"{prefix}_rcv_bufs size ({node.args[0].text}) invalid", "invalid-number")
        elif val:
            g[f"{prefix}_rcv_bufs"] = val
    return h


def _true_false(field: str, keyword: str | None = None) -> Handler:
    """Alone = true, or an optional true/false word (keepalived's check_true_false)."""
    def h(p: Parser, node: Node, g: Fields) -> None:
        if not node.args:
            g[field] = True
            return
        low = node.args[0].text.lower()
        if low in ("true", "on", "yes"):
            g[field] = True
        elif low in ("false", "off", "no"):
            g[field] = False
        else:
            p.diags.error(node.args[0].loc, f"Invalid value '{node.args[0].text}' for global "
                          f"{keyword or node.kw.text} specified", "invalid-bool")
    return h


def _rx_bufs_policy(p: Parser, node: Node, g: Fields) -> None:
    """MTU, ADVERT or a size in bytes (each VRRP instance's share of its receive socket)."""
    if not node.args:
        p.diags.error(node.kw.loc, "vrrp_rx_bufs_policy missing", "missing-parameter")
        return
    policy: set[str] = set()
    size = None
    for tok in node.args:
        word = tok.text.upper()
        if word in ("MTU", "ADVERT"):
            policy.add(word)
        elif (val := _unsigned(tok.text)) is not None:
            size = val
        else:
            p.diags.error(tok.loc, f"Invalid vrrp_rx_bufs_policy {tok.text}", "invalid-parameter")
    if size is not None and policy:
        p.diags.error(node.kw.loc, "Cannot set vrrp_rx_bufs_policy size and policy, ignoring policy",
                      "invalid-parameter")
        policy.clear()
    elif policy == {"MTU", "ADVERT"}:
        p.diags.error(node.kw.loc, "Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT",
                      "invalid-parameter")
        policy.discard("ADVERT")
    if size is not None:
        g["vrrp_rx_bufs_policy"], g["vrrp_rx_bufs_size"] = "SIZE", size
    elif policy:
        g["vrrp_rx_bufs_policy"] = policy.pop()


def _rx_bufs_multiplier(p: Parser, node: Node, g: Fields) -> None:
    if len(node.args) != 1:
        p.diags.error(node.kw.loc, "Invalid vrrp_rx_bufs_multiplier", "invalid-parameter")
        return
    val = _unsigned(node.args[0].text)
    if not val:
        p.diags.error(node.args[0].loc, f"Invalid vrrp_rx_bufs_multiplier {node.args[0].text}", "invalid-number")
    else:
        g["vrrp_rx_bufs_multiplier"] = val


def _path(field: str, missing: str | None = None, once: bool = False) -> Handler:
    """One path; missing: keepalived's message when none is given (None: 'needs a value')."""
    def h(p: Parser, node: Node, g: Fields) -> None:
        if once and field in g:
            p.diags.error(node.kw.loc, f"{node.kw.text} already specified - ignoring", "duplicate")
            return
        if not node.args:
            if missing is not None:
                p.diags.error(node.kw.loc, missing.format(kw=node.kw.text), "missing-parameter")
            else:
                p.r.need(node.kw, node.args)
            return
        g[field] = node.args[0].text
    return h


def _reload_time_file(p: Parser, node: Node, g: Fields) -> None:
    if len(node.args) != 1:
        p.diags.error(node.kw.loc, "reload_time_file invalid", "invalid-parameter")
        return
    g["reload_time_file"] = node.args[0].text


def _reload_file(p: Parser, node: Node, g: Fields) -> None:
    # alone: the default lock file next to the pid file (resolved at run time)
    g["reload_file"] = node.args[0].text if node.args else ""


def _reload_repeat(p: Parser, node: Node, g: Fields) -> None:
    g["reload_repeat"] = True


TUNING: dict[str, Handler] = {
    **{f"{prefix}_rcv_bufs": _rcv_bufs(prefix) for prefix in NETLINK_BUFFERS},
    **{f"{prefix}_rcv_bufs_force": _true_false(f"{prefix}_rcv_bufs_force") for prefix in NETLINK_BUFFERS},
    "vrrp_rx_bufs_policy": _rx_bufs_policy,
    "vrrp_rx_bufs_multiplier": _rx_bufs_multiplier,
    "reload_time_file": _reload_time_file,
    "reload_repeat": _reload_repeat,
    "reload_file": _reload_file,
    "config_save_dir": _path("config_save_dir"),
    "tmp_config_directory": _path("tmp_config_directory", "{kw} missing directory name", once=True),
    "iproute_etc_dir": _path("iproute_etc_dir"),
    "iproute_usr_dir": _path("iproute_usr_dir"),
    # keepalived's own message spells it "date_use_instance"
    "data_use_instance": _true_false("data_use_instance", "date_use_instance"),
}
