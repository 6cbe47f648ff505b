"""Scale benchmark: K VRRPv3 instances on two nodes, kvrrp and keepalived side by side (root).

    python3 bench/bench_scale.py                       # the full table (about 25 minutes)
    python3 bench/bench_scale.py --quick               # K=100 at 1 s and 0.1 s, short windows
    python3 bench/bench_scale.py --configs 1000@1,500@0.1 --start once --window 30
    python3 bench/bench_scale.py --max-k               # largest K at 0.1 s, one core per node
    options: --daemons keepalived,kvrrp  --mode sequential|concurrent  --warmup S  --window S
             --json FILE  --markdown FILE  --keep-logs DIR

Each daemon gets its own pair of network namespaces, "m" (priority 150, becomes master of every
VRID) and "b" (priority 100). The pair is joined by ceil(K / 250) veth segments, each carrying
VRIDs 1..250; segment s has 198.18.s.1/24 (m) and 198.18.s.2/24 (b), and the VIP of VRID v on
segment s is 198.19.s.v/32, so K up to 63,750 fits in 198.18.0.0/15. Both nodes load the same
keepalived.conf text (state BACKUP everywhere, VRRPv3, one VIP per instance) apart from priority.

Start modes: "once" starts both nodes at the same instant; "staggered" starts m, waits until it
holds every VIP, then starts b.

Measured over a window (default 30 s) after a warm-up (default 20 s):
  cpu      sum of the first field of /proc/PID/task/*/schedstat (ns on CPU) over every process
           whose network namespace is the node's, delta over the window, in % of one core;
           the capture process below is excluded (it is ours, not the daemon's)
  rss      sum of VmRSS over the same processes at the end of the window
  adverts  a tcpdump capture (`-i any`, VRRP only, in the b namespace) sees every advert of the
           pair once; per (source, VRID) rate = (n - 1) / (last - first), summed over VRIDs
  late     per (source, VRID): inter-arrival gap minus advert_int; p99 over all gaps
  spurious "Entering MASTER/BACKUP/FAULT STATE" log lines beyond the expected ones: on m one
           "BACKUP (init)" and one "MASTER" per instance, on b one "BACKUP" per instance;
           also counted separately for the window alone

Modes: "sequential" (default) measures keepalived then kvrrp back to back, so each pair has the
2 cores to itself apart from other load on the machine; "concurrent" runs both pairs at once and
measures them over the same window (same background load, but the four daemons compete for the
cores). The load average before each measurement is recorded.

--max-k pins every process of m to CPU 0 and of b to CPU 1 (taskset) and searches the largest K
(doubling from --max-k-from, then bisecting to --max-k-step) at advert_int 0.1 s, staggered start (--max-k-start once: both at once),
that settles with zero
spurious transitions (--max-k-rate: and adverts within 0.5 % of K / advert_int).

Cleanup: processes are stopped by the PIDs this script started (keepalived's VRRP child by the
pid file it was told to write), namespaces deleted, on normal exit, exceptions and Ctrl-C.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
if not os.environ.get("PYTHONPATH"):  # PYTHONPATH=other/src benchmarks another checkout
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

import kvrrp  # noqa: E402
from kvrrp import fastpath  # noqa: E402

KEEPALIVED = "/usr/sbin/keepalived"
PER_SEGMENT = 250
PRIORITY = {"m": 150, "b": 100}
DEFAULT_CONFIGS = "1000@1,10000@1,500@0.1,1000@0.1"
QUICK_CONFIGS = "100@1,100@0.1"
VRRP_PROTO = 112


# -- topology ---------------------------------------------------------------------------------

def run(*argv: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=input, check=check, capture_output=True, text=True)


def segments_for(k: int) -> int:
    return math.ceil(k / PER_SEGMENT)


def instance_keys(k: int) -> list[tuple[int, int]]:
    """(segment, vrid) of each of the K instances, segment-major."""
    return [(i // PER_SEGMENT, i % PER_SEGMENT + 1) for i in range(k)]


def node_address(segment: int, node: str) -> str:
    return f"198.18.{segment}.{1 if node == 'm' else 2}"


def vip(segment: int, vrid: int) -> str:
    return f"198.19.{segment}.{vrid}"


def render(k: int, advert: float, node: str) -> str:
    out = ["global_defs {", f"    router_id bench-{node}", "    vrrp_garp_master_delay 0",
           "    vrrp_garp_master_repeat 1", "}", ""]
    for seg, vrid in instance_keys(k):
        out += [f"vrrp_instance VI_{seg}_{vrid} {{", "    state BACKUP", f"    interface s{seg}",
                f"    virtual_router_id {vrid}", f"    priority {PRIORITY[node]}", "    version 3",
                f"    advert_int {advert:g}", "    virtual_ipaddress {", f"        {vip(seg, vrid)}/32",
                "    }", "}", ""]
    return "\n".join(out)


class Pair:
    """Two namespaces (m, b) joined by veth segments; owns every process it starts."""

    def __init__(self, label: str, k: int, workdir: str) -> None:
        self.label, self.k = label, k
        self.id = f"ksb-{os.getpid()}-{secrets.token_hex(2)}-{label}"
        self.ns = {"m": f"{self.id}-m", "b": f"{self.id}-b"}
        self.workdir = workdir
        self.created: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.child_pid_files: list[str] = []

    def build(self) -> None:
        for name in self.ns.values():
            run("ip", "netns", "add", name)
            self.created.append(name)
            run("ip", "-n", name, "link", "set", "lo", "up")
            for key, value in (("net/ipv4/igmp_max_memberships", "4096"),
                               ("net/core/rmem_max", "16777216")):
                run("ip", "netns", "exec", name, "sysctl", "-qw", f"{key.replace('/', '.')}={value}",
                    check=False)
        segs = segments_for(self.k)
        run("ip", "-b", "-", input="".join(
            f"link add s{s} netns {self.ns['m']} type veth peer name s{s} netns {self.ns['b']}\n"
            for s in range(segs)))
        for node, name in self.ns.items():
            run("ip", "-n", name, "-b", "-", input="".join(
                f"addr add {node_address(s, node)}/24 dev s{s}\nlink set s{s} up\n" for s in range(segs)))

    def links_up(self) -> bool:
        """Every segment reports carrier on both sides (the kernel's linkwatch can take a while
        after `link set up`; a daemon started before that sees the interface down and goes FAULT)."""
        for name in self.ns.values():
            out = run("ip", "-n", name, "-j", "link", "show", check=False).stdout
            links = [l for l in json.loads(out or "[]") if l.get("ifname", "").startswith("s")]
            if len(links) != segments_for(self.k) or any(l.get("operstate") != "UP" for l in links):
                return False
        return True

    def ns_inode(self, node: str) -> int:
        return os.stat(f"/run/netns/{self.ns[node]}").st_ino

    def spawn(self, node: str, argv: list[str], log_path: str, cpu: int | None = None,
              env: dict | None = None) -> subprocess.Popen:
        prefix = ["taskset", "-c", str(cpu)] if cpu is not None else []
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns[node], *prefix, *argv],
                                    stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for pid_file in self.child_pid_files:  # keepalived's VRRP child, if its parent died hard
            with contextlib.suppress(OSError, ValueError):
                child = int(open(pid_file).read().strip())
                if b"keepalived" in open(f"/proc/{child}/cmdline", "rb").read():
                    os.kill(child, signal.SIGKILL)
        self.procs.clear()
        for name in reversed(self.created):
            run("ip", "netns", "del", name, check=False)
        self.created.clear()


# -- daemons ------------------------------------------------------------------------------------

@dataclass
class Daemon:
    kind: str
    node: str
    proc: subprocess.Popen
    log_path: str


def kvrrp_env() -> dict:
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.abspath(kvrrp.__file__)))
    env["PYTHONPATH"] = src
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_daemon(pair: Pair, kind: str, node: str, advert: float, cpu: int | None) -> Daemon:
    base = os.path.join(pair.workdir, f"{pair.label}-{node}")
    conf = base + ".conf"
    with open(conf, "w") as fh:
        fh.write(render(pair.k, advert, node))
    log = base + ".log"
    if kind == "keepalived":
        child_pid = base + ".vrrp.pid"
        pair.child_pid_files.append(child_pid)
        argv = [KEEPALIVED, "-n", "-l", "-P", "-f", conf, "-p", base + ".pid", "-r", child_pid,
                "-c", base + ".check.pid"]
        proc = pair.spawn(node, argv, log, cpu)
    else:
        argv = [sys.executable, "-m", "kvrrp", "-n", "-l", "-P", "-f", conf, "-p", base + ".pid"]
        proc = pair.spawn(node, argv, log, cpu, env=kvrrp_env())
    return Daemon(kind, node, proc, log)


def vip_count(pair: Pair, node: str) -> int:
    out = run("ip", "-n", pair.ns[node], "-4", "-o", "addr", "show", check=False).stdout
    return sum(1 for line in out.splitlines() if " 198.19." in line)


def wait_for(predicate, timeout: float, what: str, alive=()) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for d in alive:
            if d.proc.poll() is not None:
                raise RuntimeError(f"{d.kind} on {d.node} exited ({d.proc.returncode}); see {d.log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


# -- measuring ------------------------------------------------------------------------------------

def tx_packets(pair: "Pair", node: str) -> int:
    """Packets sent on the node's segments (kernel counters): a check on the capture."""
    out = run("ip", "-n", pair.ns[node], "-s", "-j", "link", "show", check=False).stdout
    return sum(link.get("stats64", {}).get("tx", {}).get("packets", 0)
               for link in json.loads(out or "[]") if link.get("ifname", "").startswith("s"))


def pids_in_netns(inode: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                pids.append(int(entry))
        except OSError:
            pass
    return pids


def cpu_ns(pids: list[int]) -> dict[tuple[int, int], int]:
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                    out[(pid, int(tid))] = int(fh.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return out


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def loadavg() -> str:
    return open("/proc/loadavg").read().split(" ", 3)[:3].__str__()


class Tcpdump:
    """tcpdump -i any in a namespace, VRRP only, written to a pcap file."""

    def __init__(self, pair: Pair, node: str, path: str) -> None:
        self.path = path
        self.proc = pair.spawn(node, ["tcpdump", "-i", "any", "-n", "-s", "96", "-B", "65536",
                                      "-w", path, "ip proto 112"], path + ".log")
        deadline = time.monotonic() + 30
        while "listening on" not in open(path + ".log", errors="replace").read():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tcpdump did not start: {open(path + '.log').read()[-500:]}")
            time.sleep(0.05)
        time.sleep(0.2)  # it says so just before it polls its ring

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            self.proc.wait(10)


def read_pcap(path: str) -> Iterator[tuple[float, str, int]]:
    """(timestamp, source address, VRID) of each VRRP frame in a LINUX_SLL/SLL2 pcap."""
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 24:
        return
    magic = struct.unpack_from("<I", data, 0)[0]
    endian, scale = {0xA1B2C3D4: ("<", 1e-6), 0xA1B23C4D: ("<", 1e-9)}.get(magic, (">", 1e-6))
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    l2 = {113: 16, 276: 20, 1: 14}[linktype]
    pos = 24
    rec = struct.Struct(endian + "IIII")
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = rec.unpack_from(data, pos)
        pos += 16
        frame = data[pos:pos + incl]
        pos += incl
        ip = l2
        if len(frame) < ip + 20 + 2 or frame[ip + 9] != VRRP_PROTO:
            continue
        ihl = (frame[ip] & 0x0F) * 4
        yield sec + frac * scale, socket.inet_ntoa(frame[ip + 12:ip + 16]), frame[ip + ihl + 1]


def wire_stats(path: str, t0: float, t1: float, advert: float, k: int) -> dict:
    by_key: dict[tuple[str, int], list[float]] = {}
    total = 0
    first = last = None
    for ts, src, vrid in read_pcap(path):
        first = ts if first is None else min(first, ts)
        last = ts if last is None else max(last, ts)
        if t0 <= ts <= t1:
            total += 1
            by_key.setdefault((src, vrid), []).append(ts)
    rate = 0.0
    late: list[float] = []
    for times in by_key.values():
        if len(times) >= 2:
            rate += (len(times) - 1) / (times[-1] - times[0])
            late.extend(b - a - advert for a, b in zip(times, times[1:]))
    late.sort()

    def pct(p: float) -> float | None:
        return late[min(len(late) - 1, int(p * len(late)))] if late else None

    expected = k / advert
    if first is None or last < t1 - advert:
        raise RuntimeError(f"the capture ended early ({first} .. {last} vs {t0} .. {t1})")
    return {"frames": total, "frames_per_s": total / (t1 - t0), "senders": len(by_key), "adverts_per_s": rate,
            "expected_per_s": expected, "rate_error_pct": (rate / expected - 1) * 100 if expected else None,
            "late_p50_ms": _ms(pct(0.50)), "late_p99_ms": _ms(pct(0.99)), "late_max_ms": _ms(late[-1] if late else None),
            "gaps_over_2x": sum(1 for g in late if g > advert)}


def _ms(x: float | None) -> float | None:
    return None if x is None else x * 1000


def transitions(log_path: str, since: int = 0) -> list[tuple[str, str, bool]]:
    """(instance, state, init) of each "Entering X STATE" line from byte offset `since`."""
    out = []
    with open(log_path, "rb") as fh:
        fh.seek(since)
        for raw in fh:
            line = raw.decode(errors="replace")
            if "Entering " not in line or " STATE" not in line:
                continue
            name = line.split("(", 1)[1].split(")", 1)[0] if "(" in line else "?"
            state = line.split("Entering ", 1)[1].split()[0]
            out.append((name, state, "(init)" in line))
    return out


def spurious(log_path: str, node: str) -> int:
    """State lines beyond the expected: m enters BACKUP (init) once and MASTER once per
    instance, b enters BACKUP once per instance."""
    seen: dict[str, list[tuple[str, bool]]] = {}
    for name, state, init in transitions(log_path):
        seen.setdefault(name, []).append((state, init))
    extra = 0
    for states in seen.values():
        expected = [("BACKUP", True), ("MASTER", False)] if node == "m" else [("BACKUP", True)]
        rest = list(states)
        for want in expected:
            match = next((i for i, s in enumerate(rest) if s[0] == want[0]), None)
            if match is not None:
                rest.pop(match)
        extra += len(rest)
    return extra


# -- one measurement ------------------------------------------------------------------------------

@dataclass
class Case:
    k: int
    advert: float
    start: str  # "once" | "staggered"


@dataclass
class Result:
    daemon: str
    k: int
    advert: float
    start: str
    mode: str
    pinned: bool
    loadavg_before: str = ""
    cpu_pct: dict = field(default_factory=dict)        # node -> % of one core
    rss_mb: dict = field(default_factory=dict)         # node -> MB summed over the node's processes
    processes: dict = field(default_factory=dict)      # node -> number of processes counted
    wire: dict = field(default_factory=dict)
    spurious_total: dict = field(default_factory=dict)  # node -> extra state lines in the whole run
    spurious_window: dict = field(default_factory=dict)  # node -> any state line in the window
    startup_s: float | None = None     # start -> m holds every VIP and b none
    note: str | None = None
    error: str | None = None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="bench-scale-")
        self.pairs: list[Pair] = []

    def close(self) -> None:
        for pair in self.pairs:
            pair.close()
        self.pairs.clear()
        if self.args.keep_logs:
            os.makedirs(self.args.keep_logs, exist_ok=True)
            for name in os.listdir(self.workdir):
                if name.endswith((".log", ".pcap")) and not name.endswith(".pcap.log"):
                    os.replace(os.path.join(self.workdir, name), os.path.join(self.args.keep_logs, name))
        import shutil
        shutil.rmtree(self.workdir, ignore_errors=True)

    def measure(self, case: Case, daemons: list[str], mode: str, pinned: bool = False) -> list[Result]:
        """Start one pair per daemon, run them together, measure them over the same window."""
        a = self.args
        results, pairs = [], []
        try:
            for kind in daemons:
                label = f"{kind[:2]}{case.k}-{str(case.advert).replace('.', '')}-{case.start[:2]}-{secrets.token_hex(1)}"
                pair = Pair(label, case.k, self.workdir)
                self.pairs.append(pair)
                pair.build()
                pairs.append(pair)
                wait_for(pair.links_up, 30, f"{label}: segments up")
                results.append(Result(kind, case.k, case.advert, case.start, mode, pinned, loadavg()))
            t_start = time.monotonic()
            cpu = {"m": 0, "b": 1} if pinned else {"m": None, "b": None}
            ds: list[dict[str, Daemon]] = [{} for _ in pairs]
            for i, (kind, pair) in enumerate(zip(daemons, pairs)):
                ds[i]["m"] = start_daemon(pair, kind, "m", case.advert, cpu["m"])
                if case.start == "once":
                    ds[i]["b"] = start_daemon(pair, kind, "b", case.advert, cpu["b"])
            timeout = 60 + case.k * 0.02
            for i, pair in enumerate(pairs):
                if case.start == "staggered":
                    try:
                        wait_for(lambda: vip_count(pair, "m") == case.k, timeout,
                                 f"{daemons[i]} m to hold {case.k} VIPs", ds[i].values())
                    except RuntimeError as exc:
                        if any(d.proc.poll() is not None for d in ds[i].values()):
                            raise
                        results[i].note = f"b started anyway: {exc} (m {vip_count(pair, 'm')} VIPs)"
                        print(f"   {daemons[i]}: {results[i].note}", flush=True)
                    ds[i]["b"] = start_daemon(pair, daemons[i], "b", case.advert, cpu["b"])
            for i, pair in enumerate(pairs):
                try:
                    wait_for(lambda: vip_count(pair, "m") == case.k and vip_count(pair, "b") == 0, timeout,
                             f"{daemons[i]}: m holds all VIPs and b none", ds[i].values())
                    results[i].startup_s = round(time.monotonic() - t_start, 1)
                except RuntimeError as exc:
                    if any(d.proc.poll() is not None for d in ds[i].values()):
                        raise
                    # still measured: what a node costs while it has not settled is a result too
                    results[i].note = "; ".join(filter(None, [results[i].note, (
                        f"not settled: {exc} (m {vip_count(pair, 'm')} VIPs, b {vip_count(pair, 'b')})")]))
                    print(f"   {daemons[i]}: {results[i].note}", flush=True)
            time.sleep(a.warmup)
            caps = [Tcpdump(pair, "b", os.path.join(self.workdir, f"{pair.label}.pcap")) for pair in pairs]
            excluded = {c.proc.pid for c in caps}
            for i, pair in enumerate(pairs):
                results[i].loadavg_before = loadavg()
            offsets = [{n: os.path.getsize(d.log_path) for n, d in dd.items()} for dd in ds]
            inodes = [{n: pair.ns_inode(n) for n in ("m", "b")} for pair in pairs]
            pids0 = [{n: [p for p in pids_in_netns(ino[n]) if p not in excluded] for n in ino} for ino in inodes]
            tx0 = [{n: tx_packets(pair, n) for n in ("m", "b")} for pair in pairs]
            t0 = time.time()
            cpu0 = [{n: cpu_ns(p[n]) for n in p} for p in pids0]
            m0 = time.monotonic()
            time.sleep(a.window)
            cpu1 = [{n: cpu_ns([q for q in pids_in_netns(ino[n]) if q not in excluded]) for n in ino}
                    for ino in inodes]
            elapsed = time.monotonic() - m0
            t1 = time.time()
            tx1 = [{n: tx_packets(pair, n) for n in ("m", "b")} for pair in pairs]
            for i, pair in enumerate(pairs):
                r = results[i]
                for n in ("m", "b"):
                    pids = [q for q in pids_in_netns(inodes[i][n]) if q not in excluded]
                    delta = sum(v - cpu0[i][n].get(t, 0) for t, v in cpu1[i][n].items())
                    r.cpu_pct[n] = round(delta / (elapsed * 1e9) * 100, 2)
                    r.rss_mb[n] = round(rss_kb(pids) / 1024, 1)
                    r.processes[n] = len(pids)
                    r.spurious_window[n] = len(transitions(ds[i][n].log_path, offsets[i][n]))
            time.sleep(2.0 + case.advert)  # tcpdump reads a ring block only once it retires
            for c in caps:
                c.stop()
            for i, pair in enumerate(pairs):
                results[i].wire = wire_stats(caps[i].path, t0, t1, case.advert, case.k)
                results[i].wire["kernel_tx_per_s"] = {n: round((tx1[i][n] - tx0[i][n]) / elapsed, 1)
                                                      for n in ("m", "b")}
            for i, pair in enumerate(pairs):
                for n, d in ds[i].items():
                    if d.proc.poll() is not None:
                        results[i].error = f"{d.kind} on {n} exited during the run"
                    results[i].spurious_total[n] = spurious(d.log_path, n)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            for r in results:
                r.error = r.error or str(exc)
        finally:
            for pair in pairs:
                pair.close()
                self.pairs.remove(pair)
        return results

    def run_cases(self, cases: list[Case]) -> list[Result]:
        out = []
        for case in cases:
            groups = ([self.args.daemons] if self.args.mode == "concurrent"
                      else [[d] for d in self.args.daemons])
            for group in groups:
                print(f"-- K={case.k} advert={case.advert:g}s start={case.start} {'+'.join(group)} "
                      f"load {loadavg()}", flush=True)
                for r in self.measure(case, group, self.args.mode):
                    print("   " + summary(r), flush=True)
                    out.append(r)
        return out

    def max_k(self, kind: str) -> tuple[int, list[Result]]:
        """Largest K (multiple of --max-k-step) that kind sustains at 0.1 s, one core per node."""
        tried: list[Result] = []

        def ok(k: int) -> bool:
            print(f"-- max-k {kind} K={k} load {loadavg()}", flush=True)
            r = self.measure(Case(k, 0.1, self.args.max_k_start), [kind], "sequential", pinned=True)[0]
            tried.append(r)
            good = sustained(r, self.args.max_k_rate)
            print("   " + summary(r) + ("  OK" if good else "  FAIL"), flush=True)
            return good

        lo, hi = 0, None
        k = self.args.max_k_from
        while hi is None:
            if ok(k):
                lo, k = k, k * 2
                if k > self.args.max_k_limit:
                    return lo, tried
            else:
                hi = k
        while hi - lo > self.args.max_k_step:
            step = self.args.max_k_step
            mid = (lo + hi) // 2 // step * step or step
            if mid in (lo, hi):
                break
            if ok(mid):
                lo = mid
            else:
                hi = mid
        return lo, tried


def sustained(r: Result, rate_too: bool = False) -> bool:
    """The issue's criterion: settled, and zero spurious transitions over the whole run; with
    rate_too, adverts within 0.5 % of K / advert_int as well."""
    w = r.wire
    ok = r.error is None and r.note is None and sum(r.spurious_total.values()) == 0
    if rate_too:
        ok = ok and w.get("rate_error_pct") is not None and abs(w["rate_error_pct"]) <= 0.5
    return ok


def summary(r: Result) -> str:
    if r.error and not r.cpu_pct:
        return f"{r.daemon}: ERROR {r.error}"
    w = r.wire
    return (f"{r.daemon:10s} cpu m/b {r.cpu_pct.get('m')}/{r.cpu_pct.get('b')} %  rss m/b "
            f"{r.rss_mb.get('m')}/{r.rss_mb.get('b')} MB  adverts/s {w.get('adverts_per_s', 0):.1f} "
            f"(want {w.get('expected_per_s', 0):.0f}, {w.get('rate_error_pct') or 0:+.2f} %; "
            f"kernel tx m/b {w.get('kernel_tx_per_s', {}).get('m')}/{w.get('kernel_tx_per_s', {}).get('b')})  "
            f"late p99 {_fmt(w.get('late_p99_ms'))} ms  spurious m/b {r.spurious_total.get('m')}/"
            f"{r.spurious_total.get('b')} (window {r.spurious_window.get('m')}/{r.spurious_window.get('b')})"
            + (f"  NOTE {r.note}" if r.note else "") + (f"  ERROR {r.error}" if r.error else ""))


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def markdown(results: list[Result]) -> str:
    rows = ["| K, advert, start | keepalived CPU m / b | kvrrp CPU m / b | kvrrp ÷ keepalived m / b | "
            "RSS MB m / b: keepalived; kvrrp | adverts/s keepalived / kvrrp (want) | "
            "p99 late keepalived / kvrrp (ms) | spurious keepalived / kvrrp | settled after (s) | notes |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    keyed: dict[tuple, dict[str, Result]] = {}
    for r in results:
        keyed.setdefault((r.k, r.advert, r.start, r.pinned), {})[r.daemon] = r
    for (k, advert, start, pinned), by in keyed.items():
        ka, kv = by.get("keepalived"), by.get("kvrrp")

        def cpu(r: Result | None) -> str:
            return "-" if r is None or not r.cpu_pct else f"{r.cpu_pct['m']:.2f} % / {r.cpu_pct['b']:.2f} %"

        def rss(r: Result | None) -> str:
            return "-" if r is None or not r.rss_mb else f"{r.rss_mb['m']:.1f} / {r.rss_mb['b']:.1f}"

        def rate(r: Result | None) -> str:
            return "-" if r is None or not r.wire else f"{r.wire['adverts_per_s']:.0f}"

        def late(r: Result | None) -> str:
            return "-" if r is None or not r.wire else _fmt(r.wire["late_p99_ms"])

        def spur(r: Result | None) -> str:
            return "-" if r is None or not r.spurious_total else f"{sum(r.spurious_total.values())}"

        def settle(r: Result | None) -> str:
            return "-" if r is None or r.startup_s is None else f"{r.startup_s:.0f}"

        def notes(*rs: Result | None) -> str:
            return "; ".join(f"{r.daemon}: {r.error or r.note}" for r in rs if r and (r.error or r.note))

        ratio = "-"
        if ka and kv and ka.cpu_pct and kv.cpu_pct:
            ratio = f"{_ratio(kv.cpu_pct['m'], ka.cpu_pct['m'])} / {_ratio(kv.cpu_pct['b'], ka.cpu_pct['b'])}"
        rows.append(f"| {k:,}, {advert:g} s, {start}{', pinned' if pinned else ''} | {cpu(ka)} | {cpu(kv)} | "
                    f"{ratio} | {rss(ka)}; {rss(kv)} | {rate(ka)} / {rate(kv)} ({k / advert:.0f}) | "
                    f"{late(ka)} / {late(kv)} | {spur(ka)} / {spur(kv)} | {settle(ka)} / {settle(kv)} | "
                    f"{notes(ka, kv)} |")
    return "\n".join(rows) + "\n"


def versions() -> dict:
    ka = run(KEEPALIVED, "--version", check=False)
    return {"kvrrp": kvrrp.__version__, "kvrrp_path": os.path.dirname(os.path.abspath(kvrrp.__file__)),
            "kvrrp_git": run("git", "-C", os.path.dirname(os.path.abspath(kvrrp.__file__)), "rev-parse",
                             "--short", "HEAD", check=False).stdout.strip(),
            "fastpath_implementation": fastpath.IMPLEMENTATION,
            "keepalived": (ka.stdout + ka.stderr).splitlines()[0] if (ka.stdout + ka.stderr) else None,
            "python": sys.version.split()[0], "kernel": platform.release(), "cpus": os.cpu_count()}


def parse_configs(text: str) -> list[tuple[int, float]]:
    out = []
    for item in text.split(","):
        k, _, adv = item.strip().partition("@")
        out.append((int(k), float(adv or 1)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--configs", default=None, help=f"K@advert_int list (default {DEFAULT_CONFIGS})")
    p.add_argument("--start", default="once,staggered", help="start modes: once, staggered")
    p.add_argument("--daemons", default="keepalived,kvrrp")
    p.add_argument("--mode", choices=("sequential", "concurrent"), default="sequential")
    p.add_argument("--warmup", type=float, default=None, help="seconds after election (default 20, quick 5)")
    p.add_argument("--window", type=float, default=None, help="measurement seconds (default 30, quick 10)")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_CONFIGS}, short warm-up and window")
    p.add_argument("--max-k", action="store_true", help="search the largest K at 0.1 s, one core per node")
    p.add_argument("--max-k-from", type=int, default=500)
    p.add_argument("--max-k-step", type=int, default=250)
    p.add_argument("--max-k-limit", type=int, default=20000)
    p.add_argument("--max-k-start", choices=("once", "staggered"), default="staggered")
    p.add_argument("--max-k-rate", action="store_true", help="also require adverts within 0.5 %%")
    p.add_argument("--json", default="bench-scale.json")
    p.add_argument("--markdown", default=None, help="also write the table to this file")
    p.add_argument("--table", default=None, metavar="JSON", help="only print the table of a saved run")
    p.add_argument("--label", default="", help="what is being measured (e.g. main@abc1234), kept in the JSON")
    p.add_argument("--keep-logs", default=None, help="copy the daemons' logs into this directory")
    a = p.parse_args(argv)
    if a.table:
        saved = json.load(open(a.table))
        fields = {f for f in Result.__dataclass_fields__}
        print(markdown([Result(**{k: v for k, v in r.items() if k in fields}) for r in saved["results"]]), end="")
        return 0
    if os.geteuid() != 0:
        print("bench_scale.py needs root (network namespaces)", file=sys.stderr)
        return 2
    a.daemons = [d for d in a.daemons.split(",") if d]
    a.warmup = a.warmup if a.warmup is not None else (5 if a.quick else 20)
    a.window = a.window if a.window is not None else (10 if a.quick else 30)
    configs = parse_configs(a.configs or (QUICK_CONFIGS if a.quick else DEFAULT_CONFIGS))
    starts = [s for s in a.start.split(",") if s]
    bench = Bench(a)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    report: dict = {"label": a.label, "versions": versions(), "args": {k: v for k, v in vars(a).items()},
                    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print(json.dumps(report["versions"]), flush=True)
    results: list[Result] = []
    try:
        if a.max_k:
            report["max_k"] = {}
            for kind in a.daemons:
                best, tried = bench.max_k(kind)
                report["max_k"][kind] = best
                results += tried
            print("largest K at 0.1 s, one core per node: " +
                  ", ".join(f"{k} {v:,}" for k, v in report["max_k"].items()), flush=True)
        else:
            results = bench.run_cases([Case(k, adv, s) for k, adv in configs for s in starts])
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
    finally:
        bench.close()
        signal.signal(signal.SIGTERM, previous)
        report["results"] = [asdict(r) for r in results]
        report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        table = markdown(results)
        report["markdown"] = table
        with open(a.json, "w") as fh:
            json.dump(report, fh, indent=1)
        if a.markdown:
            with open(a.markdown, "w") as fh:
                fh.write(table)
        print(table)
        print(f"results: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
