"""The chaos tier's fault loops, small: kill rounds, loss and partitions (nftables numgen
random), a reload storm mixing good and bad files, hanging scripts, and config fuzzing through
`kvrrp -t` and the reload path. The same scenarios run big in bench/chaos_campaign.py."""
from __future__ import annotations

import os
import signal

import pytest

from chaos_lab import VIP, WAIT, no_bad_lines, start
from kvrrp.chaos import observe, scenarios
from kvrrp.chaos.configs import config_fuzz
from kvrrp.daemon import WORKER_THREADS
from kvrrp.lab import Lab, VrrpSpec, render_config

FAST = dict(version=3, advert_int=0.1)
STEADY = dict(version=3, advert_int=0.5)     # "no transition" checks on a loaded two-core host


@pytest.mark.root
@pytest.mark.timeout(180)
def test_kill_rounds_take_over_and_reconverge() -> None:
    r = scenarios.kill_rounds(4)
    assert r["violations"] == [] and r["rounds"] == 4 and r["takeovers"] == 3, r


@pytest.mark.root
@pytest.mark.timeout(180)
def test_loss_and_partitions_never_leave_the_vip_without_a_holder() -> None:
    r = scenarios.loss_and_partitions(20, phase=4, busy=1)
    assert r["violations"] == [] and r["zero_holder_samples"] == 0, r
    assert set(r["phases"]) == {"loss:0.1", "loss:0.3", "loss:0.6", "isolate_master", "split"}
    assert r["max_holders_during_faults"] >= 2          # the faults really split the LAN


@pytest.mark.root
@pytest.mark.timeout(180)
def test_reload_storm_of_good_and_bad_files() -> None:
    with Lab(nodes=2, prefix="kvcrs") as lab:
        n1, n2 = lab.nodes
        master = start(lab, n1, [VrrpSpec(priority=200, vips=(f"{VIP}/32",), **STEADY)])
        assert lab.wait_for(lambda: lab.holders(VIP) == [n1], WAIT)
        backup = start(lab, n2, [VrrpSpec(priority=100, vips=(f"{VIP}/32",), **STEADY)])
        assert lab.wait_for(lambda: backup.daemon.transitions("VI_1")[-1:] == ["BACKUP"], WAIT)
        master.daemon.signal(signal.SIGHUP)                  # warm-up (worker thread)
        assert lab.wait_for(lambda: master.status()["reload"]["applied"] == 1, WAIT)
        pid = master.daemon.pid
        fds, threads = observe.fd_count(pid), observe.thread_count(pid)
        good = [render_config([VrrpSpec(priority=150 + i, vips=(f"{VIP}/32",), **STEADY)]) for i in range(10)]
        bad = ["", "vrrp_instance VI_1 {\n", good[0][: len(good[0]) // 2],
               good[0].replace("priority 150", "priority 300"), good[0].replace("eth0", "eth7")]
        for i in range(100):
            text = bad[i % len(bad)] if i % 3 == 2 else good[i % len(good)]
            master.daemon.write_config(text)
            master.daemon.signal(signal.SIGHUP)
            if i % 10 == 9:
                lab.wait_for(lambda: False, 0.05)
        final = render_config([VrrpSpec(priority=177, vips=(f"{VIP}/32",), **STEADY)])
        master.daemon.write_config(final)
        master.daemon.signal(signal.SIGHUP)

        def final_applied() -> bool:
            st = master.status()
            return bool(st) and st["instances"][0]["data"]["effective_priority"] == 177

        assert lab.wait_for(final_applied, 60), master.daemon.log()[-2000:]
        st = master.status()["reload"]
        # signals of one kind pending together are delivered once: up to 102 requests arrive
        assert 2 <= st["requested"] <= 102 and st["failed"] == 0 and st["refused"] >= 1
        assert st["started"] <= st["requested"] and st["applied"] + st["refused"] == st["started"]
        assert lab.holders(VIP) == [n1] and backup.daemon.transitions("VI_1") == ["BACKUP"]
        assert master.daemon.transitions("VI_1") == ["BACKUP", "MASTER"]
        # the warm-up made one worker of the daemon's bounded pool (kvrrp.daemon.WORKER_THREADS);
        # a reload overlapping a /status request may have made the other, never more
        assert observe.fd_count(pid) <= fds and observe.thread_count(pid) <= threads + WORKER_THREADS - 1
        no_bad_lines(master.daemon, backup.daemon)


@pytest.mark.root
@pytest.mark.timeout(180)
def test_hanging_scripts_are_killed_and_leave_nothing() -> None:
    with Lab(nodes=1, prefix="kvchg") as lab:
        node = lab.nodes[0]
        work = lab.workdir
        os.chmod(work, 0o755)
        marker = f"{2000 + os.getpid() % 7000}.5"
        hang = os.path.join(work, "hang.sh")
        with open(hang, "w") as fh:
            # ignores SIGTERM, and a grandchild in its own session that would outlive it
            fh.write(f"#!/bin/sh\ntrap '' TERM\nsetsid sleep {marker} &\nsleep {marker}\n")
        os.chmod(hang, 0o755)
        spec = VrrpSpec(priority=200, vips=(f"{VIP}/32",), **FAST,
                        extra=("track_script {", "    hang weight -10", "}", f'notify "{hang}"'))
        text = render_config([spec], ["enable_script_security", "script_user root", "script_timeout 1"]).replace(
            "vrrp_instance", f'vrrp_script hang {{\n    script "{hang}"\n    interval 1\n    timeout 1\n}}\n\n'
                             "vrrp_instance", 1)
        run = start(lab, node, [spec], text=text)
        try:
            def timed_out() -> bool:
                st = run.status()
                return bool(st) and st["tracking"]["scripts"].get("hang", {}).get("timeouts", 0) >= 3

            assert lab.wait_for(timed_out, 40), run.daemon.log()[-2000:]
            assert lab.holders(VIP) == [node] and run.daemon.alive()
            # the timed-out runs and their setsid grandchildren are gone, bar the run in progress
            assert lab.wait_for(lambda: len(observe.processes_with(marker)) <= 4, 5), observe.processes_with(marker)
            st = run.status()
            assert st["script_leftovers"]["leftovers_killed"] >= 2, st["script_leftovers"]
            assert st["instances"][0]["data"]["effective_priority"] == 190   # a timeout is a failure
            no_bad_lines(run.daemon)
        finally:
            run.daemon.stop()
            for pid in observe.processes_with(marker):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.mark.timeout(300)
def test_fuzzed_configs_never_raise_in_config_test_or_reload() -> None:
    """Mutations of the shipped seeds and corpus plus Hypothesis-drawn text, through `kvrrp -t`
    and Daemon.reload on a real engine: no exception, and every refused reload kept the running
    configuration."""
    r = config_fuzz(300, seed=7, hypothesis_share=0.2)
    assert r["exceptions"] == 0, r["first_exceptions"]
    assert r["configs"] == 300 and r["kinds"]["hypothesis"] == 60
    outcomes = r["reload_outcomes"]
    assert set(outcomes) <= {"applied", "refused"} and outcomes.get("refused", 0) > 100
    assert r["refused_kept_running"] == outcomes.get("refused", 0)
