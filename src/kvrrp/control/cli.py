"""kvrrpctl (also `kvrrp ctl`): talk to a running kvrrp over its control socket.

    kvrrpctl status                          one line per VRRP instance
    kvrrpctl show NAME                       one instance: state, counters, trackers
    kvrrpctl maintenance on|off NAME|--all [--persist]
    kvrrpctl failover NAME [--hold SECONDS]  hand the master role to the best backup now
    kvrrpctl rs list | rs drain VS RS | rs enable VS RS
    kvrrpctl reload | dump [data|stats|json ...] | version

Tables by default, --json for the daemon's answer as JSON. Exit status 0 on success, 1 when
the daemon refused (the reason on stderr), 2 when it could not be reached.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kvrrp.control.client import ControlError, call
from kvrrp.control.protocol import socket_path
from kvrrp.control.tables import format_answer
from kvrrp.pidfile import DEFAULT_PID_FILE

DEFAULT_SOCKET = socket_path(DEFAULT_PID_FILE)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kvrrpctl", description="Control a running kvrrp daemon.")
    p.add_argument("-s", "--socket", default=DEFAULT_SOCKET, help=f"control socket (default {DEFAULT_SOCKET})")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the answer")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("status", help="one line per VRRP instance")
    show = sub.add_parser("show", help="details of one instance")
    show.add_argument("name")
    m = sub.add_parser("maintenance", help="take instances out of service (priority 0, VIPs removed) or back")
    m.add_argument("mode", choices=("on", "off"))
    target = m.add_mutually_exclusive_group(required=True)
    target.add_argument("name", nargs="?", help="instance name")
    target.add_argument("--all", action="store_true", help="every instance (and those a reload adds)")
    m.add_argument("--persist", action="store_true", help="also after a restart of the daemon")
    f = sub.add_parser("failover", help="hand the master role of an instance to the best backup now")
    f.add_argument("name")
    f.add_argument("--hold", type=float, default=None,
                   help="seconds this node keeps its priority at 1 and does not take the role back (default 60)")
    rs = sub.add_parser("rs", help="real servers of the checker process")
    rs_sub = rs.add_subparsers(dest="rs_command", required=True, metavar="ACTION")
    rs_sub.add_parser("list", help="every real server with health, weight and traffic")
    for verb, text in (("drain", "weight 0 until enabled again"), ("enable", "back to its configured weight")):
        a = rs_sub.add_parser(verb, help=text)
        a.add_argument("vs", help="virtual server: IP:PORT, [IP]:PORT, FWM N or the group name")
        a.add_argument("rs", help="real server: IP:PORT or [IP]:PORT")
    sub.add_parser("reload", help="reload the configuration (as SIGHUP)")
    d = sub.add_parser("dump", help="write the keepalived dump files (as SIGUSR1/SIGUSR2/SIGJSON)")
    d.add_argument("kinds", nargs="*", metavar="data|stats|json", help="default: all three")
    sub.add_parser("version", help="the daemon's version")
    return p


def request_of(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    cmd = args.command
    if cmd == "show":
        return cmd, {"name": args.name}
    if cmd == "maintenance":
        out: dict[str, Any] = {"on": args.mode == "on", "persist": args.persist}
        if args.all:
            out["all"] = True
        else:
            out["name"] = args.name
        return cmd, out
    if cmd == "failover":
        return cmd, {"name": args.name} if args.hold is None else {"name": args.name, "hold": args.hold}
    if cmd == "rs":
        if args.rs_command == "list":
            return cmd, {"action": "list"}
        return cmd, {"action": args.rs_command, "vs": args.vs, "rs": args.rs}
    if cmd == "dump":
        return cmd, {"kinds": args.kinds} if args.kinds else {}
    return cmd, {}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cmd, req = request_of(args)
    try:
        answer = call(args.socket, cmd, timeout=args.timeout, **req)
    except ControlError as exc:
        text = str(exc)
        print(f"kvrrpctl: {text}", file=sys.stderr)
        return 2 if args.socket in text else 1
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True, default=str))
    else:
        sys.stdout.write(format_answer(cmd, req, answer))
    return 0
