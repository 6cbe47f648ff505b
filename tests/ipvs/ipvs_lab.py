"""The IPVS tier's lab, inside the VM: a director (the VM's own network namespace, where IPVS
lives), real servers in namespaces behind veth links, a client namespace, and tiny in-process
TCP/HTTP servers whose sockets are created inside those namespaces; and the scaffolding of the
VM tests that run a real `kvrrp` process (KvrrpProcess, until, MARGIN / START).

Addresses (all in 198.18.0.0/15):
    VIPs                 198.18.0.10, 198.18.0.11 (on the director's client-facing link)
    client link          198.18.100.1 (director) <-> 198.18.100.2 (client namespace)
    real server host i   198.19.i.1 (director) <-> 198.19.i.2 (namespace "rs<i>"), i = 1..N
Real servers route back through the director, as IPVS NAT needs.
"""
from __future__ import annotations

import abc
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Self, Sequence

from kvrrp.io.netns import entered as in_netns  # the calling thread runs the body in that netns

VIPS = ("198.18.0.10", "198.18.0.11")
CLIENT_DIRECTOR = "198.18.100.1"
CLIENT_ADDR = "198.18.100.2"
MARGIN = 120.0      # emulated guest: generous deadlines, never the expectation
START = 400.0       # Python processes starting in the emulated guest on a busy host
SRC = str(Path(__file__).resolve().parents[2] / "src")     # the worktree's kvrrp, for the daemons


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=120)


def ipvsadm(*args: str) -> str:
    return run("ipvsadm", *args).stdout


def ip(*args: str) -> None:
    proc = run("ip", *args, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


# ---------------------------------------------------------------------------------------------
# a real kvrrp process, and waiting for what it does


class KvrrpProcess:
    """`python3 -m kvrrp ARGS` (inside `netns` when given) with this tree's src/ on its path,
    its output in `log_path`."""

    def __init__(self, args: Sequence[str], log_path: Path, netns: str | None = None) -> None:
        self.log_path = log_path
        prefix = ["ip", "netns", "exec", netns] if netns else []
        with open(log_path, "w") as fh:
            self.proc = subprocess.Popen([*prefix, sys.executable, "-m", "kvrrp", *args], stdout=fh,
                                         stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=SRC))

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def log(self, tail: int = 4000) -> str:
        """Whether it still runs, and the tail of its log (for failure messages)."""
        status = "running" if self.proc.poll() is None else f"exited with {self.proc.returncode}"
        return f"daemon {status}; its log:\n{self.log_path.read_text()[-tail:]}"

    def stop(self, timeout: float = MARGIN) -> int:
        """SIGTERM and its exit status; SIGKILL when it has not exited within `timeout`."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        return self.proc.returncode


async def until(predicate: Callable[[], object], timeout: float, what: str,
                detail: Callable[[], str] = lambda: "", interval: float = 0.5):  # noqa: ANN201
    """Poll until predicate() is true and return its value; on time-out, fail saying what and
    `detail()` (read then)."""
    t0 = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}\n{detail()}")
        await asyncio.sleep(interval)


# ---------------------------------------------------------------------------------------------
# topology


class Teardown:
    """What a VM lab made, undone in reverse: its `links` (in the VM's own namespace), then its
    `namespaces`."""

    links: list[str]
    namespaces: list[str]

    def destroy(self) -> None:
        for link in reversed(self.links):
            run("ip", "link", "del", link, check=False)
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)
        self.links.clear()
        self.namespaces.clear()


@dataclass
class Lab(Teardown):
    hosts: int = 3
    tag: str = field(default_factory=lambda: f"ipv{os.getpid() % 100000}")
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    def ns(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def rs_addr(self, i: int) -> str:
        return f"198.19.{i}.2"

    def build(self) -> Lab:
        try:
            with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
                f.write("1")
            self._pair("cl", self.ns("client"), CLIENT_DIRECTOR, CLIENT_ADDR, 24)
            for vip in VIPS:
                ip("addr", "add", f"{vip}/32", "dev", f"{self.tag}cl")
            for i in range(1, self.hosts + 1):
                self._pair(f"r{i}", self.ns(f"rs{i}"), f"198.19.{i}.1", self.rs_addr(i), 24)
        except BaseException:
            self.destroy()
            raise
        return self

    def _pair(self, short: str, ns: str, director_addr: str, ns_addr: str, plen: int) -> None:
        outer, inner = f"{self.tag}{short}", f"{self.tag}{short}i"
        ip("netns", "add", ns)
        self.namespaces.append(ns)
        ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
        self.links.append(outer)
        ip("addr", "add", f"{director_addr}/{plen}", "dev", outer)
        ip("link", "set", outer, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "addr", "add", f"{ns_addr}/{plen}", "dev", inner)
        ip("-n", ns, "link", "set", inner, "up")
        ip("-n", ns, "route", "add", "default", "via", director_addr)

    def set_host_link(self, i: int, up: bool) -> None:
        """Cut (or restore) real server host i's link: its checks then time out."""
        ip("link", "set", f"{self.tag}r{i}", "up" if up else "down")


# ---------------------------------------------------------------------------------------------
# real servers: in-process listeners inside a namespace


class NetnsServer(abc.ABC):
    """Listens on addr:port with a socket made inside namespace `netns`; a subclass answers a
    connection in `serve`. Returned by start(), so `server = await X(...).start()`."""

    def __init__(self, netns: str, addr: str, port: int, name: str) -> None:
        self.netns, self.addr, self.port, self.name = netns, addr, port, name
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> Self:
        with in_netns(self.netns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.addr, self.port))
        sock.listen(64)
        sock.setblocking(False)
        self._server = await asyncio.start_server(self._handle, sock=sock)
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            await self.serve(reader, writer)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass        # the client went away (a TCP_CHECK connects and closes without a request)
        finally:
            self._conns.discard(writer)
            writer.close()

    @abc.abstractmethod
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one connection (closed when this returns)."""

    async def stop(self) -> None:
        """Dead: the port refuses connections from now on."""
        if self._server is not None:
            self._server.close()
            for w in list(self._conns):
                w.close()
            await self._server.wait_closed()
            self._server = None


class TinyServer(NetnsServer):
    """Answers an HTTP request with its name as the body (so TCP_CHECK, HTTP_GET and a client
    through the VIP all work against it)."""

    def __init__(self, netns: str, addr: str, port: int, name: str) -> None:
        super().__init__(netns, addr, port, name)
        self.hits = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        if head:
            self.hits += 1
            body = self.name.encode()
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            await writer.drain()


class LineServer(NetnsServer):
    """Answers every line on a connection with its name (a long-lived connection's replies
    show which real server it reached)."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readline():
            writer.write(self.name.encode() + b"\n")
            await writer.drain()


async def http_get_via(netns: str, addr: str, port: int, timeout: float = 30.0) -> str:
    """One HTTP request from inside `netns`; returns the body (the real server's name)."""
    with in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (addr, port)), timeout)
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(f"GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
    except BaseException:
        sock.close()
        raise
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200"):
        raise AssertionError(f"bad reply from {addr}:{port}: {data[:200]!r}")
    return body.decode()


# ---------------------------------------------------------------------------------------------
# reading the table back


_SVC = re.compile(r"^(TCP|UDP|SCTP|FWM)\s+(\S+)\s+(\S+)(.*)$")
_DEST = re.compile(r"^\s+->\s+(\S+)\s+(\S+)\s+(\d+)\s+\d+\s+\d+\s*$")


def ipvsadm_table() -> dict[str, dict[str, tuple[str, int]]]:
    """`ipvsadm -Ln` as {"TCP 198.18.0.10:80 rr": {"198.19.1.2:8080": ("Masq", 1)}}.
    Service flags (persistent ...) stay in the key, after the scheduler."""
    out = run("ipvsadm", "-Ln").stdout
    table: dict[str, dict[str, tuple[str, int]]] = {}
    current = None
    for line in out.splitlines()[3:]:
        m = _SVC.match(line)
        if m:
            current = " ".join([m.group(1), m.group(2), m.group(3)] + m.group(4).split())
            table[current] = {}
            continue
        d = _DEST.match(line)
        if d and current is not None:
            table[current][d.group(1)] = (d.group(2), int(d.group(3)))
        elif line.strip():
            raise AssertionError(f"unparsed ipvsadm line: {line!r}")
    return table


def pyroute2_table() -> dict[str, dict[str, tuple[int, int]]]:
    """The same table through pyroute2: {"tcp 198.18.0.10:80 rr": {"198.19.1.2:8080":
    (fwd_method, weight)}}; fwmark services as "fwm 7 rr"."""
    from pyroute2 import IPVS, IPVSService

    names = {6: "tcp", 17: "udp", 132: "sctp"}
    table: dict[str, dict[str, tuple[int, int]]] = {}
    with IPVS() as sock:
        for msg in sock.service("dump"):
            attrs = msg.get_attr("IPVS_CMD_ATTR_SERVICE")
            g = attrs.get_attr
            if g("IPVS_SVC_ATTR_FWMARK"):
                key = f"fwm {g('IPVS_SVC_ATTR_FWMARK')} {g('IPVS_SVC_ATTR_SCHED_NAME')}"
            else:
                key = (f"{names.get(g('IPVS_SVC_ATTR_PROTOCOL'))} {g('IPVS_SVC_ATTR_ADDR')}:"
                       f"{g('IPVS_SVC_ATTR_PORT')} {g('IPVS_SVC_ATTR_SCHED_NAME')}")
            dests = {}
            for dmsg in sock.dest("dump", service=IPVSService.from_message(msg)):
                dg = dmsg.get_attr("IPVS_CMD_ATTR_DEST").get_attr
                dests[f"{dg('IPVS_DEST_ATTR_ADDR')}:{dg('IPVS_DEST_ATTR_PORT')}"] = (
                    dg("IPVS_DEST_ATTR_FWD_METHOD") & 7, dg("IPVS_DEST_ATTR_WEIGHT"))
            table[key] = dests
    return table
