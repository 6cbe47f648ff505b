"""systemd: the daemon speaks sd_notify to a real $NOTIFY_SOCKET (a datagram socket this test
binds): READY=1 once its instances run, RELOADING=1 then READY=1 around SIGHUP, WATCHDOG=1
at half of $WATCHDOG_USEC, STOPPING=1 on SIGTERM; the unit file passes `systemd-analyze verify`."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from dropin_lab import WAIT, DatagramListener, run_kvrrp
from kvrrp.lab import Lab
from kvrrp.sdnotify import Notifier

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(ROOT, "packaging", "kvrrp.service")


def test_notifier_sends_datagrams_and_is_silent_without_a_socket() -> None:
    assert Notifier({}).ready() is False
    with DatagramListener() as listener:
        n = Notifier({"NOTIFY_SOCKET": listener.path})
        assert n.ready("up") and n.reloading() and n.stopping()
        assert listener.wait_for("STOPPING=1")
        ready, reloading, stopping = listener.messages
        assert ready.splitlines() == ["READY=1", f"MAINPID={os.getpid()}", "STATUS=up"]
        assert reloading.startswith("RELOADING=1\nMONOTONIC_USEC=") and stopping == "STOPPING=1"
        n.close()


def test_watchdog_usec_for_another_pid_is_ignored() -> None:
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000"}).watchdog_usec == 1000000
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_usec is None
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "junk"}).watchdog_usec is None


@pytest.mark.root
@pytest.mark.timeout(120)
def test_daemon_notifies_ready_reloading_watchdog_and_stopping() -> None:
    with Lab(nodes=1, client=False, prefix="kvsd") as lab, DatagramListener() as systemd:
        node = lab.nodes[0]
        run = run_kvrrp(lab, node, ["--dont-fork", "-l", "-P"],
                        extra_env={"NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "200000"})
        assert systemd.wait_for("READY=1"), (systemd.messages, run.log())
        ready = next(m for m in systemd.messages if "READY=1" in m)
        assert f"MAINPID={run.proc.pid}" in ready and "STATUS=1 VRRP instance(s) running" in ready
        # the instances exist before READY (their first transition is logged before the engine
        # reports it started)
        assert lab.wait_for(lambda: "Entering BACKUP STATE" in run.log(), WAIT)
        assert systemd.wait_for("WATCHDOG=1", count=3)           # every 0.1 s
        before = len(systemd.messages)
        os.kill(run.proc.pid, signal.SIGHUP)
        assert lab.wait_for(lambda: "Reload finished" in run.log(), WAIT)
        assert systemd.wait_for("RELOADING=1") and systemd.wait_for("READY=1", count=2)
        after = [m for m in systemd.messages[before:] if "WATCHDOG" not in m]
        assert after[0].startswith("RELOADING=1") and after[1].startswith("READY=1")
        assert lab.stop(run.proc, 10) == 0
        assert systemd.wait_for("STOPPING=1")
        assert not any("WATCHDOG" in m for m in systemd.messages[systemd.messages.index("STOPPING=1") + 1:])


def test_unit_file_is_keepalived_s_with_the_binary_swapped() -> None:
    text = open(UNIT).read()
    for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "EnvironmentFile=-/etc/default/kvrrp",
                 "KillMode=process", "ExecStart=/usr/local/sbin/kvrrp --dont-fork $DAEMON_ARGS"):
        assert line in text.splitlines() or any(l.startswith(line) for l in text.splitlines()), line


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_file_verifies(tmp_path) -> None:  # noqa: ANN001
    # the unit names /usr/local/sbin/kvrrp (scripts/setup links it); verify checks that the
    # command exists, so point it at this interpreter when the link is not there
    text = open(UNIT).read()
    if not os.access("/usr/local/sbin/kvrrp", os.X_OK):
        text = text.replace("/usr/local/sbin/kvrrp", os.path.realpath(sys.executable))
    unit = tmp_path / "kvrrp.service"
    unit.write_text(text)
    env = {**os.environ, "MANPATH": os.path.join(ROOT, "man") + ":"}   # our pages + the system's
    p = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
