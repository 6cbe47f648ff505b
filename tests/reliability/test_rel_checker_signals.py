"""The checker process (healthcheck.daemon.CheckerDaemon) with keepalived's signal table, in
process on a fake IPVS kernel: RELOAD reloads (coalesced, refused on errors or on losing every
virtual_server), DATA dumps, stray and real-time signals are logged and ignored."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest

from healthcheck.daemon import CheckerDaemon
from healthcheck.fakekernel import FakeKernel
from kvrrp import signals

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "healthcheck"))
from hc_servers import TcpServer  # noqa: E402

CONF = """
virtual_server 198.18.0.1 80 {{
  delay_loop 0.2
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  real_server 198.18.1.1 80 {{
    weight {w}
    TCP_CHECK {{
      connect_ip 127.0.0.1
      connect_port {port}
      connect_timeout 1
      warmup 0
    }}
  }}
}}
"""
KEY = "[198.18.0.1]:tcp:80"


async def wait_for(pred, timeout: float = 10.0) -> bool:  # noqa: ANN001
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return pred()


async def test_checker_signals_and_reload_rules(tmp_path) -> None:
    server = await TcpServer().start()
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF.format(w=1, port=server.port))
    kernel = FakeKernel()
    d = CheckerDaemon(str(conf), kernel=kernel, dump_file=str(tmp_path / "dump.json"))
    await d.start()
    d.install_signal_handlers()
    try:
        assert await wait_for(lambda: kernel.table.weights().get(KEY) == {"[198.18.1.1]:80": 1})
        pid = os.getpid()
        for number in (signal.SIGRTMIN + 5, signal.SIGRTMAX - 2, signal.SIGQUIT,
                       signals.signum("STATS_CLEAR"), signals.signum("JSON"), signals.signum("STATS")):
            os.kill(pid, number)
        assert await wait_for(lambda: len(d.signals.ignored) == 6)
        assert set(d.signals.ignored) >= {"SIGRTMIN+5", "SIGRTMAX-2", "SIGQUIT", "SIGRTMAX-1 (STATS_CLEAR)"}
        os.kill(pid, signals.signum("DATA"))
        assert await wait_for(lambda: (tmp_path / "dump.json").exists())
        dumped = json.loads((tmp_path / "dump.json").read_text())
        assert dumped["signals"]["ignored"]["SIGQUIT"] == 1
        # RELOAD: a weight change applies
        conf.write_text(CONF.format(w=5, port=server.port))
        os.kill(pid, signals.signum("RELOAD"))
        assert await wait_for(lambda: kernel.table.weights()[KEY]["[198.18.1.1]:80"] == 5)
        # a file without virtual_server (an editor saved it empty) is refused, IPVS kept
        conf.write_text("")
        os.kill(pid, signal.SIGHUP)
        assert await wait_for(lambda: d.reloads.refused == 1)
        assert "no virtual_server" in d.reloads.last_error and kernel.table.weights()[KEY]
        # so is one with an error
        conf.write_text(CONF.format(w=7, port=server.port).replace("lb_kind NAT", "lb_kind NAT\n  persistence_timeout 0"))
        os.kill(pid, signal.SIGHUP)
        assert await wait_for(lambda: d.reloads.refused == 2)
        assert kernel.table.weights()[KEY]["[198.18.1.1]:80"] == 5
        assert d.status()["reload"]["applied"] == 1
    finally:
        d.signals.remove()
        await d.stop()
        await server.stop()
