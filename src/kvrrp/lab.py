"""A throw-away LAN of network namespaces for tests, the demo and benchmarks (needs root).

    from kvrrp.lab import Lab, VrrpSpec, render_config

    with Lab(nodes=3, prefix="kvsys") as lab:          # + one "client" namespace: lab.client_node
        n1, n2, n3 = lab.nodes                          # Node(name, netns, ifname, ipv4, mac, ...)
        proc = lab.spawn(n1, ["python3", "-m", "kvrrp", "-n", "-l", "-f", conf])
        lab.run(n2, ["ip", "addr"])                     # CompletedProcess, text output
        lab.addresses(n1)                               # ["198.18.0.11", "fe80::...", ...] on eth0
        lab.wait_for(lambda: "198.18.0.200" in lab.addresses(n1), timeout=5)
        with lab.capture() as cap:                      # every frame crossing the bridge
            ...
        cap.frames                                      # [Frame(ts, data)], .arp() / .vrrp() decode
        cap.garps("198.18.0.200", since=t)              # keepalived-style GARPs (kernel timestamps)
        cap.adverts()                                   # [(Frame, VrrpInfo(src, dst, ttl, payload))]
        lab.holders("198.18.0.200")                     # nodes whose eth0 carries the address
        with lab.watch_addresses(n2) as watch:          # netlink address events, timestamped
            ...
        watch.first_added("198.18.0.200")               # time.time() of RTM_NEWADDR, or None
        lab.kill(proc, signal.SIGKILL)                  # only processes this lab spawned

        # VRRP daemons with their own config, pid and log files in lab.workdir:
        conf = render_config([VrrpSpec(priority=150, version=3, advert_int=0.1)])
        d = lab.start_kvrrp(n1, conf)                   # python3 -m kvrrp -n -l -D -P -f .. -p ..
        k = lab.start_keepalived(n2, conf)              # keepalived -n -l -D -P -f .. -p/-r/-c ..
        d.transitions()                                 # ["BACKUP", "MASTER"], from its log
        d.crash(); k.signal(signal.SIGHUP); d.stop()    # SIGKILL / any signal / SIGTERM+wait
    # on exit (also on exceptions): spawned processes killed by PID (keepalived's VRRP child by
    # the pid it wrote), namespaces deleted, lab.workdir removed (kept if KVRRP_LAB_KEEP is set)

Layout: a "switch" namespace holds bridge br0 (multicast snooping off, so VRRP groups are
flooded like on a dumb switch); each node (and the client) is a namespace whose `eth0` is a veth
into the switch. Node i (1-based) gets 198.18.0.(10+i)/24 and MAC 02:00:c6:12:00:(10+i), so its
IPv6 link-local is fe80::c6ff:fe12:(10+i hex) as in the keepalived capture vectors; the client gets
198.18.0.100. DAD is off in every namespace so link-local addresses are usable at once.
Names are `<prefix>-<pid>-<random>-<role>`, unique across concurrent test runs.
To open a socket inside a node from the test process: `with kvrrp.io.netns.entered(node.netns):`
(the socket stays in that namespace afterwards).
"""
from __future__ import annotations

import ipaddress
import itertools
import json
import os
import secrets
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from kvrrp.io.netns import entered

LAN_PREFIX = "198.18.0"
LAN_PREFIXLEN = 24
CLIENT_HOST = 100
ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
VRRP_PROTO = 112
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
SO_TIMESTAMPNS = 35


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


@dataclass(frozen=True)
class ArpInfo:
    op: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str


@dataclass(frozen=True)
class VrrpInfo:
    family: int
    src: str
    dst: str
    ttl: int
    payload: bytes


def _mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@dataclass(frozen=True)
class Frame:
    ts: float        # kernel receive time, time.time() scale
    data: bytes

    @property
    def ethertype(self) -> int:
        return struct.unpack_from("!H", self.data, 12)[0] if len(self.data) >= 14 else -1

    @property
    def src_mac(self) -> str:
        return _mac_text(self.data[6:12])

    @property
    def dst_mac(self) -> str:
        return _mac_text(self.data[0:6])

    def arp(self) -> ArpInfo | None:
        if self.ethertype != ETH_P_ARP or len(self.data) < 42:
            return None
        op = struct.unpack_from("!H", self.data, 20)[0]
        d = self.data
        return ArpInfo(op, _mac_text(d[22:28]), socket.inet_ntoa(d[28:32]),
                       _mac_text(d[32:38]), socket.inet_ntoa(d[38:42]))

    def is_garp(self, address: str) -> bool:
        """keepalived's gratuitous ARP: a broadcast request whose sender and target are `address`."""
        info = self.arp()
        return (info is not None and info.op == 1 and info.sender_ip == address
                and info.target_ip == address and self.dst_mac == "ff:ff:ff:ff:ff:ff")

    def ipv6_na_target(self) -> str | None:
        d = self.data
        if self.ethertype != ETH_P_IPV6 or len(d) < 14 + 40 + 24 or d[20] != 58 or d[54] != 136:
            return None
        return socket.inet_ntop(socket.AF_INET6, d[62:78])

    def vrrp(self) -> VrrpInfo | None:
        d = self.data
        if self.ethertype == ETH_P_IP and len(d) >= 34 and d[23] == VRRP_PROTO:
            ihl = (d[14] & 0x0F) * 4
            total = struct.unpack_from("!H", d, 16)[0]
            return VrrpInfo(4, socket.inet_ntoa(d[26:30]), socket.inet_ntoa(d[30:34]), d[22],
                            d[14 + ihl:14 + total])
        if self.ethertype == ETH_P_IPV6 and len(d) >= 54 and d[20] == VRRP_PROTO:
            plen = struct.unpack_from("!H", d, 18)[0]
            return VrrpInfo(6, socket.inet_ntop(socket.AF_INET6, d[22:38]),
                            socket.inet_ntop(socket.AF_INET6, d[38:54]), d[21], d[54:54 + plen])
        return None


class Capture:
    """Frames seen on an interface inside a namespace, read by a background thread."""

    def __init__(self, netns: str, ifname: str, promisc: bool = True) -> None:
        with entered(netns):
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self._sock.bind((ifname, ETH_P_ALL))
            if promisc:
                index = socket.if_nametoindex(ifname)
                mreq = struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b"")
                self._sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.frames: list[Frame] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture-{netns}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if not ready:
                continue
            try:
                data, anc, _flags, addr = self._sock.recvmsg(65535, 64)
            except OSError:
                continue
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            ts = time.time()
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = struct.unpack_from("qq", value)
                    ts = sec + nsec / 1e9
            with self._lock:
                self.frames.append(Frame(ts, data))

    def snapshot(self) -> list[Frame]:
        with self._lock:
            return list(self.frames)

    def clear(self) -> None:
        with self._lock:
            self.frames.clear()

    def garps(self, address: str, since: float = 0.0) -> list[Frame]:
        return [f for f in self.snapshot() if f.ts >= since and f.is_garp(address)]

    def adverts(self, since: float = 0.0) -> list[tuple[Frame, VrrpInfo]]:
        out = []
        for f in self.snapshot():
            info = f.vrrp()
            if info is not None and f.ts >= since:
                out.append((f, info))
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> "Capture":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWADDR = 20
RTM_DELADDR = 21


@dataclass(frozen=True)
class AddressEvent:
    ts: float        # time.time() when the netlink notification was read
    added: bool
    address: str
    prefixlen: int
    ifindex: int


class AddressWatch:
    """Netlink address notifications (RTM_NEWADDR/RTM_DELADDR) inside a namespace."""

    def __init__(self, netns: str) -> None:
        with entered(netns):
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
            self._sock.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        self.events: list[AddressEvent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"addrwatch-{netns}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if not ready:
                continue
            data = self._sock.recv(65535)
            ts = time.time()
            for event in _parse_addr_messages(data, ts):
                with self._lock:
                    self.events.append(event)

    def first_added(self, address: str, since: float = 0.0) -> float | None:
        with self._lock:
            for e in self.events:
                if e.added and e.address == address and e.ts >= since:
                    return e.ts
        return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> "AddressWatch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_addr_messages(data: bytes, ts: float) -> Iterator[AddressEvent]:
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            return
        if kind in (RTM_NEWADDR, RTM_DELADDR) and length >= 24:
            family, prefixlen, _flags, _scope, index = struct.unpack_from("=BBBBI", data, offset + 16)
            pos = offset + 24
            found: dict[int, bytes] = {}
            while pos + 4 <= offset + length:
                alen, atype = struct.unpack_from("=HH", data, pos)
                if alen < 4:
                    break
                found[atype] = data[pos + 4:pos + alen]
                pos += (alen + 3) & ~3
            raw = found.get(2) or found.get(1)  # IFA_LOCAL, else IFA_ADDRESS
            if raw is not None:
                fam = socket.AF_INET if family == socket.AF_INET else socket.AF_INET6
                yield AddressEvent(ts, kind == RTM_NEWADDR, socket.inet_ntop(fam, raw), prefixlen, index)
        offset += (length + 3) & ~3


def _host(node: Node) -> int:
    """The last octet of the node's LAN address, which also names its bridge port p<host>."""
    return int(node.ipv4.rsplit(".", 1)[1])


def pid_exited(pid: int) -> bool:
    """The process has exited (a zombie waiting for whichever reaper adopted it counts)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


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
    def addresses(self, node: Node, ifname: str | None = None) -> list[str]:
        """Addresses (without prefix length) on node's interface, in kernel order."""
        out = subprocess.run(["ip", "-n", node.netns, "-j", "addr", "show", "dev", ifname or node.ifname],
                             check=True, capture_output=True, text=True).stdout
        result: list[str] = []
        for link in json.loads(out or "[]"):
            for info in link.get("addr_info", []):
                result.append(info["local"])
        return result

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

    def start_keepalived(self, node: Node, config_text: str, tag: str | None = None) -> "Daemon":
        return start_keepalived(self, node, config_text, tag)


# -- VRRP configurations and daemons in the lab ---------------------------------------------

@dataclass(frozen=True)
class VrrpSpec:
    """One vrrp_instance, rendered as keepalived.conf text by `render_config`."""

    name: str = "VI_1"
    vrid: int = 51
    priority: int = 100
    version: int = 2
    advert_int: float = 1.0
    vips: tuple[str, ...] = ("198.18.0.200/32",)
    interface: str = "eth0"
    state: str = "BACKUP"
    nopreempt: bool = False
    preempt_delay: float | None = None
    auth_pass: str | None = None
    unicast_src_ip: str | None = None
    unicast_peers: tuple[str, ...] = ()
    family: int = 4
    extra: tuple[str, ...] = ()          # more keyword lines for the instance block


def render_config(instances: Sequence[VrrpSpec], global_lines: Sequence[str] = ()) -> str:
    """keepalived.conf text that both keepalived and kvrrp load."""
    out = ["global_defs {", "    router_id lab", "    vrrp_garp_master_delay 1",
           "    vrrp_garp_master_repeat 1", *[f"    {line}" for line in global_lines], "}", ""]
    for spec in instances:
        out.append(f"vrrp_instance {spec.name} {{")
        out.append(f"    state {spec.state}")
        out.append(f"    interface {spec.interface}")
        out.append(f"    virtual_router_id {spec.vrid}")
        out.append(f"    priority {spec.priority}")
        out.append(f"    version {spec.version}")
        advert = f"{spec.advert_int:g}"
        out.append(f"    advert_int {advert}")
        if spec.nopreempt:
            out.append("    nopreempt")
        if spec.preempt_delay is not None:
            out.append(f"    preempt_delay {spec.preempt_delay:g}")
        if spec.auth_pass is not None:
            out += ["    authentication {", "        auth_type PASS", f"        auth_pass {spec.auth_pass}", "    }"]
        if spec.unicast_src_ip:
            out.append(f"    unicast_src_ip {spec.unicast_src_ip}")
        if spec.unicast_peers:
            out += ["    unicast_peer {", *[f"        {p}" for p in spec.unicast_peers], "    }"]
        out += ["    virtual_ipaddress {", *[f"        {v}" for v in spec.vips], "    }"]
        out += [f"    {line}" for line in spec.extra]
        out += ["}", ""]
    return "\n".join(out)


STATE_LINE = "Entering "


class Daemon:
    """A kvrrp or keepalived process the lab started in a node, with its files."""

    def __init__(self, lab: "Lab", node: Node, kind: str, proc: subprocess.Popen, conf: str,
                 pid_file: str, log_file: str, vrrp_pid_file: str | None = None) -> None:
        self.lab, self.node, self.kind, self.proc = lab, node, kind, proc
        self.conf, self.pid_file, self.log_file = conf, pid_file, log_file
        self.vrrp_pid_file = vrrp_pid_file  # keepalived's VRRP child (-r)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            with open(self.log_file, errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def transitions(self, instance: str | None = None) -> list[str]:
        """States entered, in order, as the log says ("MASTER", "BACKUP", "FAULT")."""
        states = []
        for line in self.log().splitlines():
            if STATE_LINE not in line or "STATE" not in line:
                continue
            if instance is not None and f"({instance})" not in line:
                continue
            word = line.split(STATE_LINE, 1)[1].split()[0]
            states.append(word)
        return states

    def signal(self, sig: int) -> None:
        self.lab.kill(self.proc, sig)

    def crash(self) -> None:
        """SIGKILL the process that speaks VRRP, as a crash would. For keepalived that is the
        VRRP child (its parent would otherwise make it send priority 0 on the way out), then the
        parent; both are processes this lab started."""
        self.kill_vrrp_child()
        self.lab.kill(self.proc, signal.SIGKILL)

    def kill_vrrp_child(self) -> None:
        """SIGKILL keepalived's VRRP child, found by the pid file it was told to write (-r)."""
        if self.kind != "keepalived" or not self.vrrp_pid_file:
            return
        try:
            with open(self.vrrp_pid_file) as fh:
                child = int(fh.read().strip())
            with open(f"/proc/{child}/cmdline", "rb") as fh:
                if b"keepalived" not in fh.read():
                    return  # the pid was reused by something that is not ours
            os.kill(child, signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        return self.lab.stop(self.proc, timeout)

    def write_config(self, text: str) -> None:
        with open(self.conf, "w") as fh:
            fh.write(text)


def _python_env() -> dict[str, str]:
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _lab_workdir(lab: "Lab") -> str:
    if getattr(lab, "_workdir", None) is None:
        import tempfile

        lab._workdir = tempfile.mkdtemp(prefix=f"{lab.id}-")
    return lab._workdir


def start_kvrrp(lab: "Lab", node: Node, config_text: str, args: Sequence[str] = (),
                tag: str | None = None, vrrp_only: bool = True) -> Daemon:
    """Run `python3 -m kvrrp -n -l -D -P -f CONF -p PID` in node (own config/pid/log files);
    vrrp_only=False drops -P (the daemon then also starts the health checkers when the
    configuration has virtual_server blocks)."""
    import sys

    work = _lab_workdir(lab)
    tag = tag or f"kvrrp-{node.name}"
    conf, pid, logf = (os.path.join(work, f"{tag}.{ext}") for ext in ("conf", "pid", "log"))
    with open(conf, "w") as fh:
        fh.write(config_text)
    log_fh = open(logf, "a")
    argv = [sys.executable, "-m", "kvrrp", "-n", "-l", "-D", *(["-P"] if vrrp_only else []),
            "-f", conf, "-p", pid, *args]
    proc = lab.spawn(node, argv, stdout=log_fh, stderr=subprocess.STDOUT, env=_python_env())
    log_fh.close()
    daemon = Daemon(lab, node, "kvrrp", proc, conf, pid, logf)
    lab._daemons.append(daemon)
    return daemon


def start_keepalived(lab: "Lab", node: Node, config_text: str, tag: str | None = None) -> Daemon:
    """Run Debian's keepalived (VRRP only) in node with its own config and pid files."""
    work = _lab_workdir(lab)
    tag = tag or f"keepalived-{node.name}"
    conf, pid, logf = (os.path.join(work, f"{tag}.{ext}") for ext in ("conf", "pid", "log"))
    vrrp_pid, chk_pid = (os.path.join(work, f"{tag}.{ext}") for ext in ("vrrp.pid", "check.pid"))
    with open(conf, "w") as fh:
        fh.write(config_text)
    log_fh = open(logf, "a")
    argv = ["keepalived", "-n", "-l", "-D", "-P", "-f", conf, "-p", pid, "-r", vrrp_pid, "-c", chk_pid]
    proc = lab.spawn(node, argv, stdout=log_fh, stderr=subprocess.STDOUT)
    log_fh.close()
    daemon = Daemon(lab, node, "keepalived", proc, conf, pid, logf, vrrp_pid)
    lab._daemons.append(daemon)
    return daemon
