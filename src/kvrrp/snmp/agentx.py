"""AgentX (RFC 2741) PDUs: encode and decode, no I/O.

What a subagent needs: it sends Open, Register, Notify, Ping, Close and Response PDUs, and
decodes every PDU a master agent sends it (Get, GetNext, GetBulk, the four Set phases of RFC
2741 7.2.4 - TestSet, CommitSet, UndoSet, CleanupSet -, Close, Response). The set phases are
encoded too, for the tests' scripted master. Both byte orders are decoded (the NETWORK_BYTE_ORDER flag says which);
we always encode in network byte order.

A malformed PDU raises AgentxError: the session answers it with a parseError Response when
the header could be read, or closes the connection when not (RFC 2741 section 7.2.1).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

VERSION = 1
HEADER_LEN = 20
MAX_PAYLOAD = 1 << 20      # a larger length in a header is taken as garbage, not waited for

# PDU types (RFC 2741 6.1)
OPEN, CLOSE, REGISTER, UNREGISTER = 1, 2, 3, 4
GET, GETNEXT, GETBULK = 5, 6, 7
TESTSET, COMMITSET, UNDOSET, CLEANUPSET = 8, 9, 10, 11
NOTIFY, PING, INDEX_ALLOCATE, INDEX_DEALLOCATE = 12, 13, 14, 15
ADD_AGENT_CAPS, REMOVE_AGENT_CAPS, RESPONSE = 16, 17, 18
PDU_NAMES = {OPEN: "Open", CLOSE: "Close", REGISTER: "Register", UNREGISTER: "Unregister", GET: "Get",
             GETNEXT: "GetNext", GETBULK: "GetBulk", TESTSET: "TestSet", COMMITSET: "CommitSet",
             UNDOSET: "UndoSet", CLEANUPSET: "CleanupSet", NOTIFY: "Notify", PING: "Ping",
             INDEX_ALLOCATE: "IndexAllocate", INDEX_DEALLOCATE: "IndexDeallocate",
             ADD_AGENT_CAPS: "AddAgentCaps", REMOVE_AGENT_CAPS: "RemoveAgentCaps", RESPONSE: "Response"}

# header flags
F_INSTANCE_REGISTRATION = 0x01
F_NEW_INDEX = 0x02
F_ANY_INDEX = 0x04
F_NON_DEFAULT_CONTEXT = 0x08
F_NETWORK_BYTE_ORDER = 0x10

# varbind types
INTEGER, OCTET_STRING, NULL, OBJECT_IDENTIFIER = 2, 4, 5, 6
IP_ADDRESS, COUNTER32, GAUGE32, TIME_TICKS, OPAQUE, COUNTER64 = 64, 65, 66, 67, 68, 70
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 128, 129, 130
UNSIGNED32 = GAUGE32

# Response errors (RFC 2741 6.2.16; the SNMPv2 ones of RFC 3416 a subagent answers sets with)
NO_ERROR = 0
GEN_ERR = 5
NO_ACCESS, WRONG_TYPE, WRONG_LENGTH, WRONG_ENCODING, WRONG_VALUE = 6, 7, 8, 9, 10
NO_CREATION, INCONSISTENT_VALUE, RESOURCE_UNAVAILABLE, COMMIT_FAILED, UNDO_FAILED = 11, 12, 13, 14, 15
NOT_WRITABLE, INCONSISTENT_NAME = 17, 18
ERROR_NAMES = {NO_ERROR: "noError", GEN_ERR: "genErr", NO_ACCESS: "noAccess", WRONG_TYPE: "wrongType",
               WRONG_LENGTH: "wrongLength", WRONG_ENCODING: "wrongEncoding", WRONG_VALUE: "wrongValue",
               NO_CREATION: "noCreation", INCONSISTENT_VALUE: "inconsistentValue",
               RESOURCE_UNAVAILABLE: "resourceUnavailable", COMMIT_FAILED: "commitFailed",
               UNDO_FAILED: "undoFailed", NOT_WRITABLE: "notWritable", INCONSISTENT_NAME: "inconsistentName"}
OPEN_FAILED, NOT_OPEN, PARSE_ERROR, REQUEST_DENIED, PROCESSING_ERROR = 256, 257, 266, 267, 268
DUPLICATE_REGISTRATION, UNKNOWN_REGISTRATION, UNSUPPORTED_CONTEXT = 263, 264, 262

# Close reasons
CLOSE_OTHER, CLOSE_PARSE_ERROR, CLOSE_PROTOCOL_ERROR, CLOSE_TIMEOUTS, CLOSE_SHUTDOWN = 1, 2, 3, 4, 5

INTERNET = (1, 3, 6, 1)
SYS_UPTIME_0 = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID_0 = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)

Oid = tuple[int, ...]


class AgentxError(ValueError):
    """A PDU that cannot be decoded (or a value that cannot be encoded)."""


@dataclass(frozen=True, slots=True)
class Header:
    type: int
    flags: int = F_NETWORK_BYTE_ORDER
    session_id: int = 0
    transaction_id: int = 0
    packet_id: int = 0
    payload_length: int = 0

    @property
    def byte_order(self) -> str:
        return ">" if self.flags & F_NETWORK_BYTE_ORDER else "<"


@dataclass(frozen=True, slots=True)
class VarBind:
    oid: Oid
    type: int
    value: Any = None


@dataclass(frozen=True, slots=True)
class SearchRange:
    start: Oid
    end: Oid = ()          # () = no upper bound
    include: bool = False  # start itself may be returned (GetNext); always True for Get


@dataclass(slots=True)
class Pdu:
    """A decoded PDU. Only the fields of its type are meaningful."""

    header: Header
    context: bytes | None = None
    ranges: list[SearchRange] = field(default_factory=list)       # Get, GetNext, GetBulk
    non_repeaters: int = 0                                        # GetBulk
    max_repetitions: int = 0                                      # GetBulk
    varbinds: list[VarBind] = field(default_factory=list)         # Response, TestSet, Notify
    sys_uptime: int = 0                                           # Response
    error: int = 0                                                # Response
    index: int = 0                                                # Response
    reason: int = 0                                               # Close


# ------------------------------------------------------------------------------------ encoding
def encode_header(h: Header) -> bytes:
    return struct.pack(">BBBBIIII", VERSION, h.type, h.flags | F_NETWORK_BYTE_ORDER, 0,
                       h.session_id, h.transaction_id, h.packet_id, h.payload_length)


def encode_oid(oid: Oid, include: bool = False) -> bytes:
    if any(not (0 <= s <= 0xFFFFFFFF) for s in oid):
        raise AgentxError(f"OID sub-identifier out of range in {oid}")
    prefix = 0
    subids = oid
    if len(oid) >= 5 and oid[:4] == INTERNET and 0 < oid[4] < 256:
        prefix, subids = oid[4], oid[5:]
    if len(subids) > 128:
        raise AgentxError("OID longer than 128 sub-identifiers")
    return struct.pack(f">BBBB{len(subids)}I", len(subids), prefix, 1 if include else 0, 0, *subids)


def encode_octets(data: bytes) -> bytes:
    pad = (4 - len(data) % 4) % 4
    return struct.pack(">I", len(data)) + data + b"\0" * pad


def encode_value(vtype: int, value: Any) -> bytes:
    if vtype in (INTEGER,):
        return struct.pack(">i", value)
    if vtype in (COUNTER32, GAUGE32, TIME_TICKS):
        return struct.pack(">I", value & 0xFFFFFFFF)
    if vtype == COUNTER64:
        return struct.pack(">Q", value & 0xFFFFFFFFFFFFFFFF)
    if vtype in (OCTET_STRING, OPAQUE):
        return encode_octets(value.encode() if isinstance(value, str) else bytes(value))
    if vtype == IP_ADDRESS:
        raw = bytes(value)
        if len(raw) != 4:
            raise AgentxError(f"IpAddress needs 4 octets, got {len(raw)}")
        return encode_octets(raw)
    if vtype == OBJECT_IDENTIFIER:
        return encode_oid(tuple(value))
    if vtype in (NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW):
        return b""
    raise AgentxError(f"unknown varbind type {vtype}")


def encode_varbind(vb: VarBind) -> bytes:
    try:
        return struct.pack(">HH", vb.type, 0) + encode_oid(vb.oid) + encode_value(vb.type, vb.value)
    except (struct.error, TypeError) as exc:     # a value out of its type's range
        raise AgentxError(f"{vb.oid}: {exc}") from None


def _pdu(h: Header, payload: bytes) -> bytes:
    return encode_header(Header(h.type, h.flags, h.session_id, h.transaction_id, h.packet_id,
                                len(payload))) + payload


def _context(context: bytes | None) -> tuple[int, bytes]:
    return (F_NON_DEFAULT_CONTEXT, encode_octets(context)) if context is not None else (0, b"")


def open_pdu(packet_id: int, oid: Oid, description: str, timeout: int = 0) -> bytes:
    payload = struct.pack(">B3x", timeout) + encode_oid(oid) + encode_octets(description.encode())
    return _pdu(Header(OPEN, packet_id=packet_id), payload)


def close_pdu(session_id: int, packet_id: int, reason: int = CLOSE_SHUTDOWN) -> bytes:
    return _pdu(Header(CLOSE, session_id=session_id, packet_id=packet_id), struct.pack(">B3x", reason))


def register_pdu(session_id: int, packet_id: int, subtree: Oid, priority: int = 127, timeout: int = 0,
                 context: bytes | None = None) -> bytes:
    flag, ctx = _context(context)
    payload = ctx + struct.pack(">BBBx", timeout, priority, 0) + encode_oid(subtree)
    return _pdu(Header(REGISTER, F_NETWORK_BYTE_ORDER | flag, session_id, packet_id=packet_id), payload)


def unregister_pdu(session_id: int, packet_id: int, subtree: Oid, priority: int = 127) -> bytes:
    payload = struct.pack(">xBBx", priority, 0) + encode_oid(subtree)
    return _pdu(Header(UNREGISTER, session_id=session_id, packet_id=packet_id), payload)


def notify_pdu(session_id: int, packet_id: int, varbinds: list[VarBind]) -> bytes:
    return _pdu(Header(NOTIFY, session_id=session_id, packet_id=packet_id),
                b"".join(encode_varbind(v) for v in varbinds))


def ping_pdu(session_id: int, packet_id: int) -> bytes:
    return _pdu(Header(PING, session_id=session_id, packet_id=packet_id), b"")


def testset_pdu(session_id: int, transaction_id: int, packet_id: int, varbinds: list[VarBind]) -> bytes:
    """A master's TestSet (RFC 2741 6.2.11): the varbinds to check, nothing changed yet."""
    return _pdu(Header(TESTSET, session_id=session_id, transaction_id=transaction_id, packet_id=packet_id),
                b"".join(encode_varbind(v) for v in varbinds))


def set_phase_pdu(ptype: int, session_id: int, transaction_id: int, packet_id: int) -> bytes:
    """CommitSet, UndoSet or CleanupSet (RFC 2741 6.2.12): a header only, the transaction id
    naming the TestSet it follows."""
    if ptype not in (COMMITSET, UNDOSET, CLEANUPSET):
        raise AgentxError(f"PDU type {ptype} is not a set phase")
    return _pdu(Header(ptype, session_id=session_id, transaction_id=transaction_id, packet_id=packet_id), b"")


def response_pdu(request: Header, varbinds: list[VarBind], error: int = NO_ERROR, index: int = 0,
                 sys_uptime: int = 0) -> bytes:
    """The Response to `request` (same session, transaction and packet ids)."""
    payload = struct.pack(">IHH", sys_uptime, error, index) + b"".join(encode_varbind(v) for v in varbinds)
    return _pdu(Header(RESPONSE, F_NETWORK_BYTE_ORDER, request.session_id, request.transaction_id,
                       request.packet_id), payload)


# ------------------------------------------------------------------------------------ decoding
def decode_header(data: bytes) -> Header:
    if len(data) < HEADER_LEN:
        raise AgentxError("short AgentX header")
    version, ptype, flags = data[0], data[1], data[2]
    if version != VERSION:
        raise AgentxError(f"AgentX version {version}, not 1")
    order = ">" if flags & F_NETWORK_BYTE_ORDER else "<"
    session_id, transaction_id, packet_id, length = struct.unpack_from(order + "IIII", data, 4)
    if length % 4 or length > MAX_PAYLOAD:
        raise AgentxError(f"bad payload length {length}")
    return Header(ptype, flags, session_id, transaction_id, packet_id, length)


class _Reader:
    def __init__(self, data: bytes, order: str) -> None:
        self.data = data
        self.pos = 0
        self.order = order

    def need(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise AgentxError("PDU payload ends early")

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(self.order + fmt)
        self.need(size)
        out = struct.unpack_from(self.order + fmt, self.data, self.pos)
        self.pos += size
        return out

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def oid(self) -> tuple[Oid, bool]:
        n, prefix, include, _ = self.unpack("BBBB")
        subids = self.unpack(f"{n}I") if n else ()
        if prefix:
            return INTERNET + (prefix,) + tuple(subids), bool(include)
        return tuple(subids), bool(include)

    def octets(self) -> bytes:
        (n,) = self.unpack("I")
        padded = n + (4 - n % 4) % 4
        self.need(padded)
        out = self.data[self.pos:self.pos + n]
        self.pos += padded
        return bytes(out)

    def value(self, vtype: int) -> Any:
        if vtype == INTEGER:
            return self.unpack("i")[0]
        if vtype in (COUNTER32, GAUGE32, TIME_TICKS):
            return self.unpack("I")[0]
        if vtype == COUNTER64:
            return self.unpack("Q")[0]
        if vtype in (OCTET_STRING, OPAQUE, IP_ADDRESS):
            return self.octets()
        if vtype == OBJECT_IDENTIFIER:
            return self.oid()[0]
        if vtype in (NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW):
            return None
        raise AgentxError(f"unknown varbind type {vtype}")

    def varbind(self) -> VarBind:
        vtype, _ = self.unpack("HH")
        oid, _ = self.oid()
        return VarBind(oid, vtype, self.value(vtype))


def decode_pdu(data: bytes) -> Pdu:
    """One whole PDU (header + payload) -> Pdu. Raises AgentxError."""
    h = decode_header(data)
    if len(data) != HEADER_LEN + h.payload_length:
        raise AgentxError("PDU length does not match its header")
    r = _Reader(data[HEADER_LEN:], h.byte_order)
    pdu = Pdu(h)
    if h.flags & F_NON_DEFAULT_CONTEXT and h.type in (REGISTER, UNREGISTER, GET, GETNEXT, GETBULK, TESTSET,
                                                      NOTIFY, PING, INDEX_ALLOCATE, INDEX_DEALLOCATE,
                                                      ADD_AGENT_CAPS, REMOVE_AGENT_CAPS):
        pdu.context = r.octets()
    if h.type in (GET, GETNEXT, GETBULK):
        if h.type == GETBULK:
            pdu.non_repeaters, pdu.max_repetitions = r.unpack("HH")
        while not r.at_end():
            start, include = r.oid()
            end, _ = r.oid()
            pdu.ranges.append(SearchRange(start, end, include or h.type == GET))
    elif h.type in (TESTSET, NOTIFY):
        while not r.at_end():
            pdu.varbinds.append(r.varbind())
    elif h.type == RESPONSE:
        pdu.sys_uptime, pdu.error, pdu.index = r.unpack("IHH")
        while not r.at_end():
            pdu.varbinds.append(r.varbind())
    elif h.type == CLOSE:
        pdu.reason = r.unpack("B3x")[0]
    elif h.type in (COMMITSET, UNDOSET, CLEANUPSET, PING):
        if not r.at_end():
            raise AgentxError(f"{PDU_NAMES[h.type]} PDU with a payload")
    elif h.type not in PDU_NAMES:
        raise AgentxError(f"unknown PDU type {h.type}")
    return pdu


def split_stream(buffer: bytearray) -> list[bytes]:
    """Take every complete PDU off the front of `buffer` (a stream's bytes so far)."""
    out = []
    while len(buffer) >= HEADER_LEN:
        h = decode_header(bytes(buffer[:HEADER_LEN]))
        total = HEADER_LEN + h.payload_length
        if len(buffer) < total:
            break
        out.append(bytes(buffer[:total]))
        del buffer[:total]
    return out
