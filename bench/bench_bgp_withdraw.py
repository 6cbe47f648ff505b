"""BGP withdraw benchmark: how long until the upstream router's kernel no longer routes an
anycast VIP to a director that stops serving it, per kind of event.

    sudo python3 bench/bench_bgp_withdraw.py [--runs 10] [--kinds quorum,maintenance,sigterm,sigkill,node]
                                             [--json out.json]

The lab of tests/bgp (bgp_lab.py: FRR zebra + bgpd as the upstream router with maximum-paths,
FRR bgpd without zebra on each director, timers 1/3 s, advertisement-interval 0) in a
kvrrp.lab of three nodes: the router n1 and two directors n2, n3, each running kvrrp
(VRRP daemon + checker child) with `kvrrp_bgp { ipvs off }` and one virtual_server on the
anycast address 198.18.100.1:80 (`alpha`, `kvrrp_announce`, a TCP_CHECK with delay_loop 0.2
and connect_timeout 0.3 against a TCP responder on that address in the director). n3 stays up
throughout (the route keeps one next hop); n2 is the director acted on.

Every round runs each kind once (kinds interleaved, so they share the load conditions):

  quorum       the responder on n2 is SIGKILLed: the check fails, quorum lost, withdrawn;
               restored by starting the responder again
  maintenance  `kvrrpctl maintenance on --all` on n2 (the control socket call itself);
               restored by `maintenance off --all`
  sigterm      SIGTERM to n2's kvrrp (a systemd stop): routes are withdrawn first; restored by
               starting kvrrp again
  sigkill      SIGKILL of n2's kvrrp alone (bgpd stays): its checker child gets SIGTERM from
               the kernel (PR_SET_PDEATHSIG) and withdraws; restored by starting kvrrp again
  node         the director dies: SIGKILL of its kvrrp, bgpd and responder; the kernel closes
               bgpd's TCP session and the router drops the paths; restored by starting bgpd,
               the responder and kvrrp again

  gone   the event (the moment before the kill / the call) -> n2's address no longer a next hop
         of 198.18.100.1/32 in the router's kernel table
  back   the restore action -> n2 a next hop again (for sigterm / sigkill / node this includes
         the start of a new kvrrp and its first passing check; for node also bgpd's session)

The router's table is read in-process over netlink (a pyroute2 socket opened in the router's
namespace) every 5 ms. Before each event both next hops are present and have been for 1 s.
Records the 1-minute load average at every event. Prints a markdown table (median / p90 /
max), writes every value and the versions to --json. Opt-in, nothing is asserted on time.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if not os.environ.get("PYTHONPATH"):  # PYTHONPATH=other/src benchmarks another checkout
    sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "tests", "bgp"))
sys.path.insert(0, HERE)

from bgp_lab import Frr, anycast_service, director_conf, director_head, router_conf, set_sysctl, start_responder  # noqa: E402
from lab_timing import chosen, finish, load_summary, loadavg, print_saved, summary  # noqa: E402
from pyroute2 import IPRoute  # noqa: E402

from kvrrp.control.client import call  # noqa: E402
from kvrrp.io.netns import entered  # noqa: E402
from kvrrp.lab import Lab, Node  # noqa: E402

ANYCAST = "198.18.100.1"
PORT = 80
POLL = 0.005
WAIT = 30.0
SETTLE = 1.0
KINDS = ("quorum", "maintenance", "sigterm", "sigkill", "node")


def director_kvrrp_conf(node: Node, vty_dir: str) -> str:
    return director_head(node, vty_dir) + anycast_service(ANYCAST, PORT)


class RouterTable:
    """The router's kernel routes for one /32, read over a netlink socket opened in its
    namespace (no process per read: ~1 ms a dump)."""

    def __init__(self, router: Node, prefix: str) -> None:
        with entered(router.netns):
            self._ipr = IPRoute()
        self.prefix = prefix

    def next_hops(self) -> set[str]:
        hops: set[str] = set()
        for r in self._ipr.route("dump", family=socket.AF_INET):
            if r["dst_len"] != 32 or r.get("RTA_DST") != self.prefix:
                continue
            if r.get("RTA_GATEWAY"):
                hops.add(r.get("RTA_GATEWAY"))
            hops |= {nh.get("RTA_GATEWAY") for nh in (r.get("RTA_MULTIPATH") or []) if nh.get("RTA_GATEWAY")}
        return hops

    def wait(self, predicate, timeout: float = WAIT) -> float | None:  # noqa: ANN001
        """time.time() of the first read whose next hops satisfy predicate, None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = time.time()
            if predicate(self.next_hops()):
                return now
            time.sleep(POLL)
        return None

    def close(self) -> None:
        self._ipr.close()


@dataclass
class Series:
    kind: str
    gone: list[float] = field(default_factory=list)
    back: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    missed: int = 0
    other_hop_lost: int = 0      # n3 vanished too: the event leaked beyond n2


class Bench:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.router, self.d2, self.d3 = lab.nodes
        self.both = {self.d2.ipv4, self.d3.ipv4}
        set_sysctl(lab, self.router, "net.ipv4.ip_forward", "1")
        self.upstream = Frr(lab, self.router, router_conf(self.router, [self.d2, self.d3]), with_zebra=True)
        self.frr: dict[str, Frr] = {}
        self.responders: dict[str, subprocess.Popen] = {}
        self.daemons: dict[str, object] = {}
        self.starts = 0
        for d in (self.d2, self.d3):
            lab.run(d, ["ip", "addr", "add", f"{ANYCAST}/32", "dev", "lo"])
            self.frr[d.name] = Frr(lab, d, director_conf(d, self.router), with_zebra=False)
            self.responders[d.name] = start_responder(lab, d, ANYCAST, PORT)
            self.start_kvrrp(d)
        self.table = RouterTable(self.router, ANYCAST)
        lab._closers.append(self.table.close)

    def start_kvrrp(self, d: Node) -> None:
        self.starts += 1
        self.daemons[d.name] = self.lab.start_kvrrp(d, director_kvrrp_conf(d, self.frr[d.name].dir),
                                                    vrrp_only=False, tag=f"kvrrp-{d.name}-{self.starts}")

    def ctl(self) -> str:
        return os.path.splitext(self.daemons[self.d2.name].pid_file)[0] + ".ctl"

    def logs(self) -> str:
        return "\n".join([self.daemons[d.name].log()[-3000:] + self.frr[d.name].log() for d in (self.d2, self.d3)]
                         + [self.upstream.log()])

    def ready(self) -> None:
        if self.table.wait(lambda hops: hops == self.both, 60) is None:
            raise RuntimeError(f"next hops {self.table.next_hops()}, wanted {self.both}\n{self.logs()}")
        time.sleep(SETTLE)
        if self.table.next_hops() != self.both:
            raise RuntimeError(f"next hops changed while settling: {self.table.next_hops()}\n{self.logs()}")

    # -- the events and their restores --------------------------------------------------------
    def trigger(self, kind: str) -> None:
        d2 = self.d2.name
        if kind == "quorum":
            self.lab.kill(self.responders[d2])
        elif kind == "maintenance":
            call(self.ctl(), "maintenance", on=True, all=True)
        elif kind == "sigterm":
            self.daemons[d2].signal(signal.SIGTERM)
        elif kind == "sigkill":
            self.lab.kill(self.daemons[d2].proc)
        elif kind == "node":
            self.lab.kill(self.daemons[d2].proc)
            self.frr[d2].kill()
            self.lab.kill(self.responders[d2])
        else:
            raise ValueError(kind)

    def restore(self, kind: str) -> None:
        d2 = self.d2.name
        if kind == "quorum":
            self.responders[d2].wait(5)
            self.responders[d2] = start_responder(self.lab, self.d2, ANYCAST, PORT)
        elif kind == "maintenance":
            call(self.ctl(), "maintenance", on=False, all=True)
        elif kind == "node":
            self.responders[d2].wait(5)
            self.frr[d2] = Frr(self.lab, self.d2, director_conf(self.d2, self.router), with_zebra=False)
            self.responders[d2] = start_responder(self.lab, self.d2, ANYCAST, PORT)
            self.start_kvrrp(self.d2)
        else:
            self.start_kvrrp(self.d2)

    def settle_after_stop(self, kind: str) -> None:
        """Before restarting after a stop: the stopped kvrrp's children have finished (the
        checker child of a SIGKILLed parent withdraws, then exits)."""
        if kind in ("sigterm", "sigkill", "node"):
            self.daemons[self.d2.name].proc.wait(15)
            time.sleep(0.5)

    def one(self, series: Series) -> None:
        self.ready()
        series.load.append(loadavg())
        t0 = time.time()
        self.trigger(series.kind)
        gone = self.table.wait(lambda hops: self.d2.ipv4 not in hops)
        if gone is None:
            series.missed += 1
        else:
            series.gone.append((gone - t0) * 1000)
            if self.d3.ipv4 not in self.table.next_hops():
                series.other_hop_lost += 1
        self.settle_after_stop(series.kind)
        t1 = time.time()
        self.restore(series.kind)
        back = self.table.wait(lambda hops: hops == self.both, 60)
        if back is not None:
            series.back.append((back - t1) * 1000)


def run(kinds: list[str], runs: int) -> list[dict]:
    with Lab(nodes=3, prefix="kvbgpb", client=False) as lab:
        bench = Bench(lab)
        series = {k: Series(k) for k in kinds}
        try:
            for i in range(runs):
                for kind in kinds:
                    bench.one(series[kind])
                print(f"  round {i + 1}/{runs}: " + ", ".join(
                    f"{k} {s.gone[-1]:.0f} ms" if s.gone else f"{k} -" for k, s in series.items()),
                    file=sys.stderr, flush=True)
        except BaseException:
            print(bench.logs(), file=sys.stderr)
            raise
        return [{"kind": s.kind, "events": len(s.gone) + s.missed, "missed": s.missed,
                 "other_hop_lost": s.other_hop_lost, "gone_ms": summary(s.gone), "back_ms": summary(s.back),
                 "load_1min": load_summary(s.load),
                 "raw": {"gone": [round(x, 1) for x in s.gone], "back": [round(x, 1) for x in s.back]}}
                for s in series.values()]


def _cell(s: dict) -> str:
    return f"{s['median']:.0f} / {s['p90']:.0f} / {s['max']:.0f}" if s.get("n") else "-"


def table(results: list[dict]) -> str:
    rows = ["| event on director n2 | n | next hop gone from the router's kernel | back after the restore | "
            "missed / other hop lost | load 1 min |", "|---|---|---|---|---|---|"]
    for r in results:
        load = r["load_1min"]
        rows.append(f"| {r['kind']} | {r['gone_ms'].get('n', 0)} | {_cell(r['gone_ms'])} | {_cell(r['back_ms'])} | "
                    f"{r['missed']} / {r['other_hop_lost']} | {load.get('min', '-')}-{load.get('max', '-')} |")
    return "\n".join(rows) + "\n\n(ms: median / p90 / max)\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--runs", type=int, default=10, help="events per kind")
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--json")
    p.add_argument("--table", metavar="FILE.json", help="print the table of a saved run")
    args = p.parse_args(argv)
    if args.table:
        return print_saved(args.table, table)
    kinds = chosen(p, "--kinds", args.kinds, KINDS)
    started = time.time()
    results = run(kinds, args.runs)
    return finish({"runs": args.runs, "poll_ms": POLL * 1000, "results": results}, started, table, args.json)


if __name__ == "__main__":
    sys.exit(main())
