"""The lab's namespaces: a switch with a bridge, nodes and a client on veths, and the processes
spawned in them (killed by PID on close)."""
from __future__ import annotations

import ipaddress
import itertools
import json
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from kvrrp.io.netns import entered
from kvrrp.lab.capture import AddressWatch, Capture
from kvrrp.lab.daemons import Daemon, _lab_workdir, start_keepalived, start_kvrrp

LAN_PREFIX = "198.18.0"
LAN_PREFIXLEN = 24
CLIENT_HOST = 100


@dataclass(frozen=True)
class Node:
    name: str        # short role name: n1, n2, ..., client
    netns: str       # namespace name
    ifname: str      # the LAN interface inside the namespace
    ipv4: str
    mac: str
    index: int       # 1-based node number (0 for the client)

    @property
    def link_local(self) -> str:
        mac = bytes.fromhex(self.mac.replace(":", ""))
        eui = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
        return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\x00" * 6 + eui))


def _host(node: Node) -> int:
    """The last octet of the node's LAN address, which also names its bridge port p<host>."""
    return int(node.ipv4.rsplit(".", 1)[1])


def _write_sysctl(path: str, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


class Lab:
    """See the module docstring. `nodes` node namespaces plus a client, bridged in a switch."""

    def __init__(self, nodes: int = 3, prefix: str = "kvlab", client: bool = True) -> None:
        self.nodes_count = nodes
        self.prefix = prefix
        self.id = f"{prefix}-{os.getpid()}-{secrets.token_hex(2)}"
        self.switch = f"{self.id}-sw"
        self.nodes = []
        self.client_node: Node | None = None
        self._want_client = client
        self._namespaces: list[str] = []
        self._procs: list[subprocess.Popen] = []
        self._closers: list[Callable[[], None]] = []
        self._workdir: str | None = None
        self._daemons: list[Daemon] = []

    # -- building -------------------------------------------------------------------------
    def __enter__(self) -> "Lab":
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def _add_netns(self, name: str) -> None:
        self._ip("netns", "add", name)
        self._namespaces.append(name)
        with entered(name):
            for conf in ("all", "default"):
                _write_sysctl(f"/proc/sys/net/ipv6/conf/{conf}/accept_dad", "0")
                _write_sysctl(f"/proc/sys/net/ipv6/conf/{conf}/dad_transmits", "0")
        self._ip("-n", name, "link", "set", "lo", "up")

    def _build(self) -> None:
        self._add_netns(self.switch)
        self._ip("-n", self.switch, "link", "add", "br0", "type", "bridge",
                 "mcast_snooping", "0", "forward_delay", "0")
        self._ip("-n", self.switch, "link", "set", "br0", "up")
        members = [(f"n{i}", i, f"{LAN_PREFIX}.{10 + i}") for i in range(1, self.nodes_count + 1)]
        if self._want_client:
            members.append(("client", 0, f"{LAN_PREFIX}.{CLIENT_HOST}"))
        for name, index, ipv4 in members:
            host = int(ipv4.rsplit(".", 1)[1])
            mac = f"02:00:c6:12:00:{host:02x}"
            netns = f"{self.id}-{name}"
            self._add_netns(netns)
            port = f"p{host}"
            self._ip("-n", self.switch, "link", "add", port, "type", "veth",
                     "peer", "name", "eth0", "netns", netns)
            self._ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
            self._ip("-n", netns, "link", "set", "eth0", "address", mac)
            self._ip("-n", netns, "addr", "add", f"{ipv4}/{LAN_PREFIXLEN}", "dev", "eth0")
            self._ip("-n", netns, "link", "set", "eth0", "up")
            node = Node(name, netns, "eth0", ipv4, mac, index)
            if index:
                self.nodes.append(node)
            else:
                self.client_node = node

    # -- processes ------------------------------------------------------------------------
    def command(self, node: Node, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", node.netns, *argv]

    def run(self, node: Node, argv: Sequence[str], check: bool = True,
            timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(node, argv), check=check, capture_output=True,
                              text=True, timeout=timeout)

    def spawn(self, node: Node, argv: Sequence[str], **popen_kwargs: object) -> subprocess.Popen:
        """Start argv inside node's namespace; `ip netns exec` execs, so proc.pid is argv's pid."""
        proc = subprocess.Popen(self.command(node, argv), **popen_kwargs)  # type: ignore[arg-type]
        self._procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        if proc in self._procs and proc.poll() is None:
            os.kill(proc.pid, sig)

    def stop(self, proc: subprocess.Popen, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
        if proc.poll() is None:
            self.kill(proc, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(proc, signal.SIGKILL)
                proc.wait(5)
        return proc.returncode

    # -- faults ---------------------------------------------------------------------------
    def partition(self, *groups: Sequence[Node]) -> None:
        """Split the LAN: frames cross the bridge only between nodes of the same group. Links
        and carrier stay up (a failed switch between them, not a pulled cable), so nothing goes
        to FAULT. The client and nodes in no group still reach everyone. heal() undoes it."""
        rules = [f"iifname p{_host(src)} oifname p{_host(dst)} drop"
                 for group, other in itertools.combinations(groups, 2)
                 for a, b in itertools.product(group, other) for src, dst in ((a, b), (b, a))]
        script = ("table bridge kvlab_partition {\n chain forward {\n"
                  "  type filter hook forward priority 0; policy accept;\n"
                  + "".join(f"  {rule}\n" for rule in rules) + " }\n}\n")
        self.heal()
        subprocess.run(["ip", "netns", "exec", self.switch, "nft", "-f", "-"], input=script,
                       check=True, capture_output=True, text=True)

    def heal(self) -> None:
        """Undo partition(): every node reaches every other again."""
        subprocess.run(["ip", "netns", "exec", self.switch, "nft", "delete", "table", "bridge",
                        "kvlab_partition"], capture_output=True, text=True)

    # -- observing ------------------------------------------------------------------------
    def addresses(self, node: Node, ifname: str | None = None, missing_ok: bool = False) -> list[str]:
        """Addresses (without prefix length) on node's interface, in kernel order; with
        `missing_ok`, [] while there is no such interface (one a daemon makes or removes)."""
        proc = subprocess.run(["ip", "-n", node.netns, "-j", "addr", "show", "dev", ifname or node.ifname],
                              check=not missing_ok, capture_output=True, text=True)
        out = proc.stdout if proc.returncode == 0 else ""
        result: list[str] = []
        for link in json.loads(out or "[]"):
            for info in link.get("addr_info", []):
                result.append(info["local"])
        return result

    def link(self, node: Node, ifname: str) -> dict | None:
        """`ip -d -j link show` of node's interface (kind and its data under "linkinfo"), None
        when there is no such interface."""
        proc = subprocess.run(["ip", "-n", node.netns, "-d", "-j", "link", "show", "dev", ifname],
                              capture_output=True, text=True)
        return json.loads(proc.stdout)[0] if proc.returncode == 0 else None

    def holders(self, address: str) -> list[Node]:
        """Nodes whose LAN interface carries `address`."""
        return [n for n in self.nodes if address in self.addresses(n)]

    @staticmethod
    def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def capture(self, node: Node | None = None) -> Capture:
        """Capture every frame on the bridge (default) or on a node's LAN interface."""
        cap = Capture(self.switch, "br0") if node is None else Capture(node.netns, node.ifname)
        self._closers.append(cap.close)
        return cap

    def watch_addresses(self, node: Node) -> AddressWatch:
        watch = AddressWatch(node.netns)
        self._closers.append(watch.close)
        return watch

    # -- teardown -------------------------------------------------------------------------
    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 3
        for proc in self._procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        self._procs.clear()
        for daemon in self._daemons:  # a keepalived VRRP child whose parent was SIGKILLed
            daemon.kill_vrrp_child()
        self._daemons.clear()
        for closer in self._closers:
            try:
                closer()
            except OSError:
                pass
        self._closers.clear()
        for name in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self._namespaces.clear()
        if self._workdir is not None and not os.environ.get("KVRRP_LAB_KEEP"):
            import shutil

            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    @property
    def workdir(self) -> str:
        """A private temporary directory for configs, pid files and logs (removed on close
        unless KVRRP_LAB_KEEP is set)."""
        return _lab_workdir(self)

    def start_kvrrp(self, node: Node, config_text: str, args: Sequence[str] = (),
                    tag: str | None = None, vrrp_only: bool = True) -> "Daemon":
        return start_kvrrp(self, node, config_text, args, tag, vrrp_only)

    def start_keepalived(self, node: Node, config_text: str, tag: str | None = None,
                         vrrp_only: bool = True) -> "Daemon":
        return start_keepalived(self, node, config_text, tag, vrrp_only)
