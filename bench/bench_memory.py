"""Memory per VRRP instance: what the config model and the engine keep, by type and by line.

    python3 bench/bench_memory.py [--k 1000,10000] [--top 15] [--json out.json]

For each K, the same keepalived.conf text bench_scale.py runs (K VRRPv3 instances over segments
of 250 VRIDs, one VIP each) is loaded with kvrrp.config.load, then handed to a VrrpEngine wired to
the fake LAN of tests/vrrp (no sockets) and started, as the daemon does. Reported, per phase:

  rss_mb          VmRSS of this process after the phase (after gc.collect())
  traced_mb       tracemalloc's count of live Python allocations made by the phase
  by_type         live objects reachable by the gc plus the strings/ints/floats they hold,
                  bytes (sys.getsizeof) per instance, largest first
  by_line         tracemalloc's live bytes per instance by allocating line, largest first

The process imports only what the daemon would (plus tracemalloc); no root needed.

    python3 bench/bench_memory.py --daemon [--k 1000,10000]     (root)

runs the real VRRP process instead (`python3 -m kvrrp -n -l -P`, bench_scale.py's topology, one
node, no peer: it becomes master of every instance) and reports its VmRSS once every VIP is up
and again 10 s later. PYTHONPATH=other/src measures another checkout.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "tests", "vrrp"))
sys.path.insert(0, HERE)

from bench_scale import render  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def census(roots: list[object]) -> dict[str, list[int]]:
    """type name -> [count, bytes] of everything reachable from roots (each object once)."""
    seen: set[int] = set()
    out: dict[str, list[int]] = {}
    stack = list(roots)
    skip = (type, type(sys), type(census))
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        slot = out.setdefault(type(obj).__name__, [0, 0])
        slot[0] += 1
        slot[1] += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return out


def by_line(snapshot: tracemalloc.Snapshot, k: int, top: int) -> list[dict]:
    stats = snapshot.statistics("lineno")
    return [{"where": f"{os.path.relpath(s.traceback[0].filename, ROOT)}:{s.traceback[0].lineno}",
             "bytes_per_instance": round(s.size / k, 1), "count": s.count} for s in stats[:top]]


def phase(name: str, k: int, roots: list[object], top: int, base_traced: int) -> dict:
    gc.collect()
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")])
    traced = tracemalloc.get_traced_memory()[0]
    types = census(roots)
    total = sum(b for _, b in types.values())
    ranked = sorted(types.items(), key=lambda kv: -kv[1][1])[:top]
    return {"phase": name, "rss_mb": round(rss_mb(), 1), "traced_mb": round((traced - base_traced) / 2**20, 1),
            "reachable_bytes_per_instance": round(total / k, 1),
            "by_type": [{"type": t, "objects_per_instance": round(c / k, 2),
                         "bytes_per_instance": round(b / k, 1)} for t, (c, b) in ranked],
            "by_line": by_line(snap, k, top)}


def measure(k: int, top: int) -> dict:
    from kvrrp.config import load
    from kvrrp.config.runnable import runnable_config
    from vrrp_lan import FakeLan

    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as fh:
        fh.write(render(k, 1.0, "b"))
        path = fh.name
    try:
        gc.collect()
        tracemalloc.start(1)
        base = tracemalloc.get_traced_memory()[0]
        result = load(path, None)
        config = runnable_config(result)
        del result  # the daemon keeps only the config (kvrrp.daemon.load_config)
        assert config is not None and len(config.instances) == k
        phases = [phase("config", k, [config], top, base)]
        lan = FakeLan()
        sources = {(f"s{s}", 4): f"198.18.{s}.2" for s in range(k // 250 + 1)}
        node = lan.add_node("b", config, sources=sources)
        assert len(node.engine.instances) == k
        phases.append(phase("config+engine", k, [config, node.engine], top, base))
        tracemalloc.stop()
        return {"k": k, "phases": phases}
    finally:
        os.unlink(path)


def daemon_rss(k: int, settle: float = 10.0) -> dict:
    import shutil
    import time

    import bench_scale as bs

    work = tempfile.mkdtemp(prefix="bench-memory-")
    pair = bs.Pair(f"mem{k}", k, work)
    try:
        pair.build()
        bs.wait_for(pair.links_up, 30, "segments up")
        d = bs.start_daemon(pair, "kvrrp", "m", 1.0, None)
        bs.wait_for(lambda: bs.vip_count(pair, "m") == k, 120 + k * 0.01, f"{k} VIPs", [d])
        at_master = bs.rss_kb([d.proc.pid]) / 1024
        time.sleep(settle)
        return {"k": k, "rss_mb_all_master": round(at_master, 1),
                "rss_mb_after_settle": round(bs.rss_kb([d.proc.pid]) / 1024, 1)}
    finally:
        pair.close()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--k", default="1000,10000")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--json", default=None)
    p.add_argument("--daemon", action="store_true", help="RSS of the real VRRP process (root)")
    a = p.parse_args(argv)
    if a.daemon:
        rows = [daemon_rss(int(x)) for x in a.k.split(",")]
        for row in rows:
            print(f"K={row['k']:,}: VRRP process RSS {row['rss_mb_all_master']} MB when master of all, "
                  f"{row['rss_mb_after_settle']} MB 10 s later")
        if a.json:
            with open(a.json, "w") as fh:
                json.dump(rows, fh, indent=1)
        return 0
    from kvrrp import fastpath

    report = {"fastpath_implementation": fastpath.IMPLEMENTATION, "python": sys.version.split()[0],
              "results": []}
    for k in (int(x) for x in a.k.split(",")):
        r = measure(k, a.top)
        report["results"].append(r)
        for ph in r["phases"]:
            print(f"K={k:,} {ph['phase']}: RSS {ph['rss_mb']} MB, traced {ph['traced_mb']} MB, "
                  f"reachable {ph['reachable_bytes_per_instance']:.0f} B/instance")
            print("  by type (bytes/instance, objects/instance):")
            for row in ph["by_type"]:
                print(f"    {row['bytes_per_instance']:8.0f}  {row['objects_per_instance']:7.2f}  {row['type']}")
            print("  by line (bytes/instance):")
            for row in ph["by_line"]:
                print(f"    {row['bytes_per_instance']:8.0f}  {row['where']}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
