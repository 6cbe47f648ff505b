"""Dump replies: ipvs_wire.DumpReader on its own, and the two clients that read dumps through it
(PyrouteKernel's service / destination dumps in the event loop, SyncDaemonKernel's blocking
GET_DAEMON) over a stand-in socket that answers like the kernel (the real one: the VM tier)."""
from __future__ import annotations

import errno
import socket
import struct

import pytest

from healthcheck import ipvs_wire as w
from healthcheck.ipvs_netlink import NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSGERR_ATTR_MSG, PyrouteKernel
from healthcheck.ipvs_syncd import SYNC_BACKUP, SYNC_MASTER, SyncDaemon, SyncDaemonKernel
from healthcheck.table import Dest, DestKey, Service, ServiceKey

FAMILY_ID = 0x25
NLM_F_MULTI = 2
SVC_A = Service(ServiceKey(4, 6, "198.18.0.10", 80), sched="rr")
SVC_B = Service(ServiceKey(4, 6, "198.18.0.11", 80), sched="wlc")
SVC_C = Service(ServiceKey(4, 17, "198.18.0.12", 53), sched="rr")
DESTS = [Dest(DestKey("198.19.1.2", 8080), weight=1), Dest(DestKey("198.19.2.2", 8080), weight=3)]


def done(seq: int) -> bytes:
    return struct.pack("=IHHIIi", 20, w.NLMSG_DONE, NLM_F_MULTI, seq, 0, 0)


def error(seq: int, code: int, text: str | None = None) -> bytes:
    """NLMSG_ERROR as the kernel writes it with NETLINK_CAP_ACK (the request's header only) and,
    with `text`, NETLINK_EXT_ACK's message attribute."""
    flags = NLM_F_CAPPED
    tlvs = b""
    if text is not None:
        flags |= NLM_F_ACK_TLVS
        raw = text.encode() + b"\0"
        tlvs = struct.pack("=HH", 4 + len(raw), NLMSGERR_ATTR_MSG) + raw + bytes(-len(raw) % 4)
    request = struct.pack("=IHHII", 20, FAMILY_ID, 0, seq, 0)
    return struct.pack("=IHHIIi", 36 + len(tlvs), w.NLMSG_ERROR, flags, seq, 0, -code) + request + tlvs


def service_msg(seq: int, svc: Service) -> bytes:
    return w.message(FAMILY_ID, NLM_F_MULTI, seq, w.CMD_NEW_SERVICE, w.service_nest(svc))


def dest_msg(seq: int, dest: Dest) -> bytes:
    return w.message(FAMILY_ID, NLM_F_MULTI, seq, w.CMD_NEW_DEST, w.dest_nest(dest))


# ------------------------------------------------------------------------------ DumpReader alone
def test_reader_collects_over_several_buffers_and_stops_at_done():
    reader = w.DumpReader(FAMILY_ID, 9, w.parse_service)
    stale = service_msg(8, SVC_C)                       # a late reply of an earlier request
    assert reader.feed(stale + service_msg(9, SVC_A)) is False
    other_family = w.message(FAMILY_ID + 1, NLM_F_MULTI, 9, w.CMD_NEW_SERVICE, w.service_nest(SVC_C))
    assert reader.feed(other_family + service_msg(9, SVC_B)) is False
    assert reader.feed(done(9) + service_msg(9, SVC_C)) is True     # nothing after DONE is read
    assert [s.key for s in reader.items] == [SVC_A.key, SVC_B.key]
    assert reader.errno == 0


def test_reader_drops_what_parse_refuses_and_reads_only_up_to_end():
    reader = w.DumpReader(FAMILY_ID, 3, lambda data, off, length: None)
    buf = bytearray(4096)
    data = service_msg(3, SVC_A) + done(3)
    buf[:len(data)] = data
    assert reader.feed(buf, len(data)) is True and reader.items == []


def test_reader_keeps_the_kernels_error_and_where_it_is():
    reader = w.DumpReader(FAMILY_ID, 4, w.parse_service)
    first = service_msg(4, SVC_A)
    assert reader.feed(first + error(4, errno.EPERM)) is True
    assert reader.errno == errno.EPERM and [s.key for s in reader.items] == [SVC_A.key]
    off, length, flags = reader.error_at
    assert (off, length, flags) == (len(first), 36, NLM_F_CAPPED)
    ack = w.DumpReader(FAMILY_ID, 5, w.parse_service)
    assert ack.feed(error(5, 0)) is True and ack.errno == 0          # an ACK ends a dump too


def test_truncated_dump_reply_is_an_error_not_a_crash():
    reader = w.DumpReader(FAMILY_ID, 1, w.parse_service)
    with pytest.raises(ValueError):
        reader.feed(service_msg(1, SVC_A)[:-8] + bytes(4))


# ------------------------------------------------------------------------ the asyncio client
class DumpingNetlink:
    """Answers GET_SERVICE with the services (a datagram each, as a multipart dump arrives) and
    GET_DEST with `dests[service address]`: a list of Dest, or an errno."""

    def __init__(self, services: list[Service], dests: dict[str, list[Dest] | int], text: str | None = None) -> None:
        self.ours, self.peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.ours.setblocking(False)
        self.services, self.dests, self.text = services, dests, text

    def fileno(self) -> int:
        return self.ours.fileno()

    def recv_into(self, buf) -> int:  # noqa: ANN001
        return self.ours.recv_into(buf)

    def send(self, data: bytes) -> int:
        ((_kind, _flags, seq, off, length),) = list(w.iter_messages(data))
        cmd = data[off + 16]
        self.peer.send(service_msg(seq - 1, SVC_C))              # a stale reply first
        if cmd == w.CMD_GET_SERVICE:
            for svc in self.services:
                self.peer.send(service_msg(seq, svc))
            self.peer.send(done(seq))
        else:
            addr = w.parse_service(data, off, length).key.addr  # the request names its service
            answer = self.dests[addr]
            if isinstance(answer, int):
                self.peer.send(error(seq, answer, self.text))
            else:
                self.peer.send(b"".join(dest_msg(seq, d) for d in answer) + done(seq))
        return len(data)

    def close(self) -> None:
        self.ours.close()
        self.peer.close()


def kernel_over(nl: DumpingNetlink) -> PyrouteKernel:
    k = PyrouteKernel()
    k.family_id = FAMILY_ID
    k._sock = nl  # type: ignore[assignment]
    return k


async def test_table_dump_reads_services_then_each_ones_dests_and_skips_a_vanished_service():
    nl = DumpingNetlink([SVC_A, SVC_B], {"198.18.0.10": DESTS, "198.18.0.11": errno.ESRCH})
    try:
        table = await kernel_over(nl).dump()
    finally:
        nl.close()
    assert list(table.entries) == [SVC_A.key]             # B was removed while we dumped
    assert sorted(table.entries[SVC_A.key].dests) == sorted(d.key for d in DESTS)
    assert table.entries[SVC_A.key].dests[DESTS[1].key].weight == 3


async def test_a_kernel_error_in_a_dump_raises_with_the_kernels_text():
    from pyroute2.netlink.exceptions import NetlinkError

    nl = DumpingNetlink([SVC_A], {"198.18.0.10": errno.EPERM}, text="no permission for that")
    try:
        with pytest.raises(NetlinkError) as raised:
            await kernel_over(nl).dump()
    finally:
        nl.close()
    assert raised.value.code == errno.EPERM and "no permission for that" in str(raised.value)


# ------------------------------------------------------------------------ the blocking client
class DaemonNetlink:
    """Answers GET_DAEMON with `answer`: a list of SyncDaemon (one message each) or an errno."""

    def __init__(self, answer: list[SyncDaemon] | int) -> None:
        self.ours, self.peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.ours.settimeout(5)
        self.answer = answer

    def send(self, data: bytes) -> int:
        ((_kind, _flags, seq, off, _length),) = list(w.iter_messages(data))
        assert data[off + 16] == w.CMD_GET_DAEMON
        if isinstance(self.answer, int):
            self.peer.send(error(seq, self.answer))
        else:
            for d in self.answer:
                self.peer.send(w.message(FAMILY_ID, NLM_F_MULTI, seq, w.CMD_NEW_DAEMON, w.daemon_nest(d)))
            self.peer.send(done(seq))
        return len(data)

    def recv(self, size: int) -> bytes:
        return self.ours.recv(size)

    def close(self) -> None:
        self.ours.close()
        self.peer.close()


def daemons_over(nl: DaemonNetlink) -> SyncDaemonKernel:
    k = SyncDaemonKernel()
    k._sock, k._family = nl, FAMILY_ID  # type: ignore[assignment]
    return k


def test_sync_daemon_list_reads_the_whole_dump():
    running = [SyncDaemon(SYNC_MASTER, "sync0", 7), SyncDaemon(SYNC_BACKUP, "sync0", 7)]
    nl = DaemonNetlink(running)
    try:
        assert daemons_over(nl).list() == running
    finally:
        nl.close()
    empty = DaemonNetlink([])
    try:
        assert daemons_over(empty).list() == []
    finally:
        empty.close()


def test_sync_daemon_list_raises_the_kernels_errno():
    nl = DaemonNetlink(errno.EPERM)
    try:
        with pytest.raises(OSError) as raised:
            daemons_over(nl).list()
    finally:
        nl.close()
    assert raised.value.errno == errno.EPERM
