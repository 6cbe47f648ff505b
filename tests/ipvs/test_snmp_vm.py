"""SNMP with real IPVS, inside the VM: the real `kvrrp` daemon in its default mode (the VRRP
process and the checker child, each an AgentX subagent of one private snmpd, as keepalived's two
processes are), client traffic through a virtual server, then

* one snmpwalk shows the VRRP instance (served by the VRRP process) and the virtual and real
  servers (served by the checker child), with the kernel's own traffic counters equal to
  `ipvsadm -Ln --stats --exact`;
* a real server going down sends realServerStateChange to snmptrapd.

One daemon for the whole test: process start-up in the emulated guest costs seconds.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from ipvs_lab import VIPS, Lab, TinyServer, http_get_via, ipvsadm_table
from test_operate_vm import MARGIN, SRC, START, config as operate_config, settled_stats, until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "snmp"))
from snmp_tools import NetSnmp  # noqa: E402

pytestmark = pytest.mark.usefixtures("clean_ipvs")

VIP = VIPS[0]
K = ".1.3.6.1.4.1.9586.100.5"
VS = f"{K}.3.3.1"
RS = f"{K}.3.4.1"


@pytest.fixture
def lab():
    lab = Lab(hosts=2).build()
    yield lab
    lab.destroy()


def config(lab: Lab, socket: str) -> str:
    text = operate_config(lab)
    return text.replace("    router_id kvrrp_operate_vm\n", "    router_id kvrrp_snmp_vm\n    enable_snmp_vrrp\n"
                        f"    enable_snmp_checker\n    enable_traps\n    snmp_socket unix:{socket}\n"
                        "    snmp_vs_stats_update_interval 0.5\n")


async def test_one_walk_sees_both_processes_and_a_real_server_down_traps(lab, tmp_path):
    servers = [await TinyServer(lab.ns(f"rs{i}"), lab.rs_addr(i), 8080, f"a{i}").start() for i in (1, 2)]
    snmp = NetSnmp(str(tmp_path)).start()
    conf, pid, logf = tmp_path / "k.conf", tmp_path / "k.pid", tmp_path / "k.log"
    conf.write_text(config(lab, snmp.socket))
    with open(logf, "w") as log_fh:
        daemon = subprocess.Popen([sys.executable, "-m", "kvrrp", "-n", "-l", "-D", "-f", str(conf), "-p", str(pid)],
                                  stdout=log_fh, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=SRC))

    def log() -> str:
        status = "running" if daemon.poll() is None else f"exited with {daemon.returncode}"
        return f"daemon {status}; its log:\n{logf.read_text()[-4000:]}"

    async def walk(oid: str) -> dict[str, str]:
        return await asyncio.to_thread(snmp.walk, oid)

    try:
        want = {f"{lab.rs_addr(1)}:8080": ("Masq", 2), f"{lab.rs_addr(2)}:8080": ("Masq", 3)}
        await until(lambda: ipvsadm_table().get(f"TCP {VIP}:80 rr") == want, START,
                    "the checker child builds the table", log)
        answers = [await http_get_via(lab.ns("client"), VIP, 80) for _ in range(8)]
        assert sorted(set(answers)) == ["a1", "a2"]
        stats = await settled_stats()

        async def both_registered():
            rows = await walk(K)
            return rows if f"{K}.2.3.1.2.1" in rows and f"{VS}.27.1" in rows else None
        rows = await until_async(both_registered, MARGIN, "both subagents registered", log)
        await asyncio.sleep(1.0)                       # older than the stats interval: read again
        rows = await walk(K)
        assert rows[f"{K}.1.2.0"] == 'STRING: "kvrrp_snmp_vm"'
        assert rows[f"{K}.2.3.1.2.1"] == 'STRING: "VI_1"'                          # the VRRP process
        assert rows[f"{VS}.9.1"] == "INTEGER: 1" and rows[f"{VS}.21.1"] == "Gauge32: 2"   # rr; both up
        svc = stats[f"TCP {VIP}:80"]
        assert rows[f"{VS}.27.1"] == f"Gauge32: {svc[0]}" and rows[f"{VS}.28.1"] == f"Counter32: {svc[1]}"
        assert rows[f"{VS}.31.1"] == f"Counter64: {svc[4]}"
        for i in (1, 2):
            rs = stats[f"TCP {VIP}:80 -> {lab.rs_addr(i)}:8080"]
            assert rows[f"{RS}.14.1.{i}"] == f"Gauge32: {rs[0]}" and rows[f"{RS}.20.1.{i}"] == f"Counter64: {rs[3]}"
            assert rows[f"{RS}.6.1.{i}"] == "INTEGER: 1" and rows[f"{RS}.7.1.{i}"] == f"INTEGER: {i + 1}"

        await servers[0].stop()
        trap = f"{K}.3.5.0.1"
        await until(lambda: [t for t in snmp.traps_named(trap) if t.get(f"{RS}.6") == "INTEGER: 2"], MARGIN,
                    "realServerStateChange (down)", lambda: f"{snmp.traps()}\n{log()}")
        down = [t for t in snmp.traps_named(trap) if t.get(f"{RS}.6") == "INTEGER: 2"][0]
        first = ".".join(f"{int(b):02X}" for b in lab.rs_addr(1).split(".")).replace(".", " ")
        assert down[f"{RS}.4"] == f"Hex-STRING: {first}" and down[f"{RS}.5"] == "Gauge32: 8080"
        assert down[f"{VS}.21"] == "Gauge32: 1" and down[f"{VS}.20"] == "Gauge32: 2"
        await until(lambda: ipvsadm_table().get(f"TCP {VIP}:80 rr") == {f"{lab.rs_addr(2)}:8080": ("Masq", 3)},
                    MARGIN, "the dead server out of the table")
        rows = await walk(f"{RS}.6")
        assert rows[f"{RS}.6.1.1"] == "INTEGER: 2" and rows[f"{RS}.6.1.2"] == "INTEGER: 1"
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(MARGIN)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        for s in servers:
            await s.stop()
        snmp.stop()
    assert daemon.returncode == 0, log()


async def until_async(predicate, timeout: float, what, detail=lambda: ""):
    import time

    t0 = time.monotonic()
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}\n{detail()}")
        await asyncio.sleep(0.5)
