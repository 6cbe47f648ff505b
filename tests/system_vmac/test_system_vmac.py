"""use_vmac on a real kernel: two kvrrp nodes on a bridged LAN of namespaces (kvrrp.lab), each
with the VMAC vrrp.51 (00:00:5e:00:01:33) that the daemon creates (kvrrp.daemon.services.vmacs).

The master's VIP lives on vrrp.51; its adverts leave with the virtual MAC as Ethernet source
and the base interface's address as IP source (VRRPv3 checksum over that address); its GARP
and the ARP reply a client gets carry the virtual MAC; the backup hears the master (on its own
VMAC: a private macvlan takes frames from its own MAC for itself); a failover moves the VIP
and the new master's GARP points the client's neighbour entry at the virtual MAC; SIGTERM removes the VMAC.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from kvrrp import fastpath
from kvrrp.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

VMAC = "vrrp.51"
VMAC_MAC = "00:00:5e:00:01:33"
VIP = "198.18.0.200"

CONF = """
global_defs {
    router_id %(name)s
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 2
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %(prio)d
    version 3
    advert_int 0.2
    use_vmac
    virtual_ipaddress {
        %(vips)s
    }
}
"""
VMAC6_MAC = "00:00:5e:00:02:33"
VIP6 = "2001:2::200"          # the IPv6 benchmarking range (RFC 5180), as tests/system does


def start(lab: Lab, node, prio: int, vips: str = f"{VIP}/24"):
    return start_conf(lab, node, CONF % {"name": node.name, "prio": prio, "vips": vips})


def start_conf(lab: Lab, node, text: str):
    """Run the kvrrp daemon (python3 -m kvrrp, whose VMAC service makes the VMACs before the
    engine, removed at stop) on `text` in node; returns its process."""
    return lab.start_kvrrp(node, text).proc


def log_of(lab: Lab, node) -> str:
    with open(os.path.join(lab.workdir, f"kvrrp-{node.name}.log"), errors="replace") as fh:
        return fh.read()


def links(lab: Lab, node) -> str:
    return lab.run(node, ["ip", "-d", "link", "show"]).stdout


PROBE = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(2)
try:
    s.connect((sys.argv[1], 9))
except ConnectionRefusedError:
    sys.exit(0)          # the VIP's holder answered (RST): ARP resolved, IP reachable
except OSError:
    sys.exit(1)
sys.exit(0)
"""


def reach(lab: Lab, node, address: str) -> bool:
    return lab.run(node, [sys.executable, "-c", PROBE, address], check=False).returncode == 0


def vmac_addresses(lab: Lab, node) -> list[str]:
    try:
        return lab.addresses(node, VMAC)
    except subprocess.CalledProcessError:      # not created (yet) or removed
        return []


def on_vmac(lab: Lab, node) -> bool:
    return VIP in vmac_addresses(lab, node)


def test_vmac_master_backup_failover_and_cleanup():
    with Lab(nodes=2, prefix="kvvm", client=True) as lab:
        n1, n2 = lab.nodes
        client = lab.client_node
        cap = lab.capture()
        p1 = start(lab, n1, 150)
        p2 = None
        try:
            assert lab.wait_for(lambda: on_vmac(lab, n1), 15), log_of(lab, n1)
            p2 = start(lab, n2, 100)        # after the master: it must never claim the VIP
            assert lab.wait_for(lambda: "Entering BACKUP" in log_of(lab, n2), 10), log_of(lab, n2)
            lab.wait_for(lambda: False, 1.5)          # well past its Master_Down_Interval
            # the VMAC: private macvlan on eth0 with the virtual MAC; the VIP only there
            detail = lab.run(n1, ["ip", "-d", "link", "show", VMAC]).stdout
            assert VMAC_MAC in detail and "macvlan mode private" in detail
            assert VIP not in lab.addresses(n1) and VIP not in vmac_addresses(lab, n2)
            # adverts: Ethernet source = virtual MAC, IP source = eth0's address, v3 checksum
            # computed over it; the backup hears them (it never claims the VIP)
            adverts = [(f, v) for f, v in cap.adverts() if v.src == n1.ipv4]
            assert adverts and {f.src_mac for f, _ in adverts} == {VMAC_MAC}
            assert {(v.dst, v.ttl) for _, v in adverts} == {("224.0.0.18", 255)}
            decoded = fastpath.decode_advert(adverts[-1][1].payload, 4, n1.ipv4, "224.0.0.18")
            assert decoded.checksum_ok is True and decoded.priority == 150 and decoded.vrid == 51
            assert "Entering MASTER" not in log_of(lab, n2), log_of(lab, n2)
            # GARP from the virtual MAC (Ethernet and ARP sender)
            garps = cap.garps(VIP)
            assert garps and all(f.src_mac == VMAC_MAC and f.arp().sender_mac == VMAC_MAC for f in garps)
            # a client resolving the VIP gets the virtual MAC in the ARP reply
            assert reach(lab, client, VIP)
            replies = [f.arp() for f in cap.snapshot() if f.arp() is not None and f.arp().op == 2
                       and f.arp().sender_ip == VIP]
            assert replies and {r.sender_mac for r in replies} == {VMAC_MAC}
            # (the client's entry may later learn eth0's MAC from the master's own ARP requests
            # sourced from the VIP: keepalived's sysctls leave arp_announce alone as well)

            # failover: n1 dies with its link (a crashed node leaves its VMAC behind)
            mark = cap.snapshot()[-1].ts
            lab.kill(p1, signal.SIGKILL)
            lab.run(n1, ["ip", "link", "set", "eth0", "down"])
            assert lab.wait_for(lambda: on_vmac(lab, n2), 10), log_of(lab, n2)
            assert lab.wait_for(lambda: cap.garps(VIP, since=mark), 5)
            assert all(f.src_mac == VMAC_MAC for f in cap.garps(VIP, since=mark))
            # the new master's GARP points the client's existing entry at the virtual MAC
            assert lab.wait_for(lambda: VMAC_MAC in lab.run(client, ["ip", "neigh", "show", VIP]).stdout, 3)
            lab.wait_for(lambda: False, 0.5)
            new_adverts = [(f, v) for f, v in cap.adverts(since=mark) if v.src == n2.ipv4]
            assert new_adverts and {f.src_mac for f, _ in new_adverts} == {VMAC_MAC}
            assert reach(lab, client, VIP)

            # SIGTERM: priority 0 through the VMAC, VIP released, VMAC removed
            mark = cap.snapshot()[-1].ts
            assert lab.stop(p2, timeout=10) == 0, log_of(lab, n2)
            assert VMAC not in links(lab, n2)
            zero = [(f, v) for f, v in cap.adverts(since=mark) if v.src == n2.ipv4
                    and fastpath.decode_advert(v.payload, 4).priority == 0]
            assert zero and zero[0][0].src_mac == VMAC_MAC
        finally:
            for proc in (p1, p2):
                if proc is not None:
                    lab.stop(proc, timeout=5)


def test_vmac_ipv6_adverts_from_the_base_link_local_through_the_vmac():
    vips = f"{VIP6}/64"
    with Lab(nodes=2, prefix="kvvm6", client=False) as lab:
        n1, n2 = lab.nodes
        cap = lab.capture()
        p1 = start(lab, n1, 150, vips)
        p2 = None
        try:
            assert lab.wait_for(lambda: VIP6 in vmac_addresses(lab, n1), 15), log_of(lab, n1)
            # the VMAC has the base's link-local and no address derived from the virtual MAC
            on_vmac6 = [a for a in vmac_addresses(lab, n1) if a.startswith("fe80:")]
            assert on_vmac6 == [n1.link_local]
            p2 = start(lab, n2, 100, vips)
            assert lab.wait_for(lambda: "Entering BACKUP" in log_of(lab, n2), 10), log_of(lab, n2)
            lab.wait_for(lambda: False, 1.5)
            assert "Entering MASTER" not in log_of(lab, n2), log_of(lab, n2)
            adverts = [(f, v) for f, v in cap.adverts() if v.family == 6 and v.src == n1.link_local]
            assert adverts and {f.src_mac for f, _ in adverts} == {VMAC6_MAC}
            assert {(v.dst, v.ttl) for _, v in adverts} == {("ff02::12", 255)}
            decoded = fastpath.decode_advert(adverts[-1][1].payload, 6, n1.link_local, "ff02::12")
            assert decoded.checksum_ok is True and decoded.priority == 150
            nas = [f for f in cap.snapshot() if f.ipv6_na_target() == VIP6]
            assert nas and {f.src_mac for f in nas} == {VMAC6_MAC}

            mark = cap.snapshot()[-1].ts
            lab.kill(p1, signal.SIGKILL)
            lab.run(n1, ["ip", "link", "set", "eth0", "down"])
            assert lab.wait_for(lambda: VIP6 in vmac_addresses(lab, n2), 10), log_of(lab, n2)
            lab.wait_for(lambda: False, 0.5)
            new_adverts = [(f, v) for f, v in cap.adverts(since=mark) if v.family == 6 and v.src == n2.link_local]
            assert new_adverts and {f.src_mac for f, _ in new_adverts} == {VMAC6_MAC}
            assert lab.stop(p2, timeout=10) == 0, log_of(lab, n2)
            assert VMAC not in links(lab, n2)
        finally:
            for proc in (p1, p2):
                if proc is not None:
                    lab.stop(proc, timeout=5)


@pytest.mark.keepalived
def test_vmac_interop_with_keepalived_both_ways():
    """keepalived 2.x with use_vmac and kvrrp with use_vmac in one group: each hears the
    other on its VMAC, exactly one master, failover both ways."""
    with Lab(nodes=2, prefix="kvvmk", client=False) as lab:
        n1, n2 = lab.nodes
        cap = lab.capture()
        text = lambda name, prio: CONF % {"name": name, "prio": prio, "vips": f"{VIP}/24"}  # noqa: E731
        ka = lab.start_keepalived(n1, text("ka", 150))
        kv = None
        try:
            assert lab.wait_for(lambda: on_vmac(lab, n1), 15), ka.log()
            kv = start(lab, n2, 100)
            assert lab.wait_for(lambda: "Entering BACKUP" in log_of(lab, n2), 10), log_of(lab, n2)
            lab.wait_for(lambda: False, 1.5)
            assert "Entering MASTER" not in log_of(lab, n2), log_of(lab, n2)
            assert {f.src_mac for f, v in cap.adverts() if v.src == n1.ipv4} == {VMAC_MAC}
            # keepalived crashes with its node: kvrrp takes over
            ka.crash()
            lab.run(n1, ["ip", "link", "set", "eth0", "down"])
            assert lab.wait_for(lambda: on_vmac(lab, n2), 10), log_of(lab, n2)
            # keepalived comes back (its stale VMAC removed, as a rebooted node would be) with
            # a lower priority: it hears kvrrp on its VMAC and stays BACKUP
            lab.run(n1, ["ip", "link", "del", VMAC], check=False)
            lab.run(n1, ["ip", "link", "set", "eth0", "up"])
            ka2 = lab.start_keepalived(n1, text("ka", 50), tag="keepalived-n1-again")
            assert lab.wait_for(lambda: "Entering BACKUP" in ka2.log(), 15), ka2.log()
            lab.wait_for(lambda: False, 1.5)
            assert "Entering MASTER" not in ka2.log(), ka2.log()
            assert on_vmac(lab, n2) and not on_vmac(lab, n1)
            ka2.stop()
        finally:
            if kv is not None:
                lab.stop(kv, timeout=5)


def test_reload_adds_and_removes_a_vmac_instance():
    plain = """
vrrp_instance VI_0 {
    interface eth0
    virtual_router_id 50
    priority 150
    version 3
    advert_int 0.2
    virtual_ipaddress {
        198.18.0.199/24
    }
}
"""
    full = CONF % {"name": "n1", "prio": 150, "vips": f"{VIP}/24"}
    globals_, vmac_instance = full.split("vrrp_instance", 1)
    plain = globals_ + plain          # same global_defs: VI_0's settings never change
    with Lab(nodes=1, prefix="kvvmr", client=False) as lab:
        (n1,) = lab.nodes
        d = lab.start_kvrrp(n1, plain)
        try:
            assert lab.wait_for(lambda: "198.18.0.199" in lab.addresses(n1), 15), d.log()
            assert VMAC not in links(lab, n1)
            # SIGHUP with a use_vmac instance added: its VMAC exists before the engine starts it
            d.write_config(plain + "vrrp_instance" + vmac_instance)
            d.signal(signal.SIGHUP)
            assert lab.wait_for(lambda: on_vmac(lab, n1), 10), d.log()
            assert "cannot open VRRP socket" not in d.log() and "Reload finished" in d.log()
            assert "kept ['VI_0']" in d.log() and "added ['VI_1']" in d.log()
            # and removed again: instance stopped, VMAC gone, the other instance untouched
            d.write_config(plain)
            d.signal(signal.SIGHUP)
            assert lab.wait_for(lambda: VMAC not in links(lab, n1), 10), d.log()
            assert "198.18.0.199" in lab.addresses(n1) and d.transitions("VI_0") == ["BACKUP", "MASTER"]
        finally:
            d.stop()
