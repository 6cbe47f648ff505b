"""The control protocol: one JSON object per line each way.

request  {"cmd": "status", "args": {...}}
answer   {"ok": true, "result": ...}  or  {"ok": false, "error": "what went wrong"}
"""
from __future__ import annotations

import json
import os
from typing import Any

MAX_LINE = 1 << 20          # a request is small; an answer (status of thousands of instances) is not
ANSWER_LIMIT = 1 << 28
# node maintenance (kvrrpctl maintenance --all) as the VRRP daemon hands it to each (re)start of
# its checker child, whose BGP part starts withdrawn then (kvrrp.bgp.wiring reads it)
MAINTENANCE_ENV = "KVRRP_BGP_MAINTENANCE"


def socket_path(pid_file: str) -> str:
    """The control socket beside a pid file: /run/kvrrp.pid -> /run/kvrrp.ctl."""
    return os.path.splitext(pid_file)[0] + ".ctl"


def encode(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, default=str).encode() + b"\n"


def request(cmd: str, **args: Any) -> bytes:
    return encode({"cmd": cmd, "args": args})


def ok(result: Any) -> bytes:
    return encode({"ok": True, "result": result})


def error(text: str) -> bytes:
    return encode({"ok": False, "error": text})
