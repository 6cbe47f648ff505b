"""kvrrp.snmp.subagent against a scripted AgentX master on a unix socket: the Open / Register
handshake, answers to Get / GetNext / GetBulk, refused sets, a parseError answer to a PDU it
cannot decode, notifications queued until a session is open, reconnecting after the master
closes, and a Close on shutdown."""
from __future__ import annotations

import asyncio
import struct

import pytest

from kvrrp.snmp import agentx
from kvrrp.snmp.agentx import VarBind
from kvrrp.snmp.mibview import MibView
from kvrrp.snmp.subagent import SocketSpecError, Subagent, parse_socket

pytestmark = [pytest.mark.timeout(60)]
K = (1, 3, 6, 1, 4, 1, 9586, 100, 5)
VIEW = MibView([(K + (1, 1), (0,), agentx.OCTET_STRING, "kvrrp"), (K + (1, 2), (0,), agentx.OCTET_STRING, "r1")])


def test_socket_specs():
    assert parse_socket(None) == ("unix", "/var/agentx/master", 0)
    assert parse_socket("unix:/run/agentx") == ("unix", "/run/agentx", 0)
    assert parse_socket("/tmp/x") == ("unix", "/tmp/x", 0)
    assert parse_socket("tcp:localhost:705") == ("tcp", "localhost", 705)
    assert parse_socket("tcp:[::1]:7050") == ("tcp", "::1", 7050)
    assert parse_socket("127.0.0.1:1705") == ("tcp", "127.0.0.1", 1705)
    for bad in ("udp:localhost:705", "tcp:host:port", "tcp:host:70000", "unix:"):
        with pytest.raises(SocketSpecError):
            parse_socket(bad)


class Master:
    """Reads the subagent's PDUs, answers Open and Register, and lets the test send requests."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.seen: list[agentx.Pdu] = []
        self.raw: list[bytes] = []
        self.conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.session = 100
        self.got = asyncio.Condition()
        self.server: asyncio.AbstractServer | None = None
        self.reading = asyncio.Event()           # cleared: a master that stopped reading
        self.reading.set()

    async def start(self) -> "Master":
        self.server = await asyncio.start_unix_server(self._conn, self.path)
        return self

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conns.append((reader, writer))
        self.session += 1
        try:
            while True:
                await self.reading.wait()
                head = await reader.readexactly(20)
                h = agentx.decode_header(head)
                body = await reader.readexactly(h.payload_length)
                self.raw.append(head + body)
                pdu = agentx.decode_pdu(head + body)     # Open / Register: header only
                if pdu.header.type in (agentx.OPEN, agentx.REGISTER):
                    sid = self.session if pdu.header.type == agentx.OPEN else pdu.header.session_id
                    reply = agentx.Header(agentx.RESPONSE, session_id=sid, packet_id=pdu.header.packet_id)
                    writer.write(agentx.response_pdu(reply, []))
                async with self.got:
                    self.seen.append(pdu)
                    self.got.notify_all()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    async def wait(self, kind: int, n: int = 1) -> list[agentx.Pdu]:
        async with self.got:
            await asyncio.wait_for(self.got.wait_for(lambda: len(self.of(kind)) >= n), 10)
        return self.of(kind)

    def of(self, kind: int) -> list[agentx.Pdu]:
        return [p for p in self.seen if p.header.type == kind]

    def send(self, data: bytes) -> None:
        self.conns[-1][1].write(data)

    async def close(self) -> None:
        for _r, w in self.conns:
            w.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def request(ptype: int, session: int, packet: int, payload: bytes) -> bytes:
    return struct.pack(">BBBBIIII", 1, ptype, agentx.F_NETWORK_BYTE_ORDER, 0, session, 1, packet, len(payload)) + payload


def ranges(*pairs: tuple) -> bytes:
    return b"".join(agentx.encode_oid(a, include=inc) + agentx.encode_oid(b) for a, b, inc in pairs)


async def test_session_answers_queues_and_reconnects(tmp_path):
    path = str(tmp_path / "master.sock")
    trap = [VarBind(agentx.SNMP_TRAP_OID_0, agentx.OBJECT_IDENTIFIER, K + (2, 10, 0, 2))]
    agent = Subagent(f"unix:{path}", [(K + (1,), "Keepalived"), (K + (2,), "KEEPALIVED-VRRP")], lambda: VIEW,
                     retry=0.1, ping_interval=30)
    agent.start()
    agent.notify(trap)                              # no master yet: queued
    await asyncio.sleep(0.3)
    assert agent.snapshot()["queued_notifies"] == 1 and not agent.snapshot()["connected"]
    master = await Master(path).start()
    try:
        await master.wait(agentx.REGISTER, 2)
        assert await agent.wait_open(5)
        (note,) = await master.wait(agentx.NOTIFY)
        assert note.varbinds[0].oid == agentx.SYS_UPTIME_0 and note.varbinds[1:] == trap
        sid = agent.session_id
        assert sid == master.session

        master.send(request(agentx.GETNEXT, sid, 50, ranges((K + (1,), K + (2,), 0))))
        master.send(request(agentx.GET, sid, 51, ranges((K + (1, 2, 0), (), 0), (K + (1, 3, 0), (), 0))))
        master.send(request(agentx.GETBULK, sid, 52, struct.pack(">HH", 0, 5) + ranges((K, (), 0))))
        vb = agentx.encode_varbind(VarBind(K + (1, 2, 0), agentx.OCTET_STRING, "x"))
        master.send(request(agentx.TESTSET, sid, 53, vb))
        master.send(request(agentx.GETNEXT, sid, 54, agentx.encode_oid(K)))      # no end OID: undecodable
        master.send(request(agentx.CLEANUPSET, sid, 55, b""))                     # never answered
        responses = await master.wait(agentx.RESPONSE, 5)
        by_packet = {r.header.packet_id: r for r in responses}
        assert [v.value for v in by_packet[50].varbinds] == [b"kvrrp"]
        assert [v.type for v in by_packet[51].varbinds] == [agentx.OCTET_STRING, agentx.NO_SUCH_OBJECT]
        assert [v.oid for v in by_packet[52].varbinds] == [K + (1, 1, 0), K + (1, 2, 0), K + (1, 2, 0)]
        assert by_packet[52].varbinds[-1].type == agentx.END_OF_MIB_VIEW
        assert (by_packet[53].error, by_packet[53].index) == (agentx.NOT_WRITABLE, 1)
        assert by_packet[54].error == agentx.PARSE_ERROR
        assert 55 not in by_packet and all(r.header.session_id == sid for r in responses)
        assert agent.counters["parse_errors"] == 1 and agent.counters["sets_refused"] == 1

        # the master closes the session: the subagent opens a new one and registers again
        master.send(request(agentx.CLOSE, sid, 60, struct.pack(">B3x", agentx.CLOSE_SHUTDOWN)))
        await master.wait(agentx.REGISTER, 4)
        assert await agent.wait_open(5)
        assert agent.session_id == master.session != sid and agent.counters["connects"] == 2
    finally:
        await agent.close()
    (close,) = await master.wait(agentx.CLOSE)
    assert close.reason == agentx.CLOSE_SHUTDOWN and close.header.session_id == master.session
    await master.close()


async def test_queue_is_bounded(tmp_path):
    agent = Subagent(f"unix:{tmp_path / 'none.sock'}", [], lambda: VIEW, retry=5)
    for i in range(300):
        agent.notify([VarBind(agentx.SNMP_TRAP_OID_0, agentx.OBJECT_IDENTIFIER, K + (i,))])
    assert agent.snapshot()["queued_notifies"] == 256 and agent.counters["notifies_dropped"] == 44
    await agent.close()


async def test_set_transaction_against_the_master(tmp_path):
    """TestSet / CommitSet / UndoSet / CleanupSet as a master drives them: a refused varbind
    answers its error and index, a committed set changes the value, UndoSet takes it back,
    CleanupSet is never answered, phases out of order are processingError."""
    path = str(tmp_path / "master.sock")
    values = {1: 100, 2: 1}
    col = K + (2, 3, 1)

    def setter(vb: VarBind):
        n = vb.oid[len(col):]
        if vb.oid[:len(col)] != col or len(n) != 2 or n[1] != 1 or n[0] not in (7, 13):
            return agentx.NOT_WRITABLE
        if vb.type != agentx.INTEGER:
            return agentx.WRONG_TYPE
        key = 1 if n[0] == 7 else 2
        if not (1 <= vb.value <= 255 if key == 1 else vb.value in (1, 2)):
            return agentx.WRONG_VALUE

        def commit():
            old, values[key] = values[key], vb.value
            return lambda: values.__setitem__(key, old)
        return commit

    agent = Subagent(f"unix:{path}", [(K + (2,), "KEEPALIVED-VRRP")], lambda: VIEW, setter=setter,
                     retry=0.1, ping_interval=30)
    master = await Master(path).start()
    agent.start()
    try:
        assert await agent.wait_open(5)
        sid = agent.session_id
        prio, preempt = VarBind(col + (7, 1), agentx.INTEGER, 250), VarBind(col + (13, 1), agentx.INTEGER, 2)

        def send(pdu: bytes) -> None:
            master.send(pdu)

        # 1: one bad varbind of three: wrongValue at index 2, nothing changes; CleanupSet
        send(agentx.testset_pdu(sid, 1, 10, [prio, VarBind(col + (13, 1), agentx.INTEGER, 3), preempt]))
        send(agentx.set_phase_pdu(agentx.CLEANUPSET, sid, 1, 11))
        # 2: wrong type, not writable
        send(agentx.testset_pdu(sid, 2, 12, [VarBind(col + (7, 1), agentx.OCTET_STRING, b"250")]))
        send(agentx.set_phase_pdu(agentx.CLEANUPSET, sid, 2, 13))
        send(agentx.testset_pdu(sid, 3, 14, [prio, VarBind(col + (8, 1), agentx.INTEGER, 5)]))
        send(agentx.set_phase_pdu(agentx.CLEANUPSET, sid, 3, 15))
        responses = await master.wait(agentx.RESPONSE, 3)
        by_packet = {r.header.packet_id: r for r in responses}
        assert (by_packet[10].error, by_packet[10].index) == (agentx.WRONG_VALUE, 2)
        assert (by_packet[12].error, by_packet[12].index) == (agentx.WRONG_TYPE, 1)
        assert (by_packet[14].error, by_packet[14].index) == (agentx.NOT_WRITABLE, 2)
        assert values == {1: 100, 2: 1}

        # 4: a good set, committed, then cleaned up
        send(agentx.testset_pdu(sid, 4, 20, [prio, preempt]))
        send(agentx.set_phase_pdu(agentx.COMMITSET, sid, 4, 21))
        responses = await master.wait(agentx.RESPONSE, 5)
        by_packet = {r.header.packet_id: r for r in responses}
        assert by_packet[20].error == by_packet[21].error == agentx.NO_ERROR
        assert by_packet[21].header.transaction_id == 4
        assert values == {1: 250, 2: 2}
        send(agentx.set_phase_pdu(agentx.CLEANUPSET, sid, 4, 22))

        # 5: committed, then undone (another subagent's commit failed)
        send(agentx.testset_pdu(sid, 5, 30, [VarBind(col + (7, 1), agentx.INTEGER, 42)]))
        send(agentx.set_phase_pdu(agentx.COMMITSET, sid, 5, 31))
        await master.wait(agentx.RESPONSE, 7)
        assert values[1] == 42
        send(agentx.set_phase_pdu(agentx.UNDOSET, sid, 5, 32))
        send(agentx.set_phase_pdu(agentx.CLEANUPSET, sid, 5, 33))
        # 6: phases without a TestSet
        send(agentx.set_phase_pdu(agentx.COMMITSET, sid, 6, 40))
        send(agentx.set_phase_pdu(agentx.UNDOSET, sid, 6, 41))
        responses = await master.wait(agentx.RESPONSE, 10)
        by_packet = {r.header.packet_id: r for r in responses}
        assert by_packet[32].error == agentx.NO_ERROR and values == {1: 250, 2: 2}
        assert by_packet[40].error == by_packet[41].error == agentx.PROCESSING_ERROR
        assert not {11, 13, 15, 22, 33} & set(by_packet)              # CleanupSet: no answer
        snap = agent.snapshot()
        assert (snap["sets_committed"], snap["sets_undone"], snap["sets_refused"]) == (2, 1, 3)
    finally:
        await agent.close()
        await master.close()


async def test_a_master_that_stops_reading_leaves_notifications_in_the_bounded_queue(tmp_path):
    """Per-packet traps under a flood: once 64 KiB wait unread in the socket, notifications
    stay in the queue (256, the oldest dropped and counted); they go out when the master
    reads again."""
    path = str(tmp_path / "master.sock")
    master = await Master(path).start()
    agent = Subagent(f"unix:{path}", [(K + (2,), "KEEPALIVED-VRRP")], lambda: VIEW, retry=0.1, ping_interval=30)
    agent.start()
    try:
        assert await agent.wait_open(5)
        await master.wait(agentx.REGISTER)
        master.reading.clear()
        await asyncio.sleep(0.1)
        big = [VarBind(agentx.SNMP_TRAP_OID_0, agentx.OBJECT_IDENTIFIER, K + (2, 10, 0, 2)),
               VarBind(K + (2, 3, 1, 2), agentx.OCTET_STRING, b"x" * 2000)]
        for _ in range(3000):                     # ~6 MB: far more than the socket buffers take
            agent.notify(big)
        snap = agent.snapshot()
        assert snap["queued_notifies"] == 256 and snap["notifies_dropped"] > 0
        assert snap["notifies_sent"] + snap["notifies_dropped"] + 256 == 3000
        master.reading.set()                      # the master catches up: the queue drains
        await master.wait(agentx.NOTIFY, snap["notifies_sent"] + 256)
        assert agent.snapshot()["queued_notifies"] == 0
    finally:
        await agent.close()
        await master.close()
