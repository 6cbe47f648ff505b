"""The process-level keepalived keywords on the real daemon (kvrrp.lab namespaces), read back
from the kernel: /proc/PID/comm and status, sched_getscheduler / sched_getparam, prlimit,
sched_getaffinity, getpriority, /proc/PID/ns/net, the pid file paths.

Every daemon is one the test started (by PID), in namespaces the lab created; waits are
deadlines on an observable condition.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time

import pytest

from kvrrp.lab import Lab, VrrpSpec, render_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

VIP = "198.18.0.200"
WAIT = 10.0


@pytest.fixture
def lab():
    with Lab(nodes=1, prefix="kvproc") as built:
        yield built


def master_config(*global_lines: str, top: str = "") -> str:
    return top + render_config([VrrpSpec(priority=150, version=3, advert_int=0.1)], global_lines)


def status_field(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    raise KeyError(name)


def comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as fh:
        return fh.read().strip()


def policy(pid: int) -> int:
    return os.sched_getscheduler(pid) & ~os.SCHED_RESET_ON_FORK


def started(lab: Lab, d) -> None:  # noqa: ANN001
    assert lab.wait_for(lambda: lab.holders(VIP) == [lab.nodes[0]], WAIT), d.log()


def test_vrrp_process_knobs_reach_the_kernel(lab: Lab) -> None:
    """process_names, vrrp_rt_priority + vrrp_rlimit_rttime, vrrp_no_swap, vrrp_cpu_affinity and
    umask, as keepalived's VRRP process applies them; scripts start without realtime."""
    cpu = max(os.sched_getaffinity(0))
    d = lab.start_kvrrp(lab.nodes[0], master_config(
        "process_names", "vrrp_rt_priority 5", "vrrp_rlimit_rttime 400000", "vrrp_no_swap",
        f"vrrp_cpu_affinity {cpu}", "umask 027"))
    started(lab, d)
    pid = d.pid
    assert comm(pid) == "keepalived_vrrp"
    assert policy(pid) == os.SCHED_RR
    assert os.sched_getscheduler(pid) & os.SCHED_RESET_ON_FORK     # children start normally
    assert os.sched_getparam(pid).sched_priority == 5
    assert resource.prlimit(pid, resource.RLIMIT_RTTIME) == (200000, 400000)
    assert int(status_field(pid, "VmLck").split()[0]) > 0
    assert os.sched_getaffinity(pid) == {cpu}
    assert status_field(pid, "Umask") == "0027"
    assert "VRRP process: realtime priority 5 (SCHED_RR)" in d.log()
    assert d.stop() == 0


def test_nice_and_parent_name_without_realtime(lab: Lab) -> None:
    """vrrp_priority is a nice value (used when no vrrp_rt_priority); process_name alone names
    the process (keepalived's children inherit the parent's name); -u wins over umask."""
    d = lab.start_kvrrp(lab.nodes[0], master_config("process_name kvparent", "vrrp_priority -7", "umask 077"),
                        args=["-u", "022"])
    started(lab, d)
    assert comm(d.pid) == "kvparent"
    assert os.getpriority(os.PRIO_PROCESS, d.pid) == -7
    assert policy(d.pid) == os.SCHED_OTHER
    assert status_field(d.pid, "Umask") == "0022"
    assert d.stop() == 0


def test_max_auto_priority_escalates_after_a_late_wake_up(lab: Lab) -> None:
    """keepalived's scheduler: a timer overdue by more than min_auto_priority_delay switches
    the process to SCHED_RR at the lowest priority, a further one raises it, up to
    max_auto_priority. The process is made late by stopping it (SIGSTOP) for a while."""
    d = lab.start_kvrrp(lab.nodes[0], master_config("max_auto_priority 2", "min_auto_priority_delay 300000"))
    started(lab, d)
    assert policy(d.pid) == os.SCHED_OTHER
    for expected in (1, 2):
        d.signal(signal.SIGSTOP)
        time.sleep(1.0)                      # longer than the 0.3 s allowed: the cause, not a check
        d.signal(signal.SIGCONT)
        assert lab.wait_for(lambda: policy(d.pid) == os.SCHED_RR
                            and os.sched_getparam(d.pid).sched_priority == expected, WAIT), d.log()
    assert "A thread timer expired" in d.log() and "Set realtime priority 2" in d.log()
    d.signal(signal.SIGSTOP)
    time.sleep(1.0)
    d.signal(signal.SIGCONT)
    assert lab.wait_for(lambda: d.log().count("A thread timer expired") >= 2, WAIT)
    assert os.sched_getparam(d.pid).sched_priority == 2      # never above max_auto_priority
    assert d.stop() == 0


def test_net_namespace_enters_the_namespace_and_names_the_pid_directory(lab: Lab) -> None:
    """`net_namespace NAME` started outside it (here: the lab's client namespace): the daemon
    runs its VRRP instance inside NAME, and its pid file (no -p) is /run/kvrrp/NAME/kvrrp.pid
    (keepalived: /run/keepalived/NAME/keepalived.pid); the directory goes when it stops."""
    node = lab.nodes[0]
    conf = os.path.join(lab.workdir, "netns.conf")
    with open(conf, "w") as fh:
        fh.write(master_config(top=f"net_namespace {node.netns}\n"))
    log_path = os.path.join(lab.workdir, "netns.log")
    pid_dir = f"/run/kvrrp/{node.netns}"
    with open(log_path, "w") as log_fh:
        proc = lab.spawn(lab.client_node, [sys.executable, "-m", "kvrrp", "-n", "-l", "-P", "-f", conf],
                         stdout=log_fh, stderr=subprocess.STDOUT, env=_env())
    try:
        assert lab.wait_for(lambda: lab.holders(VIP) == [node], WAIT), open(log_path).read()
        assert os.stat(f"/proc/{proc.pid}/ns/net").st_ino == os.stat(f"/run/netns/{node.netns}").st_ino
        with open(os.path.join(pid_dir, "kvrrp.pid")) as fh:
            assert int(fh.read()) == proc.pid
        assert f"Changing syslog ident to Keepalived_vrrp_{node.netns}" in open(log_path).read()
    finally:
        assert lab.stop(proc) == 0
    assert not os.path.exists(pid_dir)


def test_use_pid_dir_puts_the_pid_file_in_run_kvrrp(lab: Lab) -> None:
    conf = os.path.join(lab.workdir, "piddir.conf")
    with open(conf, "w") as fh:
        fh.write(master_config(top="use_pid_dir\n"))
    log_path = os.path.join(lab.workdir, "piddir.log")
    if os.path.exists("/run/kvrrp/kvrrp.pid"):
        pytest.skip("/run/kvrrp/kvrrp.pid belongs to a daemon this test did not start")
    with open(log_path, "w") as log_fh:
        proc = lab.spawn(lab.nodes[0], [sys.executable, "-m", "kvrrp", "-n", "-l", "-P", "-f", conf],
                         stdout=log_fh, stderr=subprocess.STDOUT, env=_env())
    try:
        assert lab.wait_for(lambda: lab.holders(VIP) == [lab.nodes[0]], WAIT), open(log_path).read()
        with open("/run/kvrrp/kvrrp.pid") as fh:
            assert int(fh.read()) == proc.pid
    finally:
        assert lab.stop(proc) == 0
    assert not os.path.exists("/run/kvrrp/kvrrp.pid")


def test_reload_applies_the_new_knobs(lab: Lab) -> None:
    """keepalived's restore_priority on reload: realtime on, then off again; the name follows."""
    d = lab.start_kvrrp(lab.nodes[0], master_config("vrrp_priority 5"))
    started(lab, d)
    assert os.getpriority(os.PRIO_PROCESS, d.pid) == 5 and policy(d.pid) == os.SCHED_OTHER
    d.write_config(master_config("vrrp_rt_priority 3", "vrrp_process_name kvrt"))
    d.signal(signal.SIGHUP)
    assert lab.wait_for(lambda: policy(d.pid) == os.SCHED_RR and comm(d.pid) == "kvrt", WAIT), d.log()
    assert os.sched_getparam(d.pid).sched_priority == 3
    d.write_config(master_config())
    d.signal(signal.SIGHUP)
    assert lab.wait_for(lambda: policy(d.pid) == os.SCHED_OTHER, WAIT), d.log()
    assert os.getpriority(os.PRIO_PROCESS, d.pid) == 0
    assert d.stop() == 0


@pytest.mark.parametrize("use_symlink_paths", [False, True])
def test_a_symlinked_notify_script_runs_by_the_path_keepalived_uses(lab: Lab, use_symlink_paths: bool) -> None:
    """keepalived executes a script reached through a symlink by its resolved path, or with
    use_symlink_paths by the path as written: the script's $0 shows which."""
    real = os.path.join(lab.workdir, "real-notify.sh")
    link = os.path.join(lab.workdir, "link-notify.sh")
    out = os.path.join(lab.workdir, "called-as")
    with open(real, "w") as fh:
        fh.write(f'#!/bin/sh\necho "$0" >> {out}\n')
    os.chmod(real, 0o755)
    os.symlink(real, link)
    spec = VrrpSpec(priority=150, version=3, advert_int=0.1, extra=(f"notify_master {link}",))
    lines = ["use_symlink_paths"] if use_symlink_paths else []
    d = lab.start_kvrrp(lab.nodes[0], render_config([spec], lines))
    started(lab, d)
    assert lab.wait_for(lambda: os.path.exists(out) and open(out).read().strip(), WAIT), d.log()
    with open(out) as fh:
        assert fh.read().split() == [link if use_symlink_paths else real]
    assert d.stop() == 0


@pytest.mark.parametrize("set_groups", [False, True])
def test_scripts_get_supplementary_groups_only_when_asked(lab: Lab, set_groups: bool) -> None:
    """keepalived's set_uid_gid: a script runs with its user's uid and gid only, unless
    set_supplementary_groups. Debian's frr user (scripts/setup installs frr) is also in frrvty."""
    import grp
    import pwd

    try:
        user, extra = pwd.getpwnam("frr"), grp.getgrnam("frrvty").gr_gid
    except KeyError:
        pytest.skip("no frr user / frrvty group (Debian's frr package) on this machine")
    os.chmod(lab.workdir, 0o755)                 # the script user must reach the script
    script = os.path.join(lab.workdir, "groups.sh")
    out = os.path.join(lab.workdir, "groups")
    with open(script, "w") as fh:
        fh.write(f"#!/bin/sh\nid -G >> {out}\n")
    os.chmod(script, 0o755)
    with open(out, "w"):
        pass
    os.chmod(out, 0o666)
    spec = VrrpSpec(priority=150, version=3, advert_int=0.1, extra=(f"notify_master {script}",))
    lines = ["script_user frr"] + (["set_supplementary_groups"] if set_groups else [])
    d = lab.start_kvrrp(lab.nodes[0], render_config([spec], lines))
    started(lab, d)
    assert lab.wait_for(lambda: open(out).read().strip(), WAIT), d.log()
    with open(out) as fh:
        groups = {int(g) for g in fh.read().split()}
    assert user.pw_gid in groups
    assert (extra in groups) is set_groups
    assert d.stop() == 0


def test_config_test_checks_interfaces_in_the_configured_namespace(lab: Lab) -> None:
    """keepalived -t enters net_namespace before it looks interfaces up: the instance's eth0
    exists in the node's namespace, not in the one `-t` is started in."""
    node = lab.nodes[0]
    lab.run(lab.client_node, ["ip", "link", "set", "eth0", "down"])
    lab.run(lab.client_node, ["ip", "link", "set", "eth0", "name", "other0"])   # no eth0 here
    conf = os.path.join(lab.workdir, "t.conf")

    def config_test(top: str) -> subprocess.CompletedProcess:
        with open(conf, "w") as fh:
            fh.write(top + render_config([VrrpSpec()]))
        return subprocess.run(lab.command(lab.client_node, [sys.executable, "-m", "kvrrp", "-t", "-f", conf]),
                              capture_output=True, text=True, timeout=60, env=_env())

    outside = config_test("")
    assert outside.returncode == 5 and "eth0" in outside.stderr, outside.stderr
    inside = config_test(f"net_namespace {node.netns}\n")
    assert inside.returncode == 0, inside.stderr


def _env() -> dict[str, str]:
    from kvrrp.lab import python_env

    return python_env()
