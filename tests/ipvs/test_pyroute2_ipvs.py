"""What kvrrp relies on in pyroute2's IPVS support, checked against a real IPVS kernel.

These pin the pitfalls the healthcheck adapter (src/healthcheck/ipvs.py) is written around:
"update" deletes, "set" needs every attribute (defaults silently switch NAT to DR), a full
service needs a netmask (fwmark and IPv6 services fail with EINVAL without one), and IPv6's
netmask is a prefix length.
"""
from __future__ import annotations

import errno
import socket
import struct

import pytest
from ipvs_lab import ipvsadm, ipvsadm_table, pyroute2_table

pytestmark = pytest.mark.usefixtures("clean_ipvs")

TCP = socket.IPPROTO_TCP
VIP = "198.18.0.10"


@pytest.fixture
def sock():
    from pyroute2 import IPVS

    with IPVS() as s:
        yield s


def svc(**kw):
    from pyroute2 import IPVSService

    kw.setdefault("addr", VIP)
    kw.setdefault("port", 80)
    kw.setdefault("protocol", TCP)
    return IPVSService(**kw)


def dest(**kw):
    from pyroute2 import IPVSDest

    kw.setdefault("addr", "198.19.1.2")
    kw.setdefault("port", 8080)
    return IPVSDest(**kw)


def netlink_errno(call) -> int:
    from pyroute2.netlink.exceptions import NetlinkError

    with pytest.raises(NetlinkError) as info:
        call()
    return info.value.code


def test_add_service_and_nat_dest_shows_in_ipvsadm_and_dump(sock):
    sock.service("add", service=svc(sched_name="rr"))
    sock.dest("add", service=svc(), dest=dest(fwd_method=0, weight=3))
    assert ipvsadm_table() == {f"TCP {VIP}:80 rr": {"198.19.1.2:8080": ("Masq", 3)}}
    assert pyroute2_table() == {f"tcp {VIP}:80 rr": {"198.19.1.2:8080": (0, 3)}}


def test_defaults_are_wlc_and_direct_routing(sock):
    # pitfall: IPVSService defaults to wlc, IPVSDest to fwd_method 3 (DR) - NAT must be explicit
    sock.service("add", service=svc())
    sock.dest("add", service=svc(), dest=dest())
    assert ipvsadm_table() == {f"TCP {VIP}:80 wlc": {"198.19.1.2:8080": ("Route", 1)}}


def test_set_changes_a_weight_in_place_when_every_attribute_is_given(sock):
    sock.service("add", service=svc(sched_name="rr"))
    sock.dest("add", service=svc(), dest=dest(fwd_method=0, weight=1))
    sock.dest("add", service=svc(), dest=dest(addr="198.19.2.2", fwd_method=0, weight=1))
    sock.dest("set", service=svc(), dest=dest(fwd_method=0, weight=7))
    assert ipvsadm_table() == {f"TCP {VIP}:80 rr": {"198.19.1.2:8080": ("Masq", 7),
                                                     "198.19.2.2:8080": ("Masq", 1)}}


def test_set_without_fwd_method_silently_switches_nat_to_dr(sock):
    # pitfall: "set" replaces every attribute; IPVSDest's default fwd_method is DR
    sock.service("add", service=svc(sched_name="rr"))
    sock.dest("add", service=svc(), dest=dest(fwd_method=0))
    sock.dest("set", service=svc(), dest=dest(weight=2))
    assert ipvsadm_table() == {f"TCP {VIP}:80 rr": {"198.19.1.2:8080": ("Route", 2)}}


def test_update_verb_deletes_instead_of_updating(sock):
    # pitfall in pyroute2 0.9.x: "update" maps to the delete command. If this starts failing,
    # pyroute2 changed: the adapter uses "set" either way.
    sock.service("add", service=svc(sched_name="rr"))
    sock.dest("add", service=svc(), dest=dest(fwd_method=0))
    sock.dest("update", service=svc(), dest=dest(fwd_method=0, weight=5))
    assert ipvsadm_table() == {f"TCP {VIP}:80 rr": {}}
    sock.service("update", service=svc(sched_name="wrr"))
    assert ipvsadm_table() == {}


def test_service_set_changes_scheduler_and_persistence_keeping_dests(sock):
    sock.service("add", service=svc(sched_name="rr"))
    sock.dest("add", service=svc(), dest=dest(fwd_method=0))
    sock.service("set", service=svc(sched_name="wrr", timeout=300,
                                    flags={"flags": 1, "mask": 0xFFFFFFFF},
                                    netmask="255.255.255.255"))
    assert ipvsadm_table() == {f"TCP {VIP}:80 wrr persistent 300": {"198.19.1.2:8080": ("Masq", 1)}}


def test_fwmark_service_needs_a_netmask(sock):
    from pyroute2 import IPVSService

    bare = IPVSService(fwmark=7, af=socket.AF_INET, sched_name="rr")
    assert netlink_errno(lambda: sock.service("add", service=bare)) == errno.EINVAL

    sock.service("add", service=IPVSService(fwmark=7, af=socket.AF_INET, sched_name="rr",
                                            netmask="255.255.255.255"))
    sock.dest("add", service=IPVSService(fwmark=7, af=socket.AF_INET),
              dest=dest(port=0, fwd_method=3, weight=2))
    assert ipvsadm_table() == {"FWM 7 rr": {"198.19.1.2:0": ("Route", 2)}}


def test_ipv6_service_takes_prefix_length_as_netmask(sock):
    from pyroute2 import IPVSService

    v6 = dict(addr="2001:2::10", port=80, protocol=TCP, af=socket.AF_INET6)
    # without a netmask the kernel refuses the service ...
    assert netlink_errno(lambda: sock.service("add", service=IPVSService(**v6))) == errno.EINVAL
    # ... and it wants the prefix length (128) as a raw u32, not a dotted mask
    prefix = socket.inet_ntoa(struct.pack("=I", 128))
    sock.service("add", service=IPVSService(**v6, sched_name="rr", netmask=prefix))
    sock.dest("add", service=IPVSService(**v6),
              dest=dest(addr="2001:2:1::2", fwd_method=0, addr_family=socket.AF_INET6))
    assert ipvsadm_table() == {"TCP [2001:2::10]:80 rr": {"[2001:2:1::2]:8080": ("Masq", 1)}}


def test_duplicate_add_is_eexist_and_missing_set_is_esrch(sock):
    # the reconcile adapter reads these codes: EEXIST = someone else added it, ESRCH = gone
    sock.service("add", service=svc(sched_name="rr"))
    assert netlink_errno(lambda: sock.service("add", service=svc(sched_name="rr"))) == errno.EEXIST
    assert netlink_errno(lambda: sock.dest("set", service=svc(), dest=dest(fwd_method=0))) \
        == errno.ENOENT
    assert netlink_errno(lambda: sock.service("set", service=svc(port=81, sched_name="rr",
                                                                 netmask="255.255.255.255"))) \
        == errno.ESRCH


def test_deleting_a_service_takes_its_dests(sock):
    sock.service("add", service=svc(sched_name="rr"))
    sock.dest("add", service=svc(), dest=dest(fwd_method=0))
    sock.service("del", service=svc())
    assert ipvsadm_table() == {}


@pytest.mark.parametrize("sched", ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed",
                                   "nq", "mh", "fo", "ovf", "twos"])
def test_every_keepalived_scheduler_loads_or_is_absent_from_this_kernel(sock, sched):
    import subprocess

    in_kernel = subprocess.run(["modprobe", "-n", f"ip_vs_{sched}"], capture_output=True).returncode == 0
    if in_kernel:
        sock.service("add", service=svc(sched_name=sched))
        assert list(ipvsadm_table()) == [f"TCP {VIP}:80 {sched}"]
    else:
        # Debian 12's 6.1 kernel has no twos (added in 6.2): the kernel answers ENOENT
        assert sched == "twos", f"ip_vs_{sched} missing from the VM kernel"
        assert netlink_errno(lambda: sock.service("add", service=svc(sched_name=sched))) == errno.ENOENT


def test_dump_returns_every_entry_of_a_multipart_answer(sock):
    n = 300
    for i in range(n):
        sock.service("add", service=svc(addr=f"198.18.{10 + i // 250}.{i % 250 + 1}", sched_name="rr"))
    assert len(sock.service("dump")) == n
    assert ipvsadm("-Ln").count("TCP  198.18.") == n
