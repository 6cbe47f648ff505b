"""Unicast adverts on the wire: unicast_ttl, and keepalived's old_unicast_checksum (a
keepalived 2.2.7 master configured with it sends VRRPv3 unicast adverts whose checksum has the
multicast group in the pseudo-header; a kvrrp backup (default: auto) detects that, accepts
them and, once master, answers in kind)."""
from __future__ import annotations

import pytest

from kvrrp import fastpath
from kvrrp.lab import Lab
from test_system_vmac import VIP, log_of, start_conf

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

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
    advert_int 0.2
    %(extra)s
    unicast_src_ip %(me)s
    unicast_peer {
        %(peer)s
    }
    virtual_ipaddress {
        %(vip)s/24
    }
}
"""


def test_unicast_ttl_on_the_wire():
    with Lab(nodes=2, prefix="kvut", client=False) as lab:
        n1, n2 = lab.nodes
        cap = lab.capture()
        p1 = start_conf(lab, n1, CONF % {"name": "a", "prio": 150, "extra": "unicast_ttl 7",
                                         "me": n1.ipv4, "peer": n2.ipv4, "vip": VIP})
        p2 = None
        try:
            assert lab.wait_for(lambda: VIP in lab.addresses(n1), 15), log_of(lab, n1)
            p2 = start_conf(lab, n2, CONF % {"name": "b", "prio": 100, "extra": "", "me": n2.ipv4,
                                             "peer": n1.ipv4, "vip": VIP})
            assert lab.wait_for(lambda: "Entering BACKUP" in log_of(lab, n2), 10), log_of(lab, n2)
            lab.wait_for(lambda: False, 1.5)
            # unicast TTLs are not checked (keepalived): the backup accepts TTL 7
            assert "Entering MASTER" not in log_of(lab, n2), log_of(lab, n2)
            theirs = [v for _, v in cap.adverts() if v.src == n1.ipv4]
            assert theirs and {(v.dst, v.ttl) for v in theirs} == {(n2.ipv4, 7)}
            assert {v.ttl for _, v in cap.adverts() if v.src == n2.ipv4} <= {255}
        finally:
            for proc in (p1, p2):
                if proc is not None:
                    lab.stop(proc, timeout=5)


@pytest.mark.keepalived
def test_kvrrp_detects_and_answers_keepalived_old_unicast_checksum():
    with Lab(nodes=2, prefix="kvuc", client=False) as lab:
        n1, n2 = lab.nodes
        cap = lab.capture()
        ka = lab.start_keepalived(n1, CONF % {"name": "ka", "prio": 150, "extra": "old_unicast_checksum",
                                              "me": n1.ipv4, "peer": n2.ipv4, "vip": VIP})
        kv = None
        try:
            assert lab.wait_for(lambda: VIP in lab.addresses(n1), 15), ka.log()
            kv = start_conf(lab, n2, CONF % {"name": "kv", "prio": 100, "extra": "", "me": n2.ipv4,
                                             "peer": n1.ipv4, "vip": VIP})
            assert lab.wait_for(lambda: "Entering BACKUP" in log_of(lab, n2), 10), log_of(lab, n2)
            lab.wait_for(lambda: False, 1.5)
            log = log_of(lab, n2)
            assert "Setting unicast VRRPv3 checksum to old version" in log and "Entering MASTER" not in log, log
            # what keepalived sent verifies only with the group as the pseudo-header destination
            theirs = [v for _, v in cap.adverts() if v.src == n1.ipv4]
            assert theirs and getattr(fastpath.decode_advert(theirs[-1].payload, 4, n1.ipv4, "224.0.0.18"),
                                      "checksum_ok", None) is True
            assert getattr(fastpath.decode_advert(theirs[-1].payload, 4, n1.ipv4, n2.ipv4), "checksum_ok", None) is not True
            mark = cap.snapshot()[-1].ts
            ka.crash()
            assert lab.wait_for(lambda: VIP in lab.addresses(n2), 10), log_of(lab, n2)
            lab.wait_for(lambda: False, 0.5)
            ours = [v for _, v in cap.adverts(since=mark) if v.src == n2.ipv4]
            assert ours and {v.dst for v in ours} == {n1.ipv4}
            assert all(getattr(fastpath.decode_advert(v.payload, 4, n2.ipv4, "224.0.0.18"), "checksum_ok", None)
                       is True for v in ours)
        finally:
            if kv is not None:
                lab.stop(kv, timeout=5)
