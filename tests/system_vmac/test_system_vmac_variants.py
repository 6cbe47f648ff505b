"""keepalived's VMAC variants on a real kernel (kvrrp.lab namespaces, a bridge as the LAN):
vmac_xmit_base, a VIP's own `use_vmac`, use_vmac_addr, the IGMP/MLD rules of VMACs and
disable_local_igmp, and vmac_xmit_base against keepalived 2.2.7 on the wire. (use_ipvlan needs
a kernel with CONFIG_IPVLAN, which this host's lacks: tests/ipvs/test_ipvlan_vm.py runs it in
the IPVS VM.)"""
from __future__ import annotations

import json
import signal
import socket
import struct

import pytest

from kvrrp import fastpath
from kvrrp.lab import Frame, Lab

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

VIP = "198.18.0.200"

GLOBALS = """
global_defs {
    router_id %(name)s
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 2
%(extra_globals)s
}
"""

INSTANCE = """
vrrp_instance %(iname)s {
    state BACKUP
    interface eth0
    virtual_router_id %(vrid)d
    priority %(prio)d
    version 3
    advert_int 0.2
%(options)s
    virtual_ipaddress {
%(vips)s
    }
%(excluded)s
}
"""


def conf(name: str, prio: int, options: str = "", vips: str = f"{VIP}/24", vrid: int = 51,
         excluded: str = "", extra_globals: str = "", iname: str = "VI_1") -> str:
    return (GLOBALS % {"name": name, "extra_globals": extra_globals}
            + INSTANCE % {"iname": iname, "vrid": vrid, "prio": prio, "options": options, "vips": vips,
                          "excluded": f"    virtual_ipaddress_excluded {{\n{excluded}\n    }}" if excluded else ""})


def sysctl(lab: Lab, node, key: str) -> str:
    return lab.run(node, ["sysctl", "-n", key]).stdout.strip()


def igmp_groups(frame: Frame) -> list[str]:
    """The groups an IGMPv2/v3 membership report in `frame` joins ([] if it is not one; the
    records of a v3 report that leave a group are not counted)."""
    d = frame.data
    if frame.ethertype != 0x0800 or len(d) < 34 or d[23] != 2:
        return []
    igmp = d[14 + (d[14] & 0x0F) * 4:]
    if not igmp:
        return []
    if igmp[0] in (0x12, 0x16) and len(igmp) >= 8:                 # v1/v2 report
        return [socket.inet_ntoa(igmp[4:8])]
    if igmp[0] == 0x22 and len(igmp) >= 8:                          # v3 report
        out, off = [], 8
        for _ in range(struct.unpack_from("!H", igmp, 6)[0]):
            if len(igmp) < off + 8:
                break
            rtype, aux, nsrc = igmp[off], igmp[off + 1], struct.unpack_from("!H", igmp, off + 2)[0]
            if rtype in (2, 4):                    # MODE_IS_EXCLUDE / CHANGE_TO_EXCLUDE: joined
                out.append(socket.inet_ntoa(igmp[off + 4:off + 8]))
            off += 8 + 4 * nsrc + 4 * aux
        return out
    return []


def is_mld_report(frame: Frame) -> bool:
    """An MLDv1/v2 listener report (ICMPv6 131 / 143, after the Router Alert hop-by-hop header)."""
    d = frame.data
    if frame.ethertype != 0x86DD or len(d) < 62:
        return False
    nh, off = d[20], 54
    if nh == 0:                                   # hop-by-hop options
        nh, off = d[off], off + (d[off + 1] + 1) * 8
    return nh == 58 and len(d) > off and d[off] in (131, 143)


def test_vmac_xmit_base_adverts_leave_the_base_interface_the_vip_lives_on_the_vmac():
    opts = "    use_vmac\n    vmac_xmit_base"
    with Lab(nodes=2, prefix="kvxb", client=True) as lab:
        n1, n2 = lab.nodes
        cap = lab.capture()
        lab.run(n1, ["ip", "link", "set", "eth0", "group", "7"])
        d1 = lab.start_kvrrp(n1, conf("n1", 150, opts))
        d2 = None
        try:
            assert lab.wait_for(lambda: VIP in lab.addresses(n1, "vrrp.51", missing_ok=True), 15), d1.log()
            d2 = lab.start_kvrrp(n2, conf("n2", 100, opts))
            assert lab.wait_for(lambda: "Entering BACKUP" in d2.log(), 10), d2.log()
            lab.wait_for(lambda: False, 1.5)
            assert "Entering MASTER" not in d2.log(), d2.log()
            # the VMAC exists as for use_vmac; the VIP is there and not on eth0
            link = lab.link(n1, "vrrp.51")
            assert link["linkinfo"]["info_kind"] == "macvlan"
            assert link["linkinfo"]["info_data"]["mode"] == "private"
            assert link["address"] == "00:00:5e:00:01:33"
            assert str(link["group"]) == "7"                    # the base's link group (keepalived 2.4)
            assert VIP not in lab.addresses(n1)
            # adverts: the base interface's MAC and address, valid v3 checksum
            adverts = [(f, v) for f, v in cap.adverts() if v.src == n1.ipv4]
            assert adverts and {f.src_mac for f, _ in adverts} == {n1.mac}
            decoded = fastpath.decode_advert(adverts[-1][1].payload, 4, n1.ipv4, "224.0.0.18")
            assert decoded.checksum_ok is True and decoded.priority == 150
            # the GARPs for the VIP still come from the virtual MAC (keepalived sends them on
            # the VIP's interface, the VMAC)
            garps = cap.garps(VIP)
            assert garps and {f.src_mac for f in garps} == {"00:00:5e:00:01:33"}
            # failover: the VIP moves to n2's VMAC, whose adverts leave n2's eth0
            mark = cap.snapshot()[-1].ts
            lab.kill(d1.proc, signal.SIGKILL)
            lab.run(n1, ["ip", "link", "set", "eth0", "down"])
            assert lab.wait_for(lambda: VIP in lab.addresses(n2, "vrrp.51", missing_ok=True), 10), d2.log()
            lab.wait_for(lambda: False, 0.5)
            new = [(f, v) for f, v in cap.adverts(since=mark) if v.src == n2.ipv4]
            assert new and {f.src_mac for f, _ in new} == {n2.mac}
            assert lab.wait_for(lambda: cap.garps(VIP, since=mark), 5)
            assert {f.src_mac for f in cap.garps(VIP, since=mark)} == {"00:00:5e:00:01:33"}
            assert d2.stop(10) == 0, d2.log()
            assert lab.link(n2, "vrrp.51") is None
        finally:
            for d in (d1, d2):
                if d is not None:
                    d.stop(5)


def test_a_vips_own_use_vmac_and_use_vmac_addr_make_vmacs_for_those_addresses():
    """VI_1 (no use_vmac): its VIP with `use_vmac` goes on a VMAC vrrp.52 of its own, adverts
    leave eth0. VI_2 (use_vmac, use_vmac_addr): its IPv4 VIP on its VMAC vrrp.53, its IPv6
    eVIP on a second VMAC for the other family, vrrp6.53 with 00:00:5e:00:02:35."""
    def both(name: str, prio: int) -> str:
        return (conf(name, prio, vrid=52, vips=f"        {VIP}/24 dev eth0 use_vmac")
                + INSTANCE % {"iname": "VI_2", "vrid": 53, "prio": prio, "options": "    use_vmac\n    use_vmac_addr",
                              "vips": "        198.18.0.201/24",
                              "excluded": "    virtual_ipaddress_excluded {\n        2001:2::201/64\n    }"})
    with Lab(nodes=2, prefix="kvav", client=False) as lab:
        n1, n2 = lab.nodes
        cap = lab.capture()
        d1 = lab.start_kvrrp(n1, both("n1", 150))
        d2 = None
        try:
            assert lab.wait_for(lambda: VIP in lab.addresses(n1, "vrrp.52", missing_ok=True)
                                and "2001:2::201" in lab.addresses(n1, "vrrp6.53", missing_ok=True), 15), d1.log()
            d2 = lab.start_kvrrp(n2, both("n2", 100))
            assert lab.wait_for(lambda: d2.log().count("Entering BACKUP") >= 2, 10), d2.log()
            kinds = {name: lab.link(n1, name) for name in ("vrrp.52", "vrrp.53", "vrrp6.53")}
            assert {n: (k["linkinfo"]["info_kind"], k["linkinfo"]["info_data"]["mode"], k["address"], k["link"])
                    for n, k in kinds.items()} == {
                "vrrp.52": ("macvlan", "private", "00:00:5e:00:01:34", "eth0"),
                "vrrp.53": ("macvlan", "private", "00:00:5e:00:01:35", "eth0"),
                "vrrp6.53": ("macvlan", "private", "00:00:5e:00:02:35", "eth0")}
            assert "198.18.0.201" in lab.addresses(n1, "vrrp.53", missing_ok=True)
            assert VIP not in lab.addresses(n1)
            assert "2001:2::201" not in lab.addresses(n1, "vrrp.53", missing_ok=True)
            # IPv6 is off on the IPv4 VMACs without IPv6 eVIPs (keepalived's link_set_ipv6)
            assert sysctl(lab, n1, "net.ipv6.conf.vrrp/52.disable_ipv6") == "1"
            assert sysctl(lab, n1, "net.ipv6.conf.vrrp6/53.disable_ipv6") == "0"
            lab.wait_for(lambda: False, 1.0)
            # VI_1's adverts leave eth0 (it has no VMAC of its own), VI_2's its VMAC
            by_vrid: dict[int, set[str]] = {}
            for f, v in cap.adverts():
                if v.src == n1.ipv4:
                    by_vrid.setdefault(fastpath.decode_advert(v.payload, 4).vrid, set()).add(f.src_mac)
            assert by_vrid == {52: {n1.mac}, 53: {"00:00:5e:00:01:35"}}
            assert {f.src_mac for f in cap.garps(VIP)} == {"00:00:5e:00:01:34"}
            # MLD reports of the IPv6 VMAC (the eVIP's solicited-node group) leave from eth0
            mld = [f for f in cap.snapshot() if is_mld_report(f)]
            assert mld and not [f for f in mld if f.src_mac.startswith("00:00:5e:00:")], \
                {f.src_mac for f in mld}
            # failover moves the VIP to n2's VMAC for it
            lab.kill(d1.proc, signal.SIGKILL)
            lab.run(n1, ["ip", "link", "set", "eth0", "down"])
            assert lab.wait_for(lambda: VIP in lab.addresses(n2, "vrrp.52", missing_ok=True)
                                and "2001:2::201" in lab.addresses(n2, "vrrp6.53", missing_ok=True), 10), d2.log()
            assert d2.stop(10) == 0, d2.log()
            assert all(lab.link(n2, n) is None for n in ("vrrp.52", "vrrp.53", "vrrp6.53"))
        finally:
            for d in (d1, d2):
                if d is not None:
                    d.stop(5)


def test_vmac_igmp_reports_leave_from_the_base_interface_and_disable_local_igmp():
    with Lab(nodes=1, prefix="kvig", client=False) as lab:
        (n1,) = lab.nodes
        cap = lab.capture()
        d1 = lab.start_kvrrp(n1, conf("n1", 150, "    use_vmac"))
        try:
            assert lab.wait_for(lambda: VIP in lab.addresses(n1, "vrrp.51", missing_ok=True), 15), d1.log()
            # the joins of 224.0.0.18 on the VMAC are reported (IGMPv3, sent twice), but from eth0
            assert lab.wait_for(lambda: any("224.0.0.18" in igmp_groups(f) for f in cap.snapshot()), 5)
            lab.wait_for(lambda: False, 1.5)
            reports = [f for f in cap.snapshot() if igmp_groups(f)]
            assert {f.src_mac for f in reports if "224.0.0.18" in igmp_groups(f)} == {n1.mac}
            assert "00:00:5e:00:01:33" not in {f.src_mac for f in reports}
            table = json.loads(lab.run(n1, ["nft", "-j", "list", "table", "ip", "keepalived_vmac"]).stdout)
            maps = [o["map"] for o in table["nftables"] if "map" in o]
            assert maps and maps[0]["name"] == "vmac_map" and maps[0]["elem"] == [["vrrp.51", "eth0"]]
            assert sysctl(lab, n1, "net.ipv4.igmp_link_local_mcast_reports") == "1"
            assert d1.stop(10) == 0, d1.log()
            # at exit the table goes with the VMAC
            assert lab.run(n1, ["nft", "list", "table", "ip", "keepalived_vmac"], check=False).returncode != 0

            # disable_local_igmp: no reports for 224.0.0.0/24 at all while running, no IPv4 rules,
            # the sysctl restored at exit
            mark = cap.snapshot()[-1].ts
            d1 = lab.start_kvrrp(n1, conf("n1", 150, "    use_vmac", extra_globals="    disable_local_igmp"),
                                 tag="kvrrp-n1-again")
            assert lab.wait_for(lambda: VIP in lab.addresses(n1, "vrrp.51", missing_ok=True), 15), d1.log()
            assert sysctl(lab, n1, "net.ipv4.igmp_link_local_mcast_reports") == "0"
            lab.wait_for(lambda: False, 1.5)
            assert not [f for f in cap.snapshot() if f.ts > mark and "224.0.0.18" in igmp_groups(f)]
            assert lab.run(n1, ["nft", "list", "table", "ip", "keepalived_vmac"], check=False).returncode != 0
            assert d1.stop(10) == 0, d1.log()
            assert sysctl(lab, n1, "net.ipv4.igmp_link_local_mcast_reports") == "1"
        finally:
            d1.stop(5)


@pytest.mark.keepalived
def test_vmac_xmit_base_interop_with_keepalived():
    """keepalived 2.2.7 and kvrrp, both use_vmac + vmac_xmit_base: adverts from the base MACs
    both ways, exactly one master, failover both ways."""
    opts = "    use_vmac\n    vmac_xmit_base"
    with Lab(nodes=2, prefix="kvxbk", client=False) as lab:
        n1, n2 = lab.nodes
        cap = lab.capture()
        ka = lab.start_keepalived(n1, conf("ka", 150, opts))
        kv = None
        try:
            assert lab.wait_for(lambda: VIP in lab.addresses(n1, "vrrp.51", missing_ok=True), 15), ka.log()
            kv = lab.start_kvrrp(n2, conf("kv", 100, opts))
            assert lab.wait_for(lambda: "Entering BACKUP" in kv.log(), 10), kv.log()
            lab.wait_for(lambda: False, 1.5)
            assert "Entering MASTER" not in kv.log(), kv.log()
            assert {f.src_mac for f, v in cap.adverts() if v.src == n1.ipv4} == {n1.mac}
            # keepalived stops (priority 0 from its eth0): kvrrp takes over, adverts from n2's eth0
            mark = cap.snapshot()[-1].ts
            ka.stop()
            assert lab.wait_for(lambda: VIP in lab.addresses(n2, "vrrp.51", missing_ok=True), 10), kv.log()
            lab.wait_for(lambda: False, 0.5)
            assert {f.src_mac for f, v in cap.adverts(since=mark) if v.src == n2.ipv4} == {n2.mac}
            # keepalived back with a higher priority: it preempts, kvrrp hears it on eth0 and yields
            ka2 = lab.start_keepalived(n1, conf("ka", 150, opts), tag="keepalived-n1-again")
            assert lab.wait_for(lambda: "Entering MASTER" in ka2.log(), 15), ka2.log()
            assert lab.wait_for(lambda: VIP not in lab.addresses(n2, "vrrp.51", missing_ok=True), 10), kv.log()
            assert VIP in lab.addresses(n1, "vrrp.51", missing_ok=True)
            assert kv.transitions("VI_1")[-1] == "BACKUP"
            ka2.stop()
        finally:
            if kv is not None:
                kv.stop(5)
