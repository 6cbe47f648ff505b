"""The SNMP lines of keepalived's `-d` / SIGUSR1 global definitions dump (global_data.c's
dump_global_data), from a configuration's global_defs and the -x / -A options. Pure text; no
SNMP code is imported (kvrrp.snmp loads only when a MIB is enabled).

    SNMP vrrp enabled|disabled
    SNMP checker enabled|disabled
    SNMP RFCv2 enabled|disabled
    SNMP RFCv3 enabled|disabled
    SNMP traps enabled|disabled
    SNMP socket = SPEC | default (unix:/var/agentx/master)

`enable_snmp_rfc` turns both RFC lines on, `-x` all four MIB lines (traps stay as configured),
`-A SPEC` names the socket over `snmp_socket`, as in keepalived.
"""
from __future__ import annotations

from typing import Any

DEFAULT_SOCKET = "default (unix:/var/agentx/master)"


def _onoff(value: bool) -> str:
    return "enabled" if value else "disabled"


def snmp_lines(global_defs: Any, snmp_option: bool = False, socket_option: str | None = None) -> list[str]:
    g = global_defs
    rfc = bool(g.enable_snmp_rfc)
    socket = socket_option or g.snmp_socket
    return [
        f" SNMP vrrp {_onoff(snmp_option or g.enable_snmp_vrrp)}",
        f" SNMP checker {_onoff(snmp_option or g.enable_snmp_checker)}",
        f" SNMP RFCv2 {_onoff(snmp_option or rfc or g.enable_snmp_rfcv2)}",
        f" SNMP RFCv3 {_onoff(snmp_option or rfc or g.enable_snmp_rfcv3)}",
        f" SNMP traps {_onoff(g.enable_traps)}",
        f" SNMP socket = {socket if socket else DEFAULT_SOCKET}",
    ]


def global_section(args: Any, config: Any, hostname: str) -> str:
    """The start of keepalived's "Global definitions" dump section, as far as kvrrp writes it:
    the network namespace, the router id and the SNMP lines."""
    lines = ["------< Global definitions >------",
             f" Network namespace = {getattr(config, 'net_namespace', None) or '(default)'}",
             f" Router ID = {config.global_defs.router_id or hostname}",
             *snmp_lines_for(args, config)]
    return "".join(line + "\n" for line in lines)


def snmp_lines_for(args: Any, config: Any) -> list[str]:
    """The lines for a running daemon: its parsed options (-x, -A) and configuration."""
    return snmp_lines(config.global_defs, bool(getattr(args, "snmp", False)),
                      getattr(args, "snmp_agent_socket", None))
