"""virtual_routes / virtual_rules -> pyroute2 requests (pure), VMAC naming."""
from __future__ import annotations

import socket

import pytest

from kvrrp.config.model import Nexthop, VirtualRoute, VirtualRule
from kvrrp.io.routes import RouteError, route_request, rule_request
from kvrrp.io.vmac import VmacError, vmac_address, vmac_name

IDX = {"eth0": 2, "eth1": 3}.get


def test_route_via_and_dev():
    r = route_request(VirtualRoute(to="198.19.1.0/24", family=4, via="198.18.0.1", metric=7, table="100"), "eth0", IDX)
    assert r == {"family": socket.AF_INET, "dst": "198.19.1.0", "dst_len": 24, "type": 1, "proto": 18,
                 "table": 100, "priority": 7, "gateway": "198.18.0.1"}
    r = route_request(VirtualRoute(to="default", family=4, dev="eth1", src="198.18.0.200"), "eth0", IDX)
    assert r["dst_len"] == 0 and r["oif"] == 3 and r["scope"] == 253 and r["prefsrc"] == "198.18.0.200"


def test_special_types_multipath_and_errors():
    assert route_request(VirtualRoute(to="198.19.3.0/24", family=4, type="blackhole"), "eth0", IDX)["type"] == 6
    r = route_request(VirtualRoute(to="2001:db8::/64", family=6, nexthops=(
        Nexthop(via="fe80::1", dev="eth0", weight=2), Nexthop(via="fe80::2", dev="eth1"))), None, IDX)
    assert r["family"] == socket.AF_INET6 and r["multipath"] == [
        {"gateway": "fe80::1", "oif": 2, "hops": 1}, {"gateway": "fe80::2", "oif": 3}]
    with pytest.raises(RouteError, match="does not exist"):
        route_request(VirtualRoute(to="198.19.0.0/24", family=4, dev="nope"), None, IDX)
    with pytest.raises(RouteError, match="routing table"):
        route_request(VirtualRoute(to="198.19.0.0/24", family=4, table="no-such-table-kv"), "eth0", IDX)


def test_rules():
    r = rule_request(VirtualRule(family=4, from_="198.18.0.200/32", table="main", preference=100, fwmark=3))
    assert r == {"family": socket.AF_INET, "action": 1, "src": "198.18.0.200", "src_len": 32,
                 "table": 254, "priority": 100, "fwmark": 3}
    assert rule_request(VirtualRule(family=6, to="2001:db8::/32", action="blackhole"))["action"] == 6


def test_vmac_names():
    assert vmac_address(51) == "00:00:5e:00:01:33" and vmac_address(1, 6) == "00:00:5e:00:02:01"
    assert vmac_name(51) == "vrrp.51" and vmac_name(7, name="myvmac") == "myvmac"
    with pytest.raises(VmacError):
        vmac_name(5, name="a-very-long-interface-name")
    with pytest.raises(ValueError):
        vmac_address(0)


def test_route_from_prefix_is_rta_src():
    r = route_request(VirtualRoute(to="2001:2:0:9::/64", family=6, from_="2001:2:0:1::/64", dev="eth0"),
                      "eth0", IDX)
    assert (r["dst"], r["dst_len"], r["src"], r["src_len"]) == ("2001:2:0:9::", 64, "2001:2:0:1::", 64)
    assert "prefsrc" not in r
