"""Operating kvrrp with IPVS, inside the VM: a real `kvrrp` daemon in its default mode (VRRP
plus the checker child), client traffic through a virtual server, and then

* the kernel's traffic counters scraped from the VRRP daemon's /metrics (keepalived_lvs_* and
  kvrrp_ipvs_*, served by the checker child and passed on) equal `ipvsadm -Ln --stats --exact`;
* the checker's per-real-server metrics reachable on that same endpoint;
* `kvrrpctl rs list / drain / enable`: weight 0 in the kernel, kept across checks, no new
  connection to the drained server, back to the configured weight when enabled.

One daemon for the whole test: process start-up in the emulated guest costs seconds.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from ipvs_lab import MARGIN, SRC, START, VIPS, KvrrpProcess, Lab, TinyServer, http_get_via, ipvsadm_table, run, until

pytestmark = pytest.mark.usefixtures("clean_ipvs")

VIP = VIPS[0]
VRRP_VIP = "198.18.0.12"


@pytest.fixture
def lab():
    lab = Lab(hosts=2).build()
    yield lab
    lab.destroy()


def config(lab: Lab) -> str:
    rs = "".join(f"""
    real_server {lab.rs_addr(i)} 8080 {{
        weight {i + 1}
        TCP_CHECK {{
            connect_timeout 2
            retry 0
        }}
    }}""" for i in (1, 2))
    return f"""
global_defs {{
    router_id kvrrp_operate_vm
}}

vrrp_instance VI_1 {{
    state BACKUP
    interface {lab.tag}cl
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {{
        {VRRP_VIP}/32
    }}
}}

virtual_server {VIP} 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
{rs}
}}
"""


def ipvsadm_stats() -> dict[str, tuple[int, ...]]:
    """`ipvsadm -Ln --stats --exact`: {"TCP 198.18.0.10:80": (conns, inpkts, outpkts, inbytes,
    outbytes), "TCP 198.18.0.10:80 -> 198.19.1.2:8080": (...)}."""
    out: dict[str, tuple[int, ...]] = {}
    service = None
    for line in run("ipvsadm", "-Ln", "--stats", "--exact").stdout.splitlines()[3:]:
        fields = line.split()
        if len(fields) == 7 and fields[0] in ("TCP", "UDP", "SCTP"):
            service = f"{fields[0]} {fields[1]}"
            out[service] = tuple(int(x) for x in fields[2:])
        elif len(fields) == 7 and fields[0] == "->" and service is not None:
            out[f"{service} -> {fields[1]}"] = tuple(int(x) for x in fields[2:])
    return out


async def settled_stats() -> dict[str, tuple[int, ...]]:
    """ipvsadm's counters once they no longer move (two reads 3 s apart agree)."""
    t0 = time.monotonic()
    last = ipvsadm_stats()
    while time.monotonic() - t0 < MARGIN:
        await asyncio.sleep(3)
        now = ipvsadm_stats()
        if now == last:
            return now
        last = now
    raise AssertionError(f"IPVS counters still moving after {MARGIN:.0f} s: {last}")


def samples(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def ctl(sock: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.run([sys.executable, "-m", "kvrrp.control", "-s", sock, *args],
                          capture_output=True, text=True, timeout=MARGIN, env=env)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


async def test_default_mode_scrapes_ipvs_counters_and_drains_from_the_command_line(lab, tmp_path):
    servers = [await TinyServer(lab.ns(f"rs{i}"), lab.rs_addr(i), 8080, f"a{i}").start() for i in (1, 2)]
    conf, pid, logf = tmp_path / "k.conf", tmp_path / "k.pid", tmp_path / "k.log"
    conf.write_text(config(lab))
    sock = str(tmp_path / "k.ctl")
    port = 9700 + os.getpid() % 200
    daemon = KvrrpProcess(["-n", "-l", "-D", "-f", str(conf), "-p", str(pid), "--status-port", str(port)], logf)
    log = daemon.log

    def scrape() -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
            return samples(resp.read().decode())

    try:
        want = {f"{lab.rs_addr(1)}:8080": ("Masq", 2), f"{lab.rs_addr(2)}:8080": ("Masq", 3)}
        await until(lambda: ipvsadm_table().get(f"TCP {VIP}:80 rr") == want, START,
                    "the checker child builds the table", log)
        # real client traffic through the virtual server
        answers = [await http_get_via(lab.ns("client"), VIP, 80) for _ in range(12)]
        assert sorted(set(answers)) == ["a1", "a2"]

        # the kernel's counters, on the VRRP daemon's endpoint, equal ipvsadm's; first let the
        # connections' last packets (FIN/ACK after the client has its answer) arrive
        before = await settled_stats()
        m = await until(lambda: _scraped(scrape), MARGIN, "metrics with the checker's families", log)
        after = ipvsadm_stats()
        assert before == after          # no traffic in between: the numbers must be the same
        svc = before[f"TCP {VIP}:80"]
        assert svc[0] == 12
        vip_labels = {"addr": f"{VIP}:80", "proto": "6"}
        for name, index in (("conn", 0), ("in_packets", 1), ("out_packets", 2), ("in_bytes", 3), ("out_bytes", 4)):
            assert m[(f"keepalived_lvs_vip_{name}", frozenset(vip_labels.items()))] == svc[index], name
            for i in (1, 2):
                rs_stats = before[f"TCP {VIP}:80 -> {lab.rs_addr(i)}:8080"]
                labels = {"vip": f"{VIP}:80", "addr": f"{lab.rs_addr(i)}:8080", "proto": "6"}
                assert m[(f"keepalived_lvs_rs_{name}", frozenset(labels.items()))] == rs_stats[index], (name, i)
        vs_name = f"[{VIP}]:tcp:80"
        assert m[("kvrrp_ipvs_vs_connections_total", frozenset({"vs": vs_name}.items()))] == 12
        assert m[("kvrrp_ipvs_vs_bytes_total", frozenset({"vs": vs_name, "direction": "out"}.items()))] == svc[4]
        rs1 = {"vs": vs_name, "rs": f"[{lab.rs_addr(1)}]:tcp:8080"}
        assert m[("kvrrp_real_server_up", frozenset(rs1.items()))] == 1
        assert m[("kvrrp_checker_rs_checks_total", frozenset({**rs1, "kind": "TCP_CHECK", "index": "0"}.items()))] >= 1
        assert m[("kvrrp_checker_up", frozenset())] == 1 and m[("keepalived_up", frozenset())] == 1

        # rs list / drain / enable from the command line, through the VRRP daemon's socket
        listed = json.loads(ctl(sock, "--json", "rs", "list").stdout)
        rows = {r["address"]: r for r in listed["virtual_servers"][0]["real_servers"]}
        r1 = rows[f"[{lab.rs_addr(1)}]:tcp:8080"]
        assert r1["weight"] == 2 and not r1["drained"] and r1["traffic"]["conns"] == before[
            f"TCP {VIP}:80 -> {lab.rs_addr(1)}:8080"][0]
        out = ctl(sock, "rs", "drain", f"{VIP}:80", f"{lab.rs_addr(1)}:8080").stdout
        assert "weight 0 (drained)" in out
        drained = {**want, f"{lab.rs_addr(1)}:8080": ("Masq", 0)}
        await until(lambda: ipvsadm_table().get(f"TCP {VIP}:80 rr") == drained, MARGIN, "weight 0 in the kernel")
        hits = servers[0].hits
        checks = m[("kvrrp_checker_rs_checks_total", frozenset({**rs1, "kind": "TCP_CHECK", "index": "0"}.items()))]
        answers = [await http_get_via(lab.ns("client"), VIP, 80) for _ in range(6)]
        assert set(answers) == {"a2"} and servers[0].hits == hits       # no new connection to a1
        m = await until(lambda: _more_checks(scrape, rs1, checks + 3), MARGIN, "checks go on while drained")
        assert m[("kvrrp_real_server_drained", frozenset(rs1.items()))] == 1
        assert ipvsadm_table().get(f"TCP {VIP}:80 rr") == drained      # kept across those checks
        assert "drained" in ctl(sock, "rs", "list").stdout
        ctl(sock, "rs", "enable", f"[{VIP}]:80", f"[{lab.rs_addr(1)}]:8080")
        await until(lambda: ipvsadm_table().get(f"TCP {VIP}:80 rr") == want, MARGIN, "configured weight again")
    finally:
        status = daemon.stop()
        for s in servers:
            await s.stop()
    assert status == 0, log()
    assert ipvsadm_table() == {}                # the checker child removed its entries on the way out


def _scraped(scrape) -> dict | None:
    try:
        m = scrape()
    except OSError:
        return None
    return m if m.get(("kvrrp_checker_up", frozenset())) == 1 and m.get(("kvrrp_ipvs_stats_up", frozenset())) == 1 else None


def _more_checks(scrape, rs1: dict, at_least: float) -> dict | None:
    m = scrape()
    key = ("kvrrp_checker_rs_checks_total", frozenset({**rs1, "kind": "TCP_CHECK", "index": "0"}.items()))
    return m if m.get(key, 0) >= at_least else None
