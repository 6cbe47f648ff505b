"""BFD benchmark: how fast a cut link is detected, kvrrp and keepalived side by side, each
against FRR's bfdd.

    sudo python3 bench/bench_bfd.py [--runs 20] [--timers 100x3,50x2] [--impl kvrrp,keepalived]
                                    [--json out.json] [--seed 1]

One kvrrp.lab of four nodes on one bridge: kvrrp in n1 with an FRR bfdd peer (tests/interop's
FrrBfd) in n2, keepalived 2.2.7 (with its BFD child) in n3 with its own bfdd in n4. Each
daemon runs `bfd_instance to_frr` (min_rx = min_tx = INTERVAL, multiplier M, the same on
FRR's side) and one VRRPv3 instance (advert_int 0.1, its own VRID and VIP) with
`track_bfd { to_frr }` (weight 0: FAULT while the session is not Up). For every timer set
(INTERVALxM, Detection Time = INTERVAL x M) a fresh lab, then rounds until each daemon has
`--runs` cuts at the fast timers; each round cuts each pair once (the order alternates), one
pair at a time:

  wait until the session is Up on both sides and the instance MASTER, and has stayed so for
  2 s (the Poll/Final switch to the fast timers is done; a flap meanwhile starts the wait
  again) plus a seeded random fraction of one interval (so the cut falls at a random phase of
  the transmit timer); then an nftables drop rule in the bridge between the daemon's node and
  its FRR node (kvrrp.lab's partition), both ways.

Per cut, from the daemon's log read every 5 ms (timestamps when the poll first saw a line)
and a capture on the daemon node's eth0 (kernel timestamps):

  detect     cut -> the daemon logs the session Up -> Down; the cut's time is when the nft
             call returned (nft commits the rule just before it exits; the whole call, two
             `ip netns exec nft` processes, takes 20-40 ms here: `nft_call_ms`)
  fault      cut -> the tracked instance logs Entering FAULT STATE
  silence    the last BFD packet from FRR that reached the node -> the Down line: the daemon's
             own timer precision; RFC 5880 wants Detection Time (+ the 5 ms polling)
  reported   the silence the daemon reports itself when its timer fires (kvrrp "expired after
             S ms without a packet", keepalived "Expired after S ms (O usec overdue)"), a
             cross-check of `silence` without the polling
  recover    heal -> MASTER again (session back through the 1 s idle rate, then VRRP)

and over the whole series: `spurious` Up -> Down transitions that no cut caused (false
positives of the timers under this machine's load; "own" when the daemon's timer expired,
"FRR" when FRR's did and it signalled Down), `slow rate` cuts that found the session
still at the 1 s rate (the expiry line names the Detection Time in force; such cuts are not
counted in the distributions and the round is repeated, at most 2 x --runs rounds), `missed`
cuts not detected within 5 s, the 1-minute load average at every cut. Prints a markdown
table (median / p90 / max); writes everything with the versions to --json. Opt-in, nothing is
asserted on time.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import socket
import struct
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if not os.environ.get("PYTHONPATH"):  # PYTHONPATH=other/src benchmarks another checkout
    sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
sys.path.insert(0, HERE)

from frr_bfd_peer import FrrBfd  # noqa: E402
from lab_timing import LogTail, chosen, finish, load_summary, loadavg, print_saved, summary  # noqa: E402

from kvrrp.lab import Lab, Node, VrrpSpec, render_config  # noqa: E402

BFD_PORT = 3784
POLL = 0.005
DETECT_TIMEOUT = 5.0
READY_TIMEOUT = 30.0
SETTLE = 2.0
SESSION = "to_frr"

# what each daemon logs (kvrrp.bfd.service; keepalived's bfd_scheduler.c). `expired` gives the
# silence the daemon measured and the Detection Time in force when its timer fired: kvrrp
# "expired after S ms without a packet (Detection Time D ms)", keepalived "Expired after S ms
# (O usec overdue)" (bfd_scheduler.c: S = time since the last packet, O = S - Detection Time).
PATTERNS = {
    "kvrrp": {"down": f"({SESSION}) BFD Up -> Down",
              "expired": re.compile(r"\(" + SESSION + r"\) BFD expired after (\d+) ms without a packet "
                                    r"\(Detection Time (\d+) ms\)")},
    "keepalived": {"down": f"({SESSION}) Entering Down state",
                   "expired": re.compile(r"\(" + SESSION + r"\) Expired after (\d+) ms \((\d+) usec overdue\)")},
}


def parse_expired(impl: str, line: str) -> tuple[float, float] | None:
    """(silence ms, Detection Time in force ms) from a daemon's expiry line."""
    m = PATTERNS[impl]["expired"].search(line)
    if m is None:
        return None
    a, b = float(m.group(1)), float(m.group(2))
    return (a, b) if impl == "kvrrp" else (a, a - b / 1000)


@dataclass
class Timers:
    interval_ms: int
    multiplier: int

    @property
    def label(self) -> str:
        return f"{self.interval_ms}x{self.multiplier}"

    @property
    def detection_ms(self) -> int:
        return self.interval_ms * self.multiplier


@dataclass
class Pair:
    """One daemon under test with its FRR peer, and what was measured on it."""

    impl: str
    node: Node
    frr_node: Node
    vrid: int
    vip: str
    daemon: object = None
    frr: FrrBfd | None = None
    log: LogTail | None = None
    capture: object = None
    detect: list[float] = field(default_factory=list)
    fault: list[float] = field(default_factory=list)
    silence: list[float] = field(default_factory=list)
    reported: list[float] = field(default_factory=list)
    recover: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    nft: list[float] = field(default_factory=list)
    missed: int = 0
    slow_rate: int = 0           # cut while the session was still at the slow (1 s) rate
    cuts: int = 0

    @property
    def instance(self) -> str:
        return f"VI_{self.vrid}"


def config_text(pair: Pair, timers: Timers) -> str:
    bfd = [f"bfd_instance {SESSION} {{", f"    neighbor_ip {pair.frr_node.ipv4}", f"    source_ip {pair.node.ipv4}",
           f"    min_rx {timers.interval_ms}", f"    min_tx {timers.interval_ms}",
           f"    multiplier {timers.multiplier}", "}", ""]
    spec = VrrpSpec(name=pair.instance, vrid=pair.vrid, priority=100, version=3, advert_int=0.1,
                    vips=(f"{pair.vip}/32",),
                    extra=("dont_track_primary", "track_bfd {", f"    {SESSION}", "}"))
    return "\n".join(bfd) + render_config([spec])


def _bfd_from(frame_data: bytes, src: str) -> bool:
    """An IPv4 UDP frame to port 3784 from `src` (a BFD control packet from the FRR peer)."""
    d = frame_data
    if len(d) < 42 or d[12:14] != b"\x08\x00" or d[23] != 17:
        return False
    ihl = (d[14] & 0x0F) * 4
    if socket.inet_ntoa(d[26:30]) != src or len(d) < 14 + ihl + 4:
        return False
    return struct.unpack_from("!H", d, 14 + ihl + 2)[0] == BFD_PORT


def _session_up(pair: Pair) -> bool:
    """The daemon's last logged session transition is to Up."""
    assert pair.log is not None
    marker, up = (f"({SESSION}) BFD ", " -> Up") if pair.impl == "kvrrp" else (f"({SESSION}) Entering ", "Entering Up state")
    states = [line for _, line in pair.log.lines if marker in line and (" -> " in line or "state" in line)]
    return bool(states) and up in states[-1]


def _downs_from_up(pair: Pair) -> list[str]:
    """The daemon's session lines of Up -> Down transitions (keepalived logs only the state
    entered: its Down lines count when the state before was Up)."""
    assert pair.log is not None
    if pair.impl == "kvrrp":
        return [line for _, line in pair.log.lines if PATTERNS["kvrrp"]["down"] in line]
    out, state = [], ""
    for _, line in pair.log.lines:
        m = re.search(r"\(" + SESSION + r"\) Entering (\w+) state", line)
        if m:
            if m.group(1) == "Down" and state == "Up":
                out.append(line)
            state = m.group(1)
    return out


def _ready(pair: Pair) -> bool:
    assert pair.log is not None and pair.frr is not None
    pair.log.poll()
    transitions = pair.daemon.transitions(pair.instance)
    return bool(transitions) and transitions[-1] == "MASTER" and _session_up(pair) and pair.frr.status() == "up"


def start_pair(lab: Lab, pair: Pair, timers: Timers) -> None:
    pair.frr = FrrBfd(lab, pair.frr_node, pair.node.ipv4, rx_ms=timers.interval_ms, tx_ms=timers.interval_ms,
                      multiplier=timers.multiplier)
    text = config_text(pair, timers)
    if pair.impl == "kvrrp":
        pair.daemon = lab.start_kvrrp(pair.node, text, tag=f"kvrrp-{timers.label}")
    else:
        pair.daemon = lab.start_keepalived(pair.node, text, tag=f"keepalived-{timers.label}", vrrp_only=False)
    pair.log = LogTail(pair.daemon.log_file)
    pair.capture = lab.capture(pair.node)


def wait_steady(lab: Lab, pair: Pair, timers: Timers, rng: random.Random) -> int:
    """Until the session has stayed Up (and the instance MASTER) for SETTLE plus a random part
    of one interval: long enough for the Poll/Final switch to the fast timers, and a session
    that flapped meanwhile (the machine's load) is waited for again."""
    down = PATTERNS[pair.impl]["down"]
    for _ in range(20):
        if not lab.wait_for(lambda: _ready(pair), READY_TIMEOUT, interval=0.05):
            raise RuntimeError(f"{pair.impl}: session or instance not back\n{pair.daemon.log()[-3000:]}\n{pair.frr.log()}")
        mark = pair.log.mark()
        time.sleep(SETTLE + rng.uniform(0, timers.interval_ms / 1000))
        pair.log.poll()
        if pair.log.count(down, mark) == 0 and _ready(pair):
            # the mark the cut is measured from, and the session still Up at it (a Down logged
            # while _ready asked FRR would otherwise precede the mark and hide the cut's)
            mark = pair.log.mark()
            if _session_up(pair) and pair.daemon.transitions(pair.instance)[-1:] == ["MASTER"]:
                return mark
    raise RuntimeError(f"{pair.impl}: the session never stayed Up for {SETTLE:g} s\n{pair.daemon.log()[-3000:]}")


def one_cut(lab: Lab, pair: Pair, timers: Timers, rng: random.Random) -> None:
    assert pair.log is not None
    mark = wait_steady(lab, pair, timers, rng)
    pats = PATTERNS[pair.impl]
    pair.cuts += 1
    pair.load.append(loadavg())
    called = time.time()
    lab.partition([pair.node], [pair.frr_node])
    t0 = time.time()              # the cut: nft commits the rule just before it exits
    nft_ms = (t0 - called) * 1000
    down = fault = expired = None
    deadline = time.monotonic() + DETECT_TIMEOUT
    while time.monotonic() < deadline and (down is None or fault is None):
        time.sleep(POLL)
        pair.log.poll()
        down = down or pair.log.first(pats["down"], mark)
        fault = fault or pair.log.first(f"({pair.instance}) Entering FAULT STATE", mark)
    for _, line in pair.log.lines[mark:]:
        expired = expired or parse_expired(pair.impl, line)
    if down is None or fault is None:
        pair.missed += 1
    elif expired is not None and abs(expired[1] - timers.detection_ms) > 2:
        # the session was not at the fast timers when cut (it had just come back through the
        # slow rate): not a measurement of this timer set
        pair.slow_rate += 1
    else:
        pair.nft.append(nft_ms)
        pair.detect.append((down[0] - t0) * 1000)
        pair.fault.append((fault[0] - t0) * 1000)
        last_rx = max((f.ts for f in pair.capture.snapshot() if f.ts < down[0] and _bfd_from(f.data, pair.frr_node.ipv4)),
                      default=None)
        if last_rx is not None:
            pair.silence.append((down[0] - last_rx) * 1000)
        if expired is not None:
            pair.reported.append(expired[0])
    pair.capture.clear()
    t_heal = time.time()
    lab.heal()
    back = None
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and back is None:
        time.sleep(POLL * 2)
        pair.log.poll()
        back = pair.log.first(f"({pair.instance}) Entering MASTER STATE", mark)
    if back is not None:
        pair.recover.append((back[0] - t_heal) * 1000)


def run_timers(timers: Timers, impls: list[str], runs: int, rng: random.Random) -> list[dict]:
    with Lab(nodes=4, prefix="kvbfdb", client=False) as lab:
        n1, n2, n3, n4 = lab.nodes
        pairs = {"kvrrp": Pair("kvrrp", n1, n2, 51, "198.18.0.200"),
                 "keepalived": Pair("keepalived", n3, n4, 52, "198.18.0.201")}
        pairs = {k: v for k, v in pairs.items() if k in impls}
        for pair in pairs.values():
            start_pair(lab, pair, timers)
        order = list(pairs.values())
        for i in range(2 * runs):                 # until `runs` cuts at the fast timers each
            todo = [p for p in (order if i % 2 == 0 else order[::-1]) if len(p.detect) < runs]
            if not todo:
                break
            for pair in todo:
                one_cut(lab, pair, timers, rng)
            print(f"  {timers.label} round {i + 1}: " + ", ".join(
                f"{p.impl} detect {p.detect[-1]:.0f} ms" if p.detect else f"{p.impl} -" for p in order),
                file=sys.stderr, flush=True)
        out = []
        for pair in order:
            pair.log.poll()
            downs = _downs_from_up(pair)
            # who saw a spurious Down first: the daemon (its receive side or FRR's sending was
            # late: "Control Detection Time Expired") or FRR (the daemon's sending was late:
            # FRR went Down and told it, "Neighbor Signaled Session Down"); a cut is always seen
            # by the daemon's own timer (nothing from FRR crosses it)
            signalled = sum(1 for line in downs if "Neighbor Signaled" in line)
            own = len(downs) - signalled - (pair.cuts - pair.missed)
            out.append({"impl": pair.impl, "timers": timers.label, "detection_time_ms": timers.detection_ms,
                        "cuts": pair.cuts, "missed": pair.missed, "slow_rate": pair.slow_rate,
                        "spurious_downs": max(0, own) + signalled,
                        "spurious_by": {"own_timer": max(0, own), "frr_signalled": signalled},
                        "detect_ms": summary(pair.detect), "fault_ms": summary(pair.fault),
                        "silence_ms": summary(pair.silence), "reported_ms": summary(pair.reported),
                        "recover_ms": summary(pair.recover), "nft_call_ms": summary(pair.nft), "load_1min": load_summary(pair.load),
                        "raw": {"detect": [round(x, 1) for x in pair.detect], "fault": [round(x, 1) for x in pair.fault],
                                "silence": [round(x, 1) for x in pair.silence], "recover": [round(x, 1) for x in pair.recover]}})
        return out


def _cell(s: dict) -> str:
    return f"{s['median']:.0f} / {s['p90']:.0f} / {s['max']:.0f}" if s.get("n") else "-"


def _spurious(r: dict) -> str:
    by = r.get("spurious_by")
    if not r["spurious_downs"] or not by:
        return str(r["spurious_downs"])
    return f"{r['spurious_downs']} ({by['own_timer']} own, {by['frr_signalled']} FRR)"


def table(results: list[dict]) -> str:
    rows = ["| timers (Detection Time) | daemon | n | cut -> Down | cut -> FAULT | last packet -> Down | "
            "self-reported silence | heal -> MASTER | spurious / slow rate / missed | load 1 min |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        load = r["load_1min"]
        rows.append(f"| {r['timers']} ms ({r['detection_time_ms']} ms) | {r['impl']} | {r['detect_ms'].get('n', 0)} | "
                    f"{_cell(r['detect_ms'])} | {_cell(r['fault_ms'])} | {_cell(r['silence_ms'])} | "
                    f"{_cell(r['reported_ms'])} | {_cell(r['recover_ms'])} | {_spurious(r)} / {r['slow_rate']} / {r['missed']} | "
                    f"{load.get('min', '-')}-{load.get('max', '-')} |")
    return "\n".join(rows) + "\n\n(ms: median / p90 / max)\n"


def parse_timers(text: str) -> list[Timers]:
    out = []
    for item in text.split(","):
        interval, _, mult = item.strip().partition("x")
        out.append(Timers(int(interval), int(mult or 3)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--runs", type=int, default=20, help="cuts per daemon and timer set")
    p.add_argument("--timers", default="100x3,50x2", help="INTERVALxMULTIPLIER,... (ms)")
    p.add_argument("--impl", default="kvrrp,keepalived")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json")
    p.add_argument("--table", metavar="FILE.json", help="print the table of a saved run")
    args = p.parse_args(argv)
    if args.table:
        return print_saved(args.table, table)
    impls = chosen(p, "--impl", args.impl, PATTERNS)
    rng = random.Random(args.seed)
    started = time.time()
    results: list[dict] = []
    for timers in parse_timers(args.timers):
        results += run_timers(timers, impls, args.runs, rng)
    return finish({"runs": args.runs, "seed": args.seed, "poll_ms": POLL * 1000, "results": results},
                  started, table, args.json)


if __name__ == "__main__":
    sys.exit(main())
