"""nftables_ipvs on the host: the config keywords, the fwmark allocation, the desired IPVS table
(one fwmark service instead of one per address), and the nftables tables in a namespace of this
test, where a packet to an address of the range is counted by the marking rule. The IPVS side
(traffic to a range address reaching a real server) is tests/ipvs/test_checker_vm.py."""
from __future__ import annotations

import os
import socket
import subprocess

import pytest

from healthcheck.health import declared, desired_table
from healthcheck.ipvs_nftables import IpvsFwmarkTables, auto_fwmarks, elements, ruleset
from healthcheck.table import ServiceKey
from kvrrp.config.loader import parse_text

CONF = """
global_defs {{
{glob}
}}
virtual_server_group RANGE {{
    198.18.0.20-22 80
    198.18.1.0/30 8080
}}
virtual_server_group MARKED {{
    fwmark 7
}}
virtual_server_group RANGE6 {{
    2001:db8::10-2001:db8::12 80
}}
virtual_server group RANGE {{
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 198.19.1.2 8080 {{
    }}
}}
virtual_server group RANGE {{
    protocol UDP
    lb_algo rr
    lb_kind NAT
    real_server 198.19.1.2 53 {{
    }}
}}
virtual_server group MARKED {{
    protocol TCP
    lb_algo rr
    lb_kind DR
    real_server 198.19.1.3 80 {{
    }}
}}
virtual_server group RANGE6 {{
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 2001:db8:1::2 8080 {{
    }}
}}
"""


def load(glob: str = "nftables_ipvs"):
    result = parse_text(CONF.format(glob=glob))
    assert not result.errors, result.errors
    return result.config


def test_keywords_and_defaults():
    g = load().global_defs
    assert (g.nftables_ipvs, g.nftables_ipvs_priority, g.nftables_ipvs_start_fwmark) == ("keepalived_ipvs", -1, 1000)
    g = load("nftables_ipvs lvs_marks\nnftables_ipvs_priority -5\nnftables_ipvs_start_fwmark 2000").global_defs
    assert (g.nftables_ipvs, g.nftables_ipvs_priority, g.nftables_ipvs_start_fwmark) == ("lvs_marks", -5, 2000)
    assert load("").global_defs.nftables_ipvs is None
    bad = parse_text(CONF.format(glob="nftables_ipvs_start_fwmark 0"))
    assert any("nftables_ipvs_start_fwmark" in d.message for d in bad.errors)
    from kvrrp.config.support import NOT_IMPLEMENTED

    assert not [k for k in NOT_IMPLEMENTED if k[1].startswith("nftables_ipvs")]


def test_marks_are_allocated_in_config_order_per_group_and_protocol():
    # groups with fwmark entries keep them; RANGE gets one mark per protocol
    assert auto_fwmarks(load()) == {("RANGE", "TCP"): 1000, ("RANGE", "UDP"): 1001, ("RANGE6", "TCP"): 1002}
    assert auto_fwmarks(load("nftables_ipvs\nnftables_ipvs_start_fwmark 5")) == {
        ("RANGE", "TCP"): 5, ("RANGE", "UDP"): 6, ("RANGE6", "TCP"): 7}
    assert auto_fwmarks(load("")) == {}


def test_a_range_group_is_one_fwmark_service_not_one_per_address():
    with_nft = desired_table(load(), {}, {})
    assert set(with_nft.entries) == {ServiceKey.fwm(4, 1000), ServiceKey.fwm(4, 1001), ServiceKey.fwm(4, 7),
                                     ServiceKey.fwm(6, 1002)}
    without = desired_table(load(""), {}, {})
    assert len([k for k in without.entries if k.protocol == 6 and k.family == 4]) == 3 + 4   # one per address
    assert len([k for k in without.entries if k.protocol == 17]) == 3 + 4
    services, _ = declared(load())
    assert services == set(with_nft.entries)


def test_the_ruleset_maps_each_range_and_port_to_its_mark():
    config = load()
    elems = elements(config, auto_fwmarks(config))
    assert elems == {
        (4, "tcp"): [("198.18.0.20", "198.18.0.22", 80, 1000), ("198.18.1.0", "198.18.1.3", 8080, 1000)],
        (4, "udp"): [("198.18.0.20", "198.18.0.22", 80, 1001), ("198.18.1.0", "198.18.1.3", 8080, 1001)],
        (6, "tcp"): [("2001:db8::10", "2001:db8::12", 80, 1002)],
    }
    text = ruleset("keepalived_ipvs", -1, elems)
    assert "add chain ip keepalived_ipvs in { type filter hook input priority -1; policy accept; }" in text
    assert ("add rule ip keepalived_ipvs in meta l4proto tcp meta mark set ip daddr . tcp dport map @tcp_map "
            "counter return") in text
    assert "add element ip keepalived_ipvs tcp_map { 198.18.0.20-198.18.0.22 . 80 : 1000, " \
           "198.18.1.0-198.18.1.3 . 8080 : 1000 }" in text
    assert "add element ip6 keepalived_ipvs tcp_map { 2001:db8::10-2001:db8::12 . 80 : 1002 }" in text


@pytest.fixture
def netns():
    if os.geteuid() != 0:
        pytest.skip("needs root for a network namespace")
    name = f"kvnft{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _nft(ns: str, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, "nft", *args], check=True, capture_output=True,
                          text=True).stdout


def test_tables_in_a_namespace_mark_traffic_to_a_range_address_and_go_at_stop(netns):
    from kvrrp.io.netns import entered
    from kvrrp.io.nftables import Nft

    with entered(netns):
        nft = Nft()
    tables = IpvsFwmarkTables(nft)
    config = load()
    assert tables.apply(config) and tables.errors == 0
    assert tables.apply(config)                      # unchanged: nothing sent again
    listed = _nft(netns, "list", "table", "ip", "keepalived_ipvs")
    assert "198.18.0.20-198.18.0.22 . 80 : 0x000003e8" in listed
    # a TCP SYN to 198.18.0.21:80 (made local here) passes the input hook: the rule counts it
    subprocess.run(["ip", "-n", netns, "addr", "add", "198.18.0.21/32", "dev", "lo"], check=True)
    with entered(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(2)
    with pytest.raises(OSError):
        sock.connect(("198.18.0.21", 80))            # nothing listens: refused, but it went through
    sock.close()
    rule = [line for line in _nft(netns, "list", "chain", "ip", "keepalived_ipvs", "in").splitlines()
            if "tcp_map" in line]
    assert rule and "counter packets 0 " not in rule[0], rule
    # a reload with another start mark replaces the elements atomically
    assert tables.apply(load("nftables_ipvs\nnftables_ipvs_start_fwmark 3000"))
    assert "0x00000bb8" in _nft(netns, "list", "table", "ip", "keepalived_ipvs")
    # the keyword gone: the tables go
    assert tables.apply(load(""))
    assert "keepalived_ipvs" not in _nft(netns, "list", "tables")
    tables.apply(config)
    tables.remove()
    assert "keepalived_ipvs" not in _nft(netns, "list", "tables")
    tables.close()
