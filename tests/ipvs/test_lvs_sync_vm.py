"""lvs_sync_daemon on real IPVS, inside the VM: two directors, connection sync, failover.

Topology (namespaces made here, all addresses in 198.18.0.0/15):

    client 198.18.50.100 --+
    dirA   198.18.50.1   --+-- bridge (LAN, VIP 198.18.50.50 on the VRRP master)
    dirB   198.18.50.2   --+
    rs1    198.18.50.11  --+   real servers, VIP on lo (IPVS direct routing)
    rs2    198.18.50.12  --+
    dirA sync0 198.19.50.1 <-> dirB sync0 198.19.50.2   (the sync daemons' link)

Both directors have the same IPVS service (VIP:80, rr, DR to rs1 and rs2, set with ipvsadm) and
run a real `kvrrp -P` (VRRP only) with `lvs_sync_daemon sync0 VI_1 id 7`; dirA has the higher
priority. The test checks that the kernel's sync daemons follow VRRP (dirA master / dirB
backup, seen by `ipvsadm --list --daemon`), that a connection made through dirA appears in
dirB's `ipvsadm -Lnc` with the same real server, and that after dirA stops (dirB takes the VIP
and becomes the sync master) the same TCP connection goes on with its real server.
"""
from __future__ import annotations

import asyncio
import os
import re
import socket

import pytest
from ipvs_lab import MARGIN, START, KvrrpProcess, LineServer, Teardown, run, until

from kvrrp.io.netns import entered as in_netns

pytestmark = pytest.mark.usefixtures("clean_ipvs")

VIP = "198.18.50.50"
CLIENT = "198.18.50.100"
DIRECTORS = {"a": ("198.18.50.1", "198.19.50.1", 150), "b": ("198.18.50.2", "198.19.50.2", 100)}
REAL = {"rs1": "198.18.50.11", "rs2": "198.18.50.12"}
SYNC_ID = 7


def sh(*args: str) -> str:
    proc = run(*args, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


class SyncLab(Teardown):
    def __init__(self) -> None:
        self.tag = f"ls{os.getpid() % 100000}"
        self.namespaces: list[str] = []
        self.links: list[str] = []

    def ns(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def nsx(self, name: str, *args: str) -> str:
        return sh("ip", "netns", "exec", self.ns(name), *args)

    def _node(self, name: str, addr: str) -> None:
        ns = self.ns(name)
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        port = f"{self.tag}{name}"
        sh("ip", "link", "add", port, "type", "veth", "peer", "name", "lan0", "netns", ns)
        self.links.append(port)
        sh("ip", "link", "set", port, "master", f"{self.tag}br", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "lan0")
        sh("ip", "-n", ns, "link", "set", "lan0", "up")

    def build(self) -> SyncLab:
        try:
            br = f"{self.tag}br"
            sh("ip", "link", "add", br, "type", "bridge")
            self.links.append(br)
            sh("ip", "link", "set", br, "up")
            self._node("client", CLIENT)
            for d, (lan, _sync, _prio) in DIRECTORS.items():
                self._node(f"dir{d}", lan)
            for name, addr in REAL.items():
                self._node(name, addr)
                ns = self.ns(name)
                # direct routing: the real server owns the VIP but never answers ARP for it
                sh("ip", "-n", ns, "addr", "add", f"{VIP}/32", "dev", "lo")
                for key, value in (("arp_ignore", "1"), ("arp_announce", "2")):
                    for scope in ("all", "lan0"):
                        self.nsx(name, "sysctl", "-qw", f"net.ipv4.conf.{scope}.{key}={value}")
            # the directors' own link for the sync daemons
            a, b = self.ns("dira"), self.ns("dirb")
            sh("ip", "link", "add", "sync0", "netns", a, "type", "veth", "peer", "name", "sync0", "netns", b)
            for d, (_lan, sync, _prio) in DIRECTORS.items():
                sh("ip", "-n", self.ns(f"dir{d}"), "addr", "add", f"{sync}/24", "dev", "sync0")
                sh("ip", "-n", self.ns(f"dir{d}"), "link", "set", "sync0", "up")
                self.nsx(f"dir{d}", "ipvsadm", "-A", "-t", f"{VIP}:80", "-s", "rr")
                for addr in REAL.values():
                    self.nsx(f"dir{d}", "ipvsadm", "-a", "-t", f"{VIP}:80", "-r", f"{addr}:80", "-g")
        except BaseException:
            self.destroy()
            raise
        return self

    # -- what the kernel shows ----------------------------------------------------------------
    def daemons(self, d: str) -> dict[str, tuple[str, int]]:
        """`ipvsadm --list --daemon` in director d: {"master": ("sync0", 7), ...}."""
        out = self.nsx(f"dir{d}", "ipvsadm", "--list", "--daemon")
        found = {}
        for m in re.finditer(r"(master|backup) sync daemon \(mcast=([^,\s)]+), syncid=(\d+)", out):
            found[m.group(1)] = (m.group(2), int(m.group(3)))
        return found

    def connections(self, d: str) -> dict[str, tuple[str, str]]:
        """`ipvsadm -Lnc` in director d: {client "ip:port": (state, real server "ip:port")}
        for connections to the VIP."""
        out = self.nsx(f"dir{d}", "ipvsadm", "-Lnc")
        conns = {}
        for line in out.splitlines():
            f = line.split()
            if len(f) == 6 and f[0] == "TCP" and f[4] == f"{VIP}:80":
                conns[f[3]] = (f[2], f[5])
        return conns

    def has_vip(self, d: str) -> bool:
        return f" {VIP}/24 " in self.nsx(f"dir{d}", "ip", "-4", "-o", "addr", "show", "dev", "lan0")


def config(lab: SyncLab, d: str) -> str:
    _lan, _sync, prio = DIRECTORS[d]
    return f"""
global_defs {{
    router_id dir{d}
    lvs_sync_daemon sync0 VI_1 id {SYNC_ID}
}}

vrrp_instance VI_1 {{
    state BACKUP
    interface lan0
    virtual_router_id 50
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"""


@pytest.fixture
def lab():
    lab = SyncLab().build()
    yield lab
    lab.destroy()


async def test_connections_sync_to_the_backup_and_survive_a_failover(lab, tmp_path):
    # direct routing: the VIP is on the real server's lo, so it listens on every address
    servers = [await LineServer(lab.ns(name), "0.0.0.0", 80, name).start() for name in REAL]
    daemons: dict[str, KvrrpProcess] = {}
    for d in DIRECTORS:
        conf = tmp_path / f"{d}.conf"
        conf.write_text(config(lab, d))
        daemons[d] = KvrrpProcess(["-P", "-n", "-l", "-D", "-f", str(conf), "-p", str(tmp_path / f"{d}.pid")],
                                  tmp_path / f"{d}.log", netns=lab.ns(f"dir{d}"))

    def detail() -> str:
        return "\n".join(f"--- dir{d} daemons={lab.daemons(d)} conns={lab.connections(d)}: {p.log(3000)}"
                         for d, p in daemons.items())

    writer = None
    try:
        # VRRP settles: dirA master with the VIP; the sync daemons follow it
        await until(lambda: lab.has_vip("a") and lab.daemons("a") == {"master": ("sync0", SYNC_ID)}
                    and lab.daemons("b") == {"backup": ("sync0", SYNC_ID)}, START,
                    "dirA MASTER with a master sync daemon, dirB a backup one", detail)
        assert not lab.has_vip("b")

        # a long-lived connection through the VIP, made through dirA
        with in_netns(lab.ns("client")):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (VIP, 80)), MARGIN)
        reader, writer = await asyncio.open_connection(sock=sock)
        client_end = "%s:%d" % sock.getsockname()

        async def ask() -> str:
            writer.write(b"hello\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), MARGIN)).decode().strip()

        answers = {await ask() for _ in range(5)}      # enough packets for the sync threshold (3)
        assert len(answers) == 1 and answers <= set(REAL), answers
        first = answers.pop()
        rs = f"{REAL[first]}:80"
        assert lab.connections("a").get(client_end, (None, None))[1] == rs

        # the master's sync daemon carries it to the backup director
        synced = await until(lambda: lab.connections("b").get(client_end), MARGIN,
                             f"dirB's ipvsadm -Lnc shows {client_end}", detail)
        assert synced[1] == rs, synced

        # failover: dirA stops (keepalived stops its sync daemon first), dirB takes over
        assert daemons["a"].stop() == 0, detail()
        await until(lambda: lab.has_vip("b") and lab.daemons("b") == {"master": ("sync0", SYNC_ID)}, MARGIN,
                    "dirB MASTER with a master sync daemon, the backup one stopped", detail)
        assert lab.daemons("a") == {}
        assert not lab.has_vip("a")

        # the same TCP connection goes on, through dirB, to the same real server
        assert await ask() == first
        assert lab.connections("b")[client_end][1] == rs
        # and new connections through dirB still work
        with in_netns(lab.ns("client")):
            other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        other.setblocking(False)
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(other, (VIP, 80)), MARGIN)
        r2, w2 = await asyncio.open_connection(sock=other)
        w2.write(b"hi\n")
        await w2.drain()
        assert (await asyncio.wait_for(r2.readline(), MARGIN)).decode().strip() in REAL
        w2.close()
    finally:
        if writer is not None:
            writer.close()
        for p in daemons.values():
            p.stop()
        for s in servers:
            await s.stop()
    assert daemons["b"].returncode == 0, detail()
    assert lab.daemons("b") == {}               # stopped with the VRRP process
