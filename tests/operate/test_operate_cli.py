"""kvrrpctl's command line and tables, the daemon's new options, the maintenance state file:
pure pieces, no daemon."""
from __future__ import annotations

import json

import pytest

from kvrrp.control import maintenance as mstate
from kvrrp.control.cli import build_parser, request_of
from kvrrp.control.protocol import socket_path
from kvrrp.control.tables import format_answer, table
from kvrrp.options import parse


def req(*argv: str):
    return request_of(build_parser().parse_args(list(argv)))


def test_requests_built_from_the_command_line():
    assert req("status") == ("status", {})
    assert req("show", "VI_1") == ("show", {"name": "VI_1"})
    assert req("maintenance", "on", "VI_1") == ("maintenance", {"on": True, "persist": False, "name": "VI_1"})
    assert req("maintenance", "off", "--all", "--persist") == ("maintenance", {"on": False, "persist": True, "all": True})
    assert req("failover", "VI_1") == ("failover", {"name": "VI_1"})
    assert req("failover", "VI_1", "--hold", "5") == ("failover", {"name": "VI_1", "hold": 5.0})
    assert req("rs", "list") == ("rs", {"action": "list"})
    assert req("rs", "drain", "198.18.0.10:80", "198.19.1.2:8080") == (
        "rs", {"action": "drain", "vs": "198.18.0.10:80", "rs": "198.19.1.2:8080"})
    assert req("dump") == ("dump", {}) and req("dump", "json") == ("dump", {"kinds": ["json"]})
    with pytest.raises(SystemExit):
        req("maintenance", "on")                    # a name or --all is needed
    with pytest.raises(SystemExit):
        req("maintenance", "on", "VI_1", "--all")


def test_tables_align_and_show_maintenance():
    ans = {"instances": [
        {"name": "VI_1", "interface": "eth0", "vrid": 51, "state": "FAULT", "priority": 150, "effective_priority": 150,
         "master": "", "vips": ["198.18.0.200/32"], "time_in_state": 130.0, "last_reason": "maintenance on",
         "maintenance": True, "hand_over": False},
        {"name": "VI_LONG_NAME", "interface": "eth1", "vrid": 7, "state": "MASTER", "priority": 100,
         "effective_priority": 1, "master": "this node", "vips": [], "time_in_state": 2.5, "last_reason": "",
         "maintenance": False, "hand_over": True}],
        "maintenance": {"all": False, "instances": ["VI_1"]}}
    lines = format_answer("status", {}, ans).splitlines()
    assert lines[0].index("INTERFACE") == lines[1].index("eth0") == lines[2].index("eth1")
    assert "FAULT (maint)" in lines[1] and "2m10s" in lines[1] and "maintenance on" in lines[1]
    assert "MASTER (hand-over)" in lines[2] and "100/1" in lines[2] and "2.5s" in lines[2]
    assert lines[-1] == "maintenance: VI_1"
    assert table(("A", "B"), [(1, None)]) == "A  B\n1\n"
    rs = format_answer("rs", {"action": "drain"}, {"real_server": "[198.19.1.2]:tcp:8080",
                                                   "virtual_server": "[198.18.0.10]:tcp:80", "weight": 0,
                                                   "drained": True})
    assert rs == "[198.19.1.2]:tcp:8080 of [198.18.0.10]:tcp:80: weight 0 (drained)\n"


def test_daemon_options_status_address_and_control_socket():
    o = parse(["-n", "--status-port=9650", "--status-address=::1", "--control-socket", "/run/x.ctl"])
    assert not o.errors and (o.status_port, o.status_address, o.control_socket) == (9650, "::1", "/run/x.ctl")
    assert parse([]).status_address == "127.0.0.1" and parse([]).control_socket is None
    assert socket_path("/run/kvrrp.pid") == "/run/kvrrp.ctl"
    assert socket_path("/run/kvrrp-checkers.pid") == "/run/kvrrp-checkers.ctl"


def test_maintenance_state_file_round_trip_and_damage(tmp_path, caplog):
    path = str(tmp_path / "kvrrp.maintenance.json")
    assert mstate.load(path) == mstate.Maintenance()
    mstate.save(path, mstate.Maintenance(all=False, names={"VI_2", "VI_1"}))
    assert json.loads(open(path).read()) == {"all": False, "instances": ["VI_1", "VI_2"]}
    assert mstate.load(path).wants("VI_1") and not mstate.load(path).wants("VI_3")
    mstate.save(path, mstate.Maintenance())                 # nothing left: the file goes
    assert not (tmp_path / "kvrrp.maintenance.json").exists()
    (tmp_path / "kvrrp.maintenance.json").write_text('{"instances": "VI_1"}')
    assert mstate.load(path) == mstate.Maintenance() and "ignoring the maintenance state file" in caplog.text
    (tmp_path / "kvrrp.maintenance.json").write_text("not json")
    assert mstate.load(path) == mstate.Maintenance()
