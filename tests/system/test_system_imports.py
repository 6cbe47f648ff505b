"""The VRRP process imports only what its configuration uses (memory: every module stays
resident for the life of the daemon).

A real daemon (`-P`, the VRRP process) runs under `python3 -X importtime` in a namespace until
its instance has elected and a transition went through the notifier; the modules it imported
are read from the importtime report. With a minimal configuration, neither the HTTP stack
(aiohttp, the status server, metrics), the health checkers nor the SMTP alerter may be there;
configuring SMTP alerts brings the alerter in (so the check can fail). Nor may the parts of
pyroute2 the VRRP process does not use (NDB and its sqlite3, IPDB, conntrack, nftables ...).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kvrrp.lab import Lab, VrrpSpec, python_env, render_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

WAIT = 15.0
NOT_FOR_MINIMAL = ("aiohttp", "healthcheck", "email", "smtplib", "kvrrp.notify.smtp", "kvrrp.status_http",
                   "kvrrp.metrics", "http.server", "ssl_checker", "dbus_next", "kvrrp.dbus.service",
                   "kvrrp.dbus.objects", "kvrrp.snmp", "kvrrp.bgp",
                   # pyroute2 beyond rtnetlink and IPRoute (kvrrp.io.pyroute2_parts)
                   "sqlite3", "pyroute2.ndb", "pyroute2.ipdb", "pyroute2.conntrack", "pyroute2.nftables",
                   "pyroute2.ethtool", "pyroute2.netlink.nl80211", "pyroute2.plan9")


def imported_modules(lab: Lab, conf_text: str, tag: str) -> set[str]:
    node = lab.nodes[0]
    conf, pid, log = (os.path.join(lab.workdir, f"{tag}.{ext}") for ext in ("conf", "pid", "log"))
    with open(conf, "w") as fh:
        fh.write(conf_text)
    with open(log, "w") as out:  # the log (-l: stderr) and the importtime report, interleaved
        proc = lab.spawn(node, [sys.executable, "-X", "importtime", "-m", "kvrrp", "-n", "-l", "-P",
                                "-f", conf, "-p", pid], stdout=out, stderr=subprocess.STDOUT,
                         env=python_env())

    def became_master() -> bool:
        with open(log, errors="replace") as fh:
            return "Entering MASTER STATE" in fh.read()

    try:
        assert lab.wait_for(became_master, WAIT), open(log).read()[-2000:]
    finally:
        lab.stop(proc)
    assert proc.returncode == 0
    names = set()
    with open(log, errors="replace") as fh:
        for line in fh:
            if line.startswith("import time:") and line.count("|") == 2:
                names.add(line.rsplit("|", 1)[1].strip())
    assert "kvrrp.vrrp.engine" in names  # the report is the daemon's
    return names


def offending(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == bad or n.startswith(bad + ".") for bad in NOT_FOR_MINIMAL))


def test_minimal_vrrp_process_imports_no_http_checker_or_smtp():
    with Lab(nodes=1, prefix="kvimp", client=False) as lab:
        names = imported_modules(lab, render_config([VrrpSpec(priority=150, version=3, advert_int=0.1)]),
                                 "minimal")
    assert offending(names) == []


def test_smtp_alerts_bring_the_alerter_in():
    spec = VrrpSpec(priority=150, version=3, advert_int=0.1, extra=("smtp_alert",))
    text = render_config([spec], ["notification_email {", "    ops@example.invalid", "}",
                                  "notification_email_from kvrrp@example.invalid",
                                  "smtp_server 127.0.0.1 2525", "smtp_connect_timeout 1"])
    with Lab(nodes=1, prefix="kvimp", client=False) as lab:
        names = imported_modules(lab, text, "smtp")
    assert "kvrrp.notify.smtp" in names and "email.utils" in names


def test_enable_dbus_brings_dbus_next_in(monkeypatch, tmp_path):
    # a bus address nobody listens on: the daemon reports it and runs on (never the host's bus)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    text = render_config([VrrpSpec(priority=150, version=3, advert_int=0.1)], ["enable_dbus"])
    with Lab(nodes=1, prefix="kvimp", client=False) as lab:
        names = imported_modules(lab, text, "dbus")
    assert "dbus_next" in names and "kvrrp.dbus.service" in names


def test_snmp_brings_the_subagent_in(tmp_path):
    spec = VrrpSpec(priority=150, version=3, advert_int=0.1)
    text = render_config([spec], ["enable_snmp_vrrp", f"snmp_socket unix:{tmp_path}/no-master-here"])
    with Lab(nodes=1, prefix="kvimp", client=False) as lab:
        names = imported_modules(lab, text, "snmp")
    assert "kvrrp.snmp.subagent" in names and "kvrrp.snmp.vrrp_mib" in names
    assert "healthcheck" not in names and "kvrrp.snmp.check_mib" not in names
