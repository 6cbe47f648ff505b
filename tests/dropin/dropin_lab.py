"""Helpers for the drop-in tests: run the real `kvrrp` with any command line in a lab node,
and datagram listeners standing in for syslog (/dev/log) and systemd ($NOTIFY_SOCKET)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

from kvrrp.lab import Lab, Node, VrrpSpec, pid_exited, render_config

VIP = "198.18.0.200"
FAST = dict(version=3, advert_int=0.1)
WAIT = 10.0
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = SRC + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    out["PYTHONUNBUFFERED"] = "1"
    out.update(extra)
    return out


def config(lab: Lab, node: Node, spec: VrrpSpec | None = None, extra_global: Sequence[str] = (),
           tail: str = "") -> str:
    base = os.path.join(lab.workdir, node.name)
    dumps = [f"state_dump_file {base}.data", f"stats_dump_file {base}.stats", f"json_dump_file {base}.json"]
    spec = spec or VrrpSpec(priority=150, **FAST)
    return render_config([spec], [*dumps, *extra_global]) + tail


@dataclass
class Run:
    proc: subprocess.Popen
    conf: str
    pid_file: str
    log_file: str

    def log(self) -> str:
        with open(self.log_file, errors="replace") as fh:
            return fh.read()


def run_kvrrp(lab: Lab, node: Node, args: Sequence[str], conf_text: str | None = None, tag: str = "k",
              extra_env: dict[str, str] | None = None, in_netns: bool = True) -> Run:
    """`python3 -m kvrrp -f CONF -p PID ARGS...` in node (output to a log file)."""
    conf = os.path.join(lab.workdir, f"{tag}.conf")
    pid = os.path.join(lab.workdir, f"{tag}.pid")
    logf = os.path.join(lab.workdir, f"{tag}.out")
    with open(conf, "w") as fh:
        fh.write(conf_text if conf_text is not None else config(lab, node))
    argv = [sys.executable, "-m", "kvrrp", "-f", conf, "-p", pid, *args]
    with open(logf, "a") as out:
        if in_netns:
            proc = lab.spawn(node, argv, stdout=out, stderr=subprocess.STDOUT, env=env(**(extra_env or {})))
        else:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env(**(extra_env or {})))
            lab._procs.append(proc)   # stopped with the lab like every other process it started
    return Run(proc, conf, pid, logf)


@dataclass
class DatagramListener:
    """An AF_UNIX SOCK_DGRAM socket bound at a fresh path; collects what arrives."""

    path: str = ""
    messages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="kvdi-")
        self.path = os.path.join(self._dir, "sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append(data.decode(errors="replace"))

    def wait_for(self, text: str, timeout: float = WAIT, count: int = 1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(text in m for m in list(self.messages)) >= count:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self._dir)
        except OSError:
            pass

    def __enter__(self) -> "DatagramListener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


gone = pid_exited
