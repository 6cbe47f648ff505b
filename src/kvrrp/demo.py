"""`kvrrp demo`: three kvrrp routers on a LAN in network namespaces; watch a VIP fail over.

Builds the lab (kvrrp.lab), starts `python3 -m kvrrp -n -l -f demo.conf -i nX` in each node on
the built-in configuration (demo/kvrrp-demo.conf), shows who holds the VIP, kills the master
with SIGKILL, measures the takeover (VIP on the new master, first gratuitous ARP at a client) against
RFC 5798's Master_Down_Interval, restarts the old master and shows it preempt, then cleans up.
Needs root (network namespaces); touches nothing outside its own namespaces.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from importlib import resources

from kvrrp.lab import Lab, Node

VIP = "198.18.0.200"
ADVERT_INT = 0.2
PRIORITIES = {"n1": 150, "n2": 100, "n3": 50}


def master_down_interval(priority: int, advert: float = ADVERT_INT) -> float:
    """RFC 5798 6.1: 3 x Master_Adver_Interval + (256 - priority) x Master_Adver_Interval / 256."""
    return 3 * advert + (256 - priority) * advert / 256


def builtin_config() -> str:
    return (resources.files("kvrrp") / "demo" / "kvrrp-demo.conf").read_text()


class Demo:
    def __init__(self, lab: Lab, out) -> None:  # noqa: ANN001 - a text stream
        self.lab = lab
        self.out = out
        self.t0 = time.monotonic()
        self.daemons: dict[str, object] = {}

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:5.1f}s] {text}", file=self.out, flush=True)

    def start(self, node: Node):  # noqa: ANN201
        daemon = self.lab.start_kvrrp(node, builtin_config(), args=["-i", node.name], tag=f"kvrrp-{node.name}")
        self.daemons[node.name] = daemon
        return daemon

    def holder(self) -> Node | None:
        found = self.lab.holders(VIP)
        return found[0] if len(found) == 1 else None

    def show(self) -> None:
        for node in self.lab.nodes:
            daemon = self.daemons.get(node.name)
            running = daemon is not None and daemon.alive()  # type: ignore[attr-defined]
            states = daemon.transitions() if daemon is not None else []  # type: ignore[attr-defined]
            state = states[-1] if running and states else ("stopped" if not running else "starting")
            has = "holds " + VIP if VIP in self.lab.addresses(node) else ""
            print(f"         {node.name}  {node.ipv4:<13} priority {PRIORITIES[node.name]:<4} "
                  f"{state:<8} {has}", file=self.out, flush=True)

    def fail(self, text: str) -> int:
        self.say(f"FAILED: {text}")
        for name, daemon in self.daemons.items():
            tail = "\n".join(daemon.log().splitlines()[-8:])  # type: ignore[attr-defined]
            print(f"--- last log lines of {name} ---\n{tail}", file=self.out)
        return 1

    def run(self) -> int:
        n1, n2, n3 = self.lab.nodes
        self.say(f"three routers n1-n3 and a client on one bridge; VIP {VIP}, VRRP v3, advert {ADVERT_INT}s")
        for node in (n1, n2, n3):
            self.start(node)
        if not self.lab.wait_for(lambda: self.holder() is n1, timeout=10):
            return self.fail("no single master holds the VIP 10 s after start")
        self.say("n1 (highest priority) won the election:")
        self.show()

        expected = master_down_interval(PRIORITIES["n2"])
        with self.lab.capture(self.lab.client_node) as cap, self.lab.capture() as lan, \
                self.lab.watch_addresses(n2) as watch:
            time.sleep(0.5)
            killed_at = time.time()
            self.daemons["n1"].crash()  # type: ignore[attr-defined]
            self.say("killed n1's kvrrp with SIGKILL (a crash: no goodbye advert)")
            got = self.lab.wait_for(lambda: watch.first_added(VIP, killed_at) is not None
                                    and cap.garps(VIP, killed_at), timeout=10)
            if not got:
                return self.fail("nobody took over the VIP within 10 s")
            vip_at = watch.first_added(VIP, killed_at)
            garp_at = cap.garps(VIP, killed_at)[0].ts
            last = [f.ts for f, info in lan.adverts() if info.src == n1.ipv4 and f.ts <= vip_at]
        self.say(f"n2 took over: VIP up {1000 * (vip_at - killed_at):.0f} ms after the kill, first gratuitous "
                 f"ARP at the client after {1000 * (garp_at - killed_at):.0f} ms")
        if last:
            self.say(f"   that is {1000 * (vip_at - last[-1]):.1f} ms after n1's last advert; RFC 5798's "
                     f"Master_Down_Interval for priority 100 is {1000 * expected:.1f} ms")
        self.show()

        self.say("restarting n1: it sweeps the VIP its crash left behind, then preempts n2 (priority 150 > 100)")
        self.start(n1)
        if not self.lab.wait_for(lambda: self.holder() is n1, timeout=10):
            return self.fail("n1 did not take the VIP back within 10 s")
        self.say("n1 is MASTER again; n2 went back to BACKUP and released the VIP:")
        self.show()

        self.say("stopping all three with SIGTERM (priority-0 adverts, VIPs removed)")
        for daemon in self.daemons.values():
            daemon.stop()  # type: ignore[attr-defined]
        leftover = [n.name for n in self.lab.nodes if VIP in self.lab.addresses(n)]
        if leftover:
            return self.fail(f"VIP still on {', '.join(leftover)} after SIGTERM")
        self.say("all stopped, no VIP left behind")
        return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kvrrp demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep-logs", action="store_true", help="keep the lab's config and log files")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("kvrrp demo needs root (it builds network namespaces); try: sudo kvrrp demo", file=sys.stderr)
        return 2
    if args.keep_logs:
        os.environ["KVRRP_LAB_KEEP"] = "1"
    started = time.monotonic()
    try:
        with Lab(nodes=3, prefix="kvdemo") as lab:
            print(f"kvrrp demo: lab {lab.id} (network namespaces {lab.id}-n1..n3, -client, -sw)", flush=True)
            rc = Demo(lab, sys.stdout).run()
            if args.keep_logs:
                print(f"logs and configs kept in {lab.workdir}")
    except KeyboardInterrupt:
        print("interrupted; lab cleaned up", file=sys.stderr)
        return 130
    print(f"cleaned up (namespaces, links, processes); demo took {time.monotonic() - started:.1f} s", flush=True)
    return rc
