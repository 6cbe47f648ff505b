"""A supervised child dies with its parent, even a SIGKILLed one (kvrrp.io.lifetime)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from kvrrp.lab import pid_exited

CHILD = """
import os, sys, time
from kvrrp.io.lifetime import die_with_parent, parent_from_environment
parent = parent_from_environment()
print("following" if die_with_parent(parent) else "orphaned", os.getpid(), flush=True)
time.sleep(60)
"""

# the "VRRP daemon": starts the child with its pid in the environment, reports, then waits
PARENT = """
import os, subprocess, sys, time
from kvrrp.io.lifetime import PARENT_PID_ENV
env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], env=env, stdout=subprocess.PIPE, text=True)
print(child.stdout.readline().strip(), flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    return not pid_exited(pid)


def test_child_gets_sigterm_when_the_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, text=True)
    child_pid = None
    try:
        word, pid = parent.stdout.readline().split()
        child_pid = int(pid)
        assert word == "following"
        assert _alive(child_pid)
        parent.kill()
        parent.wait(5)
        deadline = time.monotonic() + 10
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(child_pid), "the child outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
        if child_pid is not None and _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)   # the grandchild this test started


def test_child_whose_parent_is_already_gone_says_so() -> None:
    env = {**os.environ, "KVRRP_PARENT_PID": "1"}   # not our parent: as if it had died already
    out = subprocess.run([sys.executable, "-c", CHILD.replace("time.sleep(60)", "")], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.split()[0] == "orphaned", out
