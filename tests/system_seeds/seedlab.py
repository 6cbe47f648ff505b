"""Running rewritten seed configs on lab nodes: scripts, fake processes, timing.

Every node gets its own script directory (inside the lab's private workdir, root-owned 0700,
so `enable_script_security` accepts it). Notify scripts named by the seed become recorders that
append "<script name> <args>" to notify.log in that directory; vrrp_script checks become the
shell bodies the test gives (e.g. `pidof haproxy-kvs1a2b`).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

from kvrrp.config import load, parse_text
from kvrrp.lab import Daemon, Lab, Node

from rewrite import SeedRewriter

SEEDS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "seeds")
NOTIFY_KEYWORDS = ("notify", "notify_master", "notify_backup", "notify_fault", "notify_stop")
RECORDER = '#!/bin/sh\necho "$(basename "$0") $*" >> "$(dirname "$0")/notify.log"\n'
# Timing margin over RFC values: two shared cores and ~7 engineers' test suites.
MARGIN = 3.0


def seed_text(name: str) -> str:
    with open(os.path.join(SEEDS, name), encoding="utf-8") as fh:
        return fh.read()


def assert_seed_loads(name: str):
    """The original seed, addresses and all, loads (covered in tests/config; a sanity check)."""
    res = load(os.path.join(SEEDS, name), config_id="seed")
    assert res.config is not None, name
    assert not [d for d in res.diagnostics if d.severity == "fatal"], name
    return res


def down_interval(advert_int: float, priority: int) -> float:
    """RFC 3768 Master_Down_Interval (VRRPv2, the version every seed uses)."""
    return 3 * advert_int + (256 - priority) / 256 * advert_int


class FakeProcess:
    """A copy of sleep under a unique name (its comm, what pidof matches) started by the test.

    The process table is shared with other engineers' tests, so the seed's "haproxy" becomes
    "haproxy-kvsXXXX" (15 characters: comm's limit); killed by PID only."""

    def __init__(self, workdir: str, base: str) -> None:
        self.name = f"{base[:7]}-kvs{secrets.token_hex(2)}"
        self.path = os.path.join(workdir, self.name)
        shutil.copy(shutil.which("sleep") or "/bin/sleep", self.path)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.path, "1000"])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@dataclass
class SeedNode:
    lab: Lab
    node: Node
    script_dir: str
    config_text: str
    daemon: Daemon | None = None
    tag: str = ""
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    def start(self) -> Daemon:
        self.daemon = self.lab.start_kvrrp(self.node, self.config_text, tag=self.tag,
                                          args=self.extra_args)
        return self.daemon

    def notifications(self) -> list[str]:
        try:
            with open(os.path.join(self.script_dir, "notify.log")) as fh:
                return [line.rstrip("\n") for line in fh]
        except FileNotFoundError:
            return []

    def holds(self, address: str) -> bool:
        return address in self.lab.addresses(self.node)

    def log(self) -> str:
        return self.daemon.log() if self.daemon else ""


def prepare(lab: Lab, node: Node, rw: SeedRewriter, seeds: list[str], tag: str,
            checks: dict[str, str] | None = None, files: tuple[str, ...] = (),
            extra_args: tuple[str, ...] = ()) -> SeedNode:
    """Rewrite the seeds (concatenated, as the tutorial's keepalived.conf has them) for `node`,
    write its scripts, and return the node ready to start.

    checks: script base name -> shell body for vrrp_script checks; every other script the
    rewritten config names is a notify recorder. files: names created in the script directory
    (files the seed's check commands look at)."""
    script_dir = os.path.join(lab.workdir, f"scripts-{tag}")
    os.makedirs(script_dir, mode=0o700)
    text = "\n".join(rw.rewrite(seed_text(s), script_dir) for s in seeds)
    config = parse_text(text, filename=f"{tag}.conf", config_id="seed").config
    for path in _script_paths(config, script_dir):
        base = os.path.basename(path)
        body = RECORDER if checks is None or base not in checks else f"#!/bin/sh\n{checks[base]}\n"
        with open(path, "w") as fh:
            fh.write(body)
        os.chmod(path, 0o755)
    for name in files:
        open(os.path.join(script_dir, name), "w").close()
    return SeedNode(lab, node, script_dir, text, tag=tag, extra_args=extra_args)


def _script_paths(config, script_dir: str) -> set[str]:
    calls = [s.script for s in config.vrrp_scripts]
    for instance in config.instances:
        calls += [getattr(instance, k) for k in NOTIFY_KEYWORDS]
    for group in config.sync_groups:
        calls += [getattr(group, k, None) for k in NOTIFY_KEYWORDS]
    return {c.argv[0] for c in calls if c is not None and c.argv and c.argv[0].startswith(script_dir)}


def wait_holder(lab: Lab, nodes: list[SeedNode], vip: str, expected: SeedNode, timeout: float) -> float:
    """Wait until exactly `expected` holds vip among `nodes`; returns the time it took."""
    t0 = time.monotonic()

    def settled() -> bool:
        if any(n.daemon is not None and not n.daemon.alive() for n in nodes):
            return True  # a daemon exited (refused its config): fail now, with its log
        return [n for n in nodes if n.holds(vip)] == [expected]

    lab.wait_for(settled, timeout=timeout)
    ok = [n for n in nodes if n.holds(vip)] == [expected] and all(
        n.daemon is None or n.daemon.alive() for n in nodes)
    assert ok, (f"{vip}: holders {[n.tag for n in nodes if n.holds(vip)]}, expected {expected.tag}\n"
                + "\n".join(f"--- {n.tag} log\n{n.log()[-3000:]}" for n in nodes))
    return time.monotonic() - t0
