"""The struct-packed IPVS messages against pyroute2's own encoder (byte for byte), dump replies
parsed against pyroute2's decoder, and the batching of PyrouteKernel over a stand-in socket."""
from __future__ import annotations

import errno
import socket
import struct

import pytest

from healthcheck import ipvs_netlink, ipvs_wire as w
from healthcheck.ipvs import (
    ADD_DEST,
    ADD_SERVICE,
    DEL_DEST,
    DEL_SERVICE,
    SET_DEST,
    SET_SERVICE,
    Op,
    Ownership,
    Reconciler,
)
from hc_pyroute2 import dest_fields, dest_from_nla, key_fields, service_fields, service_from_nla, timeouts_msg
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

FAMILY_ID = 0x25
SEQ = 4242

SERVICES = [
    Service(ServiceKey(4, 6, "198.18.0.1", 80), sched="rr"),
    Service(ServiceKey(4, 6, "198.18.0.1", 80), sched="sh", flags=F_PERSISTENT | F_SCHED1 | F_SCHED2,
            timeout=300, netmask=24),
    Service(ServiceKey(4, 17, "198.18.255.254", 65535), sched="wlc", flags=F_ONEPACKET, netmask=1),
    Service(ServiceKey(6, 17, "2001:db8::1", 53), sched="mh", netmask=64),
    Service(ServiceKey.fwm(4, 7), sched="lblcr", netmask=32),
    Service(ServiceKey.fwm(6, 0xFFFFFFFF), sched="twos", netmask=128),
    Service(ServiceKey(4, 132, "198.18.0.9", 5060), sched="wlc", flags=F_PERSISTENT, timeout=60, pe_name="sip"),
]
DESTS = [
    Dest(DestKey("198.19.0.1", 8080), 4, FWD_NAT, 1),
    Dest(DestKey("198.19.0.2", 0), 4, FWD_DR, 0, u_thresh=100, l_thresh=10),
    Dest(DestKey("198.19.0.3", 80), 4, FWD_TUN, 2**31 - 1, tun_type=1, tun_port=6080, tun_flags=2),
    Dest(DestKey("2001:db8::2", 53), 6, FWD_TUN, 5, tun_type=2),
]


def pyroute2_bytes(cmd: int, verb: str, attrs: list) -> bytes:
    """pyroute2's encoding of an IPVS message with its flags for ``verb``."""
    from pyroute2.netlink.generic import ipvs as genl
    from pyroute2.netlink.nlsocket import NetlinkRequest

    flags = NetlinkRequest.calculate_request_flags(verb, False)
    m = genl.ipvsmsg()
    m["cmd"] = cmd
    m["version"] = genl.GENL_VERSION
    m["attrs"] = attrs
    m["header"]["type"] = FAMILY_ID
    m["header"]["flags"] = flags
    m["header"]["sequence_number"] = SEQ
    m["header"]["pid"] = 0
    m.encode()
    return bytes(m.data)


def kernel_encoder() -> PyrouteKernel:
    k = PyrouteKernel()
    k.family_id = FAMILY_ID
    return k


def _pr_service(svc: Service):
    from pyroute2.ipvs import IPVSService

    return IPVSService(**service_fields(svc)).dump_nla()


def _pr_key(key: ServiceKey):
    from pyroute2.ipvs import IPVSService

    return IPVSService(**key_fields(key)).dump_key()


def _pr_dest(dest: Dest):
    from pyroute2.ipvs import IPVSDest

    fields = dest_fields(dest)
    # the kernel reads TUN_PORT big-endian (nla_get_be16); pyroute2 packs a host-order u16
    fields["tun_port"] = socket.htons(dest.tun_port)
    return IPVSDest(**fields).dump_nla()


@pytest.mark.parametrize("svc", SERVICES, ids=str)
def test_service_messages_match_pyroute2(svc):
    k = kernel_encoder()
    svc_attr = [("IPVS_CMD_ATTR_SERVICE", _pr_service(svc))]
    assert k.encode(Op(ADD_SERVICE, svc.key, svc=svc), SEQ) == pyroute2_bytes(w.CMD_NEW_SERVICE, "create", svc_attr)
    assert k.encode(Op(SET_SERVICE, svc.key, svc=svc), SEQ) == pyroute2_bytes(w.CMD_SET_SERVICE, "change", svc_attr)
    assert k.encode(Op(DEL_SERVICE, svc.key), SEQ) == pyroute2_bytes(
        w.CMD_DEL_SERVICE, "req", [("IPVS_CMD_ATTR_SERVICE", _pr_key(svc.key))])


@pytest.mark.parametrize("dest", DESTS, ids=str)
@pytest.mark.parametrize("svc", [SERVICES[0], SERVICES[3], SERVICES[5]], ids=str)
def test_dest_messages_match_pyroute2(svc, dest):
    k = kernel_encoder()
    attrs = [("IPVS_CMD_ATTR_SERVICE", _pr_key(svc.key)), ("IPVS_CMD_ATTR_DEST", _pr_dest(dest))]
    assert k.encode(Op(ADD_DEST, svc.key, dest=dest), SEQ) == pyroute2_bytes(w.CMD_NEW_DEST, "create", attrs)
    assert k.encode(Op(SET_DEST, svc.key, dest=dest), SEQ) == pyroute2_bytes(w.CMD_SET_DEST, "change", attrs)
    fam = socket.AF_INET6 if dest.family == 6 else socket.AF_INET
    del_attrs = [("IPVS_CMD_ATTR_SERVICE", _pr_key(svc.key)),
                 ("IPVS_CMD_ATTR_DEST", {"attrs": [("IPVS_DEST_ATTR_ADDR", dest.key.addr),
                                                   ("IPVS_DEST_ATTR_PORT", dest.key.port),
                                                   ("IPVS_DEST_ATTR_ADDR_FAMILY", fam)]})]
    assert k.encode(Op(DEL_DEST, svc.key, dest_key=dest.key), SEQ) == pyroute2_bytes(w.CMD_DEL_DEST, "req", del_attrs)


@pytest.mark.parametrize("values", [(900, None, 300), (None, 120, None), (0, 0, 0xFFFFFFFF)])
def test_timeouts_and_flush_match_pyroute2(values):
    from pyroute2.netlink.nlsocket import NetlinkRequest

    ref = timeouts_msg(*values)
    ref["header"].update(type=FAMILY_ID, flags=NetlinkRequest.calculate_request_flags("req", False),
                         sequence_number=SEQ, pid=0)
    ref.encode()
    assert w.message(FAMILY_ID, w.FLAGS_REQ, SEQ, w.CMD_SET_CONFIG, w.timeouts_attrs(*values)) == bytes(ref.data)
    assert w.message(FAMILY_ID, w.FLAGS_REQ, SEQ, w.CMD_FLUSH, b"") == pyroute2_bytes(w.CMD_FLUSH, "req", [])
    with pytest.raises(ValueError):
        w.timeouts_attrs(-1, None, None)


def test_bad_entry_fails_alone_at_encoding():
    k = kernel_encoder()
    ops = [Op(ADD_DEST, SERVICES[0].key, dest=Dest(DestKey("not-an-address", 80))),
           Op(ADD_DEST, SERVICES[0].key, dest=Dest(DestKey("198.19.0.1", 70000)))]
    for op in ops:
        with pytest.raises((OSError, ValueError, OverflowError, struct.error)):
            k.encode(op, 1)


# ---------------------------------------------------------------------------------------------
# dump replies: what the kernel sends, parsed by struct, against pyroute2's decoder


def _kernel_reply(cmd: int, attrs: list) -> tuple[bytes, object]:
    from pyroute2.netlink.generic import ipvs as genl

    data = pyroute2_bytes(cmd, "dump", attrs)
    back = genl.ipvsmsg(data)
    back.decode()
    return data, back


STATS = {"attrs": [("IPVS_STATS_ATTR_CONNS", 5), ("IPVS_STATS_ATTR_INBYTES", 1 << 40)]}


@pytest.mark.parametrize("svc", SERVICES, ids=str)
def test_service_dump_reply_parses_like_pyroute2(svc):
    nla = _pr_service(svc)
    # as the kernel sends it: kernel-internal "hashed" flag, stats nests, attribute order kept
    attrs = [(n, ({"flags": v["flags"] | 0x2, "mask": 0xFFFF} if n == "IPVS_SVC_ATTR_FLAGS" else v)) for n, v in nla["attrs"]]
    attrs.append(("IPVS_SVC_ATTR_STATS", STATS))
    data, back = _kernel_reply(w.CMD_NEW_SERVICE, [("IPVS_CMD_ATTR_SERVICE", {"attrs": attrs})])
    mine = w.parse_service(data, 0, len(data))
    assert mine == service_from_nla(back.get_attr("IPVS_CMD_ATTR_SERVICE"))
    assert mine.key == svc.key and mine.same_attrs(svc) and mine.flags & 0x2


@pytest.mark.parametrize("dest", DESTS, ids=str)
def test_dest_dump_reply_parses_like_pyroute2(dest):
    attrs = list(_pr_dest(dest)["attrs"]) + [("IPVS_DEST_ATTR_ACTIVE_CONNS", 3), ("IPVS_DEST_ATTR_STATS", STATS)]
    data, back = _kernel_reply(w.CMD_NEW_DEST, [("IPVS_CMD_ATTR_DEST", {"attrs": attrs})])
    mine = w.parse_dest(data, 0, len(data), 4)
    ref = dest_from_nla(back.get_attr("IPVS_CMD_ATTR_DEST"), 4)
    # pyroute2 reads TUN_PORT in host order; the value on the wire is big-endian
    assert mine == Dest(ref.key, ref.family, ref.fwd, ref.weight, ref.u_thresh, ref.l_thresh,
                        ref.tun_type, socket.ntohs(ref.tun_port), ref.tun_flags)
    assert mine == dest


STATS64 = {"attrs": [("IPVS_STATS_ATTR_CONNS", 1 << 33), ("IPVS_STATS_ATTR_INPKTS", 11),
                     ("IPVS_STATS_ATTR_OUTPKTS", 12), ("IPVS_STATS_ATTR_INBYTES", 1 << 41),
                     ("IPVS_STATS_ATTR_OUTBYTES", 14), ("IPVS_STATS_ATTR_CPS", 15), ("IPVS_STATS_ATTR_INPPS", 16),
                     ("IPVS_STATS_ATTR_OUTPPS", 17), ("IPVS_STATS_ATTR_INBPS", 18), ("IPVS_STATS_ATTR_OUTBPS", 19)]}
STATS64_VALUES = {"conns": 1 << 33, "inpkts": 11, "outpkts": 12, "inbytes": 1 << 41, "outbytes": 14, "cps": 15,
                  "inpps": 16, "outpps": 17, "inbps": 18, "outbps": 19}


@pytest.mark.parametrize("svc", SERVICES[:2], ids=str)
def test_service_traffic_counters_prefer_stats64(svc):
    """Both nests as a current kernel sends them (encoded by pyroute2, an independent
    reference for the layouts): the 64-bit one is read; without it, the old one."""
    base = list(_pr_service(svc)["attrs"])
    data, _ = _kernel_reply(w.CMD_NEW_SERVICE, [("IPVS_CMD_ATTR_SERVICE", {"attrs": base + [
        ("IPVS_SVC_ATTR_STATS", STATS), ("IPVS_SVC_ATTR_STATS64", STATS64)]})])
    parsed, stats = w.parse_service_stats(data, 0, len(data))
    assert parsed.key == svc.key and stats == STATS64_VALUES
    data, _ = _kernel_reply(w.CMD_NEW_SERVICE, [("IPVS_CMD_ATTR_SERVICE", {"attrs": base + [
        ("IPVS_SVC_ATTR_STATS", STATS)]})])
    _, old = w.parse_service_stats(data, 0, len(data))
    assert old == {**dict.fromkeys(w.STATS_FIELDS, 0), "conns": 5, "inbytes": 1 << 40}


def test_dest_traffic_counters_and_connection_counts():
    dest = DESTS[0]
    attrs = list(_pr_dest(dest)["attrs"]) + [("IPVS_DEST_ATTR_ACTIVE_CONNS", 3), ("IPVS_DEST_ATTR_INACT_CONNS", 4),
                                             ("IPVS_DEST_ATTR_STATS", STATS), ("IPVS_DEST_ATTR_STATS64", STATS64)]
    data, _ = _kernel_reply(w.CMD_NEW_DEST, [("IPVS_CMD_ATTR_DEST", {"attrs": attrs})])
    parsed, stats = w.parse_dest_stats(data, 0, len(data), 4)
    assert parsed == dest
    assert stats == {**STATS64_VALUES, "active_conns": 3, "inactive_conns": 4, "persistent_conns": 0}


def test_kernel_form_of_v4_address_is_sixteen_bytes():
    # the kernel puts union nf_inet_addr (16 bytes) on the wire even for IPv4
    body = (w.nla(w.DEST_ADDR, socket.inet_aton("198.19.3.4") + bytes(12))
            + struct.pack("=HH2sxx", 6, w.DEST_PORT, (8080).to_bytes(2, "big"))
            + struct.pack("=HHI", 8, w.DEST_WEIGHT, 9))
    data = w.message(FAMILY_ID, 0, 1, w.CMD_NEW_DEST, w.nest(w.CMD_ATTR_DEST, body))
    d = w.parse_dest(data, 0, len(data), 4)
    assert d.key == DestKey("198.19.3.4", 8080) and d.weight == 9 and d.family == 4 and d.fwd == FWD_NAT


def test_truncated_reply_is_an_error_not_a_crash():
    bad = struct.pack("=IHHII", 400, FAMILY_ID, 0, 1, 0) + bytes(4)
    with pytest.raises(ValueError):
        list(w.iter_messages(bad))


# ---------------------------------------------------------------------------------------------
# batching over a stand-in netlink socket (the real one is exercised in the VM tier)


class StandInNetlink:
    """Answers every request like the kernel: one NLMSG_ERROR per message (0 = ACK), queued on
    a real datagram socket so PyrouteKernel's event-loop reads run unchanged."""

    def __init__(self, fail: dict[tuple[int, str], int] | None = None, drop_acks: bool = False) -> None:
        self.ours, self.peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.ours.setblocking(False)
        self.fail = fail or {}        # (cmd, dest address) -> errno
        self.drop_acks = drop_acks
        self.sends: list[int] = []    # messages per send()

    def fileno(self) -> int:
        return self.ours.fileno()

    def recv_into(self, buf) -> int:
        return self.ours.recv_into(buf)

    def send(self, data: bytes) -> int:
        acks = []
        count = 0
        for kind, _flags, seq, off, length in w.iter_messages(data):
            count += 1
            cmd = data[off + 16]
            dest = None
            if cmd in (w.CMD_NEW_DEST, w.CMD_SET_DEST, w.CMD_DEL_DEST):
                d = w.parse_dest(data, off, length, 4)
                dest = d.key.addr if d else None
            code = -self.fail.get((cmd, dest), 0)
            acks.append(struct.pack("=IHHIIi", 36, w.NLMSG_ERROR, 0x100, seq, 0, code) + data[off:off + 16])
        self.sends.append(count)
        if not self.drop_acks:
            self.peer.send(b"".join(acks))
        return len(data)

    def close(self) -> None:
        self.ours.close()
        self.peer.close()


def _big_ops(n_services: int, per: int) -> tuple[list[Op], Table]:
    ops, table = [], Table()
    for v in range(n_services):
        svc = Service(ServiceKey(4, 6, f"198.18.{v // 250}.{v % 250 + 1}", 80), sched="rr")
        ops.append(Op(ADD_SERVICE, svc.key, svc=svc))
        table.add_service(svc)
        for r in range(per):
            n = v * per + r
            d = Dest(DestKey(f"198.19.{n // 250}.{n % 250 + 1}", 8080), weight=r + 1)
            ops.append(Op(ADD_DEST, svc.key, dest=d))
            table.add_dest(svc.key, d)
    return ops, table


async def test_batches_map_each_error_to_its_operation():
    k = kernel_encoder()
    failing = "198.19.1.8"
    nl = StandInNetlink(fail={(w.CMD_NEW_DEST, failing): errno.EEXIST})
    k._sock = nl  # type: ignore[assignment]
    try:
        ops, _ = _big_ops(60, 10)          # 660 messages -> 3 sends of at most 256
        results = await k.apply(ops)
    finally:
        nl.close()
    assert nl.sends == [256, 256, 148]
    bad = [i for i, r in enumerate(results) if r is not None]
    assert [ops[i].dest.key.addr for i in bad] == [failing]  # type: ignore[union-attr]
    assert results[bad[0]].code == errno.EEXIST  # type: ignore[union-attr]


async def test_lost_acks_fail_their_operations(monkeypatch):
    monkeypatch.setattr(ipvs_netlink, "REPLY_TIMEOUT", 0.2)
    k = kernel_encoder()
    nl = StandInNetlink(drop_acks=True)
    k._sock = nl  # type: ignore[assignment]
    try:
        ops, _ = _big_ops(2, 3)
        results = await k.apply(ops)
    finally:
        nl.close()
    assert all(isinstance(r, OSError) and r.errno == errno.ETIMEDOUT for r in results)


class BatchOnlyKernel:
    """A kernel reached only through apply(): PyrouteKernel's batching over the stand-in."""

    def __init__(self, fail) -> None:
        self.k = kernel_encoder()
        self.nl = StandInNetlink(fail=fail)
        self.k._sock = self.nl  # type: ignore[assignment]
        self.table = Table()

    async def apply(self, ops):
        results = await self.k.apply(ops)
        for op, r in zip(ops, results):
            if r is None:
                from healthcheck.ipvs import apply_to_table

                apply_to_table(self.table, op)
        return results

    async def dump(self):
        return self.table.copy()

    async def flush(self):
        self.table = Table()


async def test_reconciler_logs_and_retries_a_failing_entry(caplog):
    kernel = BatchOnlyKernel(fail={(w.CMD_NEW_DEST, "198.19.0.5"): errno.ENOMEM})
    rec = Reconciler(kernel)  # type: ignore[arg-type]
    await rec.start()
    ops, desired = _big_ops(3, 4)
    owned = Ownership(set(desired.entries), {(k, d) for k, e in desired.entries.items() for d in e.dests})
    res = await rec.reconcile(desired, owned)
    assert [str(op.dest.key) for op, _ in res.failed] == ["[198.19.0.5]:8080"]  # type: ignore[union-attr]
    assert "198.19.0.5" in caplog.text and rec.counters["errors"] == 1
    assert len(res.applied) == len(ops) - 1
    kernel.nl.fail.clear()                  # the kernel recovers: the next pass adds only that one
    res = await rec.reconcile(desired, owned)
    assert res.ok and [str(op.dest.key) for op in res.applied] == ["[198.19.0.5]:8080"]  # type: ignore[union-attr]
    assert kernel.table == desired
    kernel.nl.close()


async def test_noop_reconcile_sends_nothing():
    kernel = BatchOnlyKernel(fail={})
    rec = Reconciler(kernel)  # type: ignore[arg-type]
    await rec.start()
    _, desired = _big_ops(20, 10)
    owned = Ownership(set(desired.entries), {(k, d) for k, e in desired.entries.items() for d in e.dests})
    await rec.reconcile(desired, owned)
    sends = len(kernel.nl.sends)
    res = await rec.reconcile(desired, owned)
    assert res.ok and res.applied == [] and len(kernel.nl.sends) == sends
    kernel.nl.close()


def test_stand_in_acks_are_parsed_by_the_same_reader():
    # guard for the stand-in itself: an ACK it writes is an NLMSG_ERROR with code 0
    nl = StandInNetlink()
    try:
        msg = kernel_encoder().encode(Op(DEL_SERVICE, SERVICES[0].key), 77)
        nl.send(msg)
        buf = bytearray(4096)
        n = nl.recv_into(buf)
        ((kind, _f, seq, off, _len),) = list(w.iter_messages(buf, n))
        assert (kind, seq, w.error_code(buf, off)) == (w.NLMSG_ERROR, 77, 0)
    finally:
        nl.close()
