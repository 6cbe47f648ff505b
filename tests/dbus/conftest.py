"""A private system bus for the DBus tier: a real dbus-daemon the test starts (and kills by its
pid) with its own configuration and socket in a temporary directory, the system bus's default
policy (method calls denied unless a policy allows them) and kvrrp's packaged policy file
(packaging/dbus/org.keepalived.Vrrp1.conf) included as /etc/dbus-1/system.d would. Daemons and
tools find it through DBUS_SYSTEM_BUS_ADDRESS, the standard variable (kvrrp, keepalived, busctl,
dbus-send and dbus-monitor all honour it), so the commands are the ones an operator runs with
`--system`."""
from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "packaging" / "dbus" / "org.keepalived.Vrrp1.conf"
KEEPALIVED_PATH = "/org/keepalived/Vrrp1"

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>{policy}</include>
{extra}
</busconfig>
"""

EXTRA_NAME = """  <policy user="root">
    <allow own="{name}"/>
    <allow send_destination="{name}"/>
  </policy>"""

_SIGNAL = re.compile(r"^signal .*sender=(?P<sender>\S+) -> .* path=(?P<path>[^;]+); interface=(?P<iface>[^;]+); member=(?P<member>\S+)")
_ARG = re.compile(r"^\s+(?:uint32|int32|string|boolean) (?P<value>.*)$")


@dataclass(frozen=True)
class Signal:
    sender: str
    path: str
    interface: str
    member: str
    args: tuple[str, ...]


class Monitor:
    """dbus-monitor on keepalived's object tree; signals() parses what it printed so far."""

    def __init__(self, bus: "PrivateBus", name: str) -> None:
        self.file = os.path.join(bus.workdir, f"monitor-{name}.txt")
        with open(self.file, "w") as out:
            self.proc = subprocess.Popen(
                ["dbus-monitor", "--system", f"type='signal',path_namespace='{KEEPALIVED_PATH}'"],
                stdout=out, stderr=subprocess.STDOUT, env=bus.env())
        deadline = time.monotonic() + 10
        while "member=NameLost" not in self.text():    # it became a monitor
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"dbus-monitor did not start: {self.text()}")
            time.sleep(0.02)

    def text(self) -> str:
        with open(self.file, errors="replace") as fh:
            return fh.read()

    def signals(self, interface_prefix: str = "org.keepalived.Vrrp1.") -> list[Signal]:
        out: list[Signal] = []
        current: list | None = None
        for line in self.text().splitlines():
            m = _SIGNAL.match(line)
            if m:
                current = None
                if m["iface"].startswith(interface_prefix):
                    current = [m["sender"], m["path"], m["iface"], m["member"], []]
                    out.append(current)  # type: ignore[arg-type]
                continue
            a = _ARG.match(line)
            if a and current is not None:
                current[4].append(a["value"].strip('"'))
            elif not line.startswith(" "):
                current = None
        return [Signal(snd, p, i, mem, tuple(args)) for snd, p, i, mem, args in out]  # type: ignore[misc]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class PrivateBus:
    def __init__(self, workdir: str, extra_names: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        socket_path = os.path.join(workdir, "system_bus_socket")
        conf = os.path.join(workdir, "bus.conf")
        extra = "\n".join(EXTRA_NAME.format(name=n) for n in extra_names)
        with open(conf, "w") as fh:
            fh.write(BUS_CONF.format(socket=socket_path, policy=POLICY, extra=extra))
        self.proc = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--print-address=1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().strip() if ready else ""   # type: ignore[union-attr]
        if not line.startswith("unix:"):
            self.close()
            raise RuntimeError("dbus-daemon did not report its address")
        self.address = f"unix:path={socket_path}"
        self._monitors: list[Monitor] = []

    def env(self) -> dict[str, str]:
        return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=20, env=self.env())

    def busctl(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("busctl", "--system", *args)

    def get_property(self, service: str, path: str, prop: str) -> str:
        r = self.busctl("get-property", service, path, "org.keepalived.Vrrp1.Instance", prop)
        return r.stdout.strip() if r.returncode == 0 else f"error: {r.stderr.strip()}"

    def call(self, service: str, path: str, interface: str, member: str) -> subprocess.CompletedProcess:
        """keepalived's documented form: dbus-send --system --dest=... --print-reply PATH IFACE.METHOD"""
        return self.run("dbus-send", "--system", f"--dest={service}", "--print-reply", path, f"{interface}.{member}")

    def tree(self, service: str) -> list[str]:
        r = self.busctl("tree", "--list", service)
        return sorted(line.strip() for line in r.stdout.splitlines() if line.strip())

    def monitor(self, name: str = "signals") -> Monitor:
        m = Monitor(self, name)
        self._monitors.append(m)
        return m

    def close(self) -> None:
        for m in self._monitors:
            m.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def private_bus(tmp_path, monkeypatch):
    """The bus; DBUS_SYSTEM_BUS_ADDRESS points at it for every daemon the test starts."""
    if shutil.which("dbus-daemon") is None or shutil.which("busctl") is None:
        pytest.fail("the DBus tier needs dbus-daemon, dbus-send and busctl (scripts/setup installs them)")
    bus = PrivateBus(str(tmp_path), extra_names=("org.keepalived.Vrrp1.n2",))
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)
    try:
        yield bus
    finally:
        bus.close()
