"""`python3 -m pytest bench --benchmark-only -k "bfd or bgp"` runs short versions of
bench_bfd.py (3 cuts per daemon at 100 ms x 3, kvrrp and keepalived against FRR bfdd) and
bench_bgp_withdraw.py (2 events of each kind). Root and FRR needed; about 4 minutes at this
machine's load.

Opt-in like everything in bench/ (`pytest tests` never collects it). The outputs are checked
(every cut detected by both daemons, every withdraw seen and only the acted-on director's
next hop gone); the times go to extra_info, never into an assertion.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
              pytest.mark.skipif(not os.path.exists("/usr/lib/frr/bfdd") or not shutil.which("keepalived"),
                                 reason="needs FRR (bfdd, bgpd) and keepalived")]


def _run(benchmark, tmp_path, script: str, *args: str) -> dict:
    out = tmp_path / "out.json"

    def run() -> dict:
        subprocess.run([sys.executable, os.path.join(HERE, script), *args, "--json", str(out)], check=True,
                       timeout=900, capture_output=True)
        with open(out) as fh:
            return json.load(fh)

    report = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(report["versions"])
    benchmark.extra_info["results"] = report["results"]
    return report


def test_bfd_quick(benchmark, tmp_path):
    report = _run(benchmark, tmp_path, "bench_bfd.py", "--runs", "3", "--timers", "100x3")
    results = report["results"]
    assert sorted(r["impl"] for r in results) == ["keepalived", "kvrrp"]
    for r in results:
        # spurious Downs and slow-rate cuts are measurements (this machine's load), not faults;
        # every counted cut must have been seen whole
        assert r["missed"] == 0 and r["cuts"] == 3 + r["slow_rate"], r
        for key in ("detect_ms", "fault_ms", "silence_ms", "reported_ms", "recover_ms"):
            assert r[key]["n"] == 3 and r[key]["min"] > 0, (key, r)


def test_bgp_withdraw_quick(benchmark, tmp_path):
    report = _run(benchmark, tmp_path, "bench_bgp_withdraw.py", "--runs", "2")
    results = report["results"]
    assert [r["kind"] for r in results] == ["quorum", "maintenance", "sigterm", "sigkill", "node"]
    for r in results:
        assert (r["events"], r["missed"], r["other_hop_lost"]) == (2, 0, 0), r
        assert r["gone_ms"]["n"] == 2 and r["back_ms"]["n"] == 2 and r["gone_ms"]["min"] > 0, r
