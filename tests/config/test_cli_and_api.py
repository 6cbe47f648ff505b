"""`kvrrp -t`, `kvrrp -d`, and the public API other areas use."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest

from kvrrp.config import ConfigError, LoadResult, load, load_or_raise, parse_text
from kvrrp.config import model as m
from kvrrp.config.cli import run_config_test

from .helpers import CONFIGS

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "src")
LINE = re.compile(r"^(.+):(\d+):(\d+): (error|warning): (.+)$")


def test_config_test_reports_every_problem_in_file_line_col_form(tmp_path):
    p = tmp_path / "k.conf"
    p.write_text("vrrp_instance V {\n interface eth0\n virtual_router_id 300\n priority 0\n"
                 " prority 5\n virtual_ipaddress {\n 198.18.0.999\n }\n}\n")
    out = io.StringIO()
    code = run_config_test(str(p), config_id="h", out=out)
    lines = out.getvalue().splitlines()
    problems = [LINE.match(x) for x in lines[:-1]]
    assert all(problems), lines
    # sorted in reading order; the instance-level findings point at the instance's line
    assert [(int(m_.group(2)), m_.group(4)) for m_ in problems] == [(1, "error"), (1, "warning"), (3, "error"),
                                                                  (4, "error"), (5, "warning"), (7, "error")]
    assert "configuration has problems" in lines[-1] and code == 5


def test_config_test_names_ignored_keywords_in_the_summary_not_a_bare_ok(tmp_path):
    p = tmp_path / "k.conf"
    p.write_text("global_defs {\n process_monitor_rcv_bufs 100000\n}\nvrrp_instance V {\n interface lo\n"
                 " virtual_router_id 3\n virtual_ipaddress {\n 198.18.0.9\n }\n}\n")
    out = io.StringIO()
    code = run_config_test(str(p), config_id="h", out=out, check_interfaces=False)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{p}:2:2: warning: 'process_monitor_rcv_bufs' is ignored by kvrrp (") and lines[0].endswith(
        ") - ignoring")
    assert "configuration OK (1 keyword(s) ignored by kvrrp, see above)" in lines[-1] and code == 0


def test_config_test_exit_codes(tmp_path):
    assert run_config_test(os.path.join(CONFIGS, "ok_minimal.conf"), out=io.StringIO()) == 0
    assert run_config_test(os.path.join(CONFIGS, "bad_vrid_range.conf"), out=io.StringIO()) == 5
    assert run_config_test(os.path.join(CONFIGS, "bad_security.conf"), out=io.StringIO()) == 6
    assert run_config_test(str(tmp_path / "missing.conf"), out=io.StringIO()) == 4


def test_kvrrp_command_line_routes_to_config_test():
    env = {**os.environ, "PYTHONPATH": SRC}
    p = subprocess.run([sys.executable, "-m", "kvrrp", "-t", "-f", os.path.join(CONFIGS, "bad_typo_keyword.conf")],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 5
    assert "bad_typo_keyword.conf:5:5: warning: unknown keyword 'advert_intt' in vrrp_instance; did you mean " \
           "'advert_int'?" in p.stderr
    p = subprocess.run([sys.executable, "-m", "kvrrp", "--dump-conf", "--format", "keepalived", "-f",
                        os.path.join(CONFIGS, "ok_minimal.conf")], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 0 and "vrrp_instance VI_1 {" in p.stdout


def test_config_id_selects_conditional_lines():
    path = os.path.join(CONFIGS, "ok_conditional.conf")
    assert load(path, config_id="lbtest").config.instances[0].priority == 200
    other = load(path, config_id="otherhost")
    assert other.config.instances[0].priority == 50
    assert "unknown-keyword" in [d.code for d in other.diagnostics]


def test_public_api_shapes(tmp_path):
    res = parse_text("vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n"
                     " 198.18.0.1\n }\n}\n", filename="x.conf")
    assert isinstance(res, LoadResult) and res.ok and isinstance(res.config.instances[0], m.VrrpInstance)
    assert res.config.instance("V").vrid == 1 and res.config.instance("nope") is None
    loc = res.config.instances[0].loc
    assert (loc.file, loc.line, loc.col) == ("x.conf", 1, 1)
    bad = tmp_path / "bad.conf"
    bad.write_text("vrrp_instance V {\n virtual_router_id 999\n}\n")
    with pytest.raises(ConfigError) as ei:
        load_or_raise(str(bad))
    assert any(d.code == "out-of-range" for d in ei.value.diagnostics)
    assert "bad.conf:2:20: error" in str(ei.value)
    good = os.path.join(CONFIGS, "ok_minimal.conf")
    assert load_or_raise(good).instances[0].vrid == 10


def test_model_is_frozen_and_hashable():
    cfg = load(os.path.join(CONFIGS, "ok_full_instance.conf")).config
    with pytest.raises(Exception):
        cfg.instances[0].priority = 1          # type: ignore[misc]
    assert hash(cfg) == hash(load(os.path.join(CONFIGS, "ok_full_instance.conf")).config)


def test_keepalived_defaults_in_the_model():
    g = m.GlobalDefs()
    assert (g.vrrp_version, g.vrrp_garp_master_repeat, g.vrrp_garp_master_delay, g.vrrp_mcast_group4,
            g.vrrp_mcast_group6, g.smtp_connect_timeout) == (2, 5, 5.0, "224.0.0.18", "ff02::12", 30.0)
    i = m.VrrpInstance(name="x")
    assert (i.priority, i.advert_int, i.state, i.nopreempt) == (100, 1.0, "BACKUP", False)
    vs = m.VirtualServer()
    assert (vs.lvs_sched, vs.lvs_method.method, vs.quorum, vs.delay_loop, vs.connect_timeout) == (
        "wlc", "NAT", 1, 60.0, 5.0)
    assert m.RealServer(ip="198.18.0.1").weight == 1
    assert (m.TcpCheck().retry, m.HttpGet().delay_before_retry, m.MiscCheck().retry, m.DnsCheck().retry) == (
        1, 3.0, 0, 3)
    assert m.Url().status_codes == ((200, 299),)
    assert m.VrrpScript(name="s").interval == 1.0 and m.TrackFile(name="f").weight == 1


def test_checker_timings_inherit_from_real_then_virtual_server():
    res = parse_text("virtual_server 198.18.0.1 80 {\n protocol TCP\n delay_loop 7\n connect_timeout 9\n"
                     " real_server 198.18.0.2 80 {\n retry 4\n TCP_CHECK {\n delay_before_retry 2\n }\n"
                     " MISC_CHECK {\n misc_path /bin/true\n delay_loop 1\n }\n }\n}\n"
                     "global_defs {\n enable_script_security\n script_user root\n}\n")
    tcp, misc = res.config.virtual_servers[0].real_servers[0].checkers
    assert (tcp.delay_loop, tcp.connect_timeout, tcp.retry, tcp.delay_before_retry) == (7.0, 9.0, 4, 2.0)
    assert (misc.delay_loop, misc.retry) == (1.0, 4)
    assert misc.misc_path.argv == ("/bin/true",)
