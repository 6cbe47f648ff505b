"""Timing helpers shared by the lab benchmarks (bench_bfd.py, bench_bgp_withdraw.py): a log
follower that stamps each line when it is first seen, the summary statistics the README
carries, the load average, and the versions a result records.

Not a benchmark itself (no `bench_` prefix: bench/conftest.py leaves it alone).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import kvrrp
from kvrrp import fastpath


class LogTail:
    """A daemon's log file read incrementally; every complete line is stamped with the
    time.time() of the poll that first saw it, so `poll()` every few ms gives each line's
    arrival time to within the polling interval (neither kvrrp's nor keepalived's console log
    carries sub-second timestamps)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._pos = 0
        self._partial = b""
        self.lines: list[tuple[float, str]] = []

    def poll(self) -> None:
        now = time.time()
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._pos)
                data = fh.read()
        except FileNotFoundError:
            return
        if not data:
            return
        self._pos += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        self.lines += [(now, line.decode(errors="replace")) for line in complete]

    def mark(self) -> int:
        """An index into `lines`: `first(..., since=mark)` looks only at lines after it."""
        self.poll()
        return len(self.lines)

    def first(self, needle: str, since: int = 0) -> tuple[float, str] | None:
        for seen, line in self.lines[since:]:
            if needle in line:
                return seen, line
        return None

    def count(self, needle: str, since: int = 0) -> int:
        return sum(1 for _, line in self.lines[since:] if needle in line)


def summary(values: list[float]) -> dict:
    """n, median, p90 (nearest rank), min and max; values in ms, rounded to 0.1 ms."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {"n": len(ordered), "median": round(statistics.median(ordered), 1), "p90": round(p90, 1),
            "min": round(ordered[0], 1), "max": round(ordered[-1], 1)}


def loadavg() -> float:
    """The 1-minute load average (this machine has 2 cores, shared with other work)."""
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def load_summary(samples: list[float]) -> dict:
    if not samples:
        return {}
    return {"min": min(samples), "median": round(statistics.median(samples), 2), "max": max(samples)}


def _first_line(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout + out.stderr).strip()
    return text.splitlines()[0] if text else None


def versions() -> dict:
    src = os.path.dirname(os.path.abspath(kvrrp.__file__))
    return {"kvrrp": kvrrp.__version__, "kvrrp_path": src,
            "kvrrp_git": _first_line(["git", "-C", src, "rev-parse", "--short", "HEAD"]),
            "fastpath_implementation": fastpath.IMPLEMENTATION,
            "keepalived": _first_line(["keepalived", "--version"]),
            "frr": _first_line(["dpkg-query", "-W", "-f", "${Version}", "frr"]),
            "python": sys.version.split()[0], "kernel": platform.release(), "cpus": os.cpu_count()}


def print_saved(path: str, table) -> int:  # noqa: ANN001
    """--table FILE.json: the table of a saved run."""
    with open(path) as fh:
        print(table(json.load(fh)["results"]))
    return 0


def chosen(parser: argparse.ArgumentParser, option: str, text: str, allowed) -> list[str]:  # noqa: ANN001
    """A comma list of names, each one of `allowed` (else the parser's usage error)."""
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = set(names) - set(allowed)
    if unknown:
        parser.error(f"unknown {option} {sorted(unknown)}; choose from {', '.join(sorted(allowed))}")
    return names


def finish(doc: dict, started: float, table, json_path: str | None) -> int:  # noqa: ANN001
    """Print the table of a run and save the whole document (--json)."""
    doc.update(versions=versions(), started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
               seconds=round(time.time() - started))
    print(table(doc["results"]))
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(doc, fh, indent=2)
    return 0

