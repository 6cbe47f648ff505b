"""Route table / protocol / scope names from iproute2 files in the configured directories
(kvrrp.config.rtnames), in keepalived's lib/rttables.c order."""
from __future__ import annotations

import pytest

from kvrrp.io.routes import RouteError, route_request, rule_request
from kvrrp.config.model import VirtualRoute, VirtualRule
from kvrrp.config.rtnames import RtNames, UnknownName


def tree(tmp_path, files: dict[str, str]):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path / "etc"), str(tmp_path / "usr")


def test_etc_file_wins_over_usr_and_d_directories_add_to_it(tmp_path):
    etc, usr = tree(tmp_path, {
        "etc/rt_tables": "# comment\n100 web\n0x65 hexed   # trailing comment\nbad line here\n",
        "usr/rt_tables": "200 usronly\n",                                  # shadowed by etc/rt_tables
        "usr/rt_tables.d/a.conf": "201 from_usr_d\n",
        "usr/rt_tables.d/b.conf": "202 shadowed_by_etc_d\n",
        "etc/rt_tables.d/b.conf": "203 from_etc_d\n",
        "etc/rt_tables.d/c.txt": "204 not_a_conf_file\n",
    })
    names = RtNames(etc, usr)
    assert (names.table("web"), names.table("hexed"), names.table("from_usr_d"), names.table("from_etc_d")) == (
        100, 101, 201, 203)
    assert (names.table("main"), names.table("local"), names.table("default")) == (254, 255, 253)
    assert names.table("4000") == 4000
    for missing in ("usronly", "shadowed_by_etc_d", "not_a_conf_file"):
        with pytest.raises(UnknownName):
            names.table(missing)


def test_usr_file_is_read_when_etc_has_none(tmp_path):
    etc, usr = tree(tmp_path, {"usr/rt_protos": "77 myproto\n", "usr/rt_scopes": "100 mine\n"})
    names = RtNames(etc, usr)
    assert (names.protocol("myproto"), names.protocol("keepalived"), names.scope("mine"), names.scope("link")) == (
        77, 18, 100, 253)
    with pytest.raises(UnknownName):
        names.protocol("300")           # protocols are 8 bits


def test_route_and_rule_requests_use_the_configured_names(tmp_path):
    etc, usr = tree(tmp_path, {"etc/rt_tables": "123 kvtest\n", "etc/rt_scopes": "50 kvscope\n"})
    names = RtNames(etc, usr)
    req = route_request(VirtualRoute(to="198.19.7.0/24", family=4, table="kvtest", scope="kvscope"), "eth0",
                        lambda _n: 3, names)
    assert (req["table"], req["scope"], req["oif"]) == (123, 50, 3)
    assert rule_request(VirtualRule(family=4, from_="198.18.0.200/32", table="kvtest"), names)["table"] == 123
    with pytest.raises(RouteError, match="kvtest"):
        route_request(VirtualRoute(to="198.19.7.0/24", family=4, table="kvtest"), "eth0", lambda _n: 3,
                      RtNames(str(tmp_path / "none"), str(tmp_path / "none")))


def test_config_check_reports_unknown_names_in_keepalived_words(tmp_path):
    from kvrrp.config import parse_text

    etc, usr = tree(tmp_path, {"etc/rt_tables": "123 kvweb\n"})
    text = (f"global_defs {{\n iproute_etc_dir {etc}\n iproute_usr_dir {usr}\n}}\n"
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 198.18.0.1\n }\n"
            " virtual_routes {\n  198.19.1.0/24 dev eth0 table kvweb\n  198.19.2.0/24 dev eth0 table nosuch\n"
            "  198.19.3.0/24 dev eth0 scope nowhere-else\n }\n"
            " virtual_rules {\n  from 198.18.0.1 table kvweb\n  from 198.18.0.2 table gone\n }\n}\n")
    res = parse_text(text, filename="t.conf")
    found = [(d.loc.line, d.message) for d in res.diagnostics if d.code == "route-name"]
    assert found == [(13, "Routing table nosuch not found for route"),
                     (14, "Scope nowhere-else not found or invalid for route"),
                     (18, "Routing table gone not found for rule")]
    assert not [d for d in res.diagnostics if d.code == "ignored"]
