"""Failover benchmark: kvrrp and keepalived in the same netns lab, against RFC 5798's numbers.

    sudo python3 bench/bench_failover.py [--impl kvrrp,keepalived] [--runs 7]
                                         [--cases v2-1s,v3-0.1s] [--signals SIGKILL,SIGTERM]
                                         [--json out.json]

Three routers (priorities 150 / 100 / 50) and a client on one bridge (kvrrp.lab). For each case
the master n1 is stopped and the benchmark records, from timestamps taken on the LAN:

  vip_from_kill    kill() -> VIP on n2: the earlier of the RTM_NEWADDR notification read in n2's
                   namespace and the kernel timestamp of the first GARP (sent after the VIP)
  garp_from_kill   kill() -> first gratuitous ARP for the VIP at the client (AF_PACKET, kernel time)
  vip_from_ref     reference -> VIP on n2, where the reference is what the RFC timer starts from:
                   SIGKILL: n1's last advert seen on the bridge (Master_Down_Timer restarts on it),
                   SIGTERM: n1's priority-0 advert (Backups then wait Skew_Time only)
  rfc              Master_Down_Interval (SIGKILL) or Skew_Time (SIGTERM) of n2 (priority 100)
  delta            median(vip_from_ref) - rfc: the daemon's own latency on top of the RFC timer

keepalived's SIGKILL case kills its VRRP child process (its parent would otherwise have it send
priority 0). Every run starts all three daemons fresh. Results record implementation versions.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from kvrrp.lab import Lab, VrrpSpec, render_config  # noqa: E402

VIP = "198.18.0.200"
PRIORITIES = (150, 100, 50)
CASES = {"v2-1s": (2, 1.0), "v3-0.1s": (3, 0.1)}


def skew_time(priority: int, advert: float, version: int) -> float:
    # RFC 3768: (256 - Priority) / 256 seconds (advert is a whole number of seconds there, and
    # keepalived scales it by the interval the same way); RFC 5798: x Master_Adver_Interval.
    return (256 - priority) * advert / 256


def master_down_interval(priority: int, advert: float, version: int) -> float:
    return 3 * advert + skew_time(priority, advert, version)


def _vrrp_priority(payload: bytes) -> int:
    return payload[2] if len(payload) > 2 else -1


def one_run(lab: Lab, impl: str, version: int, advert: float, sig: int) -> dict[str, Any]:
    n1, n2, n3 = lab.nodes
    for node in lab.nodes:
        lab.run(node, ["ip", "addr", "del", f"{VIP}/32", "dev", "eth0"], check=False)
    daemons = []
    for node, prio in zip(lab.nodes, PRIORITIES):
        text = render_config([VrrpSpec(priority=prio, version=version, advert_int=advert)])
        tag = f"{impl}-{node.name}-{time.monotonic_ns()}"
        start = lab.start_kvrrp if impl == "kvrrp" else lab.start_keepalived
        daemons.append(start(node, text, tag=tag))
    try:
        if not lab.wait_for(lambda: lab.holders(VIP) == [n1], timeout=8 * advert + 10):
            raise RuntimeError(f"{impl}: n1 never became the only master")
        time.sleep(3 * advert + 0.3)  # settle: initial GARP bursts over, adverts steady
        with lab.capture() as bridge, lab.capture(lab.client_node) as client, lab.watch_addresses(n2) as watch:
            time.sleep(max(0.05, advert * 1.5))
            killed_at = time.time()
            if sig == signal.SIGKILL:
                daemons[0].crash()
            else:
                daemons[0].signal(sig)
            ok = lab.wait_for(lambda: watch.first_added(VIP, killed_at) is not None
                              and client.garps(VIP, killed_at), timeout=3 * advert + 10)
            if not ok:
                raise RuntimeError(f"{impl}: n2 did not take over")
            garp_at = client.garps(VIP, killed_at)[0].ts
            # netlink notifications carry no timestamp: the watcher's read time is an upper bound
            # that thread scheduling can inflate; the VIP is also known to be up before the first
            # GARP left (both daemons add VIPs, then announce), whose kernel timestamp is exact.
            vip_at = min(watch.first_added(VIP, killed_at), garp_at)
            from_n1 = [(f.ts, info) for f, info in bridge.adverts() if info.src == n1.ipv4 and f.ts <= vip_at]
        if sig == signal.SIGKILL:
            refs = [ts for ts, info in from_n1 if _vrrp_priority(info.payload) > 0]
            rfc = master_down_interval(PRIORITIES[1], advert, version)
        else:
            refs = [ts for ts, info in from_n1 if _vrrp_priority(info.payload) == 0]
            rfc = skew_time(PRIORITIES[1], advert, version)
        ref = refs[-1] if refs else None
        if sig != signal.SIGKILL and refs:
            ref = refs[0]
        return {
            "vip_from_kill": vip_at - killed_at,
            "garp_from_kill": garp_at - killed_at,
            "vip_from_ref": (vip_at - ref) if ref is not None else None,
            "garp_from_ref": (garp_at - ref) if ref is not None else None,
            "rfc": rfc,
        }
    finally:
        for daemon in daemons:
            if daemon.alive():
                daemon.signal(signal.SIGKILL)
                daemon.proc.wait(5)
        if impl == "keepalived":
            for daemon in daemons:  # its VRRP children, by the pids they wrote
                try:
                    with open(daemon.vrrp_pid_file) as fh:
                        os.kill(int(fh.read().strip()), signal.SIGKILL)
                except (OSError, ValueError):
                    pass


def versions() -> dict[str, str]:
    from kvrrp import __version__
    import kvrrp.fastpath as fp

    try:
        ka = subprocess.run(["keepalived", "--version"], capture_output=True, text=True).stderr.splitlines()[0]
    except (OSError, IndexError):
        ka = "not installed"
    return {"kvrrp": __version__, "fastpath": fp.IMPLEMENTATION, "keepalived": ka,
            "python": platform.python_version(), "kernel": platform.release()}


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        values = [s[key] for s in samples if s.get(key) is not None]
        return statistics.median(values) if values else None

    rfc = samples[0]["rfc"]
    ref = med("vip_from_ref")
    return {"runs": len(samples), "rfc_ms": rfc * 1000,
            "vip_from_kill_ms": (med("vip_from_kill") or 0) * 1000,
            "garp_from_kill_ms": (med("garp_from_kill") or 0) * 1000,
            "vip_from_ref_ms": ref * 1000 if ref is not None else None,
            "garp_from_ref_ms": (med("garp_from_ref") or 0) * 1000,
            "delta_ms": (ref - rfc) * 1000 if ref is not None else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", default="kvrrp,keepalived")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--signals", default="SIGKILL,SIGTERM")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", default=None, help="write all samples and summaries here")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"versions": versions(), "cases": {}}
    rows = []
    with Lab(nodes=3, prefix="kvbench") as lab:
        for case in args.cases.split(","):
            version, advert = CASES[case]
            for signame in args.signals.split(","):
                sig = getattr(signal, signame)
                for impl in args.impl.split(","):
                    samples = []
                    for i in range(args.runs):
                        try:
                            samples.append(one_run(lab, impl, version, advert, sig))
                        except RuntimeError as exc:
                            print(f"  run {i}: {exc}", file=sys.stderr)
                    if not samples:
                        continue
                    summary = summarize(samples)
                    key = f"{impl} {case} {signame}"
                    results["cases"][key] = {"summary": summary, "samples": samples}
                    rows.append((key, summary))
                    print(f"{key:32} rfc {summary['rfc_ms']:8.1f} ms  from-ref {summary['vip_from_ref_ms'] or 0:8.1f} ms "
                          f"(delta {summary['delta_ms'] or 0:+6.1f} ms)  vip-from-kill {summary['vip_from_kill_ms']:8.1f} ms  "
                          f"garp-from-kill {summary['garp_from_kill_ms']:8.1f} ms  n={summary['runs']}", flush=True)
    print("\n| implementation / case / signal | RFC value (ms) | VIP after RFC reference (ms) | over RFC (ms) "
          "| VIP after kill (ms) | first GARP after kill (ms) | runs |")
    print("|---|---|---|---|---|---|---|")
    for key, s in rows:
        print(f"| {key} | {s['rfc_ms']:.1f} | {s['vip_from_ref_ms'] or 0:.1f} | {s['delta_ms'] or 0:+.1f} | "
              f"{s['vip_from_kill_ms']:.1f} | {s['garp_from_kill_ms']:.1f} | {s['runs']} |")
    print(f"\nversions: {results['versions']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
