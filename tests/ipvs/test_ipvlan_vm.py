"""use_ipvlan on a kernel with CONFIG_IPVLAN (the VM's Debian kernel; the hosts' kernel has no
ipvlan, so this lives in the VM tier although it needs no IPVS).

Two kvrrp nodes on a bridged LAN of namespaces, each with `use_ipvlan vrrp.51 ADDRESS/24
MODE`: kvrrp makes an L2 ipvlan with the mode flag on eth0, with eth0's MAC, puts the address
on it and sends the adverts there from that address; the VIP goes on eth0 (keepalived >= 2.2:
only use_vmac moves VIPs off the configured interface). Failover moves the VIP; SIGTERM
removes the ipvlan.
"""
from __future__ import annotations

import signal

import pytest

from kvrrp import fastpath
from kvrrp.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]

VIP = "198.18.0.200"

CONF = """
global_defs {
    router_id %(name)s
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 1
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %(prio)d
    version 3
    advert_int 0.5
    use_ipvlan vrrp.51 %(address)s/24 %(mode)s
    virtual_ipaddress {
        198.18.0.200/24
    }
}
"""


def test_use_ipvlan_link_adverts_failover_and_cleanup():
    with Lab(nodes=2, prefix="kvipv", client=False) as lab:
        n1, n2 = lab.nodes
        cap = lab.capture()
        d1 = lab.start_kvrrp(n1, CONF % {"name": "n1", "prio": 150, "address": "198.18.0.101", "mode": "private"})
        d2 = None
        try:
            assert lab.wait_for(lambda: VIP in lab.addresses(n1), 90), d1.log()
            d2 = lab.start_kvrrp(n2, CONF % {"name": "n2", "prio": 100, "address": "198.18.0.102", "mode": "vepa"})
            assert lab.wait_for(lambda: "Entering BACKUP" in d2.log(), 90), d2.log()
            lab.wait_for(lambda: False, 3)
            assert "Entering MASTER" not in d2.log(), d2.log()
            for node, flag, address in ((n1, "private", "198.18.0.101"), (n2, "vepa", "198.18.0.102")):
                link = lab.link(node, "vrrp.51")
                assert link is not None and link["linkinfo"]["info_kind"] == "ipvlan", link
                data = link["linkinfo"]["info_data"]
                # iproute2 prints the flag as a key: "private": true / "vepa": true / none for bridge
                shown = "private" if data.get("private") else "vepa" if data.get("vepa") else "bridge"
                assert (data["mode"], shown) == ("l2", flag), data
                assert link["address"] == node.mac and link["link"] == "eth0"
                assert address in lab.addresses(node, "vrrp.51", missing_ok=True)
            assert VIP not in lab.addresses(n1, "vrrp.51", missing_ok=True)
            # adverts from the ipvlan's address, with eth0's MAC (an ipvlan has its parent's)
            adverts = [(f, v) for f, v in cap.adverts() if v.src == "198.18.0.101"]
            assert adverts and {f.src_mac for f, _ in adverts} == {n1.mac}
            decoded = fastpath.decode_advert(adverts[-1][1].payload, 4, "198.18.0.101", "224.0.0.18")
            assert decoded.checksum_ok is True and decoded.priority == 150
            assert not [v for _, v in cap.adverts() if v.src == n1.ipv4]
            # failover: n1 dies with its link; n2 takes the VIP and advertises from its ipvlan
            mark = cap.snapshot()[-1].ts
            lab.kill(d1.proc, signal.SIGKILL)
            lab.run(n1, ["ip", "link", "set", "eth0", "down"])
            assert lab.wait_for(lambda: VIP in lab.addresses(n2), 60), d2.log()
            assert lab.wait_for(lambda: [v for _, v in cap.adverts(since=mark) if v.src == "198.18.0.102"], 30)
            assert d2.stop(60) == 0, d2.log()
            assert lab.link(n2, "vrrp.51") is None
        finally:
            for d in (d1, d2):
                if d is not None:
                    d.stop(30)
