"""Chaos scenarios on a kvrrp.lab LAN, sized by their arguments: the chaos tier runs them
small (tests/chaos), bench/chaos_campaign.py runs them big. Each returns a JSON-ready dict of
what it did and what it saw; `violations` lists every broken promise (empty = passed).

Promises checked: no daemon crash, no traceback in any log, at most one VIP holder once
converged, never no holder at all (no lost VIP), counters exact (fuzz), no growth of
processes or descriptors.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from typing import Callable

from kvrrp.chaos import netfault, observe, packets
from kvrrp.io.netns import entered
from kvrrp.lab import Daemon, Lab, Node, VrrpSpec, render_config

VIP = "198.18.0.200"
WAIT = 60.0
Log = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


class Member:
    """One node's daemon with a status port; restartable."""

    def __init__(self, lab: Lab, node: Node, spec: VrrpSpec, global_lines: tuple[str, ...] = ()) -> None:
        self.lab, self.node, self.spec = lab, node, spec
        self.text = render_config([spec], list(global_lines))
        self.port = observe.free_port(node.netns)
        self.daemon: Daemon | None = None
        self.starts = 0
        self.bad_lines: list[str] = []

    def start(self) -> None:
        self.starts += 1
        tag = f"kvrrp-{self.node.name}-{self.starts}"
        self.daemon = self.lab.start_kvrrp(self.node, self.text, args=["--status-port", str(self.port)], tag=tag)

    def kill(self) -> bool:
        """SIGKILL; False when the process had not gone after 60 s (a busy host's exit of a
        process holding raw sockets can wait on the kernel's rtnl lock)."""
        assert self.daemon is not None
        self.daemon.crash()
        try:
            self.daemon.proc.wait(60)
        except subprocess.TimeoutExpired:
            return False
        self.collect_log()
        return True

    def collect_log(self) -> None:
        if self.daemon is not None:
            self.bad_lines += observe.bad_log_lines(self.daemon.log())
            try:
                os.unlink(self.daemon.log_file)
            except OSError:
                pass

    def status(self) -> dict | None:
        return observe.try_status(self.node.netns, self.port)

    def state(self) -> str | None:
        st = self.status()
        if not st or not st.get("instances"):
            return None
        return st["instances"][0]["data"]["state"]

    def alive(self) -> bool:
        return self.daemon is not None and self.daemon.alive()


def trio(lab: Lab, advert_int: float = 0.1, priorities=(150, 120, 100)) -> list[Member]:
    members = []
    for node, prio in zip(lab.nodes, priorities):
        spec = VrrpSpec(priority=prio, version=3, advert_int=advert_int, vips=(f"{VIP}/32",))
        members.append(Member(lab, node, spec))
    for m in members:
        m.start()
    return members


def wait_single_holder(lab: Lab, want: Node | None, timeout: float = WAIT) -> float | None:
    """Seconds until exactly one node (want, if given) holds the VIP; None on timeout."""
    t0 = time.monotonic()
    ok = lab.wait_for(lambda: lab.holders(VIP) == [want] if want is not None else len(lab.holders(VIP)) == 1,
                      timeout, interval=0.02)
    return time.monotonic() - t0 if ok else None


# -- packet fuzz ---------------------------------------------------------------------------------

def _send(lab: Lab, n: int, rng: random.Random, target: packets.Target, weights: dict, rate: float,
          caught_up: Callable[[int], None] | None = None, window: int = 500) -> Counter:
    """Send n frames at `rate` at most; with caught_up, every `window` frames wait until the
    daemon has taken in what was sent (so its socket buffer never overflows)."""
    sent: Counter = Counter()
    with entered(lab.client_node.netns):
        sender = packets.Sender(lab.client_node.ifname)
    batch = 200
    started = time.monotonic()
    try:
        for i, case in enumerate(packets.plan(n, rng, weights)):
            sender.send(packets.make_case(case, target, rng))
            sent[case] += 1
            if caught_up is not None and i % window == window - 1:
                caught_up(i + 1 - sent["ip_bad"])
            if i % batch == batch - 1:
                ahead = (i + 1) / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
    finally:
        sender.close()
    return sent


def fuzz_round(lab: Lab, member: Member, target: packets.Target, n: int, rng: random.Random, weights: dict,
               rate: float = 15000.0, paced: bool = False) -> dict:
    """Send n frames of the given case mix; wait until every frame is accounted for; return
    the deltas and what was expected. paced: the sender waits for the daemon to catch up every
    500 frames (no socket overflow, so every reason's count can be checked)."""
    pid = member.daemon.pid
    before = observe.counters(member.status())
    kernel_before = observe.raw_socket_drops(pid)

    def caught_up(arrived: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st = member.status()
            if st is not None and observe.counters(st)["socket_received"] - before["socket_received"] \
                    + observe.raw_socket_drops(pid) - kernel_before >= arrived:
                return
            time.sleep(0.002)

    sent = _send(lab, n, rng, target, weights, rate, caught_up if paced else None)
    want = packets.expected(sent)

    def counted(c: dict) -> int:
        return sum(c["instance"].values()) + sum(c["engine"].values()) + c["accepted"] + c["socket_bad_ip"]

    arrivals = n - want["kernel"]
    after = before
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = member.status()
        if st is not None:
            after = observe.counters(st)
            lost = observe.raw_socket_drops(pid) - kernel_before
            if counted(after) - counted(before) + lost >= arrivals:
                break
        time.sleep(0.05)
    kernel_lost = observe.raw_socket_drops(pid) - kernel_before

    def delta(level: str) -> Counter:
        return Counter({k: after[level].get(k, 0) - before[level].get(k, 0)
                        for k in set(after[level]) | set(before[level]) if after[level].get(k, 0) != before[level].get(k, 0)})

    return {"sent": dict(sent), "want": want, "instance": delta("instance"), "engine": delta("engine"),
            "accepted": after["accepted"] - before["accepted"],
            "bad_ip": after["socket_bad_ip"] - before["socket_bad_ip"],
            "received": after["socket_received"] - before["socket_received"], "kernel_lost": kernel_lost,
            "counted": counted(after) - counted(before)}


def packet_fuzz(frames: int, seed: int = 1, block: int = 50000, rate: float = 15000.0, log: Log = _quiet,
                deadline: float | None = None, paced: bool = False) -> dict:
    """`frames` fuzzed frames at a running master, in alternating blocks of targeted cases
    (each reason's count checked exactly) and random bytes (each counted once)."""
    rng = random.Random(seed)
    violations: list[str] = []
    totals: Counter = Counter()
    blocks: Counter = Counter()
    kernel_lost = 0
    with Lab(nodes=1, prefix="kvcpf") as lab:
        node = lab.nodes[0]
        target = packets.Target(src=lab.client_node.ipv4, src_mac=bytes.fromhex(lab.client_node.mac.replace(":", "")))
        spec = VrrpSpec(priority=200, version=2, advert_int=1, auth_pass=target.password.decode(),
                        vips=(f"{VIP}/32",), extra=("lower_prio_no_advert",))
        member = Member(lab, node, spec)
        member.start()
        if wait_single_holder(lab, node) is None:
            return {"frames": 0, "violations": ["the master never came up"]}
        fds0 = observe.fd_count(member.daemon.pid)
        targeted = {k: w for k, w in packets.WEIGHTS.items() if k != "random"}
        done = 0
        k = 0
        t0 = time.monotonic()
        while done < frames:
            n = min(block, frames - done)
            kind = "random" if k % 3 == 2 else "targeted"
            r = fuzz_round(lab, member, target, n, rng, {"random": 1} if kind == "random" else targeted, rate, paced)
            kernel_lost += r["kernel_lost"]
            for case, c in r["sent"].items():
                totals[case] += c
            arrivals = n - r["want"]["kernel"]
            if r["counted"] + r["kernel_lost"] != arrivals:
                violations.append(f"block {k}: {arrivals} frames arrived, {r['counted']} counted, "
                                  f"{r['kernel_lost']} overflowed")
            blocks[kind] += 1
            if kind == "targeted" and r["kernel_lost"] == 0:
                blocks["targeted_reason_checked"] += 1
                if +r["instance"] != +r["want"]["instance"] or +r["engine"] != +r["want"]["engine"] \
                        or r["accepted"] != r["want"]["accepted"]:
                    violations.append(f"block {k}: reasons {dict(r['instance'])} {dict(r['engine'])} "
                                      f"accepted {r['accepted']}, want {r['want']}")
            if not member.alive():
                violations.append(f"block {k}: the daemon died")
                break
            if lab.holders(VIP) != [node]:
                violations.append(f"block {k}: VIP holders {lab.holders(VIP)}")
            done += n
            k += 1
            if deadline is not None and time.time() > deadline:
                break
            log(f"packet fuzz: {done}/{frames} frames, {len(violations)} violation(s), "
                f"{done / (time.monotonic() - t0):.0f}/s")
        fds1 = observe.fd_count(member.daemon.pid)
        if fds1 > fds0:
            violations.append(f"descriptors grew from {fds0} to {fds1}")
        rss = observe.rss_kib(member.daemon.pid)
        member.collect_log()
        violations += [f"log: {line}" for line in member.bad_lines[:5]]
    return {"frames": done, "asked": frames, "by_case": dict(totals), "kernel_overflow": kernel_lost,
            "blocks": dict(blocks), "block_size": block, "rate_limit": rate, "paced": paced,
            "seconds": round(time.monotonic() - t0, 1), "daemon_rss_kib": rss, "violations": violations}


# -- kill loop ------------------------------------------------------------------------------------

def kill_rounds(rounds: int, advert_int: float = 0.1, seed: int = 1, log: Log = _quiet,
                deadline: float | None = None) -> dict:
    """SIGKILL a daemon (the master, every fourth round a backup), check the takeover, restart
    it, check it converges back to one holder (the highest priority) with the leftover VIP of
    the killed run removed."""
    rng = random.Random(seed)
    violations: list[str] = []
    takeovers: list[float] = []
    reconverge: list[float] = []
    with Lab(nodes=3, prefix="kvckl") as lab:
        members = trio(lab, advert_int)
        top = members[0]
        if wait_single_holder(lab, top.node) is None:
            return {"rounds": 0, "violations": ["no initial master"]}
        t0 = time.monotonic()
        done = [0]
        try:
            _kill_loop(lab, members, rounds, rng, violations, takeovers, reconverge, log, deadline, done)
        except Exception as exc:  # noqa: BLE001 - a harness failure ends the loop, results are kept
            violations.append(f"harness stopped after {done[0]} rounds: {exc!r}")
        for m in members:
            m.collect_log()
            violations += [f"log {m.node.name}: {line}" for line in m.bad_lines[:5]]
    takeovers.sort()
    reconverge.sort()

    def pct(xs: list[float], p: float) -> float | None:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 3) if xs else None

    return {"rounds": done[0], "asked": rounds, "seconds": round(time.monotonic() - t0, 1), "advert_int": advert_int,
            "takeovers": len(takeovers), "takeover_median_s": pct(takeovers, 0.5),
            "takeover_p99_s": pct(takeovers, 0.99), "takeover_max_s": pct(takeovers, 1.0),
            "reconverge_median_s": pct(reconverge, 0.5), "reconverge_max_s": pct(reconverge, 1.0),
            "violations": violations}


def _kill_loop(lab: Lab, members: list[Member], rounds: int, rng: random.Random, violations: list[str],
               takeovers: list[float], reconverge: list[float], log: Log, deadline: float | None,
               done: list[int]) -> None:
    top = members[0]
    for r in range(rounds):
        victim = top if r % 4 != 3 else rng.choice(members[1:])
        if not victim.kill():
            violations.append(f"round {r}: the SIGKILLed {victim.node.name} had not exited after 60 s")
            victim.daemon.proc.wait()
        if victim is top:
            t = time.monotonic()
            # the killed master's VIP stays on its interface (nobody removed it): the takeover
            # is the next priority adding it too
            if lab.wait_for(lambda: members[1].node in lab.holders(VIP), WAIT, interval=0.01):
                takeovers.append(time.monotonic() - t)
            else:
                violations.append(f"round {r}: no takeover after the master was killed")
        victim.start()
        t = time.monotonic()
        if wait_single_holder(lab, top.node) is None:
            violations.append(f"round {r}: not back to one holder in {WAIT:.0f} s: "
                              f"{[n.name for n in lab.holders(VIP)]}")
            wait_single_holder(lab, None, 60)
        else:
            reconverge.append(time.monotonic() - t)
        if not lab.wait_for(lambda: all(m.state() in ("BACKUP", "MASTER") for m in members), WAIT):
            violations.append(f"round {r}: not every daemon answered after the restart")
        for m in members:
            if not m.alive():
                violations.append(f"round {r}: {m.node.name} died")
        done[0] += 1
        if done[0] % 10 == 0:
            log(f"kill rounds: {done[0]}/{rounds}, {len(violations)} violation(s): {violations[-1:]}")
        if deadline is not None and time.time() > deadline:
            log(f"kill rounds: deadline reached after {done[0]} rounds")
            return


# -- loss and partitions ---------------------------------------------------------------------------

def busy_cores(n: int) -> list[subprocess.Popen]:
    """n busy-loop processes at the lowest priority: the daemons must hold up on a busy host."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=lambda: os.nice(19))
            for _ in range(n)]


def loss_and_partitions(seconds: float, advert_int: float = 0.1, phase: float = 20.0, busy: int = 0,
                        log: Log = _quiet) -> dict:
    """Cycle loss (10 %, 30 %, 60 % of VRRP in and out of every node, nftables numgen random),
    an isolated master, and a split (n1 | n2) for `seconds`, healing after each phase. Sampled
    every 0.1 s: the VIP never has no holder; after each heal one holder again."""
    violations: list[str] = []
    phases = ["loss:0.1", "loss:0.3", "loss:0.6", "isolate_master", "split"]
    samples = zero = 0
    max_holders = 0
    heal_times: list[float] = []
    phase_count: Counter = Counter()
    burners = busy_cores(busy)
    try:
        with Lab(nodes=3, prefix="kvclp") as lab:
            members = trio(lab, advert_int)
            top = members[0]
            if wait_single_holder(lab, top.node) is None:
                return {"seconds": 0, "violations": ["no initial master"]}
            t0 = time.monotonic()
            k = 0
            while time.monotonic() - t0 < seconds or k < len(phases):    # at least one of each
                name = phases[k % len(phases)]
                k += 1
                phase_count[name] += 1
                if name.startswith("loss:"):
                    for m in members:
                        netfault.loss(m.node.netns, float(name.split(":")[1]))
                elif name == "isolate_master":
                    netfault.isolate(top.node.netns)
                else:
                    netfault.partition(members[0].node.netns, [members[1].node.ipv4])
                    netfault.partition(members[1].node.netns, [members[0].node.ipv4])
                end = time.monotonic() + phase
                while time.monotonic() < end:
                    holders = len(lab.holders(VIP))
                    samples += 1
                    max_holders = max(max_holders, holders)
                    if holders == 0:
                        zero += 1
                        violations.append(f"{name} #{phase_count[name]}: no VIP holder at "
                                          f"{time.monotonic() - t0:.1f}s")
                    time.sleep(0.1)
                for m in members:
                    netfault.heal(m.node.netns)
                healed = wait_single_holder(lab, top.node)
                if healed is None:
                    violations.append(f"{name} #{phase_count[name]}: no single holder after the heal: "
                                      f"{[n.name for n in lab.holders(VIP)]}")
                    wait_single_holder(lab, None, 30)
                else:
                    heal_times.append(healed)
                for m in members:
                    if not m.alive():
                        violations.append(f"{name}: {m.node.name} died")
                log(f"loss/partitions: {time.monotonic() - t0:.0f}/{seconds:.0f}s, phase {name}, "
                    f"{len(violations)} violation(s)")
            transitions = {m.node.name: len(m.daemon.transitions()) for m in members}
            for m in members:
                m.collect_log()
                violations += [f"log {m.node.name}: {line}" for line in m.bad_lines[:5]]
    finally:
        for p in burners:
            p.kill()
            p.wait()
    heal_times.sort()
    return {"seconds": round(time.monotonic() - t0, 1), "advert_int": advert_int, "busy_cores": busy,
            "phases": dict(phase_count), "samples": samples, "zero_holder_samples": zero,
            "max_holders_during_faults": max_holders, "transitions": transitions,
            "heal_median_s": round(heal_times[len(heal_times) // 2], 3) if heal_times else None,
            "heal_max_s": round(heal_times[-1], 3) if heal_times else None, "violations": violations[:50]}
