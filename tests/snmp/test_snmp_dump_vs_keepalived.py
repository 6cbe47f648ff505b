"""The SNMP lines of keepalived's `-d` global definitions dump against kvrrp.config.snmp_dump:
keepalived 2.2.7 is run with -d on a few configurations (and -x / -A), in a lab namespace,
stopped by its PID once the dump is written; the lines kvrrp makes from the same configuration
and options must be the same, in the same order."""
from __future__ import annotations

import os
import re

import pytest

from kvrrp.config import parse_text
from kvrrp.config.snmp_dump import snmp_lines
from kvrrp.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.keepalived, pytest.mark.timeout(120)]

INSTANCE = """vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 91
  virtual_ipaddress {
    198.18.0.91/32
  }
}
"""
CASES = [   # (global_defs lines, keepalived options)
    ((), ()),
    (("enable_snmp_vrrp", "enable_snmp_checker", "enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_traps",
      "snmp_socket tcp:127.0.0.1:7050"), ()),
    (("enable_snmp_keepalived", "enable_snmp_rfc", "snmp_socket unix:/run/kvsnmp-test/agentx",
      "snmp_socket tcp:127.0.0.1:7051"), ()),
    (("enable_snmp_rfcv3", "snmp_socket tcp:127.0.0.1:7052"), ("-x", "-A", "udp:127.0.0.1:7053")),
]


def _keepalived_snmp_lines(lab: Lab, text: str, options: tuple[str, ...], tag: str) -> list[str]:
    node = lab.nodes[0]
    conf, out = (os.path.join(lab.workdir, f"{tag}.{ext}") for ext in ("conf", "out"))
    with open(conf, "w") as fh:
        fh.write(text)
    with open(out, "w") as log:
        proc = lab.spawn(node, ["keepalived", "-n", "-l", "-D", "-d", "-P", *options, "-f", conf,
                                "-p", os.path.join(lab.workdir, f"{tag}.pid"),
                                "-r", os.path.join(lab.workdir, f"{tag}.vrrp.pid")], stdout=log, stderr=log)
    try:
        assert lab.wait_for(lambda: "< Interfaces >" in open(out).read(), 20.0), open(out).read()[-3000:]
    finally:
        lab.stop(proc)
    text = open(out).read()
    section = text.split("------< Global definitions >------", 1)[1].split("------<", 1)[0]
    return [re.sub(r"^.*?: ( SNMP .*)$", r"\1", line) for line in section.splitlines() if ":  SNMP " in line]


def test_snmp_dump_lines_equal_keepalived() -> None:
    with Lab(nodes=1, client=False, prefix="kvsdump") as lab:
        for n, (glob, options) in enumerate(CASES):
            text = "global_defs {\n" + "".join(f"  {g}\n" for g in glob) + "}\n" + INSTANCE
            theirs = _keepalived_snmp_lines(lab, text, options, f"c{n}")
            cfg = parse_text(text, filename="t.conf", config_id="dump").config
            socket = options[options.index("-A") + 1] if "-A" in options else None
            ours = snmp_lines(cfg.global_defs, "-x" in options, socket)
            assert len(theirs) == 6, theirs
            assert ours == theirs, (n, ours, theirs)
