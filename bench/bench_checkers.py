"""Checker benchmark: TCP_CHECK throughput and CPU, and table computation / reconcile cost.

    python3 bench/bench_checkers.py [--servers 1000,10000] [--seconds 10] [--listeners 200]
                                    [--concurrency 512] [--json out.json]

For each size N, N real servers (198.18.x.y in the IPVS table, one TCP_CHECK each at
delay_loop 1 s, warmup 1 s) are checked through connect_ip 127.0.0.1 / connect_port against
``--listeners`` loopback listeners served by a separate process (so its accept() work is not
counted). The checker runs the real engine (timer wheel scheduler, reducer, reconciler) with
the in-memory fake kernel. After a warm-up of 2 delay_loops, it measures over ``--seconds``:

  checks_per_s   completed checks per second (ideal: N per second)
  cpu_cores      process CPU time (user+sys, this process only) / wall time; also split into
                 user (kvrrp's Python) and sys (the kernel: on loopback the whole TCP handshake,
                 the listener's side included, runs inside the checker's connect() call)
  late_checks    checks that failed (must be 0: a failure means a check timed out or was refused)

Then the table part (host, fake kernel): desired table of 1,000 VS x 10 RS, a cold apply,
and a no-op reconcile. (The same on a real IPVS kernel runs in the VM tier, tests/ipvs.)
Results carry the versions and the fast-path implementation that ran.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from healthcheck.engine import CheckerEngine  # noqa: E402
from healthcheck.fakekernel import FakeKernel  # noqa: E402
from healthcheck.health import declared, desired_table, initial_rs_states  # noqa: E402
from healthcheck.ipvs import Ownership, Reconciler  # noqa: E402
from kvrrp.config.model import Config, LvsMethod, RealServer, TcpCheck, VirtualServer  # noqa: E402

LISTENER = textwrap.dedent("""
    import os, selectors, socket, struct, sys
    n = int(sys.argv[1])
    sel = selectors.DefaultSelector()
    ports = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0)); s.listen(4096); s.setblocking(False)
        sel.register(s, selectors.EVENT_READ); ports.append(s.getsockname()[1])
    print(" ".join(map(str, ports)), flush=True)
    while True:
        for key, _ in sel.select():
            for _ in range(64):
                try:
                    c, _a = key.fileobj.accept()
                except BlockingIOError:
                    break
                c.close()     # a plain close: a RST here could beat the checker to its connect result
""")


def cpu_seconds() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def make_config(n: int, ports: list[int], per_vs: int = 10) -> Config:
    vss = []
    for v in range((n + per_vs - 1) // per_vs):
        rss = []
        for j in range(min(per_vs, n - v * per_vs)):
            i = v * per_vs + j
            check = TcpCheck(connect_ip="127.0.0.1", connect_port=ports[i % len(ports)], connect_timeout=3.0,
                             delay_loop=1.0, warmup=1.0, retry=1, delay_before_retry=1.0)
            rss.append(RealServer(ip=f"198.18.{128 + i // 250}.{1 + i % 250}", port=80, checkers=(check,)))
        vss.append(VirtualServer(ip=f"198.19.{v // 250}.{1 + v % 250}", port=80, lvs_sched="wrr",
                                 lvs_method=LvsMethod(method="NAT"), real_servers=tuple(rss)))
    return Config(virtual_servers=tuple(vss))


async def run_checks(n: int, ports: list[int], seconds: float, concurrency: int) -> dict:
    config = make_config(n, ports)
    engine = CheckerEngine(config, FakeKernel(), concurrency=concurrency)
    await engine.start()
    await asyncio.sleep(2.0)                    # warm-up: initial spread (warmup 1 s) + one loop
    c0, f0, cpu0, t0 = engine.counters.checks, engine.counters.failures, cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    c1, f1, cpu1, t1 = engine.counters.checks, engine.counters.failures, cpu_seconds(), time.monotonic()
    max_running = engine._sched.max_running if engine._sched else 0
    await engine.stop(keep=True)
    wall = t1 - t0
    user, sys_ = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    done = max(1, c1 - c0)
    return {"servers": n, "seconds": round(wall, 2), "checks_per_s": round((c1 - c0) / wall, 1),
            "cpu_cores": round((user + sys_) / wall, 3), "cpu_user_cores": round(user / wall, 3),
            "cpu_sys_cores": round(sys_ / wall, 3), "us_per_check": round((user + sys_) / done * 1e6, 1),
            "user_us_per_check": round(user / done * 1e6, 1), "late_checks": f1 - f0,
            "max_concurrent": max_running, "alive": sum(1 for s in engine.rs_states.values() if all(c.is_up for c in s))}


async def table_bench(vs_count: int = 1000, per_vs: int = 10) -> dict:
    config = make_config(vs_count * per_vs, [9], per_vs=per_vs)
    states = {}
    for vs in config.virtual_servers:
        states.update(initial_rs_states(vs))
    t = time.perf_counter()
    desired = desired_table(config, states, {})
    services, dests = declared(config)
    t_desired = time.perf_counter() - t
    kernel = FakeKernel()
    rec = Reconciler(kernel)
    await rec.start()
    t = time.perf_counter()
    res = await rec.reconcile(desired, Ownership(services, dests))
    t_cold = time.perf_counter() - t
    t = time.perf_counter()
    res2 = await rec.reconcile(desired, Ownership(services, dests))
    t_noop = time.perf_counter() - t
    assert res.ok and len(res.applied) == vs_count * (per_vs + 1) and res2.applied == []
    return {"virtual_servers": vs_count, "real_servers_per_vs": per_vs,
            "desired_table_ms": round(t_desired * 1000, 1), "cold_apply_fake_kernel_ms": round(t_cold * 1000, 1),
            "noop_reconcile_ms": round(t_noop * 1000, 2)}


def versions() -> dict:
    import aiohttp
    import pyroute2

    from kvrrp import fastpath

    return {"python": sys.version.split()[0], "machine": platform.machine(), "cpus": os.cpu_count(),
            "fastpath": fastpath.IMPLEMENTATION, "aiohttp": aiohttp.__version__, "pyroute2": pyroute2.__version__}


# ---------------------------------------------------------------------------------------------
# pytest-benchmark cases (`python3 -m pytest bench/bench_checkers.py --benchmark-only`)


def _table_inputs(vs_count: int = 1000, per_vs: int = 10):
    config = make_config(vs_count * per_vs, [9], per_vs=per_vs)
    states = {}
    for vs in config.virtual_servers:
        states.update(initial_rs_states(vs))
    return config, states


def test_bench_desired_table_1000x10(benchmark):
    config, states = _table_inputs()
    benchmark.extra_info.update(versions())
    table = benchmark(desired_table, config, states, {})
    assert len(table) == 1000 and sum(len(e.dests) for e in table.entries.values()) == 10000


def test_bench_noop_diff_1000x10(benchmark):
    from healthcheck.ipvs import diff

    config, states = _table_inputs()
    want = desired_table(config, states, {})
    have = want.copy()
    owned = Ownership(*declared(config))
    benchmark.extra_info.update(versions())
    assert benchmark(diff, have, want, owned) == []


def test_bench_step_checker(benchmark):
    from healthcheck.health import CheckResult, initial_checker_state, step_checker

    st = initial_checker_state(False, 1)
    fail = CheckResult(False, "x")
    benchmark.extra_info.update(versions())
    step = benchmark(step_checker, st, fail, retry=1, delay_loop=1.0, delay_before_retry=1.0)
    assert step.transition == "down"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", default="1000,10000")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--listeners", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=1024)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    listener = subprocess.Popen([sys.executable, "-c", LISTENER, str(args.listeners)], stdout=subprocess.PIPE, text=True)
    try:
        ports = [int(p) for p in listener.stdout.readline().split()]
        results = {"versions": versions(), "tcp_check": [], "table": None}
        for n in [int(x) for x in args.servers.split(",")]:
            r = asyncio.run(run_checks(n, ports, args.seconds, args.concurrency))
            print(json.dumps(r), flush=True)
            results["tcp_check"].append(r)
        results["table"] = asyncio.run(table_bench())
        print(json.dumps(results["table"]), flush=True)
    finally:
        listener.kill()
        listener.wait()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print(json.dumps(results["versions"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
