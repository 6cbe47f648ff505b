"""The checker engine end to end on the host: real TCP listeners on loopback, a fake kernel.

Real servers carry 198.18.x addresses (what goes into IPVS); their checks connect to
127.0.0.1:<listener port> through connect_ip/connect_port, so nothing leaves loopback."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import time

from hc_servers import HttpServer, TcpServer

from healthcheck.engine import CheckerEngine
from healthcheck.fakekernel import FakeKernel
from healthcheck.health import desired_table
from kvrrp.config.model import (
    Config,
    GlobalDefs,
    HttpGet,
    LvsMethod,
    RealServer,
    ScriptCall,
    SorryServer,
    TcpCheck,
    Url,
    VirtualServer,
)

VSKEY = "[198.18.0.1]:tcp:80"


async def wait_until(pred, timeout=5.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(step)
    return pred()


def tcp(port, **kw):
    kw.setdefault("connect_timeout", 0.5)
    kw.setdefault("delay_loop", 0.1)
    kw.setdefault("retry", 0)
    kw.setdefault("delay_before_retry", 0.05)
    kw.setdefault("warmup", 0.0)
    kw.setdefault("connect_ip", "127.0.0.1")
    return TcpCheck(connect_port=port, **kw)


def make_config(servers, *, weights=None, inhibit=False, vs_kw=None, rs_kw=None, gd=None):
    weights = weights or {}
    rss = tuple(
        RealServer(ip=f"198.18.1.{i + 1}", port=80, weight=weights.get(i, 1), inhibit_on_failure=inhibit,
                   checkers=(tcp(s.port),), **(rs_kw or {}))
        for i, s in enumerate(servers)
    )
    vs = VirtualServer(ip="198.18.0.1", port=80, lvs_sched="wrr", lvs_method=LvsMethod(method="NAT"),
                       real_servers=rss, **(vs_kw or {}))
    return Config(global_defs=GlobalDefs(**(gd or {})), virtual_servers=(vs,))


class Recorder:
    def __init__(self):
        self.calls = []

    async def __call__(self, script, why):
        self.calls.append((script.command, why))


async def servers(n):
    return [await TcpServer().start() for _ in range(n)]


async def test_down_removed_and_back_restored():
    srvs = await servers(3)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs), kernel)
    await eng.start()
    try:
        assert kernel.table.weights()[VSKEY] == {"[198.18.1.1]:80": 1, "[198.18.1.2]:80": 1, "[198.18.1.3]:80": 1}
        port = srvs[1].port
        await srvs[1].stop()
        assert await wait_until(lambda: "[198.18.1.2]:80" not in kernel.table.weights()[VSKEY])
        # the per-VS incremental pass produced exactly the full desired table
        assert kernel.table == desired_table(eng.config, eng.rs_states, eng.quorum)
        assert not eng._full_pass                 # noqa: SLF001 - the incremental path was used
        srvs[1].port = port
        await srvs[1].start()
        assert await wait_until(lambda: "[198.18.1.2]:80" in kernel.table.weights()[VSKEY])
        assert eng.rs_is_alive("198.18.1.2", 80)
        st = eng.status()
        assert st["counters"]["transitions"] == 2 and st["counters"]["checks"] > 3
    finally:
        await eng.stop()
        for s in srvs:
            await s.stop()
    assert len(kernel.table) == 0


async def test_inhibit_on_failure_sets_weight_zero():
    srvs = await servers(2)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs, weights={0: 5}, inhibit=True), kernel)
    await eng.start()
    try:
        await srvs[0].stop()
        assert await wait_until(lambda: kernel.table.weights()[VSKEY].get("[198.18.1.1]:80") == 0)
        assert ("set_dest", "[198.18.0.1]:tcp:80 [198.18.1.1]:80 w0") in kernel.calls
    finally:
        await eng.stop()
        for s in srvs:
            await s.stop()


async def test_quorum_loss_brings_sorry_server_and_scripts():
    srvs = await servers(3)
    kernel = FakeKernel()
    rec = Recorder()
    cfg = make_config(srvs, vs_kw=dict(
        quorum=3, sorry_server=SorryServer(ip="198.18.9.9", port=8080),
        quorum_up=ScriptCall(command="/bin/up", argv=("/bin/up",)),
        quorum_down=ScriptCall(command="/bin/down", argv=("/bin/down",))),
        rs_kw=dict(notify_down=ScriptCall(command="/bin/rsdown", argv=("/bin/rsdown",))))
    eng = CheckerEngine(cfg, kernel, notifier=rec)
    await eng.start()
    try:
        await eng.drain_notifies()
        assert ("/bin/up", f"starting with quorum up {VSKEY}") in rec.calls
        await srvs[2].stop()
        assert await wait_until(lambda: kernel.table.weights()[VSKEY] == {"[198.18.9.9]:8080": 1})
        assert await wait_until(lambda: ("/bin/down", f"quorum down {VSKEY}") in rec.calls)
        assert ("/bin/rsdown", "down [198.18.1.3]:tcp:80") in rec.calls
    finally:
        await eng.stop()
        for s in srvs:
            await s.stop()


async def test_reload_weight_change_is_one_set_and_restart_no_churn():
    srvs = await servers(3)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs), kernel)
    await eng.start()
    try:
        kernel.calls.clear()
        await eng.reload(make_config(srvs, weights={1: 7}))
        assert kernel.calls == [("set_dest", "[198.18.0.1]:tcp:80 [198.18.1.2]:80 w7")]
        # unchanged checkers kept their jobs (no re-activation): same number of jobs
        assert len(eng.jobs) == 3
    finally:
        await eng.stop(keep=True)
    assert kernel.table.weights()[VSKEY]["[198.18.1.2]:80"] == 7
    kernel.calls.clear()
    eng2 = CheckerEngine(make_config(srvs, weights={1: 7}), kernel)
    await eng2.start()
    try:
        await asyncio.sleep(0.3)
        assert kernel.calls == []
    finally:
        await eng2.stop()
        for s in srvs:
            await s.stop()
    assert len(kernel.table) == 0


async def test_reload_removing_a_real_server_and_adding_a_vs():
    srvs = await servers(3)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs), kernel)
    await eng.start()
    try:
        c1 = make_config(srvs[:2])
        vs2 = VirtualServer(ip="198.18.0.2", port=443, lvs_sched="rr",
                            real_servers=(RealServer(ip="198.18.1.9", port=443, checkers=(tcp(srvs[2].port),)),))
        c2 = Config(virtual_servers=c1.virtual_servers + (vs2,))
        kernel.calls.clear()
        await eng.reload(c2)
        assert sorted(kernel.calls) == [("add_dest", "[198.18.0.2]:tcp:443 [198.18.1.9]:443 w1"),
                                        ("add_service", "[198.18.0.2]:tcp:443"),
                                        ("del_dest", "[198.18.0.1]:tcp:80 [198.18.1.3]:80")]
    finally:
        await eng.stop()
        for s in srvs:
            await s.stop()


async def test_alpha_server_joins_after_first_success():
    srvs = await servers(1)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs, rs_kw=dict(alpha=True)), kernel)
    # alpha is resolved onto the checker by the config layer; emulate it
    vs = eng.config.virtual_servers[0]
    rs = vs.real_servers[0]
    from dataclasses import replace

    rs = replace(rs, checkers=(replace(rs.checkers[0], alpha=True, warmup=0.3),))
    eng.config = Config(virtual_servers=(replace(vs, real_servers=(rs,)),))
    await eng.start()
    try:
        assert kernel.table.weights()[VSKEY] == {}
        assert await wait_until(lambda: kernel.table.weights()[VSKEY] == {"[198.18.1.1]:80": 1})
    finally:
        await eng.stop()
        await srvs[0].stop()


async def test_foreign_service_survives_start_and_stop():
    from healthcheck.table import Service, ServiceKey, Table

    t = Table()
    t.add_service(Service(ServiceKey(4, 6, "198.18.5.5", 80)))
    kernel = FakeKernel(t)
    srvs = await servers(1)
    eng = CheckerEngine(make_config(srvs), kernel)
    await eng.start()
    await eng.stop()
    await srvs[0].stop()
    assert list(kernel.table.weights()) == ["[198.18.5.5]:tcp:80"]


async def test_lvs_flush_and_flush_on_stop():
    from healthcheck.table import Service, ServiceKey, Table

    t = Table()
    t.add_service(Service(ServiceKey(4, 6, "198.18.5.5", 80)))
    kernel = FakeKernel(t)
    srvs = await servers(1)
    eng = CheckerEngine(make_config(srvs, gd=dict(lvs_flush=True, lvs_flush_on_stop=True)), kernel)
    await eng.start()
    assert list(kernel.table.weights()) == [VSKEY]
    await eng.stop()
    await srvs[0].stop()
    assert kernel.calls[-1] == ("flush", "") and len(kernel.table) == 0


async def test_ha_suspend_pauses_checks():
    srvs = await servers(1)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs, vs_kw=dict(ha_suspend=True)), kernel, local_addresses=set())
    await eng.start()
    try:
        await srvs[0].stop()
        await asyncio.sleep(0.4)
        assert eng.counters.checks == 0 and eng.rs_is_alive("198.18.1.1", 80)
        eng.set_local_addresses({"198.18.0.1"})
        assert await wait_until(lambda: not eng.rs_is_alive("198.18.1.1", 80))
    finally:
        await eng.stop()


async def test_reload_repairs_entries_deleted_behind_our_back_and_errors_back_off():
    srvs = await servers(2)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs), kernel)
    await eng.start()
    try:
        from healthcheck.table import DestKey, ServiceKey

        key = ServiceKey(4, 6, "198.18.0.1", 80)
        del kernel.table.entries[key].dests[DestKey("198.18.1.1", 80)]     # ipvsadm -d by hand
        await eng.reload(make_config(srvs))
        assert kernel.table.weights()[VSKEY] == {"[198.18.1.1]:80": 1, "[198.18.1.2]:80": 1}
        # a kernel refusing every change: retried with backoff, not in a tight loop
        kernel.fail_next["del_dest"] = 10**6
        await srvs[0].stop()
        await asyncio.sleep(1.0)
        assert 1 <= eng.reconciler.counters["errors"] <= 6
        kernel.fail_next["del_dest"] = 0
        assert await wait_until(lambda: "[198.18.1.1]:80" not in kernel.table.weights()[VSKEY], timeout=10)
    finally:
        await eng.stop()
        for s in srvs:
            await s.stop()


async def test_a_bad_virtual_server_does_not_block_the_others(caplog):
    srvs = await servers(1)
    good = make_config(srvs).virtual_servers[0]
    bad = VirtualServer(ip="198.18.0.2", port=80, lvs_sched="bogus",
                        real_servers=(RealServer(ip="198.18.1.9", port=80, checkers=(tcp(srvs[0].port, connect_ip="not-an-ip"),)),))
    kernel = FakeKernel()
    eng = CheckerEngine(Config(virtual_servers=(bad, good)), kernel)
    await eng.start()
    try:
        assert list(kernel.table.weights()) == [VSKEY]
        assert "unknown lvs_sched 'bogus'" in caplog.text and "cannot run" in caplog.text
    finally:
        await eng.stop()
        await srvs[0].stop()


async def test_reload_raising_quorum_runs_quorum_down_and_brings_sorry_server():
    srvs = await servers(2)
    kernel = FakeKernel()
    rec = Recorder()
    down = ScriptCall(command="/bin/qdown", argv=("/bin/qdown",))
    sorry = SorryServer(ip="198.18.9.9", port=80)
    eng = CheckerEngine(make_config(srvs, vs_kw=dict(quorum=2, quorum_down=down, sorry_server=sorry)), kernel,
                        notifier=rec)
    await eng.start()
    try:
        await eng.reload(make_config(srvs, vs_kw=dict(quorum=5, quorum_down=down, sorry_server=sorry)))
        await eng.drain_notifies()
        assert ("/bin/qdown", f"quorum down {VSKEY}") in rec.calls
        assert kernel.table.weights()[VSKEY] == {"[198.18.9.9]:80": 1}
    finally:
        await eng.stop()
        for s in srvs:
            await s.stop()


def _samples(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {(smp.name, frozenset(smp.labels.items())): smp.value
            for fam in text_string_to_metric_families(text) for smp in fam.samples}


async def test_metrics_render():
    from healthcheck.metrics import CheckerMetrics
    from healthcheck.table import DestKey, ServiceKey

    srvs = await servers(1)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs), kernel)
    await eng.start()
    try:
        assert await wait_until(lambda: eng.counters.checks >= 2)
        svc = ServiceKey(family=4, protocol=6, addr="198.18.0.1", port=80)
        kernel.traffic[(svc, None)] = {"conns": 7, "inpkts": 70, "outpkts": 60, "inbytes": 7000, "outbytes": 6000, "cps": 2}
        kernel.traffic[(svc, DestKey("198.18.1.1", 80))] = {"conns": 5, "inpkts": 50, "outbytes": 5000}
        m = _samples((await CheckerMetrics(eng).render()).decode())
        rs = {"vs": VSKEY, "rs": "[198.18.1.1]:tcp:80"}
        assert m[("kvrrp_real_server_up", frozenset(rs.items()))] == 1
        assert m[("kvrrp_real_server_drained", frozenset(rs.items()))] == 0
        assert m[("kvrrp_checker_checks_total", frozenset({"kind": "TCP_CHECK"}.items()))] >= 2
        assert m[("kvrrp_ipvs_operations_total", frozenset({"op": "add_dest"}.items()))] == 1
        chk = frozenset({**rs, "kind": "TCP_CHECK", "index": "0"}.items())
        assert m[("kvrrp_checker_rs_checks_total", chk)] >= 2 and m[("kvrrp_checker_rs_check_last_ok", chk)] == 1
        assert m[("kvrrp_checker_rs_check_failures_total", chk)] == 0
        assert 0 < m[("kvrrp_checker_rs_check_last_duration_seconds", chk)] <= m[("kvrrp_checker_rs_check_duration_seconds_total", chk)]
        assert m[("kvrrp_ipvs_stats_up", frozenset())] == 1
        # gen2brain/keepalived_exporter's names and labels, and kvrrp's own traffic families
        assert m[("keepalived_lvs_vip_conn", frozenset({"addr": "198.18.0.1:80", "proto": "6"}.items()))] == 7
        assert m[("keepalived_lvs_vip_in_bytes", frozenset({"addr": "198.18.0.1:80", "proto": "6"}.items()))] == 7000
        lvs_rs = frozenset({"vip": "198.18.0.1:80", "addr": "198.18.1.1:80", "proto": "6"}.items())
        assert m[("keepalived_lvs_rs_in_packets", lvs_rs)] == 50 and m[("keepalived_lvs_rs_out_bytes", lvs_rs)] == 5000
        vs = "[198.18.0.1]:tcp:80"
        assert m[("kvrrp_ipvs_vs_packets_total", frozenset({"vs": vs, "direction": "out"}.items()))] == 60
        assert m[("kvrrp_ipvs_vs_rate", frozenset({"vs": vs, "rate": "cps"}.items()))] == 2
        assert m[("kvrrp_ipvs_rs_connections_total", frozenset({"vs": vs, "rs": "[198.18.1.1]:80"}.items()))] == 5
        assert ("kvrrp_checker_process_cpu_seconds_total", frozenset()) in m
        kernel.fail_next["dump_stats"] = 1          # the kernel refusing: health still renders
        m = _samples((await CheckerMetrics(eng).render()).decode())
        assert m[("kvrrp_ipvs_stats_up", frozenset())] == 0 and m[("kvrrp_real_server_up", frozenset(rs.items()))] == 1
    finally:
        await eng.stop()
        await srvs[0].stop()


async def test_drain_sets_weight_zero_across_checks_and_reload_until_enabled():
    import pytest

    srvs = await servers(2)
    kernel = FakeKernel()
    config = make_config(srvs, weights={0: 5, 1: 3})
    eng = CheckerEngine(config, kernel)
    await eng.start()
    try:
        await eng.wait_reconciled(5)
        assert kernel.table.weights()[VSKEY] == {"[198.18.1.1]:80": 5, "[198.18.1.2]:80": 3}
        out = eng.set_drained("198.18.0.1:80", "198.18.1.1:80", True)
        assert out["drained"] and out["changed"] and out["weight"] == 0 and out["alive"]
        assert await wait_until(lambda: kernel.table.weights()[VSKEY]["[198.18.1.1]:80"] == 0)
        checks = eng.counters.checks
        assert await wait_until(lambda: eng.counters.checks >= checks + 4)     # checks go on ...
        assert kernel.table.weights()[VSKEY] == {"[198.18.1.1]:80": 0, "[198.18.1.2]:80": 3}   # ... drained stays
        assert eng.rs_is_alive("198.18.1.1", 80)
        await eng.reload(make_config(srvs, weights={0: 5, 1: 4}))                # kept across a reload
        await eng.wait_reconciled(5)
        assert kernel.table.weights()[VSKEY] == {"[198.18.1.1]:80": 0, "[198.18.1.2]:80": 4}
        assert not eng.set_drained("[198.18.0.1]:tcp:80", "[198.18.1.1]:80", True)["changed"]
        assert eng.set_drained("[198.18.0.1]:80", "198.18.1.1:80", False)["weight"] == 5
        assert await wait_until(lambda: kernel.table.weights()[VSKEY]["[198.18.1.1]:80"] == 5)
        with pytest.raises(ValueError, match="no virtual_server '198.18.0.9:80'"):
            eng.set_drained("198.18.0.9:80", "198.18.1.1:80", True)
        with pytest.raises(ValueError, match="no real_server"):
            eng.set_drained("198.18.0.1:80", "198.18.1.9:80", True)
    finally:
        await eng.stop()
        for s in srvs:
            await s.stop()


async def test_checker_control_socket_rs_list_drain_and_metrics(tmp_path):
    """The checker's control commands over a real Unix socket (kvrrp.control), fake kernel."""
    import stat

    from healthcheck.control import CheckerControl
    from healthcheck.metrics import CheckerMetrics
    from kvrrp.control.client import ControlError, call_async
    from kvrrp.control.server import ControlServer

    class Owner:        # what CheckerControl needs of CheckerDaemon
        def __init__(self, engine):
            self.engine = engine

    srvs = await servers(1)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs, weights={0: 2}), kernel)
    await eng.start()
    path = str(tmp_path / "checker.ctl")
    server = ControlServer(path, CheckerControl(Owner(eng), CheckerMetrics(eng)).handlers())
    await server.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        await eng.wait_reconciled(5)
        listed = await call_async(path, "rs", action="list")
        row = listed["virtual_servers"][0]["real_servers"][0]
        assert row["address"] == "[198.18.1.1]:tcp:80" and row["weight"] == 2 and not row["drained"]
        assert row["traffic"]["conns"] == 0
        drained = await call_async(path, "rs", action="drain", vs="198.18.0.1:80", rs="198.18.1.1:80")
        assert drained["weight"] == 0
        assert await wait_until(lambda: kernel.table.weights()[VSKEY]["[198.18.1.1]:80"] == 0)
        assert (await call_async(path, "rs", action="list"))["virtual_servers"][0]["real_servers"][0]["drained"]
        text = await call_async(path, "metrics")
        assert 'kvrrp_real_server_drained{rs="[198.18.1.1]:tcp:80",vs="[198.18.0.1]:tcp:80"} 1.0' in text
        try:
            await call_async(path, "rs", action="drain", vs="198.18.0.1:80", rs="nope")
            raise AssertionError("drain of an unknown real server was accepted")
        except ControlError as exc:
            assert "no real_server 'nope'" in str(exc)
        assert "unknown command" in (await server.answer(b'{"cmd": "bogus"}')).decode()
        assert "bad request" in (await server.answer(b"not json")).decode()
    finally:
        await server.stop()
        await eng.stop()
        await srvs[0].stop()


async def test_lvs_notify_fifo_lines(tmp_path):
    from kvrrp.config.model import NotifyFifo

    path = str(tmp_path / "lvs.fifo")
    srvs = await servers(2)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs, gd=dict(lvs_notify_fifo=NotifyFifo(path=path))), kernel)
    await eng.start()
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        await srvs[1].stop()
        assert await wait_until(lambda: not eng.rs_is_alive("198.18.1.2", 80))
        data = os.read(reader, 65536).decode()
        assert data.splitlines() == ["VS [198.18.0.1]:tcp:80 UP",
                                     "RS [198.18.1.2]:tcp:80 [198.18.0.1]:tcp:80 DOWN"]
    finally:
        os.close(reader)
        await eng.stop()
        await srvs[0].stop()
async def test_a_check_that_cannot_start_is_a_failure_and_keeps_its_schedule(monkeypatch):
    srvs = await servers(1)
    kernel = FakeKernel()
    eng = CheckerEngine(make_config(srvs), kernel)
    await eng.start()
    try:
        def broken(key, target):
            raise OverflowError("port must be 0-65535")

        monkeypatch.setattr(eng._tcp, "start", broken)
        assert await wait_until(lambda: eng.counters.failures >= 3)      # rescheduled every time
        assert not eng.rs_is_alive("198.18.1.1", 80)
    finally:
        await eng.stop()
        await srvs[0].stop()


async def test_service_shared_by_two_virtual_servers_is_rebuilt_incrementally():
    """Two virtual_server_groups overlap on 198.18.0.1:80: a health change in one virtual
    server re-plans only the services it declares, merged from every VS that declares them
    (as the full table merges them), with no full pass."""
    from kvrrp.config.model import VirtualServerGroup, VsgEntry

    srvs = await servers(3)
    g1 = VirtualServerGroup(name="G1", entries=(VsgEntry(ip="198.18.0.1", port=80),))
    g2 = VirtualServerGroup(name="G2", entries=(VsgEntry(ip="198.18.0.1", ip_end="198.18.0.2", port=80),))
    mk = lambda i, s: RealServer(ip=f"198.18.1.{i}", port=80, checkers=(tcp(s.port),))  # noqa: E731
    vs1 = VirtualServer(group="G1", lvs_sched="rr", lvs_method=LvsMethod(method="NAT"),
                        real_servers=(mk(1, srvs[0]), mk(2, srvs[1])))
    vs2 = VirtualServer(group="G2", lvs_sched="wrr", lvs_method=LvsMethod(method="NAT"),
                        real_servers=(mk(3, srvs[2]),))
    config = Config(virtual_servers=(vs1, vs2), virtual_server_groups=(g1, g2))
    kernel = FakeKernel()
    eng = CheckerEngine(config, kernel)
    await eng.start()
    try:
        assert kernel.table.weights()[VSKEY] == {"[198.18.1.1]:80": 1, "[198.18.1.2]:80": 1, "[198.18.1.3]:80": 1}
        kernel.calls.clear()
        await srvs[1].stop()
        assert await wait_until(lambda: "[198.18.1.2]:80" not in kernel.table.weights()[VSKEY])
        assert kernel.table == desired_table(eng.config, eng.rs_states, eng.quorum)
        assert kernel.calls == [("del_dest", "[198.18.0.1]:tcp:80 [198.18.1.2]:80")]
        assert not eng._full_pass                 # noqa: SLF001 - the incremental path was used
        await srvs[2].stop()
        assert await wait_until(lambda: "[198.18.1.3]:80" not in kernel.table.weights()["[198.18.0.2]:tcp:80"]
                                and "[198.18.1.3]:80" not in kernel.table.weights()[VSKEY])
        assert kernel.table == desired_table(eng.config, eng.rs_states, eng.quorum)
        assert not eng._full_pass                 # noqa: SLF001
    finally:
        await eng.stop()
        for s in srvs:
            await s.stop()


# ---------------------------------------------------------------------------------------------
# HTTP_GET with several urls: one url per attempt (keepalived's check_http.c)


def _http_config(srv, *, delay_loop, alpha=False, fast_recovery=False):
    chk = HttpGet(connect_ip="127.0.0.1", connect_port=srv.port, connect_timeout=1.0, delay_loop=delay_loop,
                  retry=0, delay_before_retry=0.1, warmup=0.0, fast_recovery=fast_recovery,
                  urls=(Url(path="/a"), Url(path="/b"), Url(path="/c")))
    rs = RealServer(ip="198.18.1.1", port=80, weight=1, alpha=alpha, checkers=(chk,))
    vs = VirtualServer(ip="198.18.0.1", port=80, lvs_sched="wrr", lvs_method=LvsMethod(method="NAT"),
                       real_servers=(rs,))
    return Config(global_defs=GlobalDefs(), virtual_servers=(vs,))


async def test_http_urls_are_asked_one_per_delay_loop_and_a_failing_one_takes_the_server_down():
    srv = await HttpServer().start()
    kernel = FakeKernel()
    eng = CheckerEngine(_http_config(srv, delay_loop=0.3), kernel)
    await eng.start()
    try:
        assert await wait_until(lambda: len(srv.requests) >= 4)
        paths = [p for _, p in srv.requests]
        assert paths[:4] == ["/a", "/b", "/c", "/a"]
        # each request is its own attempt, a delay_loop after the previous one (not a burst of 3)
        gaps = [b - a for (a, _), (b, _) in zip(srv.requests, srv.requests[1:4])]
        assert min(gaps) > 0.15, gaps
        # successes are not failures (999bb9d counted every HTTP success as one: the IPVS VM
        # tier saw 6 "failures" in 12 checks of healthy servers)
        assert eng.counters.failures == 0 and eng.counters.checks >= 4
        srv.failing_paths.add("/b")
        assert await wait_until(lambda: not eng.rs_is_alive("198.18.1.1", 80))
        assert "[198.18.1.1]:80" not in kernel.table.weights()[VSKEY]
        # down: only the failed url is asked again
        n = len(srv.requests)
        await asyncio.sleep(0.7)
        assert {p for _, p in srv.requests[n:]} == {"/b"}
        srv.failing_paths.clear()
        assert await wait_until(lambda: eng.rs_is_alive("198.18.1.1", 80))
        # back up only after /b answered and then a whole pass /a /b /c
        assert [p for _, p in srv.requests[-4:]] == ["/b", "/a", "/b", "/c"]
    finally:
        await eng.stop()
        await srv.stop()


async def test_successful_http_checks_count_no_failure_with_one_url_or_several():
    srv = await HttpServer().start()
    kernel = FakeKernel()
    cfg = _http_config(srv, delay_loop=0.1)
    one = dataclasses.replace(cfg.virtual_servers[0].real_servers[0].checkers[0], urls=(Url(path="/a"),))
    rs2 = dataclasses.replace(cfg.virtual_servers[0].real_servers[0], ip="198.18.1.2", checkers=(one,))
    vs = dataclasses.replace(cfg.virtual_servers[0], real_servers=(*cfg.virtual_servers[0].real_servers, rs2))
    eng = CheckerEngine(dataclasses.replace(cfg, virtual_servers=(vs,)), kernel)
    await eng.start()
    try:
        assert await wait_until(lambda: eng.counters.checks >= 12)
        assert eng.counters.failures == 0 and eng.counters.transitions == 0
        assert all(job.failures == 0 and job.runs >= 1 for job in eng.jobs.values())
        assert kernel.table.weights()[VSKEY] == {"[198.18.1.1]:80": 1, "[198.18.1.2]:80": 1}
    finally:
        await eng.stop()
        await srv.stop()


async def test_http_fast_recovery_checks_all_urls_at_once_before_the_first_verdict():
    srv = await HttpServer().start()
    kernel = FakeKernel()
    eng = CheckerEngine(_http_config(srv, delay_loop=60.0, alpha=True, fast_recovery=True), kernel)
    await eng.start()
    try:
        # alpha: down until a whole pass succeeded; fast_recovery does it without delay_loops
        assert await wait_until(lambda: eng.rs_is_alive("198.18.1.1", 80))
        assert [p for _, p in srv.requests] == ["/a", "/b", "/c"]
        assert kernel.table.weights()[VSKEY] == {"[198.18.1.1]:80": 1}
    finally:
        await eng.stop()
        await srv.stop()
    # without fast_recovery the next url waits a delay_loop: only /a asked, still down
    srv = await HttpServer().start()
    kernel = FakeKernel()
    eng = CheckerEngine(_http_config(srv, delay_loop=60.0, alpha=True), kernel)
    await eng.start()
    try:
        assert await wait_until(lambda: srv.requests)
        await asyncio.sleep(0.5)
        assert [p for _, p in srv.requests] == ["/a"] and not eng.rs_is_alive("198.18.1.1", 80)
    finally:
        await eng.stop()
        await srv.stop()
