"""The SNMP keywords and options: parsed into the model, file:line errors for bad values, no
"not implemented" warning any more, -x / -A, and which MIBs each process then serves."""
from __future__ import annotations

import os
import subprocess
import sys

from kvrrp.config import parse_text
from kvrrp.daemon import CheckerChild, snmp_wanted
from kvrrp.options import parse as parse_options
from kvrrp.snmp.check_agent import checker_snmp_wanted
from kvrrp.snmp.vrrp_agent import snmp_settings

INSTANCE = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 198.18.0.1\n }\n}\n"
SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def load(global_lines: str):
    return parse_text("global_defs {\n" + global_lines + "}\n" + INSTANCE, filename="t.conf", config_id="h")


def test_every_snmp_keyword_parses_without_a_not_implemented_warning():
    res = load(" enable_snmp_vrrp\n enable_snmp_keepalived\n enable_snmp_checker\n enable_snmp_rfc\n"
               " enable_snmp_rfcv2\n enable_snmp_rfcv3\n enable_traps\n snmp_socket tcp:localhost:705\n"
               " snmp_vs_stats_update_interval 2.5\n snmp_rs_stats_update_interval 0.01\n")
    assert res.diagnostics == ()          # no "not implemented", no error
    g = res.config.global_defs
    assert g.enable_snmp_vrrp and g.enable_snmp_checker and g.enable_snmp_rfc and g.enable_traps
    assert g.snmp_socket == "tcp:localhost:705"
    assert (g.snmp_vs_stats_update_interval, g.snmp_rs_stats_update_interval) == (2.5, 0.01)


def test_defaults_and_bad_values():
    g = load("").config.global_defs
    assert (g.snmp_socket, g.snmp_vs_stats_update_interval, g.snmp_rs_stats_update_interval) == (None, 5.0, None)
    res = load(" snmp_socket unix:/a\n snmp_socket unix:/b\n snmp_vs_stats_update_interval 31\n"
               " snmp_rs_stats_update_interval x\n snmp_socket\n")
    assert res.config.global_defs.snmp_socket == "unix:/a"                  # the first one wins
    lines = {d.loc.line: d.message for d in res.diagnostics}
    assert "already set to unix:/a" in lines[3]
    assert "out of range" in lines[4] and "not a number" in lines[5] and "socket name missing" in lines[6]
    assert res.config.global_defs.snmp_vs_stats_update_interval == 5.0     # bad value ignored


def test_config_test_no_longer_reports_snmp(tmp_path):
    conf = tmp_path / "k.conf"
    conf.write_text("global_defs {\n enable_traps\n enable_snmp_vrrp\n snmp_socket unix:/x\n}\n" + INSTANCE)
    out = subprocess.run([sys.executable, "-m", "kvrrp", "-t", "-f", str(conf), "--skip-interface-check"],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert "not implemented" not in out.stdout + out.stderr, out.stdout + out.stderr


def test_options_x_and_A():
    opts = parse_options(["-x", "-A", "unix:/run/agentx", "-f", "/k.conf"])
    assert opts.snmp and opts.snmp_agent_socket == "unix:/run/agentx" and opts.no_effect == []
    config = load(" snmp_socket unix:/from/config\n").config
    s = snmp_settings(opts, config)
    assert (s.vrrp, s.checker, s.rfcv2, s.rfcv3, s.traps) == (True, True, True, True, False)
    assert s.socket == "unix:/run/agentx"                                    # -A over snmp_socket
    assert snmp_wanted(opts, config) and checker_snmp_wanted(opts, config)
    argv = CheckerChild(opts).argv()
    assert "-x" in argv and argv[argv.index("-A") + 1] == "unix:/run/agentx"   # the checker child too


def test_which_mibs_each_keyword_enables():
    none = parse_options(["-f", "/k.conf"])
    assert not snmp_wanted(none, load("").config)
    alone = load(" enable_traps\n").config                 # the tutorials' line: no subagent, as keepalived
    assert not snmp_wanted(none, alone) and not checker_snmp_wanted(none, alone)
    s = snmp_settings(none, load(" enable_snmp_rfc\n").config)
    assert (s.vrrp, s.rfcv2, s.rfcv3, s.checker, s.socket) == (False, True, True, False, None)
    s = snmp_settings(none, load(" enable_snmp_keepalived\n enable_traps\n").config)
    assert (s.vrrp, s.rfcv2, s.rfcv3, s.traps) == (True, False, False, True)
    config = load(" enable_snmp_checker\n").config
    assert not snmp_wanted(none, config) and checker_snmp_wanted(none, config)
