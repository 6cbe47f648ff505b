"""The checker daemon in-process (fake kernel) and as `kvrrp -C` (no IPVS here: clear error)."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from hc_servers import TcpServer

from healthcheck.daemon import CheckerDaemon, ConfigLoadError
from healthcheck.fakekernel import FakeKernel

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")

CONF = """
global_defs {{
  router_id kvrrp_hc_test
}}
virtual_server 198.18.0.1 80 {{
  delay_loop 0.2
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  real_server 198.18.1.1 80 {{
    weight {w1}
    TCP_CHECK {{
      connect_ip 127.0.0.1
      connect_port {p1}
      connect_timeout 1
      warmup 0
    }}
  }}
  real_server 198.18.1.2 80 {{
    weight 1
    TCP_CHECK {{
      connect_ip 127.0.0.1
      connect_port {p2}
      connect_timeout 1
      warmup 0
    }}
  }}
}}
"""


# a vrrp_instance without virtual_router_id: keepalived does not run this file at all
BLOCKING = "vrrp_instance VI_1 {\n  interface lo\n  priority 100\n}\n" + CONF.format(w1=1, p1=1, p2=2)

# errors keepalived reports and then runs with the value ignored (default scheduler wlc,
# persistence off), as the VRRP daemon does
NON_BLOCKING = CONF.replace("lb_algo wrr", "lb_algo loadbalance\n  persistence_timeout 0")


async def test_non_blocking_errors_are_logged_and_the_config_runs(tmp_path, caplog):
    a, b = await TcpServer().start(), await TcpServer().start()
    conf = tmp_path / "keepalived.conf"
    conf.write_text(NON_BLOCKING.format(w1=1, p1=a.port, p2=b.port))
    kernel = FakeKernel()
    d = CheckerDaemon(str(conf), kernel=kernel, dump_file=str(tmp_path / "dump.json"))
    await d.start()
    try:
        key = "[198.18.0.1]:tcp:80"
        assert kernel.table.weights()[key] == {"[198.18.1.1]:80": 1, "[198.18.1.2]:80": 1}
        assert "invalid IPVS scheduler 'loadbalance'" in caplog.text
        assert "persistence_timeout 0 out of range" in caplog.text
        # a reload is stricter than a start (issue 10): any error keeps the running configuration
        conf.write_text(NON_BLOCKING.format(w1=3, p1=a.port, p2=b.port))
        assert not await d.reload()
        assert kernel.table.weights()[key]["[198.18.1.1]:80"] == 1
        assert d.reloads.refused == 1 and "persistence_timeout 0" in d.reloads.last_error
        conf.write_text(BLOCKING)
        caplog.clear()
        assert not await d.reload()
        assert "virtual_router_id" in caplog.text and "Reload refused" in caplog.text
        assert kernel.table.weights()[key]["[198.18.1.1]:80"] == 1
    finally:
        await d.stop()
        await a.stop()
        await b.stop()


async def test_blocking_problem_refuses_to_start(tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(BLOCKING)
    kernel = FakeKernel()
    d = CheckerDaemon(str(conf), kernel=kernel)
    with pytest.raises(ConfigLoadError):
        await d.start()
    assert kernel.calls == []


async def test_daemon_in_process_reload_and_dump(tmp_path):
    a, b = await TcpServer().start(), await TcpServer().start()
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF.format(w1=1, p1=a.port, p2=b.port))
    kernel = FakeKernel()
    d = CheckerDaemon(str(conf), kernel=kernel, dump_file=str(tmp_path / "dump.json"))
    await d.start()
    try:
        key = "[198.18.0.1]:tcp:80"
        assert kernel.table.weights()[key] == {"[198.18.1.1]:80": 1, "[198.18.1.2]:80": 1}
        conf.write_text(CONF.format(w1=4, p1=a.port, p2=b.port))
        kernel.calls.clear()
        assert await d.reload()
        assert kernel.calls == [("set_dest", f"{key} [198.18.1.1]:80 w4")]
        conf.write_text(BLOCKING)
        assert not await d.reload()                   # blocked file: the running config stays
        assert kernel.table.weights()[key]["[198.18.1.1]:80"] == 4
        with open(d.dump()) as f:
            dumped = json.load(f)
        assert dumped["ipvs_table"][key]["[198.18.1.1]:80"] == 4
    finally:
        await d.stop()
        await a.stop()
        await b.stop()
    assert len(kernel.table) == 0


def test_kvrrp_dash_c_without_ipvs_fails_cleanly(tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF.format(w1=1, p1=1, p2=2))
    env = dict(os.environ, PYTHONPATH=SRC)
    out = subprocess.run([sys.executable, "-m", "kvrrp", "-C", "-n", "-l", "-f", str(conf),
                          "-p", str(tmp_path / "hc.pid")], capture_output=True, text=True, env=env, timeout=60)
    if out.returncode == 0:
        return                                    # a host with IPVS: started and...? not here
    assert out.returncode == 1
    assert "IPVS" in out.stderr and "Traceback" not in out.stderr


DRIVER = """
import asyncio, sys
from healthcheck.daemon import CheckerDaemon, ConfigLoadError
from healthcheck.fakekernel import FakeKernel

async def main():
    kernel = FakeKernel()
    d = CheckerDaemon(sys.argv[1], kernel=kernel, dump_file=sys.argv[2])
    await d.start()
    d.install_signal_handlers()
    print("started", flush=True)
    await d.run_until_signalled()
    await d.stop()
    print("left", len(kernel.table), flush=True)

asyncio.run(main())
"""


async def test_signals_reload_dump_and_terminate(tmp_path):
    import signal

    a, b = await TcpServer().start(), await TcpServer().start()
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF.format(w1=1, p1=a.port, p2=b.port))
    dump = tmp_path / "dump.json"
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", DRIVER, str(conf), str(dump), env=env,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"started"
        conf.write_text(CONF.format(w1=9, p1=a.port, p2=b.port))
        proc.send_signal(signal.SIGHUP)
        key = "[198.18.0.1]:tcp:80"
        for _ in range(100):
            await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(0.05)
            if dump.exists():
                try:
                    data = json.loads(dump.read_text())
                except ValueError:
                    continue
                if data["ipvs_table"][key]["[198.18.1.1]:80"] == 9:
                    break
        assert data["ipvs_table"][key]["[198.18.1.1]:80"] == 9
        proc.send_signal(signal.SIGTERM)
        out = await asyncio.wait_for(proc.stdout.read(), 30)
        assert out.strip() == b"left 0"
        assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await a.stop()
        await b.stop()
