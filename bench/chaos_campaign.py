#!/usr/bin/env python3
"""The long chaos campaign (opt-in, root, hours): the chaos tier's scenarios at full size.

    sudo python3 bench/chaos_campaign.py --out /tmp/campaign            # everything, in parallel
    python3 bench/chaos_campaign.py --report /tmp/campaign               # markdown table of results

Parts (each its own process, run at the same time unless --sequential, each writing
OUT/PART.json when done and progress lines to OUT/PART.log):

  packets       --packets N        fuzzed VRRP frames at a running master, counters reconciled
  configs       --configs N        fuzzed configurations through `kvrrp -t` and a reload
                                   (--config-workers W processes share them)
  kills         --kill-rounds N    SIGKILL a daemon of three, takeover, restart, reconvergence
  loss          --loss-seconds S   10/30/60 % VRRP loss, isolated master, split - with
                                   --busy C busy-loop processes (nice 19) keeping the cores busy

Full size (the defaults): 10,000,000 frames, 100,000 configurations, 1,000 kill rounds, one hour of
loss and partitions on 2 busy cores. `--scale 0.01` shrinks every part at once. Everything runs
from a copy of src/ taken at the start (--snapshot), so editing the tree meanwhile changes nothing.
Only network namespaces it builds (kvrrp.lab) and the 198.18.0.0/15 range are used.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTS = ("packets", "configs", "kills", "loss")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="/tmp/kvrrp-chaos-campaign", help="result directory")
    p.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset of " + ",".join(PARTS))
    p.add_argument("--packets", type=int, default=10_000_000)
    p.add_argument("--packet-rate", type=float, default=15000.0, help="frames per second at most")
    p.add_argument("--packet-paced", action="store_true",
                   help="the sender waits for the daemon every 500 frames: no socket overflow, every "
                        "block's per-reason counts checked")
    p.add_argument("--configs", type=int, default=100_000)
    p.add_argument("--config-workers", type=int, default=2)
    p.add_argument("--hypothesis-share", type=float, default=0.02,
                   help="share of the configurations drawn by Hypothesis (the rest mutate shipped configs)")
    p.add_argument("--max-generated-lines", type=int, default=100_000,
                   help="the lexer's ~SEQ/~LST line cap during config fuzzing (kvrrp's default: 5,000,000)")
    p.add_argument("--kill-rounds", type=int, default=1000)
    p.add_argument("--loss-seconds", type=float, default=3600.0)
    p.add_argument("--loss-phase", type=float, default=30.0, help="seconds per loss/partition phase")
    p.add_argument("--busy", type=int, default=2, help="busy-loop processes during the loss part")
    p.add_argument("--advert-int", type=float, default=0.1)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every size by this")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sequential", action="store_true", help="one part after the other")
    p.add_argument("--deadline", default=None, metavar="HH:MM",
                   help="UTC time at which the packets, configs and kills parts stop early and report what ran")
    p.add_argument("--snapshot", default=None, help="run from this copy of src/ (default: OUT/src)")
    p.add_argument("--report", metavar="DIR[,DIR]", default=None,
                   help="print the results in DIR (or several, comma-separated) as markdown")
    p.add_argument("--part", default=None, help=argparse.SUPPRESS)       # internal: run one part
    p.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_part(args: argparse.Namespace) -> dict:
    import logging
    import signal

    def stop(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt          # parts that can stop early report what ran

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)    # a shell's background job starts with SIGINT ignored

    logging.disable(logging.CRITICAL)
    from kvrrp.chaos import scenarios

    log_path = os.path.join(args.out, f"{args.part}{args.worker or ''}.log")

    def log(msg: str) -> None:
        with open(log_path, "a") as fh:
            fh.write(f"{time.strftime('%H:%M:%S')} {msg}\n")

    s = args.scale
    deadline = deadline_ts(args.deadline)
    if args.part == "packets":
        return scenarios.packet_fuzz(int(args.packets * s), seed=args.seed, rate=args.packet_rate, log=log,
                                     deadline=deadline, paced=args.packet_paced)
    if args.part == "kills":
        return scenarios.kill_rounds(max(1, int(args.kill_rounds * s)), advert_int=args.advert_int,
                                     seed=args.seed, log=log, deadline=deadline)
    if args.part == "loss":
        return scenarios.loss_and_partitions(args.loss_seconds * s, advert_int=args.advert_int,
                                             phase=min(args.loss_phase, max(2.0, args.loss_seconds * s / 5)),
                                             busy=args.busy, log=log)
    if args.part == "configs":
        from kvrrp.chaos.configs import config_fuzz

        n = int(args.configs * s) // args.config_workers
        return config_fuzz(n, seed=args.seed * 1000 + args.worker, root=ROOT,
                           hypothesis_share=args.hypothesis_share,
                           progress=lambda i: log(f"configs: {i}/{n}"), deadline=deadline,
                           max_generated_lines=args.max_generated_lines)
    raise SystemExit(f"unknown part {args.part}")


def deadline_ts(hhmm: str | None) -> float | None:
    """Today's HH:MM UTC as a time.time() value."""
    if not hhmm:
        return None
    import calendar

    h, m = (int(x) for x in hhmm.split(":"))
    now = time.gmtime()
    return calendar.timegm((now.tm_year, now.tm_mon, now.tm_mday, h, m, 0, 0, 0, 0))


def snapshot_src(args: argparse.Namespace) -> str:
    dest = args.snapshot or os.path.join(args.out, "src")
    if not args.snapshot:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "src"), dest,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


def launch(args: argparse.Namespace, argv: list[str]) -> int:
    os.makedirs(args.out, exist_ok=True)
    src = snapshot_src(args)
    env = dict(os.environ, PYTHONPATH=src, KVRRP_REQUIRE_EXTENSIONS="1")
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {"command": "python3 bench/chaos_campaign.py " + " ".join(argv), "commit": commit,
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "args": vars(args)}
    with open(os.path.join(args.out, "campaign.json"), "w") as fh:
        json.dump(meta, fh, indent=2, default=str)
    jobs = []
    for part in args.parts.split(","):
        workers = args.config_workers if part == "configs" else 1
        for w in range(workers):
            cmd = [sys.executable, os.path.abspath(__file__), *argv, "--part", part, "--worker", str(w),
                   "--snapshot", src]
            jobs.append((part, w, cmd))
    procs = []
    for part, w, cmd in jobs:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=open(os.path.join(args.out, f"{part}{w or ''}.out"), "w"),
                                stderr=subprocess.STDOUT)
        if args.sequential:
            proc.wait()
        procs.append(proc)
    rc = 0
    for proc in procs:
        rc |= proc.wait()
    print(report(args.out))
    return rc


def report(out: str) -> str:
    meta = {}
    try:
        with open(os.path.join(out.split(",")[0], "campaign.json")) as fh:
            meta = json.load(fh)
    except OSError:
        pass
    rows = []
    results = {}
    for d in out.split(","):
        for name in sorted(os.listdir(d)):
            if name.endswith(".json") and name != "campaign.json":
                with open(os.path.join(d, name)) as fh:
                    results[name[:-5]] = json.load(fh)
    configs = [r for k, r in results.items() if k.startswith("configs")]
    if configs:
        n = sum(r["configs"] for r in configs)
        asked = sum(r.get("asked", r["configs"]) for r in configs)
        exc = sum(r["exceptions"] for r in configs)
        outcomes: dict = {}
        for r in configs:
            for k, v in r["reload_outcomes"].items():
                outcomes[k] = outcomes.get(k, 0) + v
        codes: dict = {}
        for r in configs:
            for k, v in r["config_test_exit_codes"].items():
                codes[k] = codes.get(k, 0) + v
        rows.append(("bad inputs: configurations", f"{n:,} of {asked:,} fuzzed (mutated seeds/corpus + Hypothesis)",
                     f"`kvrrp -t` exits {codes}; reloads {outcomes}", f"{exc} exceptions"))
    if "packets" in results:
        r = results["packets"]
        blocks = r.get("blocks", {})
        rows.append(("bad inputs: VRRP frames", f"{r['frames']:,} of {r.get('asked', r['frames']):,} fuzzed frames "
                     f"in {r['seconds']} s (sender limit {r.get('rate_limit', '?')}/s"
                     f"{', paced by the daemon' if r.get('paced') else ''})",
                     f"each frame counted once by the daemon or dropped by the kernel as its socket buffer "
                     f"overflowed ({r['kernel_overflow']:,}); per-reason counts exact in "
                     f"{blocks.get('targeted_reason_checked', '?')} of {blocks.get('targeted', '?')} targeted "
                     f"blocks (the others overflowed); master kept its VIP; RSS {r['daemon_rss_kib']} KiB",
                     f"{len(r['violations'])} violations"))
    if "kills" in results:
        r = results["kills"]
        rows.append(("faults: SIGKILL", f"{r['rounds']:,} of {r.get('asked', r['rounds']):,} kill rounds "
                     f"(advert {r['advert_int']} s) in {r['seconds']} s",
                     f"takeover median {r['takeover_median_s']} s, p99 {r['takeover_p99_s']} s; "
                     f"reconverged median {r['reconverge_median_s']} s, max {r['reconverge_max_s']} s",
                     f"{len(r['violations'])} violations"))
    if "loss" in results:
        r = results["loss"]
        rows.append(("faults: loss and partitions", f"{r['seconds']:,} s, {r['busy_cores']} busy cores, "
                     f"phases {r['phases']}", f"{r['samples']:,} samples, {r['zero_holder_samples']} without a "
                     f"holder; healed median {r['heal_median_s']} s, max {r['heal_max_s']} s",
                     f"{len(r['violations'])} violations"))
    lines = [f"Command: `{meta.get('command', '?')}` (commit {meta.get('commit', '?')[:12]}, "
             f"started {meta.get('started', '?')})", "",
             "| part | load / size | result | broken promises |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    missing = [p for p in PARTS if not any(k.startswith(p) for k in results)]
    if missing:
        lines += ["", f"Not finished (no result file): {', '.join(missing)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.report:
        print(report(args.report))
        return 0
    if args.part:
        result = run_part(args)
        name = f"{args.part}{args.worker or ''}.json" if args.part == "configs" else f"{args.part}.json"
        with open(os.path.join(args.out, name), "w") as fh:
            json.dump(result, fh, indent=2, default=str)
        return 1 if result.get("violations") or result.get("exceptions") else 0
    if os.geteuid() != 0:
        print("chaos_campaign: needs root (network namespaces)", file=sys.stderr)
        return 2
    return launch(args, argv)


if __name__ == "__main__":
    sys.exit(main())
