"""kvrrp's own IPVS adapter (healthcheck.ipvs_netlink: struct-packed messages in batches,
struct-parsed dumps) against the real kernel: every entry shape round-trips, a failing entry
in a batch fails alone with its own errno, big batches are complete, and what ipvsadm reads
back is what was meant (the GUE tunnel port is big-endian on the wire)."""
from __future__ import annotations

import asyncio
import errno

import pytest
from ipvs_lab import ipvsadm, ipvsadm_table, pyroute2_table

from healthcheck.ipvs import ADD_DEST, ADD_SERVICE, DEL_SERVICE, SET_DEST, Op
from healthcheck.ipvs_netlink import PyrouteKernel
from healthcheck.table import (
    F_ONEPACKET,
    F_PERSISTENT,
    F_SCHED1,
    F_SCHED2,
    FWD_DR,
    FWD_NAT,
    FWD_TUN,
    Dest,
    DestKey,
    Service,
    ServiceKey,
    Table,
)

pytestmark = pytest.mark.usefixtures("clean_ipvs")

V4 = [
    Service(ServiceKey(4, 6, "198.18.0.10", 80), sched="rr"),
    Service(ServiceKey(4, 17, "198.18.0.11", 53), sched="sh", flags=F_PERSISTENT | F_SCHED1 | F_SCHED2,
            timeout=300, netmask=24),
    Service(ServiceKey(4, 17, "198.18.0.12", 5060), sched="wlc", flags=F_PERSISTENT | F_ONEPACKET,
            timeout=60, pe_name="sip"),
    Service(ServiceKey.fwm(4, 7), sched="lblcr"),
]
V6 = [
    Service(ServiceKey(6, 6, "2001:db8::10", 443), sched="mh", netmask=128),
    Service(ServiceKey.fwm(6, 8), sched="wrr", flags=F_PERSISTENT, timeout=30, netmask=64),
]
D4 = [
    Dest(DestKey("198.19.1.2", 8080), 4, FWD_NAT, 3),
    Dest(DestKey("198.19.1.3", 0), 4, FWD_DR, 0, u_thresh=100, l_thresh=10),
    Dest(DestKey("198.19.1.4", 80), 4, FWD_TUN, 7, tun_type=1, tun_port=6080, tun_flags=1),
]
D6 = [Dest(DestKey("2001:db8:1::2", 443), 6, FWD_NAT, 2), Dest(DestKey("2001:db8:1::3", 0), 6, FWD_DR, 1)]




def wanted() -> Table:
    t = Table()
    for svcs, dests in ((V4, D4), (V6, D6)):
        for svc in svcs:
            t.add_service(svc)
            for d in dests:
                if svc.key.fwmark and d.fwd == FWD_NAT and d.key.port:
                    continue
                t.add_dest(svc.key, d)
    return t


def ops_for(table: Table) -> list[Op]:
    ops = []
    for key, e in table.entries.items():
        ops.append(Op(ADD_SERVICE, key, svc=e.service))
        ops.extend(Op(ADD_DEST, key, dest=d) for d in e.dests.values())
    return ops


def same(kernel: Table, want: Table) -> bool:
    if kernel.entries.keys() != want.entries.keys():
        return False
    for key, e in want.entries.items():
        have = kernel.entries[key]
        if not have.service.same_attrs(e.service) or have.dests.keys() != e.dests.keys():
            return False
        if any(not have.dests[k].same_attrs(d) or have.dests[k].family != d.family for k, d in e.dests.items()):
            return False
    return True


async def test_every_shape_round_trips_through_the_kernel():
    k = await PyrouteKernel().open()
    try:
        want = wanted()
        results = await k.apply(ops_for(want))
        assert results == [None] * len(results)
        got = await k.dump()
        assert same(got, want), got.format()
        # and pyroute2's own decoder reads the same weights and methods
        pr = await asyncio.to_thread(pyroute2_table)   # pyroute2's sync API runs its own loop
        assert pr["tcp 198.18.0.10:80 rr"] == {"198.19.1.2:8080": (0, 3), "198.19.1.3:0": (3, 0),
                                               "198.19.1.4:80": (2, 7)}
    finally:
        await k.close()


async def test_gue_tunnel_port_reaches_the_kernel_big_endian():
    k = await PyrouteKernel().open()
    try:
        svc = V4[0]
        assert await k.apply([Op(ADD_SERVICE, svc.key, svc=svc), Op(ADD_DEST, svc.key, dest=D4[2])]) == [None, None]
        out = ipvsadm("-Ln", "--tun-info")
        line = next(line for line in out.splitlines() if "198.19.1.4:80" in line)
        assert "6080" in line and "49175" not in line, out   # 6080 byte-swapped is 49175
        assert (await k.dump()).entries[svc.key].dests[D4[2].key].tun_port == 6080
    finally:
        await k.close()


async def test_a_failing_entry_in_a_batch_fails_alone_with_its_errno():
    k = await PyrouteKernel().open()
    try:
        svc = V4[0]
        missing = ServiceKey(4, 6, "198.18.0.99", 80)
        d1, d2 = D4[0], Dest(DestKey("198.19.1.9", 8080), 4, FWD_NAT, 1)
        ops = [Op(ADD_SERVICE, svc.key, svc=svc), Op(ADD_DEST, svc.key, dest=d1),
               Op(ADD_DEST, svc.key, dest=d1),                       # exists: EEXIST
               Op(ADD_DEST, missing, dest=d2),                       # no such service: ESRCH
               Op(SET_DEST, svc.key, dest=Dest(DestKey("198.19.1.77", 1), 4, FWD_NAT, 5)),  # ENOENT
               Op(ADD_DEST, svc.key, dest=d2)]
        results = await k.apply(ops)
        codes = [getattr(r, "code", None) if r is not None else 0 for r in results]
        assert codes == [0, 0, errno.EEXIST, errno.ESRCH, errno.ENOENT, 0], results
        assert ipvsadm_table() == {"TCP 198.18.0.10:80 rr": {"198.19.1.2:8080": ("Masq", 3),
                                                            "198.19.1.9:8080": ("Masq", 1)}}
    finally:
        await k.close()


async def test_big_batches_are_complete_and_dumped_back():
    k = await PyrouteKernel().open()
    try:
        want = Table()
        for v in range(300):
            svc = Service(ServiceKey(4, 6, f"198.18.{v // 250 + 1}.{v % 250 + 1}", 80), sched="wrr")
            want.add_service(svc)
            for r in range(9):
                n = v * 9 + r
                want.add_dest(svc.key, Dest(DestKey(f"198.19.{n // 250}.{n % 250 + 1}", 8080), weight=r + 1))
        sends = k.sends
        results = await k.apply(ops_for(want))
        assert results == [None] * 3000
        assert k.sends - sends >= 3000 // k.batch_messages          # really batched, all ACKed
        assert same(await k.dump(), want)
        assert len(ipvsadm_table()) == 300
        assert await k.apply([Op(DEL_SERVICE, key) for key in want.entries]) == [None] * 300
        assert ipvsadm_table() == {}
    finally:
        await k.close()


async def test_timeouts_and_flush():
    k = await PyrouteKernel().open()
    try:
        await k.set_timeouts(901, 121, 301)
        assert "901 121 301" in " ".join(ipvsadm("-L", "--timeout").split())
        await k.apply([Op(ADD_SERVICE, V4[0].key, svc=V4[0])])
        await k.flush()
        assert ipvsadm_table() == {}
    finally:
        await k.set_timeouts(900, 120, 300)
        await k.close()
