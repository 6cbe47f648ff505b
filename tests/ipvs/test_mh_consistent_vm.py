"""Consistent hashing across ECMP directors (docs/scale-out.md), on real IPVS in the VM.

Two directors, each a network namespace with its own IPVS table (IPVS is per namespace), each
run by kvrrp's checker (the in-process CheckerDaemon, its netlink socket opened inside that
namespace) on the same keepalived.conf: `lvs_sched mh` with `mh-port`, the same real servers
in the same order. A client namespace per director sends the same UDP flows (same source
address and port) to the VIP; IPVS's connection table in each director says which real server
each flow got. Every flow gets the same real server on both directors, so a flow that the
routers move from one director to the other (a director withdrawn from ECMP) keeps its real
server. With inhibit_on_failure a real server that fails and comes back on one director keeps
its place in the table's order, and the two directors still agree afterwards.
"""
from __future__ import annotations

import asyncio
import os
import re
import socket
from pathlib import Path

import pytest
from ipvs_lab import in_netns, ip, run

pytestmark = pytest.mark.usefixtures("clean_ipvs")

VIP = "198.18.60.1"
PORT = 53
CLIENT, DIRECTOR_SIDE = "198.18.61.2", "198.18.61.1"
REAL = [f"198.19.60.{i}" for i in range(2, 7)]        # five real servers behind a dummy link
FLOWS = range(21000, 21240)
DOWN_FLAG = "/tmp/kvrrp-mh-{tag}-rs3-down"
MARGIN = 60.0


def config(tag: str, inhibit: bool) -> str:
    """`tag` names the flag file that fails the third real server: one per director."""
    # only the third real server is checked (the one the test fails); the others have no
    # checker and count as up: fewer script forks in the emulated guest. misc_timeout is wide:
    # a fork can take seconds in the emulated guest on a busy host, and a timeout is a failure
    check = f"""
        MISC_CHECK {{
            misc_path "/bin/sh -c 'test ! -e {DOWN_FLAG.format(tag=tag)}-{REAL[2]}'"
            misc_timeout 30
        }}"""
    rs = "".join(f"""
    real_server {addr} {PORT} {{{check if addr == REAL[2] else ""}
    }}""" for addr in REAL)
    return f"""
global_defs {{
    router_id mh
}}
virtual_server {VIP} {PORT} {{
    delay_loop 0.5
    lvs_sched mh
    mh-port
    lvs_method NAT
    protocol UDP
    {"inhibit_on_failure" if inhibit else ""}
{rs}
}}
"""


class Director:
    def __init__(self, tag: str, name: str) -> None:
        self.ns, self.client = f"{tag}-{name}", f"{tag}-{name}c"
        self.link = f"{tag[-6:]}{name}"
        ip("netns", "add", self.ns)
        ip("netns", "add", self.client)
        ip("link", "add", self.link, "netns", self.ns, "type", "veth", "peer", "name", "eth0", "netns", self.client)
        for ns in (self.ns, self.client):
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", self.ns, "addr", "add", f"{DIRECTOR_SIDE}/24", "dev", self.link)
        ip("-n", self.ns, "addr", "add", f"{VIP}/32", "dev", self.link)
        ip("-n", self.ns, "link", "set", self.link, "up")
        ip("-n", self.client, "addr", "add", f"{CLIENT}/24", "dev", "eth0")
        ip("-n", self.client, "link", "set", "eth0", "up")
        ip("-n", self.client, "route", "add", f"{VIP}/32", "via", DIRECTOR_SIDE)
        # the real servers sit behind a dummy link: NAT sends there and nothing answers (the
        # test reads IPVS's choice from its connection table, not from a reply)
        ip("-n", self.ns, "link", "add", "rs0", "type", "dummy")
        ip("-n", self.ns, "addr", "add", "198.19.60.1/24", "dev", "rs0")
        ip("-n", self.ns, "link", "set", "rs0", "up")
        self.checker = None

    async def start(self, conf: Path) -> None:
        from healthcheck.daemon import CheckerDaemon
        from healthcheck.ipvs_netlink import PyrouteKernel

        with in_netns(self.ns):                  # the netlink socket stays in this namespace
            kernel = await PyrouteKernel().open()
        self.checker = CheckerDaemon(str(conf), kernel=kernel)
        await self.checker.start()

    def send_flows(self, ports: range = FLOWS) -> None:
        for port in ports:
            with in_netns(self.client):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((CLIENT, port))
                s.sendto(b"q", (VIP, PORT))
            finally:
                s.close()

    def choices(self) -> dict[int, str]:
        """client port -> real server, from IPVS's connection table."""
        out = run("ip", "netns", "exec", self.ns, "ipvsadm", "-Lnc").stdout
        got = {}
        for m in re.finditer(r"UDP\s+\S+\s+\S+\s+" + re.escape(CLIENT) + r":(\d+)\s+" + re.escape(VIP)
                             + r":\d+\s+([\d.]+):\d+", out):
            got[int(m.group(1))] = m.group(2)
        return got

    def dests(self) -> list[str]:
        out = run("ip", "netns", "exec", self.ns, "ipvsadm", "-Ln").stdout
        return re.findall(r"->\s+([\d.]+):\d+\s+\w+\s+(\d+)", out)

    async def stop(self) -> None:
        if self.checker is not None:
            await self.checker.stop()

    def destroy(self) -> None:
        for ns in (self.ns, self.client):
            run("ip", "netns", "del", ns, check=False)


async def wait(predicate, timeout: float = MARGIN) -> bool:  # noqa: ANN001
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(0.2)
    return bool(predicate())


@pytest.mark.timeout(600)
async def test_mh_same_real_server_order_gives_every_flow_the_same_real_server_on_every_director(tmp_path):
    tag = f"mh{os.getpid() % 100000}"
    directors = []
    flags = []
    try:
        for name in ("d1", "d2"):
            conf = tmp_path / f"{name}.conf"
            conf.write_text(config(f"{tag}-{name}", inhibit=True))   # the same but for the flag file
            d = Director(tag, name)
            directors.append(d)
            await d.start(conf)
        d1, d2 = directors
        for d in directors:
            assert await wait(lambda d=d: len(d.dests()) == len(REAL)), d.dests()
            d.send_flows()
        one = {p: rs for p, rs in d1.choices().items() if p in FLOWS}
        two = {p: rs for p, rs in d2.choices().items() if p in FLOWS}
        assert len(one) == len(FLOWS) and len(two) == len(FLOWS), (len(one), len(two))
        assert one == two                                   # every flow: the same real server
        assert len(set(one.values())) == len(REAL)          # and mh spreads them over all five

        # a real server fails and comes back on d1 only: inhibit_on_failure keeps it in the
        # table with weight 0 meanwhile, so the destination order (which Maglev's table is built
        # from) stays the same as d2's
        flag = f"{DOWN_FLAG.format(tag=tag + '-d1')}-{REAL[2]}"
        flags.append(flag)
        Path(flag).touch()
        assert await wait(lambda: (REAL[2], "0") in d1.dests()), d1.dests()
        os.unlink(flag)
        assert await wait(lambda: (REAL[2], "1") in d1.dests()), d1.dests()
        assert (REAL[2], "1") in d2.dests()                 # d2 never saw it fail
        assert [a for a, _w in d1.dests()] == [a for a, _w in d2.dests()]
        fresh = range(22000, 22240)                         # new flows: not in the connection table
        for d in directors:
            d.send_flows(fresh)
        again_one = {p: rs for p, rs in d1.choices().items() if p in fresh}
        again_two = {p: rs for p, rs in d2.choices().items() if p in fresh}
        assert len(again_one) == len(fresh) and again_one == again_two
    finally:
        for flag in flags:
            if os.path.exists(flag):
                os.unlink(flag)
        for d in directors:
            await d.stop()
        for d in directors:
            d.destroy()
