"""Tracking and notification system tier: real kvrrp nodes in network namespaces.

Scenarios (addresses only in 198.18.0.0/15, inside the lab's own namespaces):
* the seed tutorial: track_script on a fake "haproxy" (a copy of sleep under a unique name);
  killing it drops the master's priority by the weight and the backup takes the VIP; it comes
  back and, with preempt, the VIP returns; with nopreempt it stays;
* track_interface: a link down in the master's namespace -> FAULT -> the backup takes over;
  link up -> back per preempt;
* a sync group of two instances moves together when one member's tracked interface fails;
* notify scripts record their arguments: the exact sequence per instance is asserted, and the
  vrrp_notify_fifo gets the same transitions as ordered lines;
* track_file and vrrp_track_process change the priority and cause failover.

Nodes run the real daemon (`python3 -m kvrrp -n -l -D -P -f CONF`), which wires the trackers
and notifiers through its services (kvrrp.daemon.services: trackers, notifier).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

import pytest

from kvrrp.lab import Daemon, Lab, python_env

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(240)]

VIP = "198.18.0.200"
VIP2 = "198.18.0.201"


def start_node(lab: Lab, node, config_text: str, tag: str) -> Daemon:
    return lab.start_kvrrp(node, config_text, tag=tag)


class FakeProcess:
    """A sleep under a unique name that pidof / /proc see (comm = the file name)."""

    def __init__(self, workdir: str) -> None:
        self.name = f"haproxy-{secrets.token_hex(2)}"
        self.exe = os.path.join(workdir, self.name)
        shutil.copy("/bin/sleep", self.exe)
        os.chmod(self.exe, 0o755)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "600"])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture
def lab():
    with Lab(nodes=2, prefix="kvtrk", client=False) as lab:
        os.chmod(lab.workdir, 0o755)
        yield lab


@pytest.fixture
def fake_haproxy(lab):
    fp = FakeProcess(lab.workdir)
    yield fp
    fp.kill()


def write_script(lab: Lab, name: str, body: str) -> str:
    path = os.path.join(lab.workdir, name)
    with open(path, "w") as fh:
        fh.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def recorder(lab: Lab, tag: str) -> tuple[str, str]:
    """A notify script appending its arguments to a file; returns (script, file)."""
    out = os.path.join(lab.workdir, f"{tag}.notify")
    return write_script(lab, f"{tag}-notify.sh", f'echo "$*" >> {out}\n'), out


def read_lines(path: str) -> list[str]:
    try:
        with open(path) as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        return []


def holder(lab: Lab, address: str) -> list[str]:
    return [n.name for n in lab.holders(address)]


def wait_holder(lab: Lab, address: str, name: str, timeout: float = 15) -> None:
    ok = lab.wait_for(lambda: holder(lab, address) == [name], timeout=timeout)
    assert ok, f"{address} expected on {name} only, is on {holder(lab, address)}"


def wait_lines(path: str, n: int, timeout: float = 10) -> list[str]:
    Lab.wait_for(lambda: len(read_lines(path)) >= n, timeout=timeout)
    return read_lines(path)


def instance_block(name: str, vrid: int, prio: int, vip: str, *extra: str, state: str = "BACKUP") -> str:
    lines = [f"vrrp_instance {name} {{", f"    state {state}", "    interface eth0",
             f"    virtual_router_id {vrid}", f"    priority {prio}", "    advert_int 1",
             "    virtual_ipaddress {", f"        {vip}/32", "    }", *[f"    {x}" for x in extra], "}"]
    return "\n".join(lines) + "\n"


GLOBAL = "global_defs {\n    router_id %s\n    vrrp_garp_master_delay 1\n    vrrp_garp_master_repeat 1\n%s}\n"


def test_seed_track_script_haproxy_preempt_and_nopreempt(lab, fake_haproxy):
    """The seed: `pidof haproxy` with weight -20, fall 2, rise 1; preempt, then nopreempt.
    Each node checks its own haproxy (the PID namespace is shared, so the names differ)."""
    n1, n2 = lab.nodes
    other = FakeProcess(lab.workdir)                     # n2's haproxy, never killed
    other.start()
    try:
        _seed_scenario(lab, fake_haproxy, other)
    finally:
        other.kill()


def _seed_scenario(lab, fake_haproxy, other):
    n1, n2 = lab.nodes
    rec1, out1 = recorder(lab, "n1")
    rec2, out2 = recorder(lab, "n2")
    fake_haproxy.start()

    def conf(node_tag, prio, proc, rec, *extra):
        check = write_script(lab, f"chk_haproxy_{node_tag}.sh", f"pidof {proc.name} >/dev/null\n")
        return (GLOBAL % (node_tag, "") +
                "vrrp_script chk_haproxy {\n"
                f'    script "{check}"\n    interval 0.5\n    weight -20\n    fall 2\n    rise 1\n}}\n' +
                instance_block("VI_1", 51, prio, VIP, "track_script {", "    chk_haproxy", "}",
                               f'notify "{rec}"', *extra))

    # -- preempt --------------------------------------------------------------------------
    d1 = start_node(lab, n1, conf("n1", 100, fake_haproxy, rec1), "n1")
    wait_holder(lab, VIP, "n1")
    d2 = start_node(lab, n2, conf("n2", 90, other, rec2), "n2")
    assert wait_lines(out2, 1) == ["INSTANCE VI_1 BACKUP 90"]
    fake_haproxy.kill()                                  # 100 - 20 = 80 < 90
    wait_holder(lab, VIP, "n2")
    assert "Changing effective priority from 100 to 80" in d1.log()
    fake_haproxy.start()                                 # back to 100: preempts
    wait_holder(lab, VIP, "n1")
    d1.stop()
    d2.stop()
    assert read_lines(out1) == ["INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100",
                                "INSTANCE VI_1 BACKUP 80", "INSTANCE VI_1 MASTER 100",
                                "INSTANCE VI_1 STOP 100"], d1.log()[-3000:]
    assert read_lines(out2) == ["INSTANCE VI_1 BACKUP 90", "INSTANCE VI_1 MASTER 90",
                                "INSTANCE VI_1 BACKUP 90", "INSTANCE VI_1 STOP 90"], d2.log()[-3000:]

    # -- nopreempt on n1: n2 (preempt) takes over from the weakened n1, and keeps the VIP
    # when haproxy returns, since n1 does not preempt ------------------------------------
    os.unlink(out1)
    d1 = start_node(lab, n1, conf("n1", 100, fake_haproxy, rec1, "nopreempt"), "n1b")
    wait_holder(lab, VIP, "n1")
    d2 = start_node(lab, n2, conf("n2", 90, other, rec2), "n2b")
    fake_haproxy.kill()
    wait_holder(lab, VIP, "n2")
    fake_haproxy.start()
    Lab.wait_for(lambda: "Changing effective priority from 80 to 100" in d1.log(), timeout=10)
    time.sleep(4.5)                                       # > Master_Down_Interval: no takeover
    assert holder(lab, VIP) == ["n2"]
    d1.stop()
    d2.stop()
    assert read_lines(out1) == ["INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100",
                                "INSTANCE VI_1 BACKUP 80", "INSTANCE VI_1 STOP 100"]


def add_tracked_link(lab: Lab, node, name: str = "eth1") -> None:
    """A veth pair inside the node's namespace, both ends up: `name` has carrier."""
    lab.run(node, ["ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p"])
    lab.run(node, ["ip", "link", "set", f"{name}p", "up"])
    lab.run(node, ["ip", "link", "set", name, "up"])


def test_track_interface_fault_and_fifo(lab):
    n1, n2 = lab.nodes
    add_tracked_link(lab, n1)
    rec1, out1 = recorder(lab, "n1")
    fifo = os.path.join(lab.workdir, "n1.fifo")
    routes = ("virtual_routes {", "    198.19.5.0/24 dev eth0", "}")
    c1 = (GLOBAL % ("n1", f"    vrrp_notify_fifo {fifo}\n") +
          instance_block("VI_1", 61, 100, VIP, "track_interface {", "    eth1", "}", f'notify "{rec1}"', *routes))
    c2 = GLOBAL % ("n2", "") + instance_block("VI_1", 61, 90, VIP, *routes)

    def route_on(node):
        return "198.19.5.0/24" in lab.run(node, ["ip", "route", "show"]).stdout

    d1 = start_node(lab, n1, c1, "n1")
    wait_holder(lab, VIP, "n1")
    d2 = start_node(lab, n2, c2, "n2")
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert route_on(n1) and not route_on(n2)          # virtual_routes follow MASTER
        lab.run(n1, ["ip", "link", "set", "eth1", "down"])
        wait_holder(lab, VIP, "n2")
        assert wait_lines(out1, 3)[-1] == "INSTANCE VI_1 FAULT 100"
        assert lab.wait_for(lambda: route_on(n2) and not route_on(n1), timeout=5)
        lab.run(n1, ["ip", "link", "set", "eth1", "up"])
        wait_holder(lab, VIP, "n1")                        # recovers to BACKUP, then preempts
        d1.stop()
        d2.stop()
        fifo_lines = os.read(reader, 65536).decode().splitlines()
    finally:
        os.close(reader)
    expected = ["BACKUP 100", "MASTER 100", "FAULT 100", "BACKUP 100", "MASTER 100", "STOP 100"]
    assert read_lines(out1) == [f"INSTANCE VI_1 {s}" for s in expected], d1.log()[-3000:]
    assert fifo_lines == [f'INSTANCE "VI_1" {s}' for s in expected]


def test_sync_group_moves_together(lab):
    n1, n2 = lab.nodes
    add_tracked_link(lab, n1)
    grec, gout = recorder(lab, "group")

    def conf(tag, prio, tracked):
        extra = ("track_interface {", "    eth1", "}") if tracked else ()
        return (GLOBAL % (tag, "") +
                "vrrp_sync_group VG {\n    group {\n        VI_1\n        VI_2\n    }\n"
                + (f'    notify "{grec}"\n' if tracked else "") + "}\n" +
                instance_block("VI_1", 71, prio, VIP, *extra) + instance_block("VI_2", 72, prio, VIP2))

    d1 = start_node(lab, n1, conf("n1", 100, True), "n1")
    wait_holder(lab, VIP, "n1")
    wait_holder(lab, VIP2, "n1")
    # n2 runs with script security and an unsafe (world-writable) notify script: refused
    unsafe_out = os.path.join(lab.workdir, "unsafe.ran")
    unsafe = write_script(lab, "unsafe.sh", f"touch {unsafe_out}\n")
    os.chmod(unsafe, 0o777)
    c2 = conf("n2", 90, False).replace("global_defs {", "global_defs {\n    enable_script_security\n    script_user root", 1)
    c2 = c2.replace("vrrp_instance VI_2 {", f'vrrp_instance VI_2 {{\n    notify "{unsafe}"', 1)
    d2 = start_node(lab, n2, c2, "n2")
    lab.run(n1, ["ip", "link", "set", "eth1", "down"])    # only VI_1 tracks it
    wait_holder(lab, VIP, "n2")
    wait_holder(lab, VIP2, "n2")
    assert "FAULT" in d1.transitions("VI_2")
    lab.run(n1, ["ip", "link", "set", "eth1", "up"])
    wait_holder(lab, VIP, "n1")
    wait_holder(lab, VIP2, "n1")
    d1.stop()
    d2.stop()
    assert "writable by everybody" in d2.log() and not os.path.exists(unsafe_out)
    assert read_lines(gout) == ["GROUP VG BACKUP 0", "GROUP VG MASTER 0", "GROUP VG FAULT 0",
                                "GROUP VG BACKUP 0", "GROUP VG MASTER 0", "GROUP VG STOP 0"]


def test_track_file_and_track_process_failover(lab, fake_haproxy):
    n1, n2 = lab.nodes
    weight_file = os.path.join(lab.workdir, "n1.weight")
    with open(weight_file, "w") as fh:
        fh.write("0\n")
    fake_haproxy.start()
    c1 = (GLOBAL % ("n1", "") +
          f"vrrp_track_file tf {{\n    file {weight_file}\n}}\n"
          f"vrrp_track_process hap {{\n    process {fake_haproxy.name}\n    weight -20\n    quorum 1\n}}\n" +
          instance_block("VI_1", 81, 100, VIP, "track_file {", "    tf weight 1", "}",
                         "track_process {", "    hap", "}"))
    c2 = GLOBAL % ("n2", "") + instance_block("VI_1", 81, 90, VIP)
    d1 = start_node(lab, n1, c1, "n1")
    wait_holder(lab, VIP, "n1")
    d2 = start_node(lab, n2, c2, "n2")
    # track_file: 100 - 30 = 70 < 90
    tmp = weight_file + ".new"
    with open(tmp, "w") as fh:
        fh.write("-30\n")
    os.rename(tmp, weight_file)
    wait_holder(lab, VIP, "n2")
    assert "Changing effective priority from 100 to 70" in d1.log()
    with open(weight_file, "w") as fh:
        fh.write("0\n")
    wait_holder(lab, VIP, "n1")
    # vrrp_track_process: the process dies -> 80 < 90
    fake_haproxy.kill()
    wait_holder(lab, VIP, "n2")
    assert "Changing effective priority from 100 to 80" in d1.log()
    fake_haproxy.start()
    wait_holder(lab, VIP, "n1")
    d1.stop()
    d2.stop()


def test_use_vmac_created_and_removed_by_the_daemon(lab):
    n1 = lab.nodes[0]
    d1 = start_node(lab, n1, GLOBAL % ("n1", "") + instance_block("VI_1", 91, 100, VIP, "use_vmac"), "n1")
    assert lab.wait_for(lambda: "00:00:5e:00:01:5b" in lab.run(n1, ["ip", "link", "show", "vrrp.91"], check=False).stdout,
                        timeout=10), d1.log()[-2000:]
    assert "macvlan mode private" in lab.run(n1, ["ip", "-d", "link", "show", "vrrp.91"]).stdout
    d1.stop()
    assert lab.run(n1, ["ip", "link", "show", "vrrp.91"], check=False).returncode != 0


def test_reload_keeps_tracking_state_and_applies_new_weights(lab):
    n1 = lab.nodes[0]
    rec, out = recorder(lab, "n1")
    bad = write_script(lab, "bad.sh", "exit 1\n")

    def conf(weight):
        return (GLOBAL % ("n1", "") + f'vrrp_script chk {{\n    script "{bad}"\n    interval 0.3\n    weight {weight}\n}}\n'
                + instance_block("VI_1", 95, 100, VIP, "track_script {", "    chk", "}", f'notify "{rec}"'))

    d1 = start_node(lab, n1, conf(-20), "n1")
    wait_holder(lab, VIP, "n1")
    assert lab.wait_for(lambda: "Changing effective priority from 100 to 80" in d1.log(), timeout=5)
    before = read_lines(out)
    d1.signal(signal.SIGHUP)                       # same config: nothing moves
    time.sleep(2)
    assert read_lines(out) == before and holder(lab, VIP) == ["n1"]
    d1.write_config(conf(-30))
    d1.signal(signal.SIGHUP)
    assert lab.wait_for(lambda: "Changing effective priority from 80 to 70" in d1.log(), timeout=10), d1.log()[-2000:]
    assert read_lines(out) == before               # a priority change is not a transition
    d1.stop()


def test_smtp_alert_from_the_namespace_to_a_local_server(lab):
    """A node's alerts reach an SMTP server on the node's own loopback (aiosmtpd's Debugging
    handler prints every message it receives)."""
    n1 = lab.nodes[0]
    log_path = os.path.join(lab.workdir, "smtpd.out")
    out = open(log_path, "w")
    smtpd = lab.spawn(n1, [sys.executable, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:2525"],
                      stdout=out, stderr=subprocess.STDOUT, env=python_env())
    out.close()
    try:
        time.sleep(1.0)
        g = ("    notification_email {\n        ops@example.org\n    }\n"
             "    notification_email_from kvrrp@example.org\n    smtp_server 127.0.0.1 2525\n"
             "    smtp_connect_timeout 5\n    smtp_alert\n")
        d1 = start_node(lab, n1, GLOBAL % ("LVS_DEVEL", g) + instance_block("VI_1", 97, 100, VIP), "n1")
        wait_holder(lab, VIP, "n1")
        got = lambda: open(log_path).read()
        assert lab.wait_for(lambda: "Entering MASTER state" in got(), timeout=10), got() + d1.log()[-2000:]
        d1.stop()
        text = got()
        assert "Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state" in text
        assert "=> VRRP Instance is now owning VRRP VIPs <=" in text
        assert "Subject: [LVS_DEVEL] VRRP Instance VI_1 - Stopping" in text   # sent before exit
    finally:
        lab.kill(smtpd, signal.SIGTERM)
