"""A daemon seen from outside: its status API, its processes and descriptors, its log."""
from __future__ import annotations

import json
import os
import socket
import urllib.request

from kvrrp.io.netns import entered

BAD_LOG_MARKERS = ("Traceback (most recent call last)", "fatal error")


def free_port(netns: str) -> int:
    with entered(netns):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]


def status(netns: str, port: int, timeout: float = 5.0) -> dict:
    with entered(netns):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=timeout) as resp:
            return json.loads(resp.read().decode())


def try_status(netns: str, port: int) -> dict | None:
    try:
        return status(netns, port)
    except (OSError, ValueError):
        return None


def counters(st: dict) -> dict:
    """Flattened receive counters of a /status snapshot: per-instance drops and accepted
    adverts, engine drops, socket counters (eth0/v4 ...)."""
    inst_drops: dict[str, int] = {}
    accepted = 0
    for entry in st.get("instances", []):
        stats = entry.get("stats") or entry.get("data", {}).get("stats") or {}
        accepted += int(stats.get("advert_rcvd", 0))
        for reason, count in (stats.get("drops") or {}).items():
            inst_drops[reason] = inst_drops.get(reason, 0) + int(count)
    sockets = st.get("sockets", {})
    received = sum(int(s.get("received", 0)) for s in sockets.values())
    bad_ip = sum(int(s.get("drop_bad_ip_header", 0)) for s in sockets.values())
    return {"instance": inst_drops, "engine": dict(st.get("drops", {})), "accepted": accepted,
            "socket_received": received, "socket_bad_ip": bad_ip}


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for tid in _listdir(f"/proc/{p}/task"):
            try:
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    kids = [int(x) for x in fh.read().split()]
            except (OSError, ValueError):
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def fd_count(pid: int) -> int:
    return len(_listdir(f"/proc/{pid}/fd"))


def fd_targets(pid: int) -> list[str]:
    out = []
    for fd in _listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return sorted(out)


def thread_count(pid: int) -> int:
    return len(_listdir(f"/proc/{pid}/task"))


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def raw_socket_drops(pid: int, proto: int = 112) -> int:
    """Kernel drops (receive queue full) of the raw sockets for `proto` in pid's namespace."""
    total = 0
    try:
        with open(f"/proc/{pid}/net/raw") as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                if len(parts) >= 13 and int(parts[1].split(":")[1], 16) == proto:
                    total += int(parts[-1])
    except (OSError, ValueError, StopIteration):
        pass
    return total


def processes_with(marker: str) -> list[int]:
    """Pids whose command line contains `marker` (leftover script processes)."""
    out = []
    needle = marker.encode()
    for name in _listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                if needle in fh.read():
                    out.append(int(name))
        except OSError:
            continue
    return out


def bad_log_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(m in line for m in BAD_LOG_MARKERS)]


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
