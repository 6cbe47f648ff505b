"""kvrrp.snmp.agentx (RFC 2741 PDUs) and kvrrp.snmp.mibview (Get / GetNext / GetBulk), pure."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvrrp.snmp import agentx
from kvrrp.snmp.agentx import AgentxError, SearchRange, VarBind
from kvrrp.snmp.mibview import MibView, SubtreeViews, answer_get, answer_getbulk, answer_getnext

K = (1, 3, 6, 1, 4, 1, 9586, 100, 5)


def header(ptype: int, length: int, *, flags: int = agentx.F_NETWORK_BYTE_ORDER, order: str = ">",
           session: int = 7, transaction: int = 8, packet: int = 9) -> bytes:
    return struct.pack(order + "BBBBIIII", 1, ptype, flags, 0, session, transaction, packet, length)


def oid_bytes(oid: tuple, include: int = 0, order: str = ">") -> bytes:
    """An OID as RFC 2741 5.1 lays it out, with the internet prefix compressed."""
    if len(oid) >= 5 and oid[:4] == (1, 3, 6, 1):
        return struct.pack(order + f"BBBB{len(oid) - 5}I", len(oid) - 5, oid[4], include, 0, *oid[5:])
    return struct.pack(order + f"BBBB{len(oid)}I", len(oid), 0, include, 0, *oid)


def test_oid_layout_uses_the_internet_prefix():
    assert agentx.encode_oid(K) == struct.pack(">BBBB4I", 4, 4, 0, 0, 1, 9586, 100, 5)
    assert agentx.encode_oid((1, 2, 3)) == struct.pack(">BBBB3I", 3, 0, 0, 0, 1, 2, 3)
    assert agentx.encode_oid((1, 3, 6, 1, 300, 1)) == struct.pack(">BBBB6I", 6, 0, 0, 0, 1, 3, 6, 1, 300, 1)
    assert agentx.encode_oid((), include=True) == bytes((0, 0, 1, 0))
    with pytest.raises(AgentxError):
        agentx.encode_oid((1, 2 ** 32))


def test_open_pdu_bytes():
    data = agentx.open_pdu(1, K, "kvrrp")
    payload = struct.pack(">B3x", 0) + oid_bytes(K) + struct.pack(">I", 5) + b"kvrrp\0\0\0"
    assert data == header(agentx.OPEN, len(payload), session=0, transaction=0, packet=1) + payload


def test_register_and_notify_pdus():
    data = agentx.register_pdu(7, 3, K + (2,), priority=127)
    h = agentx.decode_header(data)
    assert (h.type, h.session_id, h.packet_id, h.payload_length) == (agentx.REGISTER, 7, 3, len(data) - 20)
    assert data[20:24] == bytes((0, 127, 0, 0)) and data[24:] == oid_bytes(K + (2,))
    trap = [VarBind(agentx.SNMP_TRAP_OID_0, agentx.OBJECT_IDENTIFIER, K + (2, 10, 0, 2)),
            VarBind(K + (2, 3, 1, 2), agentx.OCTET_STRING, "VI_1"),
            VarBind(K + (2, 3, 1, 4), agentx.INTEGER, 2)]
    data = agentx.notify_pdu(7, 4, trap)
    body = data[20:]
    assert body.startswith(struct.pack(">HH", agentx.OBJECT_IDENTIFIER, 0) + oid_bytes(agentx.SNMP_TRAP_OID_0))
    assert struct.pack(">I", 4) + b"VI_1" in body and body.endswith(struct.pack(">i", 2))


@pytest.mark.parametrize("order,flags", [(">", agentx.F_NETWORK_BYTE_ORDER), ("<", 0)])
def test_getnext_decodes_in_both_byte_orders(order, flags):
    payload = (oid_bytes(K + (2,), include=1, order=order) + oid_bytes(K + (3,), order=order)
               + oid_bytes((1, 3, 6, 1, 2, 1, 68), order=order) + oid_bytes((), order=order))
    pdu = agentx.decode_pdu(header(agentx.GETNEXT, len(payload), flags=flags, order=order) + payload)
    assert pdu.header.session_id == 7 and pdu.header.packet_id == 9
    assert pdu.ranges == [SearchRange(K + (2,), K + (3,), True), SearchRange((1, 3, 6, 1, 2, 1, 68), (), False)]


def test_getbulk_context_and_testset_decode():
    ctx = struct.pack(">I", 3) + b"abc\0"
    payload = ctx + struct.pack(">HH", 1, 10) + oid_bytes(K) + oid_bytes(())
    pdu = agentx.decode_pdu(header(agentx.GETBULK, len(payload), flags=0x18) + payload)
    assert (pdu.context, pdu.non_repeaters, pdu.max_repetitions) == (b"abc", 1, 10)
    vb = agentx.encode_varbind(VarBind(K + (2, 3, 1, 7, 1), agentx.INTEGER, 200))
    pdu = agentx.decode_pdu(header(agentx.TESTSET, len(vb)) + vb)
    assert pdu.varbinds == [VarBind(K + (2, 3, 1, 7, 1), agentx.INTEGER, 200)]


def test_set_phase_pdus_bytes_and_decode():
    vbs = [VarBind(K + (2, 3, 1, 7, 1), agentx.INTEGER, 250), VarBind(K + (2, 3, 1, 13, 1), agentx.INTEGER, 2)]
    data = agentx.testset_pdu(7, 8, 9, vbs)
    body = b"".join(struct.pack(">HH", agentx.INTEGER, 0) + oid_bytes(v.oid) + struct.pack(">i", v.value)
                    for v in vbs)
    assert data == header(agentx.TESTSET, len(body)) + body
    pdu = agentx.decode_pdu(data)
    assert pdu.varbinds == vbs and pdu.header.transaction_id == 8
    for ptype in (agentx.COMMITSET, agentx.UNDOSET, agentx.CLEANUPSET):
        data = agentx.set_phase_pdu(ptype, 7, 8, 9)
        assert data == header(ptype, 0)
        pdu = agentx.decode_pdu(data)
        assert (pdu.header.type, pdu.header.transaction_id, pdu.varbinds) == (ptype, 8, [])
        with pytest.raises(AgentxError):                            # these carry no payload
            agentx.decode_pdu(header(ptype, 4) + b"\0\0\0\0")
        little = struct.pack("<BBBBIIII", 1, ptype, 0, 0, 7, 8, 9, 0)   # the master's byte order
        assert agentx.decode_pdu(little).header.transaction_id == 8
    with pytest.raises(AgentxError):
        agentx.set_phase_pdu(agentx.GET, 7, 8, 9)
    # a refused set's Response: the error and the 1-based index of the varbind
    resp = agentx.decode_pdu(agentx.response_pdu(agentx.Header(agentx.TESTSET, session_id=7, transaction_id=8,
                                                               packet_id=9), [], agentx.WRONG_VALUE, 2))
    assert (resp.error, resp.index, resp.header.transaction_id) == (10, 2, 8)
    assert agentx.ERROR_NAMES[agentx.WRONG_VALUE] == "wrongValue" and agentx.NOT_WRITABLE == 17


def test_response_round_trip_every_type():
    binds = [VarBind(K + (1,), agentx.INTEGER, -5), VarBind(K + (2,), agentx.OCTET_STRING, b"\x00\xffab"),
             VarBind(K + (3,), agentx.IP_ADDRESS, b"\xc6\x12\x00\x01"), VarBind(K + (4,), agentx.COUNTER32, 2 ** 32 - 1),
             VarBind(K + (5,), agentx.GAUGE32, 7), VarBind(K + (6,), agentx.TIME_TICKS, 100),
             VarBind(K + (7,), agentx.COUNTER64, 2 ** 64 - 1), VarBind(K + (8,), agentx.OBJECT_IDENTIFIER, K),
             VarBind(K + (9,), agentx.NO_SUCH_INSTANCE), VarBind(K + (10,), agentx.END_OF_MIB_VIEW)]
    request = agentx.Header(agentx.GET, session_id=3, transaction_id=4, packet_id=5)
    pdu = agentx.decode_pdu(agentx.response_pdu(request, binds, sys_uptime=42))
    h = pdu.header
    assert (h.type, h.session_id, h.transaction_id, h.packet_id) == (agentx.RESPONSE, 3, 4, 5)
    assert pdu.sys_uptime == 42 and pdu.error == 0 and pdu.varbinds == binds


def test_bad_input_raises_agentx_error():
    with pytest.raises(AgentxError):
        agentx.decode_header(b"\x01\x05")                           # short
    with pytest.raises(AgentxError):
        agentx.decode_header(header(agentx.GET, 4)[:0] + b"\x02" + header(agentx.GET, 4)[1:])   # version 2
    with pytest.raises(AgentxError):
        agentx.decode_header(header(agentx.GET, 6))                  # not a multiple of 4
    with pytest.raises(AgentxError):
        agentx.decode_header(header(agentx.GET, 1 << 30))            # absurd length
    payload = oid_bytes(K)                                           # a range without its end OID
    with pytest.raises(AgentxError):
        agentx.decode_pdu(header(agentx.GET, len(payload)) + payload)
    with pytest.raises(AgentxError):
        agentx.decode_pdu(header(99, 0))                             # unknown type
    with pytest.raises(AgentxError):
        agentx.encode_varbind(VarBind(K, agentx.INTEGER, 2 ** 40))  # out of Integer32
    with pytest.raises(AgentxError):
        agentx.encode_varbind(VarBind(K, agentx.IP_ADDRESS, b"\x01\x02"))


def test_split_stream_keeps_a_partial_pdu():
    a, b = agentx.ping_pdu(1, 1), agentx.open_pdu(2, K, "x")
    buf = bytearray(a + b[:25])
    assert agentx.split_stream(buf) == [a] and bytes(buf) == b[:25]
    buf += b[25:]
    assert agentx.split_stream(buf) == [b] and not buf


# ------------------------------------------------------------------------------------- views
VIEW = MibView([(K + (1, 1), (0,), agentx.OCTET_STRING, "v"),
                (K + (2, 3, 1, 2), (1,), agentx.OCTET_STRING, "VI_1"),
                (K + (2, 3, 1, 2), (2,), agentx.OCTET_STRING, "VI_2"),
                (K + (2, 3, 1, 3), (1,), agentx.GAUGE32, 51),
                (K + (2, 3, 1, 18), (1,), agentx.OCTET_STRING, None)])     # no value: not served


async def test_get_answers_value_or_no_such():
    out = await answer_get(VIEW, [SearchRange(K + (2, 3, 1, 2, 2), (), True), SearchRange(K + (2, 3, 1, 2, 9), (), True),
                            SearchRange(K + (2, 3, 1, 18, 1), (), True), SearchRange(K + (7,), (), True)])
    assert [v.type for v in out] == [agentx.OCTET_STRING, agentx.NO_SUCH_INSTANCE, agentx.NO_SUCH_OBJECT,
                                     agentx.NO_SUCH_OBJECT]
    assert out[0].value == "VI_2"


async def test_getnext_walks_in_oid_order_within_the_range():
    walk, rng = [], SearchRange(K, (), False)
    while True:
        (vb,) = await answer_getnext(VIEW, [rng])
        if vb.type == agentx.END_OF_MIB_VIEW:
            break
        walk.append(vb.oid)
        rng = SearchRange(vb.oid, (), False)
    assert walk == [K + (1, 1, 0), K + (2, 3, 1, 2, 1), K + (2, 3, 1, 2, 2), K + (2, 3, 1, 3, 1)]
    (vb,) = await answer_getnext(VIEW, [SearchRange(K + (2, 3, 1, 2, 1), (), True)])   # include: itself
    assert vb.oid == K + (2, 3, 1, 2, 1)
    (vb,) = await answer_getnext(VIEW, [SearchRange(K + (1,), K + (2,), False)])
    assert vb.oid == K + (1, 1, 0)
    (vb,) = await answer_getnext(VIEW, [SearchRange(K + (1, 1, 0), K + (2,), False)])  # end bound
    assert vb.type == agentx.END_OF_MIB_VIEW and vb.oid == K + (1, 1, 0)


async def test_getbulk_repeats_and_stops_at_the_end():
    out = await answer_getbulk(VIEW, 1, 3, [SearchRange(K, (), False), SearchRange(K + (2,), (), False)])
    assert [v.oid for v in out] == [K + (1, 1, 0), K + (2, 3, 1, 2, 1), K + (2, 3, 1, 2, 2), K + (2, 3, 1, 3, 1)]
    out = await answer_getbulk(VIEW, 0, 10, [SearchRange(K + (2, 3, 1, 3), (), False)])
    assert [v.type for v in out] == [agentx.GAUGE32, agentx.END_OF_MIB_VIEW]
    assert len(await answer_getbulk(VIEW, 0, 10_000, [SearchRange((), (), False)] * 2)) <= 2 * 64


async def test_subtree_views_build_lazily_and_walk_across_subtrees():
    built = []
    now = [0.0]

    def table(prefix: tuple, n: int):
        def build():
            built.append(prefix)
            return MibView([(prefix + (1,), (i,), agentx.INTEGER, i) for i in range(1, n + 1)])
        return build

    async def slow():
        built.append("rfc")
        return MibView([((1, 3, 6, 1, 2, 1, 68, 1), (0,), agentx.INTEGER, 2)])

    views = SubtreeViews([(K + (2, 3), table(K + (2, 3), 2)), (K + (1,), table(K + (1,), 1)),
                          ((1, 3, 6, 1, 2, 1, 68), slow), (K + (2, 6), table(K + (2, 6), 0))],
                         ttl=1.0, clock=lambda: now[0])
    vb = await views.get(K + (2, 3, 1, 2))
    assert vb.value == 2 and built == [K + (2, 3)]                        # only that table
    walk, rng = [], SearchRange((1, 3, 6, 1, 2), (), False)
    while True:
        (vb,) = await answer_getnext(views, [rng])
        if vb.type == agentx.END_OF_MIB_VIEW:
            break
        walk.append(vb.oid)
        rng = SearchRange(vb.oid, (), False)
    assert walk == [(1, 3, 6, 1, 2, 1, 68, 1, 0), K + (1, 1, 1), K + (2, 3, 1, 1), K + (2, 3, 1, 2)]
    assert built == [K + (2, 3), "rfc", K + (1,), K + (2, 6)]             # each built once (empty one too)
    now[0] = 5.0                                                          # past the ttl: rebuilt
    await views.get(K + (1, 1, 1))
    views.invalidate()
    await views.get(K + (1, 1, 1))
    assert built[-2:] == [K + (1,), K + (1,)] and views.builds == 6
    assert (await views.get(K + (9,))).type == agentx.NO_SUCH_OBJECT
    (vb,) = await answer_getnext(views, [SearchRange(K + (1,), K + (2,), False)])
    assert vb.oid == K + (1, 1, 1)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120), st.sampled_from(sorted(agentx.PDU_NAMES)), st.sampled_from([0, 0x10, 0x18]))
def test_fuzzed_payloads_decode_or_raise_agentx_error(body, ptype, flags):
    """Whatever follows a valid header, decoding gives a PDU or AgentxError: never another
    exception (the session answers parseError and goes on)."""
    body = body[:len(body) - len(body) % 4]
    data = header(ptype, len(body), flags=flags, order=">" if flags else "<") + body
    try:
        agentx.decode_pdu(data)
    except AgentxError:
        pass
