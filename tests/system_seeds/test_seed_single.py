"""Single-node seeds (and fragments), run on one kvrrp node where there is something to run.

* seed000_lvs_dr (VRRP part, -P): vrrp_strict, script_user/user keepalived_script (no such
  user here, as on a fresh host), vrrp_garp_interval 0, auth under strict mode. keepalived
  2.2.7 reports those as configuration errors, corrects them and RUNS: strict mode starts
  the MASTER-state instance as BACKUP, it becomes MASTER with the VIP after
  Master_Down_Interval; the check script and the notify scripts are disabled because their
  user does not exist. kvrrp must do the same (until 8ab7a90 it refused to start: "has
  errors"); keepalived is shown doing it in test_keepalived_runs_what_kvrrp_refused.
* seed002_global_defs_email + seed002_instance_track_notify (the tutorial's global_defs and
  instance of one keepalived.conf): the instance tracks `chk_down`, which the tutorial never
  defines; keepalived says "track script chk_down not found, ignoring..." and runs (notify
  log "backup", "master"); so must kvrrp.
* seed001_k8s_sync_group_lvs: both instances of the sync group use VRID 51 on eth1, which
  keepalived refuses too ("both use VRID 51 ... permanent error CONFIG"); kvrrp refuses it the
  same way (asserted). With the minimal fix a user makes (VI_EGDE_GATEWAY -> VRID 52)
  keepalived runs it: both members MASTER together with their labelled VIPs; so must kvrrp,
  with the virtual_server block's errors (lb_algo loadbalance, persistence_timeout 0)
  reported, not fatal.
* seed002_vrrp_script_chk_sshd + seed002_node95: the tutorial's step 2 puts the script in an
  instance's track_script; its own track_script fragment names other scripts, so the test adds
  `track_script { chk_sshd }` to node95's VI_1. Removing the checked file lowers the effective
  priority by the weight (-4), restoring it raises it back.

Parse-only (test_parse_only_seeds_have_nothing_to_run): seed000_script_fragment and
seed002_vrrp_script_chk_sshd alone (a vrrp_script and no instance: nothing runs it),
seed002_global_defs_email alone (no instance; it runs composed above),
seed002_track_script_fragment (an instance without interface or virtual_router_id around a
track_script of undefined scripts): both kvrrp and keepalived refuse to start it (asserted).
"""
from __future__ import annotations

import glob
import os
import time

import pytest

from kvrrp.lab import Lab

from rewrite import SeedRewriter
from seedlab import (MARGIN, SEEDS, FakeProcess, assert_seed_loads, prepare,
                     wait_holder)

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

START = 15.0

K8S = "seed001_k8s_sync_group_lvs.conf"
K8S_FIX = ("  vrrp_garp_master_refresh 10\n"
           "  # 相同 VRID 的属于同一组，根据优先级选举出一个 Master\n"
           "  virtual_router_id 51\n")


def k8s_fixed(text: str) -> str:
    """The seed with VI_EGDE_GATEWAY moved to VRID 52 (its only change)."""
    assert text.count(K8S_FIX) == 1
    return text.replace(K8S_FIX, K8S_FIX.replace("virtual_router_id 51", "virtual_router_id 52"))


def _single(lab: Lab, rw: SeedRewriter, seeds: list[str], tag: str, **kw):
    node = prepare(lab, lab.nodes[0], rw, seeds, tag, **kw)
    return node


def test_seed000_lvs_dr_vrrp_part():
    assert_seed_loads("seed000_lvs_dr.conf")
    with Lab(nodes=1, prefix="kvseed", client=False) as lab:
        rw = SeedRewriter()
        n = _single(lab, rw, ["seed000_lvs_dr.conf"], "lvs", checks={"chk_nginx.sh": "true"})
        vip = rw.addresses["192.168.119.130"]
        n.start()   # -P: the VRRP part (the lab's default)
        wait_holder(lab, [n], vip, n, timeout=START)
        # strict mode: a non-owner's state MASTER starts as BACKUP, as keepalived logs it
        assert n.daemon.transitions("VI_1") == ["BACKUP", "MASTER"]
        # no script user: keepalived disables the notify scripts ("Failed to set default user
        # for notify script ... - ignoring") and the check script
        time.sleep(0.5)
        assert n.notifications() == [] and "disabled" in n.log()


def test_seed002_global_defs_and_instance_with_notify():
    for name in ("seed002_global_defs_email.conf", "seed002_instance_track_notify.conf"):
        assert_seed_loads(name)
    with Lab(nodes=1, prefix="kvseed", client=False) as lab:
        rw = SeedRewriter()
        n = _single(lab, rw, ["seed002_global_defs_email.conf", "seed002_instance_track_notify.conf"], "vi1")
        vip = rw.addresses["192.168.1.200"]
        n.start()
        wait_holder(lab, [n], vip, n, timeout=START)
        assert lab.wait_for(lambda: n.notifications() == ["notify.sh backup", "notify.sh master"], timeout=5), \
            n.notifications()


def test_seed001_k8s_as_written_is_refused():
    assert_seed_loads(K8S)
    with Lab(nodes=1, prefix="kvseed", client=False) as lab:
        n = _single(lab, SeedRewriter(), [K8S], "k8s")
        n.start()
        assert n.daemon.proc.wait(START) == 1
        assert "VI_KEBE_APISERVER and VI_EGDE_GATEWAY both use VRID 51 with IPv4 on interface eth0" in n.log()
        assert "not starting" in n.log()


def test_seed001_k8s_sync_group_with_distinct_vrids():
    with Lab(nodes=1, prefix="kvseed", client=False) as lab:
        haproxy = FakeProcess(lab.workdir, "haproxy")
        haproxy.start()
        try:
            rw = SeedRewriter(process_names={"haproxy": haproxy.name})
            n = _single(lab, rw, [K8S], "k8s")
            n.config_text = k8s_fixed(n.config_text)
            assert f'script "pidof {haproxy.name}"' in n.config_text
            vips = [rw.addresses["172.72.4.2"], rw.addresses["172.72.4.3"]]
            n.start()
            for vip in vips:
                wait_holder(lab, [n], vip, n, timeout=START)
            for name in ("VI_KEBE_APISERVER", "VI_EGDE_GATEWAY"):
                assert n.daemon.transitions(name)[-1:] == ["MASTER"]
            shown = lab.run(lab.nodes[0], ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
            assert shown.count("eth0:vip") == 2, shown
        finally:
            haproxy.stop()


def test_seed002_chk_sshd_tracked_by_node95():
    for name in ("seed002_vrrp_script_chk_sshd.conf", "seed002_node95.conf"):
        assert_seed_loads(name)
    with Lab(nodes=1, prefix="kvseed", client=False) as lab:
        rw = SeedRewriter()
        n = _single(lab, rw, ["seed002_vrrp_script_chk_sshd.conf", "seed002_node95.conf"], "sshd",
                    files=("test.txt",))
        marker = "    virtual_ipaddress {"
        assert n.config_text.count(marker) == 1
        n.config_text = n.config_text.replace(marker, "    track_script {\n        chk_sshd\n    }\n" + marker)
        assert f'script "ls {n.script_dir}/test.txt"' in n.config_text
        vip = rw.addresses["172.16.253.100"]
        n.start()
        wait_holder(lab, [n], vip, n, timeout=START)
        os.unlink(os.path.join(n.script_dir, "test.txt"))   # the tutorial's `rm -rf /etc/keepalived/`
        lowered = "(VI_1) Changing effective priority from 100 to 96"
        assert lab.wait_for(lambda: lowered in n.log(), timeout=2 * 2 + MARGIN), n.log()[-3000:]
        open(os.path.join(n.script_dir, "test.txt"), "w").close()
        raised = "(VI_1) Changing effective priority from 96 to 100"
        assert lab.wait_for(lambda: raised in n.log(), timeout=2 * 2 + MARGIN), n.log()[-3000:]
        assert n.holds(vip) and n.daemon.transitions("VI_1") == ["BACKUP", "MASTER"]


PARSE_ONLY = {
    "seed000_script_fragment.conf": "a vrrp_script and no instance",
    "seed002_vrrp_script_chk_sshd.conf": "a vrrp_script and no instance (runs composed with node95)",
    "seed002_global_defs_email.conf": "global_defs only (runs composed with instance_track_notify)",
    "seed002_track_script_fragment.conf": "an instance without interface or virtual_router_id",
}
RUN = {
    "seed000_master_unicast.conf", "seed000_backup_unicast.conf", "seed000_lvs_dr.conf", K8S,
    "seed002_dual_master_vi2_backup.conf", "seed002_dual_master_vi2_master.conf",
    "seed002_instance_track_notify.conf", "seed002_node95.conf", "seed002_node96.conf",
    "seed003_haproxy_excluded_a.conf", "seed003_haproxy_excluded_b.conf",
    "seed004_backup.conf", "seed004_master.conf",
}


def test_parse_only_seeds_have_nothing_to_run():
    every = {os.path.basename(p) for p in glob.glob(os.path.join(SEEDS, "*.conf"))}
    assert every == RUN | set(PARSE_ONLY), sorted(every ^ (RUN | set(PARSE_ONLY)))
    for name in PARSE_ONLY:
        config = assert_seed_loads(name).config
        if name == "seed002_track_script_fragment.conf":
            (vi,) = config.instances
            assert vi.interface is None and vi.vrid is None, vi
        else:
            assert config.instances == ()


def test_seed002_track_script_fragment_is_refused():
    with Lab(nodes=1, prefix="kvseed", client=False) as lab:
        n = _single(lab, SeedRewriter(), ["seed002_track_script_fragment.conf"], "frag")
        n.start()
        assert n.daemon.proc.wait(START) == 1
        assert "(VI_1) the virtual router id (virtual_router_id) must be set" in n.log()
        assert "not starting" in n.log()


@pytest.mark.keepalived
@pytest.mark.parametrize("case", ["lvs_dr", "instance_track_notify", "k8s_as_written", "k8s_fixed",
                                  "track_fragment"])
def test_keepalived_runs_what_kvrrp_refused(case):
    """The referee for the expectations above: keepalived 2.2.7 on the same rewritten text."""
    seeds = {"lvs_dr": ["seed000_lvs_dr.conf"],
             "instance_track_notify": ["seed002_global_defs_email.conf", "seed002_instance_track_notify.conf"],
             "k8s_as_written": [K8S], "k8s_fixed": [K8S],
             "track_fragment": ["seed002_track_script_fragment.conf"]}[case]
    with Lab(nodes=1, prefix="kvseed", client=False) as lab:
        haproxy = FakeProcess(lab.workdir, "haproxy")
        haproxy.start()
        try:
            rw = SeedRewriter(process_names={"haproxy": haproxy.name})
            n = _single(lab, rw, seeds, f"ka-{case}", checks={"chk_nginx.sh": "true"})
            if case == "k8s_fixed":
                n.config_text = k8s_fixed(n.config_text)
            n.daemon = lab.start_keepalived(lab.nodes[0], n.config_text, tag=n.tag)
            if case == "k8s_as_written":
                assert n.daemon.proc.wait(START) != 0
                assert "both use VRID 51" in n.log() and "permanent error CONFIG" in n.log()
                return
            if case == "track_fragment":
                assert n.daemon.proc.wait(START) != 0
                assert "the virtual router id must be set" in n.log() and "permanent error CONFIG" in n.log()
                return
            vips = [a for s, a in rw.addresses.items() if a.startswith("198.18.0.2")]
            for vip in vips:
                wait_holder(lab, [n], vip, n, timeout=START)
            if case == "lvs_dr":
                time.sleep(0.5)
                assert n.notifications() == [] and "Failed to set default user for notify script" in n.log()
            if case == "instance_track_notify":
                assert lab.wait_for(lambda: n.notifications() == ["notify.sh backup", "notify.sh master"],
                                    timeout=5), n.notifications()
        finally:
            haproxy.stop()
