"""kvrrp daemons on a LAN of network namespaces (kvrrp.lab): failover, preemption, owners,
unicast, authentication, IPv6, reload, pid files, leftovers, dumps and the status API.

Short advert intervals (VRRPv3 0.1 s) keep each scenario to a few seconds; every wait is a
generous deadline on an observable condition, never a fixed sleep standing in for an assertion.
"""
from __future__ import annotations

import json
import os
import signal
import socket


import time
import urllib.request

import pytest

from kvrrp.io.netns import entered
from kvrrp.lab import Lab, VrrpSpec, pid_exited, render_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

VIP = "198.18.0.200"
FAST = dict(version=3, advert_int=0.1)
WAIT = 10.0  # seconds: generous, every wait returns as soon as its condition holds


@pytest.fixture
def lab():
    with Lab(nodes=3, prefix="kvsys") as built:
        yield built


def dumps(lab: Lab, node) -> list[str]:  # noqa: ANN001
    base = os.path.join(lab.workdir, node.name)
    return [f"state_dump_file {base}.data", f"stats_dump_file {base}.stats", f"json_dump_file {base}.json"]


def start_all(lab: Lab, specs: list[VrrpSpec], args=()):  # noqa: ANN001, ANN201
    return [lab.start_kvrrp(node, render_config([spec], dumps(lab, node)), args=args)
            for node, spec in zip(lab.nodes, specs)]


def only_holder(lab: Lab, node, address: str = VIP) -> bool:  # noqa: ANN001
    return lab.holders(address) == [node]


def settled(lab: Lab, ds, master_index: int = 0, address: str = VIP) -> bool:  # noqa: ANN001
    """The master holds the VIP alone, every other daemon's last state is BACKUP, and the
    initial GARP bursts (vrrp_garp_master_delay 1 s) are over."""
    master = ds[master_index]

    def ok() -> bool:
        others = [d for d in ds if d is not master]
        return (only_holder(lab, master.node, address) and master.transitions()[-1:] == ["MASTER"]
                and all(d.transitions()[-1:] == ["BACKUP"] for d in others))

    if not lab.wait_for(ok, WAIT):
        return False
    time.sleep(1.2)
    return ok()


def states_become(lab: Lab, daemon, expected: list[str], since: int = 0) -> bool:  # noqa: ANN001
    """The daemon's log shows exactly `expected` after its first `since` transitions (log lines
    are written at the end of the daemon's loop iteration, so they may trail the VIP by a hair)."""
    return lab.wait_for(lambda: daemon.transitions()[since:] == expected, WAIT)


def logs(daemons) -> str:  # noqa: ANN001
    return "\n".join(f"--- {d.node.name} ---\n{d.log()[-3000:]}" for d in daemons)


def dump_file(lab: Lab, daemon, kind: str, sig: int) -> str:  # noqa: ANN001
    path = os.path.join(lab.workdir, f"{daemon.node.name}.{kind}")
    if os.path.exists(path):
        os.unlink(path)
    daemon.signal(sig)
    assert lab.wait_for(lambda: os.path.exists(path), WAIT), logs([daemon])
    with open(path) as fh:
        return fh.read()


def test_crash_of_master_moves_vip_with_garps(lab: Lab) -> None:
    n1, n2, n3 = lab.nodes
    ds = start_all(lab, [VrrpSpec(priority=p, **FAST) for p in (150, 100, 50)])
    assert settled(lab, ds), logs(ds)
    seen = [len(d.transitions()) for d in ds]
    with lab.capture() as cap:
        killed = time.time()
        ds[0].crash()
        assert lab.wait_for(lambda: VIP in lab.addresses(n2) and cap.garps(VIP, killed), WAIT), logs(ds)
    garps = cap.garps(VIP, killed)
    assert all(f.src_mac == n2.mac for f in garps), [(f.ts - killed, f.src_mac, f.arp()) for f in garps]  # announced by the new master, keepalived's frame
    assert VIP not in lab.addresses(n3)
    assert states_become(lab, ds[1], ["MASTER"], seen[1]), logs(ds)
    assert ds[2].transitions()[seen[2]:] == []


def test_sigterm_sends_priority_zero_removes_vips_and_exits_cleanly(lab: Lab) -> None:
    n1, n2, _ = lab.nodes
    ds = start_all(lab, [VrrpSpec(priority=p, **FAST) for p in (150, 100, 50)])
    assert settled(lab, ds), logs(ds)
    with lab.capture() as cap:
        stopped = time.time()
        assert ds[0].stop() == 0
        assert lab.wait_for(lambda: only_holder(lab, n2) and cap.garps(VIP, stopped), WAIT), logs(ds)
    zero = [info for f, info in cap.adverts(stopped) if info.src == n1.ipv4 and info.payload[2] == 0]
    assert zero, "no priority-0 advert from the stopping master"
    assert VIP not in lab.addresses(n1)
    assert not os.path.exists(ds[0].pid_file)
    assert "Backup received priority 0" in ds[1].log() or "priority 0" in ds[1].log()


@pytest.mark.parametrize("nopreempt", [False, True])
def test_returning_master_preempts_unless_nopreempt(lab: Lab, nopreempt: bool) -> None:
    n1, n2, _ = lab.nodes
    specs = [VrrpSpec(priority=p, nopreempt=nopreempt, **FAST) for p in (150, 100, 50)]
    # n1 first, alone: with nopreempt whoever is master first keeps the VIP
    ds = [lab.start_kvrrp(n1, render_config([specs[0]], dumps(lab, n1)))]
    assert lab.wait_for(lambda: VIP in lab.addresses(n1), WAIT), logs(ds)
    ds += [lab.start_kvrrp(node, render_config([spec], dumps(lab, node)))
           for node, spec in zip(lab.nodes[1:], specs[1:])]
    assert settled(lab, ds), logs(ds)
    ds[0].crash()
    assert lab.wait_for(lambda: only_holder(lab, n2) or VIP in lab.addresses(n2), WAIT), logs(ds)
    seen = len(ds[1].transitions())
    back = lab.start_kvrrp(n1, render_config([specs[0]], dumps(lab, n1)), tag="kvrrp-n1-again")
    if nopreempt:
        assert lab.wait_for(lambda: back.transitions() == ["BACKUP"], WAIT), logs([back])
        time.sleep(1.0)  # ten advert intervals in which n1 must not take over
        assert only_holder(lab, n2), logs([back, ds[1]])
        assert back.transitions() == ["BACKUP"]
    else:
        assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), logs([back, ds[1]])
        assert states_become(lab, back, ["BACKUP", "MASTER"]), logs([back])
        assert states_become(lab, ds[1], ["BACKUP"], seen), logs([ds[1]])
    # the sweep at start removed the VIP the crash left on n1 before n1 ran VRRP again
    assert "leftover" in back.log()


def test_priority_255_owner_takes_over_at_once(lab: Lab) -> None:
    n1, n2, _ = lab.nodes
    backup = lab.start_kvrrp(n2, render_config([VrrpSpec(priority=100, **FAST)], dumps(lab, n2)))
    assert lab.wait_for(lambda: only_holder(lab, n2), WAIT), logs([backup])
    started = time.monotonic()
    owner = lab.start_kvrrp(n1, render_config([VrrpSpec(priority=255, **FAST)], dumps(lab, n1)))
    assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), logs([owner, backup])
    # an owner does not wait Master_Down_Interval: it enters MASTER as soon as it runs
    assert states_become(lab, owner, ["MASTER"]), owner.log()
    assert time.monotonic() - started < WAIT
    assert states_become(lab, backup, ["BACKUP", "MASTER", "BACKUP"]), backup.log()


def test_unicast_peers_carry_the_protocol(lab: Lab) -> None:
    nodes = lab.nodes
    specs = []
    for node, prio in zip(nodes, (150, 100, 50)):
        peers = tuple(n.ipv4 for n in nodes if n is not node)
        specs.append(VrrpSpec(priority=prio, unicast_src_ip=node.ipv4, unicast_peers=peers, **FAST))
    with lab.capture() as cap:
        ds = start_all(lab, specs)
        assert lab.wait_for(lambda: only_holder(lab, nodes[0]), WAIT), logs(ds)
        time.sleep(0.3)
    adverts = [info for _f, info in cap.adverts()]
    assert adverts
    assert all(info.dst in {n.ipv4 for n in nodes} for info in adverts), "multicast advert in unicast mode"
    assert all(info.ttl == 255 for info in adverts)
    ds[0].crash()
    assert lab.wait_for(lambda: VIP in lab.addresses(nodes[1]), WAIT), logs(ds)


def test_v2_wrong_password_is_ignored_and_counted(lab: Lab) -> None:
    n1, n2, _ = lab.nodes
    right = lab.start_kvrrp(n1, render_config([VrrpSpec(priority=150, version=2, advert_int=1,
                                                        auth_pass="right123")], dumps(lab, n1)))
    assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), logs([right])
    wrong = lab.start_kvrrp(n2, render_config([VrrpSpec(priority=100, version=2, advert_int=1,
                                                        auth_pass="wrong123")], dumps(lab, n2)))
    # n1's adverts fail n2's authentication check, so n2 hears no master and takes the VIP too
    assert lab.wait_for(lambda: VIP in lab.addresses(n2), WAIT), logs([wrong])
    stats = dump_file(lab, wrong, "stats", signal.SIGUSR2)
    failures = int(stats.split("Authentication Errors:")[1].split("Failure:")[1].split()[0])
    assert failures >= 1, stats
    received = int(stats.split("Received:")[1].split()[0])
    assert received == 0, stats  # not one of them counted as a valid advert


def test_v3_over_ipv6_fails_over_with_neighbour_advertisements(lab: Lab) -> None:
    n1, n2, _ = lab.nodes
    vips = ("fe80::200/64", "2001:2::200/64")
    specs = [VrrpSpec(priority=p, family=6, vips=vips, **FAST)
             for p in (150, 100, 50)]
    ds = start_all(lab, specs)
    assert lab.wait_for(lambda: only_holder(lab, n1, "2001:2::200"), WAIT), logs(ds)
    with lab.capture() as cap:
        crashed = time.time()
        ds[0].crash()
        assert lab.wait_for(lambda: "fe80::200" in lab.addresses(n2) and "2001:2::200" in lab.addresses(n2),
                            WAIT), logs(ds)
        assert lab.wait_for(lambda: any(f.ipv6_na_target() == "2001:2::200" for f in cap.snapshot()
                                        if f.ts >= crashed), WAIT)
    v6 = [info for _f, info in cap.adverts(crashed) if info.family == 6]
    assert v6 and all(info.dst == "ff02::12" and info.ttl == 255 for info in v6)
    assert {info.src for info in v6} >= {n2.link_local}


def test_sighup_reload_keeps_running_instances_untouched(lab: Lab) -> None:
    n1, n2, _ = lab.nodes
    first = VrrpSpec(priority=150, **FAST)
    d1 = lab.start_kvrrp(n1, render_config([first], dumps(lab, n1)))
    d2 = lab.start_kvrrp(n2, render_config([VrrpSpec(priority=100, **FAST)], dumps(lab, n2)))
    assert settled(lab, [d1, d2]), logs([d1, d2])
    before, before2 = d1.transitions(), d2.transitions()
    second = VrrpSpec(name="VI_2", vrid=52, priority=150, vips=("198.18.0.201/32",), **FAST)
    d1.write_config(render_config([first, second], dumps(lab, n1)))
    with lab.capture() as cap:
        reloaded = time.time()
        d1.signal(signal.SIGHUP)
        assert lab.wait_for(lambda: "198.18.0.201" in lab.addresses(n1), WAIT), logs([d1])
        time.sleep(0.5)
    assert d1.transitions("VI_1") == before and before[-1] == "MASTER"
    assert only_holder(lab, n1) and d2.transitions() == before2
    assert not cap.garps(VIP, reloaded), "an untouched instance re-announced its VIP"
    zero = [i for _f, i in cap.adverts(reloaded) if i.src == n1.ipv4 and i.payload[2] == 0]
    assert not zero
    assert "kept ['VI_1']" in d1.log() and "added ['VI_2']" in d1.log()
    # a broken configuration is refused and the running one stays
    d1.write_config("vrrp_instance VI_1 {\n    virtual_router_id 999\n")
    d1.signal(signal.SIGHUP)
    assert lab.wait_for(lambda: "Reload refused" in d1.log(), WAIT), d1.log()
    assert d1.alive() and only_holder(lab, n1)


def test_pid_file_refuses_second_copy_and_recovers_stale(lab: Lab) -> None:
    n1 = lab.nodes[0]
    conf = render_config([VrrpSpec(priority=150, **FAST)], dumps(lab, n1))
    first = lab.start_kvrrp(n1, conf)
    assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), logs([first])
    second = lab.start_kvrrp(n1, conf, tag="kvrrp-n1-second", args=["-p", first.pid_file])
    assert second.proc.wait(WAIT) != 0
    assert "already running" in second.log() and str(first.pid) in second.log()
    assert first.alive()
    first.crash()
    first.proc.wait(WAIT)
    assert os.path.exists(first.pid_file)  # a crash leaves the file behind: stale
    third = lab.start_kvrrp(n1, conf, tag="kvrrp-n1-third", args=["-p", first.pid_file])
    assert lab.wait_for(lambda: third.transitions() == ["BACKUP", "MASTER"], WAIT), third.log()
    with open(first.pid_file) as fh:
        assert int(fh.read()) == third.pid


def test_leftover_vips_of_a_crashed_run_are_removed_at_start(lab: Lab) -> None:
    n1, n2, n3 = lab.nodes
    lab.run(n3, ["ip", "addr", "add", f"{VIP}/32", "dev", "eth0"])  # as if n3 had crashed as master
    ds = start_all(lab, [VrrpSpec(priority=p, **FAST) for p in (150, 100, 50)])
    assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), logs(ds)
    # the line is written after the sweep that removed the address: it may trail it a little
    assert lab.wait_for(lambda: "leftover" in ds[2].log(), WAIT), ds[2].log()


def test_bad_config_refuses_to_start_with_diagnostics(lab: Lab) -> None:
    n1 = lab.nodes[0]
    # virtual_router_id 300 is ignored, leaving the instance without one: keepalived does not
    # run that instance either (a blocking problem)
    bad = lab.start_kvrrp(n1, "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 300\n}\n")
    assert bad.proc.wait(WAIT) != 0
    assert "not starting" in bad.log() and "300" in bad.log()
    assert "virtual router id (virtual_router_id) must be set" in bad.log()
    assert not os.path.exists(bad.pid_file)


def test_non_blocking_config_error_is_reported_and_the_daemon_runs(lab: Lab) -> None:
    n1, n2, _ = lab.nodes
    # keepalived reports "priority 300 out of range" and runs with the default priority (100)
    conf = render_config([VrrpSpec(priority=150, **FAST)], dumps(lab, n1)).replace("priority 150", "priority 300")
    d1 = lab.start_kvrrp(n1, conf)
    d2 = lab.start_kvrrp(n2, render_config([VrrpSpec(priority=120, **FAST)], dumps(lab, n2)))
    assert lab.wait_for(lambda: only_holder(lab, n2), WAIT), logs([d1, d2])
    assert d1.alive() and "priority 300 out of range" in d1.log() and "not starting" not in d1.log()
    assert lab.wait_for(lambda: d1.transitions()[-1:] == ["BACKUP"], WAIT), d1.log()
    js = json.loads(dump_file(lab, d1, "json", signal.SIGRTMIN + 2))
    assert js["instances"][0]["data"]["effective_priority"] == 100
    # not on SIGHUP: a running node keeps its configuration rather than take one with an error
    fixed = conf.replace("priority 300", "priority 200")
    d1.write_config(fixed.replace("advert_int 0.1", "advert_int 0.1\n    garp_lower_prio_repeat -5"))
    d1.signal(signal.SIGHUP)
    assert lab.wait_for(lambda: "Reload refused" in d1.log(), WAIT), d1.log()
    assert "garp_lower_prio_repeat -5 out of range" in d1.log()
    time.sleep(0.5)
    assert only_holder(lab, n2) and d1.transitions()[-1:] == ["BACKUP"], logs([d1, d2])
    d1.write_config(fixed)
    d1.signal(signal.SIGHUP)
    assert lab.wait_for(lambda: "Reload finished" in d1.log(), WAIT), d1.log()
    assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), logs([d1, d2])


def test_dumps_and_status_api(lab: Lab) -> None:
    n1 = lab.nodes[0]
    with entered(n1.netns):  # a free port inside n1's namespace
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    d1 = lab.start_kvrrp(n1, render_config([VrrpSpec(priority=150, **FAST)], dumps(lab, n1)),
                         args=["--status-port", str(port)])
    assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), logs([d1])
    data = dump_file(lab, d1, "data", signal.SIGUSR1)
    assert "VRRP Instance = VI_1" in data or "VI_1" in data
    js = json.loads(dump_file(lab, d1, "json", signal.SIGRTMIN + 2))
    assert js["instances"][0]["data"]["iname"] == "VI_1"
    assert js["instances"][0]["data"]["state"] == "MASTER"
    # the trackers' and the notifier's status parts: the instance's own interface is tracked, the notifier reports
    primary = {"instance": "VI_1", "key": "interface:eth0#primary", "status": "OK"}
    assert js["tracking"]["bindings"] == [primary] and "pending_scripts" in js["notify"]

    def fetch(path: str) -> tuple[int, str]:
        with entered(n1.netns):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()

    assert lab.wait_for(lambda: _try(fetch, "/status"), WAIT), d1.log()
    status, body = fetch("/status")
    status_js = json.loads(body)
    assert status == 200 and status_js["instances"][0]["data"]["state"] == "MASTER"
    assert status_js["tracking"]["bindings"] == [primary] and status_js["vmacs"] == {}
    status, metrics = fetch("/metrics")
    assert status == 200
    assert 'kvrrp_vrrp_state{iname="VI_1",intf="eth0",state="MASTER",vrid="51"} 1.0' in metrics
    assert "kvrrp_vrrp_advert_sent_total" in metrics


def test_backup_takes_steady_state_adverts_in_the_fast_path(lab: Lab) -> None:
    """The real daemon's sockets hand the master's repeated adverts to the fast path (no Python
    per advert), the master sends them from the fast path, and the status counters add up."""
    n1, n2 = lab.nodes[0], lab.nodes[1]
    d1 = lab.start_kvrrp(n1, render_config([VrrpSpec(priority=150, **FAST)], dumps(lab, n1)))
    d2 = lab.start_kvrrp(n2, render_config([VrrpSpec(priority=100, **FAST)], dumps(lab, n2)))
    assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), logs([d1, d2])

    def backup_status() -> dict:
        return json.loads(dump_file(lab, d2, "json", signal.SIGRTMIN + 2))

    assert lab.wait_for(lambda: backup_status()["sockets"]["eth0/v4"].get("fast_path", 0) >= 20, WAIT), \
        backup_status()["sockets"]
    js = backup_status()
    sock = js["sockets"]["eth0/v4"]
    inst = js["instances"][0]
    assert inst["data"]["state"] == "BACKUP"
    # every advert the socket took (fast or not) was the master's, counted once by the instance
    assert inst["stats"]["advert_rcvd"] >= sock["fast_path"] > 0
    assert sock["received"] >= inst["stats"]["advert_rcvd"]
    # the backup stays BACKUP: the restarted Master_Down_Timer never runs out while the master lives
    # and the master sends them from prebuilt buffers in batches (fastpath.fire_adverts)
    master = json.loads(dump_file(lab, d1, "json", signal.SIGRTMIN + 2))
    assert master["sockets"]["eth0/v4"].get("fast_path_sent", 0) > 0, master["sockets"]
    assert master["instances"][0]["stats"]["advert_sent"] >= master["sockets"]["eth0/v4"]["fast_path_sent"]
    seen = d2.transitions()
    assert seen[-1] == "BACKUP", d2.log()
    taken = sock["fast_path"]
    assert lab.wait_for(lambda: backup_status()["sockets"]["eth0/v4"]["fast_path"] >= taken + 20, WAIT)
    assert d2.transitions() == seen, d2.log()


def _try(fn, *args) -> bool:  # noqa: ANN001
    try:
        fn(*args)
        return True
    except OSError:
        return False





def test_daemonizes_without_n_and_stops_on_sigterm(lab: Lab) -> None:
    import sys

    n1 = lab.nodes[0]
    conf = os.path.join(lab.workdir, "bg.conf")
    pid_file = os.path.join(lab.workdir, "bg.pid")
    with open(conf, "w") as fh:
        fh.write(render_config([VrrpSpec(priority=150, **FAST)], dumps(lab, n1)))

    # without -n the command returns once the daemon has detached
    done = lab.run(n1, [sys.executable, "-m", "kvrrp", "-P", "-f", conf, "-p", pid_file], timeout=30)
    assert done.returncode == 0, done.stderr
    assert lab.wait_for(lambda: os.path.exists(pid_file) and open(pid_file).read().strip(), WAIT)
    pid = int(open(pid_file).read())
    try:
        assert lab.wait_for(lambda: only_holder(lab, n1), WAIT)
        assert os.getsid(pid) != os.getsid(0)  # a session of its own: detached from ours
    finally:
        os.kill(pid, signal.SIGTERM)  # the daemon this test started, by the pid it wrote
    assert lab.wait_for(lambda: pid_exited(pid), WAIT)
    assert not os.path.exists(pid_file)
    assert lab.addresses(n1) == [n1.ipv4, n1.link_local]


def test_daemon_runs_trackers_and_notify_scripts(lab: Lab) -> None:
    """The daemon wires the tracking and notify layers around the engine: a failing vrrp_script
    with a negative weight hands the VIP over, and the generic notify script hears every state."""
    n1, n2, _ = lab.nodes
    work = lab.workdir

    def script(path: str, body: str) -> str:
        with open(path, "w") as fh:
            fh.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)
        return path

    def conf(prio: int, node) -> str:  # noqa: ANN001
        check = script(os.path.join(work, f"check-{node.name}.sh"), "exit 0")
        notify = script(os.path.join(work, f"notify-{node.name}.sh"),
                        f'echo "$2 $3" >> {work}/notified-{node.name}')
        spec = VrrpSpec(priority=prio, extra=("track_script {", "    chk", "}", f'notify "{notify}"'), **FAST)
        block = f'vrrp_script chk {{\n    script "{check}"\n    interval 0.2\n    fall 1\n    rise 1\n' \
                f'    weight -100\n}}\n\nvrrp_instance'
        return render_config([spec], dumps(lab, node)).replace("vrrp_instance", block, 1)

    def notified(node) -> list[str]:  # noqa: ANN001
        try:
            return open(os.path.join(work, f"notified-{node.name}")).read().splitlines()
        except FileNotFoundError:
            return []

    d1 = lab.start_kvrrp(n1, conf(150, n1))
    assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), logs([d1])
    d2 = lab.start_kvrrp(n2, conf(100, n2))
    assert states_become(lab, d2, ["BACKUP"]), logs([d2])
    script(os.path.join(work, "check-n1.sh"), "exit 1")  # n1 now weighs 150 - 100 = 50 < 100
    assert lab.wait_for(lambda: only_holder(lab, n2), WAIT), logs([d1, d2])
    assert lab.wait_for(lambda: notified(n1)[-1:] == ["VI_1 BACKUP"] and notified(n2)[-1:] == ["VI_1 MASTER"],
                        WAIT), (notified(n1), notified(n2), logs([d1, d2]))
    assert "VI_1 MASTER" in notified(n1)


def test_without_P_a_config_with_virtual_servers_gets_a_checker_child(lab: Lab) -> None:
    """keepalived's process model: VRRP plus a health-checker process (here `kvrrp -C`) that the
    daemon supervises and stops. This kernel may lack IPVS: then the child's failure is logged
    and it is restarted, while VRRP carries on."""
    n1 = lab.nodes[0]
    lvs = ["virtual_server 198.18.0.200 80 {", "    delay_loop 1", "    lb_algo rr", "    lb_kind NAT",
           "    protocol TCP", "    real_server 198.18.0.12 80 {", "        TCP_CHECK {", "            connect_timeout 1",
           "        }", "    }", "}", ""]
    text = render_config([VrrpSpec(priority=150, **FAST)], dumps(lab, n1)) + "\n".join(lvs)
    d1 = lab.start_kvrrp(n1, text, vrrp_only=False)
    assert lab.wait_for(lambda: only_holder(lab, n1), WAIT), d1.log()
    assert lab.wait_for(lambda: "Starting healthcheck child process, pid=" in d1.log(), WAIT), d1.log()
    child = int(d1.log().split("Starting healthcheck child process, pid=")[1].split()[0])
    ipvs = os.path.exists("/proc/net/ip_vs")
    if not ipvs:
        assert lab.wait_for(lambda: d1.log().count("Starting healthcheck child process") >= 2, WAIT), d1.log()
        assert "exited with status" in d1.log()
    assert d1.stop() == 0
    assert pid_exited(child)
    assert only_holder(lab, n1) is False
