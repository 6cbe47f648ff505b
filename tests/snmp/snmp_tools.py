"""A private net-snmp for the SNMP tests: snmpd as AgentX master (its socket in a temp dir,
SNMP on a free UDP port of 127.0.0.1), snmptrapd on another one (every trap logged, numeric
OIDs), and snmpwalk / snmpget / snmpset (community "private" may write). Nothing reads the host's net-snmp configuration or state
(-C, SNMP_PERSISTENT_DIR, MIBS empty); every process is stopped by its pid."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

import pytest

TOOLS = ("snmpd", "snmptrapd", "snmpwalk", "snmpget", "snmpset")


def require_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"net-snmp tools missing ({', '.join(missing)}): scripts/setup installs snmpd snmp snmptrapd")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(state: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SNMP_PERSISTENT_DIR=state, MIBS="", SNMPCONFPATH=state)
    return env


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@dataclass
class SetResult:
    """What snmpset said: its exit status, the values set (stdout) or the error (stderr:
    "Reason: wrongValue (...)" and "Failed object: OID")."""

    rc: int
    stdout: str
    stderr: str

    @property
    def reason(self) -> str | None:
        m = re.search(r"Reason: (\w+)", self.stderr)
        return m.group(1) if m else None

    @property
    def failed_object(self) -> str | None:
        m = re.search(r"Failed object: (\S+)", self.stderr)
        return m.group(1) if m else None


class NetSnmp:
    def __init__(self, workdir: str) -> None:
        require_tools()
        self.dir = workdir
        self.socket = os.path.join(workdir, "agentx.sock")
        self.port = free_udp_port()
        self.trap_port = free_udp_port()
        self.trap_log = os.path.join(workdir, "traps.log")
        self.snmpd_log = os.path.join(workdir, "snmpd.log")
        self.env = _env(os.path.join(workdir, "state"))
        self.procs: list[subprocess.Popen] = []

    def start(self) -> "NetSnmp":
        conf = os.path.join(self.dir, "snmpd.conf")
        with open(conf, "w") as fh:
            fh.write(f"master agentx\nagentXSocket {self.socket}\nagentaddress udp:127.0.0.1:{self.port}\n"
                     f"rocommunity public 127.0.0.1\nrwcommunity private 127.0.0.1\ntrap2sink 127.0.0.1:{self.trap_port} public\n")
        tconf = os.path.join(self.dir, "snmptrapd.conf")
        with open(tconf, "w") as fh:
            fh.write("disableAuthorization yes\n")
        open(self.trap_log, "w").close()
        self.procs.append(subprocess.Popen(
            ["snmptrapd", "-f", "-C", "-c", tconf, "-Lf", self.trap_log, "-On", "-F", "TRAP %v\\n",
             f"udp:127.0.0.1:{self.trap_port}"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.procs.append(subprocess.Popen(
            ["snmpd", "-f", "-C", "-c", conf, "-Lf", self.snmpd_log], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        assert wait_for(lambda: os.path.exists(self.socket), 10.0), open(self.snmpd_log).read()
        assert wait_for(lambda: "NET-SNMP version" in open(self.trap_log).read(), 10.0)
        return self

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs = []

    def __enter__(self) -> "NetSnmp":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- asking -------------------------------------------------------------------------------
    def walk(self, oid: str, bulk: bool = False) -> dict[str, str]:
        """{numeric OID: 'TYPE: value'} of a walk under oid."""
        tool = "snmpbulkwalk" if bulk else "snmpwalk"
        out = subprocess.run([tool, "-v2c", "-c", "public", "-On", "-t", "3", "-r", "1",
                              f"127.0.0.1:{self.port}", oid], env=self.env, capture_output=True, text=True,
                             timeout=60)
        rows = {}
        for line in out.stdout.splitlines():
            name, sep, value = line.partition(" = ")
            if sep:
                rows[name.strip()] = value.strip()
        return rows

    def get(self, *oids: str) -> dict[str, str]:
        out = subprocess.run(["snmpget", "-v2c", "-c", "public", "-On", "-t", "3", "-r", "1",
                              f"127.0.0.1:{self.port}", *oids], env=self.env, capture_output=True, text=True,
                             timeout=30)
        rows = {}
        for line in out.stdout.splitlines():
            name, sep, value = line.partition(" = ")
            if sep:
                rows[name.strip()] = value.strip()
        return rows

    def set(self, *assignments: tuple[str, str, str]) -> SetResult:
        """snmpset of (OID, type letter, value) triples in one request, as community "private"."""
        args = [a for triple in assignments for a in triple]
        out = subprocess.run(["snmpset", "-v2c", "-c", "private", "-On", "-t", "3", "-r", "0",
                              f"127.0.0.1:{self.port}", *args], env=self.env, capture_output=True, text=True,
                             timeout=30)
        return SetResult(out.returncode, out.stdout, out.stderr)

    def traps(self) -> list[dict[str, str]]:
        """Every trap received so far: {OID: 'TYPE: value'} (snmpTrapOID.0 names the trap)."""
        out = []
        with open(self.trap_log, errors="replace") as fh:
            for line in fh:
                if not line.startswith("TRAP "):
                    continue
                binds = {}
                for part in line[5:].rstrip("\n").split("\t"):
                    name, sep, value = part.partition(" = ")
                    if sep:
                        binds[name.strip()] = value.strip()
                out.append(binds)
        return out

    def traps_named(self, trap_oid: str) -> list[dict[str, str]]:
        return [t for t in self.traps() if t.get(".1.3.6.1.6.3.1.1.4.1.0") == f"OID: {trap_oid}"]
