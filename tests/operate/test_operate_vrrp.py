"""kvrrpctl against real kvrrp daemons in network namespaces (kvrrp.lab): status, show,
version, maintenance (reload and --persist restart), failover, dump, reload, and the
Prometheus metrics (kvrrp's and keepalived-exporter's names) on --status-address.

VRRPv3 at 0.1 s keeps each step to a second or two; every wait is a deadline on an observable
condition (who holds the VIP, what the daemon answers), never a sleep standing in for an assertion.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import urllib.request

import pytest

from kvrrp.io.netns import entered
from kvrrp.lab import Lab, VrrpSpec, render_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(180)]

VIP = "198.18.0.200"
WAIT = 10.0
SCRIPT = ["vrrp_script chk_ok {", "    script \"/bin/true\"", "    interval 1", "}", ""]


@pytest.fixture
def lab():
    with Lab(nodes=2, prefix="kvop", client=False) as built:
        yield built


def config(lab: Lab, node, priority: int) -> str:  # noqa: ANN001
    base = os.path.join(lab.workdir, node.name)
    spec = VrrpSpec(priority=priority, version=3, advert_int=0.1,
                    extra=("track_script {", "    chk_ok", "}"))
    text = render_config([spec], [f"state_dump_file {base}.data", f"stats_dump_file {base}.stats",
                                  f"json_dump_file {base}.json", "enable_script_security",
                                  "script_user root"])
    return text.replace("vrrp_instance", "\n".join(SCRIPT) + "vrrp_instance", 1)


def ctl(daemon, *args: str, check: bool = True) -> subprocess.CompletedProcess:  # noqa: ANN001
    sock = os.path.splitext(daemon.pid_file)[0] + ".ctl"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__import__("kvrrp").__file__)))
    proc = subprocess.run([sys.executable, "-m", "kvrrp", "ctl", "-s", sock, *args],
                          capture_output=True, text=True, timeout=30, env=env)
    if check:
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr, daemon.log()[-3000:])
    return proc


def ctl_json(daemon, *args: str):  # noqa: ANN001, ANN201
    return json.loads(ctl(daemon, "--json", *args).stdout)


def holder(lab: Lab) -> list[str]:
    return [n.name for n in lab.holders(VIP)]


def free_port(node) -> int:  # noqa: ANN001
    with entered(node.netns):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]


def scrape(node, port: int) -> str:  # noqa: ANN001
    with entered(node.netns):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain")
            return resp.read().decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Parsed exposition: (sample name, frozenset of label items) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(smp.name, frozenset(smp.labels.items())): smp.value
            for fam in text_string_to_metric_families(text) for smp in fam.samples}


def value(text: str, metric: str, **labels: str) -> float | None:
    return samples(text).get((metric, frozenset(labels.items())))


def control_socket_ready(daemon) -> bool:  # noqa: ANN001
    return ctl(daemon, "version", check=False).returncode == 0


def test_status_show_version_maintenance_failover_dump_and_metrics(lab: Lab) -> None:
    n1, n2 = lab.nodes
    port = free_port(n1)
    d1 = lab.start_kvrrp(n1, config(lab, n1, 150), args=["--status-port", str(port), "--status-address", "127.0.0.1"])
    d2 = lab.start_kvrrp(n2, config(lab, n2, 100))
    assert lab.wait_for(lambda: holder(lab) == [n1.name] and control_socket_ready(d1)
                        and control_socket_ready(d2), WAIT), d1.log() + d2.log()
    sock = os.path.splitext(d1.pid_file)[0] + ".ctl"
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600

    # status: a table with a header and one line per instance, and the same as JSON
    table = ctl(d1, "status").stdout.splitlines()
    assert table[0].split()[:4] == ["NAME", "INTERFACE", "VRID", "STATE"]
    assert table[1].split()[:5] == ["VI_1", "eth0", "51", "MASTER", "150/150"]
    assert VIP in table[1]
    st = ctl_json(d1, "status")["instances"][0]
    assert st["state"] == "MASTER" and st["master"] == "this node" and st["vips"] == [f"{VIP}/32"]
    assert st["last_reason"] and st["time_in_state"] >= 0
    backup = ctl_json(d2, "status")["instances"][0]
    assert backup["state"] == "BACKUP" and backup["master"] == "198.18.0.11"
    show = ctl(d1, "show", "VI_1").stdout
    assert "state: MASTER" in show and "advert_sent:" in show and "script:chk_ok" in show
    shown = ctl_json(d1, "show", "VI_1")
    assert shown["stats"]["advert_sent"] > 0 and shown["data"]["iname"] == "VI_1"
    version = ctl_json(d1, "version")
    assert version["pid"] == d1.pid and version["version"]
    bad = ctl(d1, "show", "NOPE", check=False)
    assert bad.returncode == 1 and "NOPE" in bad.stderr

    # metrics: keepalived-exporter's names and labels, kvrrp's own, process metrics
    text = scrape(n1, port)
    ids = dict(iname="VI_1", intf="eth0", vrid="51")
    assert value(text, "keepalived_vrrp_state", ip_address=f"{VIP}/32", **ids) == 2      # keepalived's MASTER
    assert value(text, "keepalived_up") == 1
    assert value(text, "keepalived_advertisements_sent_total", **ids) > 0
    assert value(text, "keepalived_script_status", name="chk_ok") == 1
    assert value(text, "kvrrp_track_script_up", name="chk_ok") == 1
    assert "kvrrp_build_info{" in text and value(text, "process_cpu_seconds_total") > 0
    assert value(text, "kvrrp_vrrp_state", iname="VI_1", intf="eth0", vrid="51", state="MASTER") == 1
    assert value(text, "kvrrp_vrrp_transitions_total", iname="VI_1", from_state="BACKUP", to_state="MASTER",
                 reason="master down timer expired") == 1
    assert value(text, "kvrrp_up") == 1

    # maintenance: priority 0, VIP moves, stays out across a reload, back when turned off
    out = ctl(d1, "maintenance", "on", "VI_1").stdout
    assert "maintenance on: VI_1" in out
    assert lab.wait_for(lambda: holder(lab) == [n2.name], WAIT), d1.log() + d2.log()
    assert ctl_json(d1, "status")["instances"][0]["state"] == "FAULT"
    assert "(maint)" in ctl(d1, "status").stdout
    assert value(scrape(n1, port), "kvrrp_vrrp_maintenance", iname="VI_1", intf="eth0", vrid="51") == 1
    d1.write_config(config(lab, n1, 160))                 # a changed instance: restarted by the reload
    assert ctl(d1, "reload").stdout == "reloaded\n"
    assert lab.wait_for(lambda: "Reload finished" in d1.log(), WAIT)
    assert ctl_json(d1, "status")["instances"][0]["state"] == "FAULT"
    assert holder(lab) == [n2.name]
    ctl(d1, "maintenance", "off", "VI_1")
    assert lab.wait_for(lambda: holder(lab) == [n1.name], WAIT), d1.log()

    # failover: the backup takes over now, n1 holds off for --hold, then preempts again
    assert "handed over" in ctl(d1, "failover", "VI_1", "--hold", "3").stdout
    assert lab.wait_for(lambda: holder(lab) == [n2.name], WAIT), d1.log() + d2.log()
    assert ctl_json(d1, "status")["instances"][0]["effective_priority"] == 1
    assert lab.wait_for(lambda: holder(lab) == [n1.name], WAIT), d1.log()
    assert ctl_json(d1, "status")["instances"][0]["effective_priority"] == 160
    refused = ctl(d2, "failover", "VI_1", check=False)
    assert refused.returncode == 1 and "not MASTER" in refused.stderr
    text = scrape(n1, port)
    assert value(text, "kvrrp_vrrp_transitions_total", iname="VI_1", from_state="MASTER", to_state="BACKUP",
                 reason="master role handed over") == 1
    assert value(text, "kvrrp_vrrp_transitions_total", iname="VI_1", from_state="MASTER", to_state="FAULT",
                 reason="maintenance on") == 1

    # dump: the same files the signals write
    paths = ctl_json(d1, "dump")
    assert set(paths) == {"data", "stats", "json"}
    with open(paths["json"]) as fh:
        assert json.load(fh)["instances"][0]["data"]["iname"] == "VI_1"
    with open(paths["stats"]) as fh:
        assert "VRRP Instance: VI_1" in fh.read()
    assert "unknown dump 'nope'" in ctl(d1, "dump", "nope", check=False).stderr


def test_persisted_maintenance_survives_a_restart(lab: Lab) -> None:
    n1, n2 = lab.nodes
    d1 = lab.start_kvrrp(n1, config(lab, n1, 150))
    d2 = lab.start_kvrrp(n2, config(lab, n2, 100))
    assert lab.wait_for(lambda: holder(lab) == [n1.name] and control_socket_ready(d1), WAIT), d1.log()
    ctl(d1, "maintenance", "on", "--all", "--persist")
    assert lab.wait_for(lambda: holder(lab) == [n2.name], WAIT), d1.log() + d2.log()
    assert d1.stop() == 0
    first_run = len(d1.log())                                           # the log file is appended to
    d1 = lab.start_kvrrp(n1, config(lab, n1, 150), tag="kvrrp-n1")      # same pid file: same state file
    assert lab.wait_for(lambda: control_socket_ready(d1), WAIT), d1.log()
    st = ctl_json(d1, "status")
    assert st["instances"][0]["state"] == "FAULT" and st["persisted_maintenance"]["all"] is True
    assert holder(lab) == [n2.name] and "Entering MASTER" not in d1.log()[first_run:]
    assert "Entering FAULT STATE (init)" in d1.log()[first_run:]
    ctl(d1, "maintenance", "off", "--all")
    assert lab.wait_for(lambda: holder(lab) == [n1.name], WAIT), d1.log()
    assert not os.path.exists(os.path.splitext(d1.pid_file)[0] + ".maintenance.json")
    # a reload the daemon refuses is reported as refused (exit 1, the reason), not as done
    d1.write_config(config(lab, n1, 150).replace("priority 150", "priority 300"))
    refused = ctl(d1, "reload", check=False)
    assert refused.returncode == 1 and "refused" in refused.stderr and "priority" in refused.stderr, refused.stderr
    assert ctl_json(d1, "status")["instances"][0]["priority"] == 150
