"""`python3 -m pytest bench --benchmark-only -k scale` runs `bench_scale.py --quick` (root,
about 3 minutes): K = 100 at 1 s and 0.1 s, staggered start, kvrrp and keepalived side by side.

Opt-in like everything in bench/ (`pytest tests` never collects it). The outputs are checked
(both daemons measured, every VRID on the wire from one sender, nothing failed); the numbers
themselves go to extra_info (the markdown table and the versions), never into an assertion.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")
def test_scale_quick(benchmark, tmp_path):
    out = tmp_path / "scale.json"

    def run() -> dict:
        subprocess.run([sys.executable, os.path.join(HERE, "bench_scale.py"), "--quick", "--start", "staggered",
                        "--json", str(out)], check=True, timeout=1200, capture_output=True)
        with open(out) as fh:
            return json.load(fh)

    report = benchmark.pedantic(run, rounds=1, iterations=1)
    results = report["results"]
    assert sorted((r["daemon"], r["advert"]) for r in results) == [
        ("keepalived", 0.1), ("keepalived", 1.0), ("kvrrp", 0.1), ("kvrrp", 1.0)]
    for r in results:
        assert r["error"] is None and r["note"] is None, r
        assert r["wire"]["senders"] == r["k"], r["wire"]      # steady state: only m sends
        assert r["cpu_pct"]["m"] > 0 and r["rss_mb"]["m"] > 0 and r["processes"]["m"] >= 1
    benchmark.extra_info.update(report["versions"])
    benchmark.extra_info["table"] = report["markdown"]
