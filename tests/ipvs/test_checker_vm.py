"""kvrrp's checker (src/healthcheck) driving a real IPVS table, inside the VM.

One lab for the module: 3 real server hosts in namespaces, each with a listener per virtual
server, a sorry server, and a client namespace. The checker runs in-process (CheckerDaemon,
the same object `kvrrp -C` runs) on a keepalived.conf written by the test, with short
delay_loop / connect_timeout. Timed expectations carry a wide margin: the VM is emulated.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from pathlib import Path

import pytest
from ipvs_lab import VIPS, Lab, TinyServer, http_get_via, ip, ipvsadm, ipvsadm_table, pyroute2_table, run

pytestmark = pytest.mark.usefixtures("clean_ipvs")

DELAY_LOOP = 1.0
CONNECT_TIMEOUT = 1.0
MARGIN = 30.0           # emulated guest, two busy host cores: generous, never the expectation
VIP_A, VIP_B = VIPS
SORRY = ("198.19.1.2", 9000)

log = logging.getLogger("kvrrp.tests.ipvs")


@pytest.fixture(scope="module")
def lab():
    lab = Lab(hosts=3).build()
    yield lab
    lab.destroy()


@pytest.fixture
async def servers(lab):
    """{"a1": TinyServer, ...}: aN on 198.19.N.2:8080 (VS A), bN on :8081 (VS B), sorry."""
    made = {}
    try:
        for i in (1, 2, 3):
            made[f"a{i}"] = await TinyServer(lab.ns(f"rs{i}"), lab.rs_addr(i), 8080, f"a{i}").start()
            made[f"b{i}"] = await TinyServer(lab.ns(f"rs{i}"), lab.rs_addr(i), 8081, f"b{i}").start()
        made["sorry"] = await TinyServer(lab.ns("rs1"), *SORRY, "sorry").start()
        yield made
    finally:
        for s in made.values():
            await s.stop()


def config_text(*, weights_a=(1, 1, 1), extra_vs: str = "", vs_b: bool = True) -> str:
    rs_a = "".join(f"""
    real_server 198.19.{i}.2 8080 {{
        weight {w}
        TCP_CHECK {{
            connect_timeout {CONNECT_TIMEOUT:g}
            retry 0
        }}
    }}""" for i, w in zip((1, 2, 3), weights_a))
    rs_b = "".join(f"""
    real_server 198.19.{i}.2 8081 {{
        weight 1{'''
        inhibit_on_failure''' if i == 3 else ''}
        HTTP_GET {{
            url {{
                path /
                status_code 200
            }}
            connect_timeout {CONNECT_TIMEOUT:g}
            retry 0
        }}
    }}""" for i in (1, 2, 3))
    text = f"""
global_defs {{
    router_id kvrrp_ipvs_vm
}}

virtual_server {VIP_A} 80 {{
    delay_loop {DELAY_LOOP:g}
    lb_algo rr
    lb_kind NAT
    protocol TCP
{rs_a}
}}
"""
    if vs_b:
        text += f"""
virtual_server {VIP_B} 80 {{
    delay_loop {DELAY_LOOP:g}
    lvs_sched wrr
    lvs_method NAT
    protocol TCP
    quorum 2
    sorry_server {SORRY[0]} {SORRY[1]}
{rs_b}
}}
"""
    return text + extra_vs


def table_a(weights=(1, 1, 1), skip=()):
    return {f"198.19.{i}.2:8080": ("Masq", w) for i, w in zip((1, 2, 3), weights) if i not in skip}


def table_b(dead=(), sorry=False):
    out = {}
    if not sorry:
        out.update({f"198.19.{i}.2:8081": ("Masq", 1) for i in (1, 2) if i not in dead})
    out["198.19.3.2:8081"] = ("Masq", 0 if 3 in dead else 1)       # inhibit_on_failure
    if sorry:
        out[f"{SORRY[0]}:{SORRY[1]}"] = ("Masq", 1)
    return out


def full_table(a=None, b=None):
    return {f"TCP {VIP_A}:80 rr": a if a is not None else table_a(),
            f"TCP {VIP_B}:80 wrr": b if b is not None else table_b()}


async def until(predicate, timeout: float, what: str) -> float:
    """Poll the kernel until `predicate()` holds; return how long it took."""
    t0 = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}; kernel table now: "
                                 f"{ipvsadm_table()}")
        await asyncio.sleep(0.2)


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    return str(path)


class Checkers:
    """Starts kvrrp's checker (in-process CheckerDaemon) on a config; whatever is still running
    at the end of the test is stopped, which removes its own IPVS entries."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list = []

    async def start(self, text: str):
        from healthcheck.daemon import CheckerDaemon

        d = CheckerDaemon(write_config(self.tmp_path, text), kernel=None)
        await d.start()
        self.running.append(d)
        return d

    async def stop(self, d, keep: bool = False) -> None:
        self.running.remove(d)
        await d.stop(keep=keep)


@pytest.fixture
async def checker(tmp_path, servers):
    checkers = Checkers(tmp_path)
    yield checkers
    for d in list(checkers.running):
        await checkers.stop(d)


def changes(before: dict, after: dict) -> dict:
    """{(service, dest): (old, new)} for every destination that differs."""
    out = {}
    for svc in set(before) | set(after):
        b, a = before.get(svc, {}), after.get(svc, {})
        for dest in set(b) | set(a):
            if b.get(dest) != a.get(dest):
                out[(svc, dest)] = (b.get(dest), a.get(dest))
    return out


# ---------------------------------------------------------------------------------------------


async def test_start_builds_the_exact_table(checker):
    d = await checker.start(config_text())
    await d.engine.wait_reconciled(timeout=60)
    assert ipvsadm_table() == full_table()
    # pyroute2's synchronous IPVS runs its own event loop: give it a thread
    assert await asyncio.to_thread(pyroute2_table) == {
        f"tcp {VIP_A}:80 rr": {f"198.19.{i}.2:8080": (0, 1) for i in (1, 2, 3)},
        f"tcp {VIP_B}:80 wrr": {f"198.19.{i}.2:8081": (0, 1) for i in (1, 2, 3)},
    }
    # the checks run and keep everything up
    await until(lambda: d.engine.counters.checks >= 12, 60, "a few rounds of checks")
    assert d.engine.counters.failures == 0
    assert ipvsadm_table() == full_table()


async def test_dead_real_server_is_removed_then_restored(checker, servers):
    d = await checker.start(config_text())
    await until(lambda: d.engine.counters.checks >= 6, 60, "first checks")
    await servers["a2"].stop()
    took = await until(lambda: ipvsadm_table()[f"TCP {VIP_A}:80 rr"] == table_a(skip=(2,)),
                       DELAY_LOOP + CONNECT_TIMEOUT + MARGIN, "a2 removed from VS A")
    log.warning("real server removed %.1f s after it died (delay_loop %g + connect_timeout %g)",
                took, DELAY_LOOP, CONNECT_TIMEOUT)
    assert ipvsadm_table() == full_table(a=table_a(skip=(2,)))      # nothing else moved
    await servers["a2"].start()
    await until(lambda: ipvsadm_table() == full_table(), DELAY_LOOP + CONNECT_TIMEOUT + MARGIN,
                "a2 back in VS A")


async def test_inhibit_on_failure_sets_weight_zero_instead_of_removing(checker, servers):
    d = await checker.start(config_text())
    await until(lambda: d.engine.counters.checks >= 6, 60, "first checks")
    await servers["b3"].stop()
    await until(lambda: ipvsadm_table() == full_table(b=table_b(dead=(3,))),
                DELAY_LOOP + CONNECT_TIMEOUT + MARGIN, "b3 at weight 0")
    await servers["b3"].start()
    await until(lambda: ipvsadm_table() == full_table(), DELAY_LOOP + CONNECT_TIMEOUT + MARGIN,
                "b3 back at weight 1")


async def test_link_cut_times_out_and_removes_within_connect_timeout(checker, servers, lab):
    d = await checker.start(config_text())
    await until(lambda: d.engine.counters.checks >= 6, 60, "first checks")
    lab.set_host_link(1, up=False)      # no RST now: the check has to time out
    try:
        await until(lambda: ipvsadm_table() == full_table(a=table_a(skip=(1,)),
                                                          b=table_b(dead=(1,))),
                    DELAY_LOOP + CONNECT_TIMEOUT + MARGIN, "host 1 removed from both VS")
    finally:
        lab.set_host_link(1, up=True)
    await until(lambda: ipvsadm_table() == full_table(), DELAY_LOOP + CONNECT_TIMEOUT + MARGIN,
                "host 1 restored")


async def test_quorum_lost_brings_in_the_sorry_server(checker, servers):
    d = await checker.start(config_text())
    await until(lambda: d.engine.counters.checks >= 6, 60, "first checks")
    await servers["b2"].stop()
    await until(lambda: ipvsadm_table() == full_table(b=table_b(dead=(2,))),
                DELAY_LOOP + CONNECT_TIMEOUT + MARGIN, "b2 removed, quorum (2) still held")
    await servers["b3"].stop()      # live weight 1 < quorum 2
    await until(lambda: ipvsadm_table() == full_table(b=table_b(dead=(2, 3), sorry=True)),
                DELAY_LOOP + CONNECT_TIMEOUT + MARGIN, "sorry server in, real servers out")
    await servers["b2"].start()
    await servers["b3"].start()
    await until(lambda: ipvsadm_table() == full_table(), DELAY_LOOP + CONNECT_TIMEOUT + MARGIN,
                "real servers back, sorry server out")


async def test_reload_with_a_changed_weight_touches_only_that_entry(checker, tmp_path):
    d = await checker.start(config_text())
    await d.engine.wait_reconciled(timeout=60)
    before = ipvsadm_table()
    counters = dict(d.engine.reconciler.counters)
    write_config(tmp_path, config_text(weights_a=(1, 1, 5)))
    assert await d.reload()
    await d.engine.wait_reconciled(timeout=60)
    after = ipvsadm_table()
    assert changes(before, after) == {
        (f"TCP {VIP_A}:80 rr", "198.19.3.2:8080"): (("Masq", 1), ("Masq", 5))}
    ops = {k: v - counters[k] for k, v in d.engine.reconciler.counters.items()
           if k not in ("reconciles",)}
    assert ops == {"add_service": 0, "set_service": 0, "del_service": 0, "add_dest": 0,
                   "set_dest": 1, "del_dest": 0, "errors": 0}


async def test_restart_with_the_table_present_causes_no_churn(checker):
    first = await checker.start(config_text())
    await first.engine.wait_reconciled(timeout=60)
    await checker.stop(first, keep=True)
    kept = ipvsadm_table()
    assert kept == full_table()
    second = await checker.start(config_text())
    await second.engine.wait_reconciled(timeout=60)
    ops = {k: v for k, v in second.engine.reconciler.counters.items() if k != "reconciles"}
    assert ops == dict.fromkeys(ops, 0), ops
    assert ipvsadm_table() == kept


async def test_stop_removes_own_entries_and_leaves_foreign_ones(checker, servers):
    ipvsadm("-A", "-t", "198.18.0.99:80", "-s", "rr")                       # foreign service
    ipvsadm("-a", "-t", "198.18.0.99:80", "-r", "198.19.1.2:8080", "-m", "-w", "4")
    d = await checker.start(config_text(vs_b=False))
    await d.engine.wait_reconciled(timeout=60)
    ipvsadm("-a", "-t", f"{VIP_A}:80", "-r", "198.19.3.2:9999", "-m", "-w", "2")  # foreign dest
    foreign_svc = {"198.19.1.2:8080": ("Masq", 4)}
    await servers["a1"].stop()
    await until(lambda: "198.19.1.2:8080" not in ipvsadm_table()[f"TCP {VIP_A}:80 rr"],
                DELAY_LOOP + CONNECT_TIMEOUT + MARGIN, "a1 removed from VS A")
    assert ipvsadm_table() == {
        "TCP 198.18.0.99:80 rr": foreign_svc,
        f"TCP {VIP_A}:80 rr": table_a(skip=(1,)) | {"198.19.3.2:9999": ("Masq", 2)}}
    await checker.stop(d)
    assert ipvsadm_table() == {"TCP 198.18.0.99:80 rr": foreign_svc}


async def test_fwmark_group_ipv6_udp_tun_and_persistence_forms(checker):
    extra = """
virtual_server_group kvrrp_vm_group {
    198.18.0.20-22 80
    fwmark 8
}

virtual_server fwmark 7 {
    delay_loop 1
    lvs_sched wlc
    lvs_method DR
    persistence_timeout 300
    real_server 198.19.2.2 0 {
        weight 3
        TCP_CHECK {
            connect_port 8080
            connect_timeout 1
        }
    }
}

virtual_server group kvrrp_vm_group {
    delay_loop 1
    lvs_sched sh
    lvs_method NAT
    protocol TCP
    real_server 198.19.3.2 8080 {
        weight 2
        TCP_CHECK {
            connect_timeout 1
        }
    }
}

virtual_server 2001:2::10 80 {
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server 2001:2:1::2 8080 {
        weight 2
    }
}

virtual_server 198.18.0.30 53 {
    lvs_sched sh
    sh-port
    lvs_method TUN
    protocol UDP
    persistence_timeout 60
    persistence_granularity 255.255.255.0
    real_server 198.19.1.2 53 {
        weight 5
    }
}
"""
    d = await checker.start(config_text(vs_b=False, extra_vs=extra))
    await d.engine.wait_reconciled(timeout=60)
    group = {"198.19.3.2:8080": ("Masq", 2)}
    assert ipvsadm_table() == {
        f"TCP {VIP_A}:80 rr": table_a(),
        "FWM 7 wlc persistent 300": {"198.19.2.2:0": ("Route", 3)},
        "FWM 8 sh": group,
        "TCP 198.18.0.20:80 sh": group,
        "TCP 198.18.0.21:80 sh": group,
        "TCP 198.18.0.22:80 sh": group,
        "TCP [2001:2::10]:80 rr": {"[2001:2:1::2]:8080": ("Masq", 2)},
        "UDP 198.18.0.30:53 sh (sh-port) persistent 60 mask 255.255.255.0":
            {"198.19.1.2:53": ("Tunnel", 5)},
    }
    # the checks (connect_port for the port-less fwmark real server) keep them all up
    await until(lambda: d.engine.counters.checks >= 10, 60, "a few rounds of checks")
    assert d.engine.counters.failures == 0
    assert len(ipvsadm_table()) == 8


async def test_client_through_the_vip_reaches_only_healthy_real_servers(checker, servers, lab):
    d = await checker.start(config_text())
    await until(lambda: d.engine.counters.checks >= 6, 60, "first checks")

    async def answers(n: int) -> Counter:
        return Counter([await http_get_via(lab.ns("client"), VIP_A, 80) for _ in range(n)])

    seen = await answers(6)
    assert seen == Counter({"a1": 2, "a2": 2, "a3": 2}), seen        # rr over three
    await servers["a3"].stop()
    await until(lambda: "198.19.3.2:8080" not in ipvsadm_table()[f"TCP {VIP_A}:80 rr"],
                DELAY_LOOP + CONNECT_TIMEOUT + MARGIN, "a3 removed")
    seen = await answers(6)
    assert seen == Counter({"a1": 3, "a2": 3}), seen
    # VS B through its VIP too: the sorry server answers once quorum is lost
    await servers["b2"].stop()
    await servers["b3"].stop()
    await until(lambda: ipvsadm_table()[f"TCP {VIP_B}:80 wrr"] == table_b(dead=(2, 3), sorry=True),
                DELAY_LOOP + CONNECT_TIMEOUT + MARGIN, "sorry server in")
    assert await http_get_via(lab.ns("client"), VIP_B, 80) == "sorry"


async def test_nftables_ipvs_sends_a_group_range_through_one_fwmark_service(checker, servers, lab):
    """nftables_ipvs: the group's range 198.18.0.40-42 is ONE fwmark service (1000), its traffic
    marked by keepalived's nftables table; a client reaches the real servers through every
    address of the range, and the table goes at stop."""
    rng = ("198.18.0.40", "198.18.0.41", "198.18.0.42")
    for addr in rng:
        ip("addr", "add", f"{addr}/32", "dev", f"{lab.tag}cl")
    try:
        rs = "".join(f"""
    real_server 198.19.{i}.2 8080 {{
        TCP_CHECK {{
            connect_timeout {CONNECT_TIMEOUT:g}
            retry 0
        }}
    }}""" for i in (1, 2))
        d = await checker.start(f"""
global_defs {{
    router_id kvrrp_ipvs_vm
    nftables_ipvs
}}
virtual_server_group RANGE {{
    198.18.0.40-42 80
}}
virtual_server group RANGE {{
    delay_loop {DELAY_LOOP:g}
    lb_algo rr
    lb_kind NAT
    protocol TCP
{rs}
}}
""")
        await d.engine.wait_reconciled(timeout=60)
        assert ipvsadm_table() == {"FWM 1000 rr": {"198.19.1.2:8080": ("Masq", 1), "198.19.2.2:8080": ("Masq", 1)}}
        listed = run("nft", "list", "table", "ip", "keepalived_ipvs").stdout
        assert "198.18.0.40-198.18.0.42 . 80 : 0x000003e8" in listed, listed
        seen = Counter()
        for addr in rng:
            for _ in range(2):
                seen[await http_get_via(lab.ns("client"), addr, 80)] += 1
        assert seen == Counter({"a1": 3, "a2": 3}), seen       # rr over the one service
        await checker.stop(d)
        assert ipvsadm_table() == {}
        assert "keepalived_ipvs" not in run("nft", "list", "tables").stdout
    finally:
        for addr in rng:
            run("ip", "addr", "del", f"{addr}/32", "dev", f"{lab.tag}cl", check=False)


async def test_lvs_sync_daemon_without_an_instance_runs_master_and_backup_in_the_checker(checker, lab):
    """`lvs_sync_daemon IF` without a VRRP instance: the checker runs both daemons (sync id 0
    unless given) for its whole life, as keepalived's checker does, and stops them at exit."""
    text = config_text(vs_b=False).replace(
        "router_id kvrrp_ipvs_vm", f"router_id kvrrp_ipvs_vm\n    lvs_sync_daemon {lab.tag}cl id 9 ttl 2")
    d = await checker.start(text)
    out = ipvsadm("--list", "--daemon")
    assert f"master sync daemon (mcast={lab.tag}cl, syncid=9" in out, out
    assert f"backup sync daemon (mcast={lab.tag}cl, syncid=9" in out, out
    assert "ttl=2" in out and d.syncd.errors == 0
    # kvrrp's own GET_DAEMON dump reads the same two daemons back
    from healthcheck.ipvs_syncd import SYNC_BACKUP, SYNC_MASTER, SyncDaemonKernel

    k = SyncDaemonKernel()
    try:
        got = {dm.state: dm for dm in k.list()}
    finally:
        k.close()
    assert set(got) == {SYNC_MASTER, SYNC_BACKUP}
    assert all((dm.ifname, dm.sync_id, dm.ttl) == (f"{lab.tag}cl", 9, 2) for dm in got.values()), got
    await checker.stop(d)
    assert ipvsadm("--list", "--daemon").strip() == ""


async def test_lvs_flush_clears_foreign_entries_at_start(checker):
    ipvsadm("-A", "-t", "198.18.0.99:80", "-s", "rr")
    text = config_text(vs_b=False).replace("router_id kvrrp_ipvs_vm", "router_id kvrrp_ipvs_vm\n    lvs_flush")
    d = await checker.start(text)
    await d.engine.wait_reconciled(timeout=60)
    assert ipvsadm_table() == {f"TCP {VIP_A}:80 rr": table_a()}


async def test_checker_process_kvrrp_C_checks_reloads_on_sighup_and_cleans_up_on_sigterm(
        servers, tmp_path):
    """The real `kvrrp -C` process (not the in-process object): same table, SIGHUP reload,
    SIGTERM removes its own entries and leaves a foreign one."""
    import signal
    import sys

    ipvsadm("-A", "-t", "198.18.0.99:80", "-s", "rr")
    conf = write_config(tmp_path, config_text())
    log_file = open(tmp_path / "checker.log", "wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kvrrp", "-C", "-n", "-l", "-f", conf,
        "-p", str(tmp_path / "kvrrp.pid"), "-c", str(tmp_path / "kvrrp-checkers.pid"),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=log_file)
    foreign = {"TCP 198.18.0.99:80 rr": {}}
    try:
        await until(lambda: ipvsadm_table() == full_table() | foreign, 180,
                    "kvrrp -C built the table")
        await servers["a1"].stop()
        await until(lambda: ipvsadm_table() == full_table(a=table_a(skip=(1,))) | foreign,
                    DELAY_LOOP + CONNECT_TIMEOUT + MARGIN, "a1 removed by the checker process")
        write_config(tmp_path, config_text(weights_a=(1, 1, 5)))
        proc.send_signal(signal.SIGHUP)
        await until(lambda: ipvsadm_table() == full_table(a=table_a(weights=(1, 1, 5), skip=(1,)))
                    | foreign, 120, "reload on SIGHUP changed a3's weight")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 120) == 0
        assert ipvsadm_table() == foreign
    finally:
        if proc.returncode is None:
            proc.kill()                   # our own process, by its PID
            await proc.wait()
        log_file.close()
        log_text = (tmp_path / "checker.log").read_text(errors="replace")
        if proc.returncode not in (0, None):
            print(log_text[-4000:])


async def test_checker_child_dies_with_a_sigkilled_vrrp_daemon(servers, tmp_path):
    """keepalived's process model: the checker child of a SIGKILLed daemon must not live on
    (re-parented to PID 1 it kept its pid file and table, blocked the restarted daemon's own
    checker and later removed entries the live one needed). The restarted daemon's checker
    takes the pid file over and the table converges, with no 'already running'."""
    import os
    import signal
    import sys

    from kvrrp.lab import pid_exited

    conf = write_config(tmp_path, config_text())
    pids = ["-p", str(tmp_path / "kvrrp.pid"), "-c", str(tmp_path / "kvrrp-checkers.pid")]
    procs = []

    async def start(name: str):
        log_path = tmp_path / f"{name}.log"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kvrrp", "-n", "-l", "-f", conf, *pids,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=open(log_path, "wb"))
        procs.append(proc)
        return proc, log_path

    def child_pid(log_path) -> int | None:
        text = log_path.read_text(errors="replace")
        marker = "Starting healthcheck child process, pid="
        return int(text.split(marker)[1].split()[0]) if marker in text else None

    def alive(pid: int) -> bool:
        return not pid_exited(pid)

    children = []
    try:
        first, first_log = await start("first")
        await until(lambda: child_pid(first_log) is not None, 120, "checker child started")
        children.append(child_pid(first_log))
        await until(lambda: ipvsadm_table() == full_table(), 180, "the child built the table")
        first.kill()                       # SIGKILL: no clean stop, no chance to stop the child
        await first.wait()
        await until(lambda: not alive(children[0]), 30, "the checker child died with its parent")
        second, second_log = await start("second")
        await until(lambda: child_pid(second_log) is not None, 120, "second checker child started")
        children.append(child_pid(second_log))
        await until(lambda: ipvsadm_table() == full_table(), 180, "the new child rebuilt the table")
        assert "already running" not in second_log.read_text(errors="replace")
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 120) == 0
        assert not alive(children[1])
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()                # our own processes, by PID
                await proc.wait()
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)   # children of our daemons, by the pid they logged


async def test_lvs_netlink_cmd_rcv_bufs_sizes_the_ipvs_command_socket(checker):
    import socket

    d = await checker.start(config_text(vs_b=False).replace(
        "router_id kvrrp_ipvs_vm", "router_id kvrrp_ipvs_vm\n    lvs_netlink_cmd_rcv_bufs 100000"))
    assert d.kernel._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 2 * 100000   # socket(7): doubled
    await checker.stop(d)
    # forced: past net.core.rmem_max
    d = await checker.start(config_text(vs_b=False).replace(
        "router_id kvrrp_ipvs_vm", "router_id kvrrp_ipvs_vm\n    lvs_netlink_cmd_rcv_bufs 5000000\n"
                                   "    lvs_netlink_cmd_rcv_bufs_force"))
    assert d.kernel._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 2 * 5000000
    await checker.stop(d)
    d = await checker.start(config_text(vs_b=False))                # unset: kvrrp's 4 MiB, forced
    assert d.kernel._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 2 * (4 << 20)
