"""use_vmac and virtual_routes/virtual_rules against a real kernel, in a private namespace."""
from __future__ import annotations

import os
import secrets
import subprocess

import pytest

from kvrrp.config import parse_text
from kvrrp.io.netlink import Netlink
from kvrrp.io.routes import RouteManager, RoutesOnMaster
from kvrrp.io.vmac import VmacError, VmacManager, VmacSpec, prepare_vmacs, vmac_address

pytestmark = pytest.mark.root


@pytest.fixture
def netns():
    name = f"kvtrk-{os.getpid()}-{secrets.token_hex(2)}-rt"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ip = ["ip", "-n", name]
        subprocess.run(ip + ["link", "set", "lo", "up"], check=True)
        subprocess.run(ip + ["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"], check=True)
        subprocess.run(ip + ["link", "set", "eth0p", "up"], check=True)
        subprocess.run(ip + ["link", "set", "eth0", "up"], check=True)
        subprocess.run(ip + ["addr", "add", "198.18.0.11/24", "dev", "eth0"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def ip_out(ns, *args):
    return subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True, text=True).stdout


CONF = """
global_defs { vmac_prefix vr }
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  use_vmac
  virtual_ipaddress { 198.18.0.200 }
  virtual_routes {
    198.19.1.0/24 via 198.18.0.1 dev eth0
    198.19.2.0/24 dev eth0 table 100 metric 5
    blackhole 198.19.3.0/24
  }
  virtual_rules {
    from 198.18.0.200 table 100 priority 100
  }
}
"""


def test_vmac_created_adopted_removed(netns):
    cfg = parse_text(CONF).config
    nl = Netlink(netns=netns)
    try:
        mgr = VmacManager(nl)
        made = prepare_vmacs(mgr, cfg)
        assert made == {"VI_1": "vr.51"}
        out = ip_out(netns, "-d", "link", "show", "vr.51")
        assert vmac_address(51) in out and "macvlan mode private" in out and "UP" in out
        sysctl = lambda i, k: subprocess.run(["ip", "netns", "exec", netns, "cat", f"/proc/sys/net/ipv4/conf/{i}/{k}"],
                                             capture_output=True, text=True, check=True).stdout.strip()
        assert (sysctl("vr.51", "arp_ignore"), sysctl("vr.51", "accept_local"), sysctl("vr.51", "rp_filter")) == ("1", "1", "0")
        assert (sysctl("eth0", "arp_ignore"), sysctl("eth0", "arp_filter")) == ("1", "1")
        # a second run adopts it instead of failing
        assert VmacManager(nl).ensure(VmacSpec("vr.51", "eth0", vmac_address(51))) > 0
        with pytest.raises(VmacError, match="is not the VMAC"):
            VmacManager(nl).ensure(VmacSpec("vr.51", "eth0", vmac_address(52)))
        mgr.remove_all()
        assert "vr.51" not in ip_out(netns, "link")
        assert (sysctl("eth0", "arp_ignore"), sysctl("eth0", "arp_filter")) == ("0", "0")   # restored
    finally:
        nl.close()


def test_routes_follow_master(netns):
    cfg = parse_text(CONF).config
    nl = Netlink(netns=netns)
    try:
        listener = RoutesOnMaster(RouteManager(nl), cfg)
        listener("VI_1", "BACKUP", "MASTER", "test", 100)
        main = ip_out(netns, "route", "show")
        assert "198.19.1.0/24 via 198.18.0.1 dev eth0" in main
        assert "blackhole 198.19.3.0/24" in main
        assert "198.19.2.0/24 dev eth0" in ip_out(netns, "route", "show", "table", "100")
        assert "from 198.18.0.200 lookup 100" in ip_out(netns, "rule", "show")
        listener("VI_1", "MASTER", "MASTER", "again", 100)           # idempotent
        listener("VI_1", "MASTER", "BACKUP", "test", 100)
        assert "198.19" not in ip_out(netns, "route", "show")
        assert "198.19" not in ip_out(netns, "route", "show", "table", "100")
        assert "198.18.0.200" not in ip_out(netns, "rule", "show")
        assert listener.manager.errors == 0
    finally:
        nl.close()


CONF_FROM = """
vrrp_instance VI_6 {
  interface eth0
  virtual_router_id 52
  virtual_ipaddress { 2001:2:0:1::100/64 }
  virtual_routes {
    from 2001:2:0:1::/64 2001:2:0:9::/64 via 2001:2:0:1::1 dev eth0
  }
}
"""


def test_ipv6_source_specific_route_follows_master(netns):
    # keepalived's `from PREFIX` (IPv6 only): the kernel's route carries the source prefix
    subprocess.run(["ip", "-n", netns, "addr", "add", "2001:2:0:1::11/64", "dev", "eth0", "nodad"], check=True)
    cfg = parse_text(CONF_FROM).config
    assert cfg.instances[0].virtual_routes[0].from_ == "2001:2:0:1::/64"
    nl = Netlink(netns=netns)
    try:
        listener = RoutesOnMaster(RouteManager(nl), cfg)
        listener("VI_6", "BACKUP", "MASTER", "test", 100)
        assert "2001:2:0:9::/64 from 2001:2:0:1::/64 via 2001:2:0:1::1 dev eth0" in ip_out(netns, "-6", "route", "show")
        listener("VI_6", "MASTER", "BACKUP", "test", 100)
        assert "2001:2:0:9::" not in ip_out(netns, "-6", "route", "show")
        assert listener.manager.errors == 0
    finally:
        nl.close()
