"""The top-level keyword table and every block's table by name."""
from __future__ import annotations

from typing import TYPE_CHECKING

from kvrrp.config.kw_handlers import Fields, Handler, _extra
from kvrrp.config.tree import Node
from kvrrp.config.kw_bgp import BGP, kvrrp_bgp
from kvrrp.config.kw_global import GLOBAL
from kvrrp.config.kw_links import interface_up_down_delays, linkbeat_interfaces
from kvrrp.config.kw_process import TOP_PROCESS
from kvrrp.config.kw_lvs import (COMMON, DNS, FILE, HTTP, MISC, RS, SMTP, SSL, UDP, URL, VS, BFDC,
                                  CHECKERS)  # noqa: F401
from kvrrp.config.kw_vrrp import (AUTH, AUTH_HMAC, BFD, GARP_GROUP, INSTANCE, SCRIPT, SYNC_GROUP, TRACK_FILE,
                                   TRACK_GROUP, TRACK_PROCESS)

if TYPE_CHECKING:
    from kvrrp.config.parser import Parser


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


def _top_flag(field: str) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        f[field] = True
    return h


def _top_extra_block(p: Parser, node: Node, f: Fields) -> None:
    p.extra(node, f)


TOP: dict[str, Handler] = {
    "global_defs": "global_defs",
    "vrrp_script": "vrrp_script",
    "track_file": "track_file",
    "vrrp_track_file": "track_file",
    "vrrp_track_process": "track_process",
    "bfd_instance": "bfd_instance",
    "vrrp_sync_group": "sync_group",
    "vrrp_instance": "vrrp_instance",
    "track_group": "track_group",
    "static_ipaddress": _static_addrs,
    "static_routes": _static_routes,
    "static_rules": _static_rules,
    "SSL": "ssl",
    "virtual_server_group": "vs_group",
    "virtual_server": "virtual_server",
    "net_namespace": _top_store("net_namespace"),
    "instance": _top_store("instance_name"),
    "net_namespace_ipvs": _extra,
    "namespace_with_ipsets": _extra,
    "use_pid_dir": _extra,
    "linkbeat_use_polling": _top_flag("linkbeat_use_polling"),
    "child_wait_time": _extra,
    "linkbeat_interfaces": linkbeat_interfaces,
    "garp_group": "garp_group",
    "interface_up_down_delays": interface_up_down_delays,
    "kvrrp_bgp": kvrrp_bgp,                  # kvrrp only (kw_bgp.py)
}
# net_namespace, net_namespace_ipvs, use_pid_dir, child_wait_time ... (kvrrp.config.kw_process)
TOP.update(TOP_PROCESS)




# Every table by block name, for tooling (dump of recognised keywords, docs, tests).
TABLES: dict[str, dict[str, Handler]] = {
    "top": TOP, "global_defs": GLOBAL, "vrrp_script": SCRIPT, "track_file": TRACK_FILE,
    "vrrp_track_process": TRACK_PROCESS, "bfd_instance": BFD, "vrrp_sync_group": SYNC_GROUP,
    "track_group": TRACK_GROUP, "garp_group": GARP_GROUP, "vrrp_instance": INSTANCE, "authentication": AUTH,
    "auth_hmac": AUTH_HMAC,
    "SSL": SSL,
    "virtual_server": VS, "real_server": RS, "HTTP_GET": HTTP, "MISC_CHECK": MISC, "SMTP_CHECK": SMTP,
    "DNS_CHECK": DNS, "UDP_CHECK": UDP, "FILE_CHECK": FILE, "BFD_CHECK": BFDC, "TCP_CHECK": COMMON,
    "url": URL, "kvrrp_bgp": BGP,
}
