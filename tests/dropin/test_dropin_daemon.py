"""The real kvrrp daemon with each of keepalived's options that changes what a running daemon
does, in a namespace lab: logging (-S, -G, -g, -l, banner, diagnostics to syslog), -d, -V, -r,
-u, -m, -M, -s, -i, --all, -R, -I, --ignore-sigint, -X, and the no-effect options reported."""
from __future__ import annotations

import os
import re
import signal
import subprocess

import pytest

from dropin_lab import FAST, VIP, WAIT, DatagramListener, config, gone, run_kvrrp
from kvrrp.lab import Lab, VrrpSpec

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]


@pytest.fixture
def lab():
    with Lab(nodes=1, client=False, prefix="kvdi") as built:
        yield built


def master(lab: Lab, run) -> bool:  # noqa: ANN001
    return lab.wait_for(lambda: "Entering MASTER STATE" in run.log(), WAIT)


def stop(lab: Lab, run) -> int | None:  # noqa: ANN001
    return lab.stop(run.proc, 10)


CONSOLE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d \d{4}: ")
LOGFILE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [0-3]\d \d\d:\d\d:\d\d\.\d{9} \d{4}: ")


def test_syslog_facility_ident_and_config_diagnostics(lab: Lab) -> None:
    node = lab.nodes[0]
    text = config(lab, node, VrrpSpec(priority=150, extra=("advert_intt 1",), **FAST))
    with DatagramListener() as syslog:
        run = run_kvrrp(lab, node, ["-n", "-P", "-S", "local3"], text,
                        extra_env={"KVRRP_SYSLOG_SOCKET": syslog.path})
        assert syslog.wait_for("Entering MASTER STATE"), syslog.messages
        assert stop(lab, run) == 0
        assert syslog.wait_for("Stopped kvrrp")
    prefix = re.compile(rf"^<(\d+)>Keepalived_vrrp\[{run.proc.pid}\]: ")
    for message in syslog.messages:
        m = prefix.match(message)
        assert m, message
        assert int(m.group(1)) // 8 == 19        # LOG_LOCAL3
    joined = "\n".join(syslog.messages)
    assert "Starting kvrrp v" in joined and "Command line: kvrrp -f" in joined
    assert "unknown keyword 'advert_intt'" in joined      # the config diagnostic reached syslog
    assert "Errno None" not in joined
    # no console target (-l not given): the diagnostic is still printed for a terminal
    assert "unknown keyword 'advert_intt'" in run.log()
    assert "Entering MASTER STATE" not in run.log()


def test_no_syslog_console_format_and_log_file(lab: Lab) -> None:
    node = lab.nodes[0]
    logname = os.path.join(lab.workdir, "ka.log")
    with DatagramListener() as syslog:
        run = run_kvrrp(lab, node, ["-nlDDG", f"--log-file={logname}", "--flush-log-file", "-P"],
                        extra_env={"KVRRP_SYSLOG_SOCKET": syslog.path})
        assert master(lab, run)
        assert stop(lab, run) == 0
        assert syslog.messages == []                       # -G: nothing to syslog
    lines = run.log().splitlines()
    assert lines and all(CONSOLE.match(line) for line in lines), lines[:5]
    assert "Starting kvrrp v" in lines[0]
    with open(os.path.join(lab.workdir, "ka_vrrp.log")) as fh:  # keepalived's per-process name
        file_lines = fh.read().splitlines()
    assert file_lines and all(LOGFILE.match(line) for line in file_lines), file_lines[:5]
    assert any("Entering MASTER STATE" in line for line in file_lines)


def test_dump_conf_dumps_and_keeps_running(lab: Lab) -> None:
    run = run_kvrrp(lab, lab.nodes[0], ["-nld", "-P"])
    assert master(lab, run)                     # still running after the dump
    log = run.log()
    assert "------< VRRP Topology >------" in log and "Virtual Router ID = 51" in log
    assert log.index("VRRP Topology") < log.index("Entering MASTER STATE")
    # keepalived's dump opens with its global definitions: kvrrp writes the namespace, the
    # router id and the SNMP lines (kvrrp.config.snmp_dump, compared with keepalived's -d)
    assert log.index("------< Global definitions >------") < log.index("VRRP Topology")
    for line in (" Network namespace = (default)", " SNMP vrrp disabled", " SNMP traps disabled",
                 " SNMP socket = default (unix:/var/agentx/master)"):
        assert line in log, line
    assert stop(lab, run) == 0


def test_dont_release_vrrp_leaves_the_vip(lab: Lab) -> None:
    node = lab.nodes[0]
    run = run_kvrrp(lab, node, ["-n", "-l", "-P", "-V"])
    assert master(lab, run) and lab.wait_for(lambda: lab.holders(VIP) == [node], WAIT)
    assert stop(lab, run) == 0
    assert lab.holders(VIP) == [node]           # kept on stop
    # and without -V the same stop removes it
    run = run_kvrrp(lab, node, ["-n", "-l", "-P"], tag="k2")
    assert master(lab, run)
    assert stop(lab, run) == 0
    assert lab.holders(VIP) == []


def test_vrrp_pid_file_umask_and_core_dump_limit(lab: Lab) -> None:
    node = lab.nodes[0]
    vrrp_pid = os.path.join(lab.workdir, "vrrp.pid")
    run = run_kvrrp(lab, node, ["-n", "-l", "-P", "-r", vrrp_pid, "-u", "077", "-m"])
    assert master(lab, run)
    assert open(vrrp_pid).read().strip() == str(run.proc.pid) == open(run.pid_file).read().strip()
    assert os.stat(run.pid_file).st_mode & 0o777 == 0o600     # created under umask 077
    limits = open(f"/proc/{run.proc.pid}/limits").read()
    assert re.search(r"Max core file size\s+unlimited\s+unlimited", limits), limits
    assert stop(lab, run) == 0
    assert not os.path.exists(vrrp_pid) and not os.path.exists(run.pid_file)


def test_core_dump_pattern_is_set_and_put_back(lab: Lab) -> None:
    with open("/proc/sys/kernel/core_pattern") as fh:
        original = fh.read().rstrip("\n")
    pattern = f"{lab.workdir}/core.%p"
    try:
        run = run_kvrrp(lab, lab.nodes[0], ["-n", "-l", "-P", f"-M{pattern}"])
        assert master(lab, run)
        assert open("/proc/sys/kernel/core_pattern").read().rstrip("\n") == pattern
        assert stop(lab, run) == 0
        assert open("/proc/sys/kernel/core_pattern").read().rstrip("\n") == original
    finally:
        with open("/proc/sys/kernel/core_pattern", "w") as fh:
            fh.write(original)


def test_namespace_option_runs_the_daemon_in_that_namespace(lab: Lab) -> None:
    node = lab.nodes[0]
    run = run_kvrrp(lab, node, ["-n", "-l", "-P", "-s", node.netns], in_netns=False)
    assert master(lab, run)
    assert lab.wait_for(lambda: lab.holders(VIP) == [node], WAIT)
    assert stop(lab, run) == 0
    assert lab.holders(VIP) == []


def test_config_id_selects_lines(lab: Lab) -> None:
    node = lab.nodes[0]
    text = config(lab, node).replace("    priority 150\n", "@alpha    priority 201\n@^alpha    priority 99\n")
    run = run_kvrrp(lab, node, ["-n", "-l", "-P", "-i", "alpha"], text)
    assert master(lab, run)
    assert "effective priority 201" in run.log()
    assert stop(lab, run) == 0


def test_all_starts_the_checker_and_dont_respawn_stops_when_it_dies(lab: Lab) -> None:
    """This host's kernel has no IPVS, so the checker child exits at once ("cannot initialise
    the kernel interface"): with -R the daemon does not restart it and stops."""
    node = lab.nodes[0]
    checkers = os.path.join(lab.workdir, "checkers.pid")
    logname = os.path.join(lab.workdir, "ka.log")
    with DatagramListener() as syslog:
        run = run_kvrrp(lab, node, ["-n", "-l", "--all", "-R", "-I", "-c", checkers, "-S", "user",
                                    f"-g{logname}"], extra_env={"KVRRP_SYSLOG_SOCKET": syslog.path})
        assert run.proc.wait(3 * WAIT) == 0                 # -R: no respawn, the daemon stops
        assert syslog.wait_for("Keepalived_healthcheckers[")
    log = run.log()
    assert log.count("Starting healthcheck child process") == 1 and "died: Exiting" in log
    # the child was started as `kvrrp -C` with -I and the pid file -c named
    assert re.search(rf"Command line: kvrrp -C -n -f \S+ -p {re.escape(checkers)} .*-I", log), log
    # it logged under keepalived's checker ident with the same facility, to its own _check file
    assert all(int(m[1:m.index(">")]) // 8 == 1 for m in syslog.messages)          # LOG_USER
    assert any(f"Keepalived_vrrp[{run.proc.pid}]: " in m for m in syslog.messages)
    assert os.path.exists(os.path.join(lab.workdir, "ka_check.log"))
    assert lab.holders(VIP) == []


def test_checker_is_respawned_without_dont_respawn(lab: Lab) -> None:
    run = run_kvrrp(lab, lab.nodes[0], ["-n", "-l", "--all"])
    assert master(lab, run)
    assert lab.wait_for(lambda: run.log().count("Starting healthcheck child process") >= 2, 3 * WAIT)
    assert run.proc.poll() is None
    assert stop(lab, run) == 0


def test_ignore_sigint(lab: Lab) -> None:
    node = lab.nodes[0]
    run = run_kvrrp(lab, node, ["-n", "-l", "-P", "--ignore-sigint"])
    assert master(lab, run)
    os.kill(run.proc.pid, signal.SIGINT)
    os.kill(run.proc.pid, signal.SIGUSR1)    # a later signal that is handled: the SIGINT came first
    assert lab.wait_for(lambda: "Wrote data dump" in run.log(), WAIT)
    assert run.proc.poll() is None and "Received SIGINT: ignored (--ignore-sigint)" in run.log()
    assert "Stopping" not in run.log()
    assert stop(lab, run) == 0


def test_options_kvrrp_has_nothing_for_are_reported_once_and_it_runs(lab: Lab) -> None:
    run = run_kvrrp(lab, lab.nodes[0], ["-nlPBxLO", "-b", "/x", "-A", "/y", "--no-mem-check", "--perf",
                                       "--debug", "--config-fd=3", "--snmp", "-X"])
    assert master(lab, run)
    log = run.log()
    for spelled in ("-L", "-O", "-b", "--no-mem-check", "--perf", "--debug", "--config-fd"):   # -B: BFD off
        assert log.count(f": {spelled}: no effect (") == 1, spelled
    assert "-x: no effect" not in log and "--snmp: no effect" not in log   # SNMP: kvrrp.snmp
    assert stop(lab, run) == 0


def test_release_vips_on_a_reload_that_makes_it_backup() -> None:
    """-X: a reload that lowers the master's priority below its peer's hands the VIP over and
    leaves no duplicate address behind."""
    with Lab(nodes=2, client=False, prefix="kvdx") as lab:
        n1, n2 = lab.nodes
        r1 = run_kvrrp(lab, n1, ["-n", "-l", "-P", "-X"], config(lab, n1, VrrpSpec(priority=150, **FAST)), tag="a")
        assert master(lab, r1)
        r2 = run_kvrrp(lab, n2, ["-n", "-l", "-P", "-X"], config(lab, n2, VrrpSpec(priority=100, **FAST)), tag="b")
        assert lab.wait_for(lambda: "Entering BACKUP STATE" in r2.log(), WAIT)
        with open(r1.conf, "w") as fh:
            fh.write(config(lab, n1, VrrpSpec(priority=50, **FAST)))
        os.kill(r1.proc.pid, signal.SIGHUP)
        assert lab.wait_for(lambda: lab.holders(VIP) == [n2], WAIT), lab.holders(VIP)
        assert stop(lab, r1) == 0 and stop(lab, r2) == 0


def test_daemonized_start_returns_after_the_pid_file_names_the_daemon(lab: Lab) -> None:
    import sys

    from dropin_lab import env

    node = lab.nodes[0]
    conf = os.path.join(lab.workdir, "bg.conf")
    pid_file = os.path.join(lab.workdir, "bg.pid")
    with open(conf, "w") as fh:
        fh.write(config(lab, node))
    done = subprocess.run(lab.command(node, [sys.executable, "-m", "kvrrp", "-P", "-f", conf, "-p", pid_file]),
                          capture_output=True, text=True, timeout=30, env=env())
    assert done.returncode == 0, done.stderr
    # no waiting: the file is complete when the starting command has returned
    pid = int(open(pid_file).read())
    try:
        assert not gone(pid)
        assert b"kvrrp" in open(f"/proc/{pid}/cmdline", "rb").read()
        # the final process of the double fork: in a session of its own, not its leader
        assert os.getsid(pid) not in (pid, os.getsid(0))
        assert lab.wait_for(lambda: lab.holders(VIP) == [node], WAIT)   # running (signals handled)
    finally:
        os.kill(pid, signal.SIGTERM)                # the daemon this test started, by its pid file
    assert lab.wait_for(lambda: gone(pid), WAIT)
    assert not os.path.exists(pid_file)


def test_version_in_status_and_build_info_metric(lab: Lab) -> None:
    import json
    import platform
    import socket
    import urllib.request

    from kvrrp import version
    from kvrrp.io.netns import entered

    node = lab.nodes[0]
    with entered(node.netns):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    run = run_kvrrp(lab, node, ["-n", "-l", "-P", f"--status-port={port}"])
    assert master(lab, run)
    assert f"Starting kvrrp v{version()}" in run.log()

    def fetch(path: str) -> str | None:
        try:
            with entered(node.netns):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                    return resp.read().decode()
        except OSError:
            return None

    assert lab.wait_for(lambda: fetch("/status"), WAIT)
    assert json.loads(fetch("/status") or "{}")["version"] == version()
    metrics = fetch("/metrics") or ""
    line = next(l for l in metrics.splitlines() if l.startswith("kvrrp_build_info{"))
    assert f'version="{version()}"' in line and f'python="{platform.python_version()}"' in line
    assert line.endswith(" 1.0") and 'fastpath="' in line
    assert stop(lab, run) == 0


def test_address_monitoring_logs_every_address_change(lab: Lab) -> None:
    node = lab.nodes[0]
    run = run_kvrrp(lab, node, ["-nlPa"])
    assert master(lab, run)
    # the VIP kvrrp added itself, then an address someone else adds and removes
    assert lab.wait_for(lambda: f"Netlink reflector reports IP {VIP} added to eth0" in run.log(), WAIT)
    lab.run(node, ["ip", "addr", "add", "198.18.0.77/32", "dev", "eth0"])
    assert lab.wait_for(lambda: "Netlink reflector reports IP 198.18.0.77 added to eth0" in run.log(), WAIT)
    lab.run(node, ["ip", "addr", "del", "198.18.0.77/32", "dev", "eth0"])
    assert lab.wait_for(lambda: "Netlink reflector reports IP 198.18.0.77 removed from eth0" in run.log(), WAIT)
    assert "-a: no effect" not in run.log()
    assert stop(lab, run) == 0


def test_no_address_monitoring_without_a(lab: Lab) -> None:
    run = run_kvrrp(lab, lab.nodes[0], ["-nlP"])
    assert master(lab, run)
    assert lab.wait_for(lambda: lab.holders(VIP) == [lab.nodes[0]], WAIT)
    assert stop(lab, run) == 0
    assert "Netlink reflector reports" not in run.log()


def test_error_texts_for_a_missing_interface_are_readable(lab: Lab) -> None:
    node = lab.nodes[0]
    run = run_kvrrp(lab, node, ["-n", "-l", "-P"], config(lab, node, VrrpSpec(priority=150, interface="eth9", **FAST)))
    assert lab.wait_for(lambda: "VRRP engine started" in run.log(), WAIT)
    assert stop(lab, run) == 0
    log = run.log()
    assert "no interface named eth9" in log
    assert "Errno None" not in log and ": None" not in log
