# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython accelerator of the VRRP fast path. Same names, results and exceptions as
`kvrrp._fastpath_py` (the readable reference; read that first, the algorithms are identical).

Speed notes: payloads are read through a raw Py_buffer (no typed-memoryview setup cost), the
checksum sums 64-bit words with end-around carry, encode writes into a stack buffer, and the
timer wheel keeps its nodes, slot lists and key index in C arrays (an open-addressing hash
table instead of a dict), so schedule/cancel touch no Python objects besides the arguments.
"""
cimport cython
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from cpython.long cimport PyLong_CheckExact, PyLong_AsLongAndOverflow
from cpython.number cimport PyNumber_Index
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t, int32_t
from libc.string cimport memcpy, memset, memcmp
from libc.stdlib cimport malloc, realloc, free, qsort
from libc.math cimport ceil, floor, isfinite, isnan

import socket

cdef extern from *:
    int __builtin_ctzll(unsigned long long) nogil
    int __builtin_clzll(unsigned long long) nogil

__all__ = [
    "IMPLEMENTATION", "DROP_REASONS", "Advert", "Drop", "TimerWheel",
    "inet_checksum", "pseudo_sum_ipv4", "pseudo_sum_ipv6",
    "decode_advert", "encode_advert",
    "InstanceSlot", "ReceiveTable", "SocketReader", "receive_batch", "RECV_BATCH", "RX_TIME_MAX_AGE",
    "SocketSender", "fire_adverts", "next_advert_deadline", "ADVERT_GRID", "TIMER_TOLERANCE",
]

IMPLEMENTATION = "cython"

DEF VRRP_PROTOCOL = 112
DEF HEADER_LEN = 8
DEF AUTH_DATA_LEN = 8
DEF MAX_ADDRESSES = 255
DEF V3_MAX_ADVER_INT = 0x0FFF
DEF MAX_MESSAGE = 8 + 255 * 16 + 8

# decode_advert's drop reasons: the names the receive counters use (kvrrp.vrrp.stats.DROP_REASONS),
# so a drop keeps one name from the fast path to the metrics
DROP_REASONS = ("family", "packet_length", "version", "invalid_type", "checksum", "invalid_auth_type",
                "unknown_vrid")

# --------------------------------------------------------------------------------------------
# RFC 1071 Internet checksum
# --------------------------------------------------------------------------------------------

cdef inline bint _little_endian() noexcept nogil:
    cdef uint16_t one = 1
    return (<uint8_t*>&one)[0] == 1


cdef inline uint64_t _fold16(uint64_t s) noexcept nogil:
    s = (s & 0xFFFFFFFFULL) + (s >> 32)
    s = (s & 0xFFFFFFFFULL) + (s >> 32)
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return s


cdef inline uint64_t _be_sum_folded(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """Ones-complement sum of big-endian 16-bit words, folded to 16 bits. Sums native 64-bit
    words with end-around carry (2**64-1 is a multiple of 2**16-1, so the congruence holds) and
    swaps bytes at the end when the machine is little-endian (RFC 1071 section 2 (B))."""
    cdef uint64_t acc = 0, w
    cdef uint8_t tail[8]
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        memcpy(&w, p + i, 8)
        acc += w
        if acc < w:
            acc += 1
        i += 8
    if i < n:
        memset(tail, 0, 8)
        memcpy(tail, p + i, n - i)
        memcpy(&w, tail, 8)
        acc += w
        if acc < w:
            acc += 1
    acc = _fold16(acc)
    if _little_endian():
        acc = ((acc >> 8) | (acc << 8)) & 0xFFFF
    return acc


cdef inline uint16_t _checksum(const uint8_t* p, Py_ssize_t n, uint64_t initial) noexcept nogil:
    cdef uint64_t s = _be_sum_folded(p, n)
    s += _fold16(initial)
    return <uint16_t>(~_fold16(s) & 0xFFFF)


cdef inline uint64_t _word_sum(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """Unfolded sum of big-endian 16-bit words (used for the small pseudo-header parts, where
    the exact unfolded value is part of the API)."""
    cdef uint64_t s = 0
    cdef Py_ssize_t i = 0
    while i + 1 < n:
        s += (<uint64_t>p[i] << 8) | p[i + 1]
        i += 2
    if n & 1:
        s += <uint64_t>p[n - 1] << 8
    return s


def inet_checksum(data, initial=0):
    """RFC 1071 checksum of `data` (any bytes-like) plus an unfolded partial sum `initial`."""
    cdef Py_buffer view
    cdef uint16_t result
    cdef unsigned long long init = initial if PyLong_CheckExact(initial) else PyNumber_Index(initial)
    if PyBytes_CheckExact(data):
        return _checksum(<const uint8_t*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), init)
    _get_buffer(data, &view)
    try:
        result = _checksum(<const uint8_t*>view.buf, view.len, init)
    finally:
        PyBuffer_Release(&view)
    return result


cdef int _get_buffer(object obj, Py_buffer* view) except -1:
    """A contiguous byte view of obj; TypeError (like memoryview()) for non-buffers."""
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    except BufferError:
        # Non-contiguous or non-byte buffers: go through memoryview like the reference does.
        raise TypeError(f"a contiguous bytes-like object is required, not '{type(obj).__name__}'")
    return 0


cdef bytes _packed(object addr, Py_ssize_t length, str what):
    cdef bytes raw = bytes(memoryview(addr).cast("B"))
    if len(raw) != length:
        raise ValueError(f"{what} must be {length} packed bytes, got {len(raw)}")
    return raw


cdef inline int64_t _index_range(object value, int64_t low, int64_t high, str message) except? -1:
    import operator
    cdef object v = operator.index(value)
    if not low <= v <= high:
        raise ValueError(message.format(v))
    return v


def pseudo_sum_ipv4(src, dst, length):
    """Unfolded sum of the IPv4 pseudo-header (src, dst, zero, protocol 112, 16-bit length)."""
    cdef int64_t n = _index_range(length, 0, 0xFFFF, "length {} out of range 0..65535")
    cdef bytes s = _packed(src, 4, "src")
    cdef bytes d = _packed(dst, 4, "dst")
    return (_word_sum(<const uint8_t*>PyBytes_AS_STRING(s), 4)
            + _word_sum(<const uint8_t*>PyBytes_AS_STRING(d), 4) + VRRP_PROTOCOL + <uint64_t>n)


def pseudo_sum_ipv6(src, dst, length):
    """Unfolded sum of the IPv6 pseudo-header (src, dst, 32-bit length, zeros, next header 112)."""
    cdef int64_t n = _index_range(length, 0, 0xFFFFFFFF, "length {} out of range 0..2**32-1")
    cdef bytes s = _packed(src, 16, "src")
    cdef bytes d = _packed(dst, 16, "dst")
    return (_word_sum(<const uint8_t*>PyBytes_AS_STRING(s), 16)
            + _word_sum(<const uint8_t*>PyBytes_AS_STRING(d), 16)
            + (<uint64_t>n >> 16) + (<uint64_t>n & 0xFFFF) + VRRP_PROTOCOL)


cdef inline uint64_t _pseudo_sum(const uint8_t* src, const uint8_t* dst, int addr_len,
                                 uint64_t length) noexcept nogil:
    cdef uint64_t s = _word_sum(src, addr_len) + _word_sum(dst, addr_len) + VRRP_PROTOCOL
    if addr_len == 4:
        return s + length
    return s + (length >> 16) + (length & 0xFFFF)


# --------------------------------------------------------------------------------------------
# Advertisements
# --------------------------------------------------------------------------------------------

cdef str _ntop(bytes packed):
    return socket.inet_ntop(socket.AF_INET6 if len(packed) == 16 else socket.AF_INET, packed)


@cython.freelist(64)
cdef class Advert:
    """A decoded, validated advertisement. `adver_int` is seconds (v2) or centiseconds (v3)."""

    cdef readonly int version, type, vrid, priority, count, auth_type, adver_int, checksum
    cdef readonly object checksum_ok
    cdef readonly tuple addresses
    cdef readonly bytes auth_data

    def __init__(self, version, type, vrid, priority, count, auth_type, adver_int, checksum,
                 checksum_ok, addresses, auth_data):
        self.version = version
        self.type = type
        self.vrid = vrid
        self.priority = priority
        self.count = count
        self.auth_type = auth_type
        self.adver_int = adver_int
        self.checksum = checksum
        self.checksum_ok = checksum_ok
        self.addresses = tuple(addresses)
        self.auth_data = bytes(auth_data)

    cdef tuple _fields(self):
        return (self.version, self.type, self.vrid, self.priority, self.count, self.auth_type,
                self.adver_int, self.checksum, self.checksum_ok, self.addresses, self.auth_data)

    def __eq__(self, other):
        if type(other) is not Advert:
            return NotImplemented
        return self._fields() == (<Advert>other)._fields()

    def __hash__(self):
        return hash(self._fields())

    def __repr__(self):
        return (f"Advert(version={self.version!r}, type={self.type!r}, vrid={self.vrid!r}, "
                f"priority={self.priority!r}, count={self.count!r}, auth_type={self.auth_type!r}, "
                f"adver_int={self.adver_int!r}, checksum={self.checksum!r}, "
                f"checksum_ok={self.checksum_ok!r}, addresses={self.addresses!r}, "
                f"auth_data={self.auth_data!r})")

    def to_dict(self):
        """JSON-ready fields: addresses as text, auth_data as hex."""
        return {
            "version": self.version,
            "type": self.type,
            "vrid": self.vrid,
            "priority": self.priority,
            "count": self.count,
            "auth_type": self.auth_type,
            "adver_int": self.adver_int,
            "checksum": self.checksum,
            "checksum_ok": self.checksum_ok,
            "addresses": [_ntop(a) for a in self.addresses],
            "auth_data": self.auth_data.hex(),
        }


cdef class Drop:
    """Why a received message was discarded; `reason` is one of DROP_REASONS."""

    cdef readonly str reason

    def __init__(self, reason):
        self.reason = reason

    def __eq__(self, other):
        if type(other) is not Drop:
            return NotImplemented
        return self.reason == (<Drop>other).reason

    def __hash__(self):
        return hash((self.reason,))

    def __repr__(self):
        return f"Drop(reason={self.reason!r})"


cdef Drop D_BAD_FAMILY = Drop("family")
cdef Drop D_TOO_SHORT = Drop("packet_length")
cdef Drop D_BAD_VERSION = Drop("version")
cdef Drop D_BAD_TYPE = Drop("invalid_type")
cdef Drop D_BAD_LENGTH = Drop("packet_length")
cdef Drop D_COUNT_MISMATCH = Drop("packet_length")
cdef Drop D_BAD_PSEUDO = Drop("checksum")
cdef Drop D_BAD_CHECKSUM = Drop("checksum")
cdef Drop D_BAD_AUTH_TYPE = Drop("invalid_auth_type")
cdef Drop D_BAD_VRID = Drop("unknown_vrid")

cdef bytes _EMPTY = b""


# Text -> packed address, remembered: the daemon hands over peers and groups as text and they
# repeat on every packet. Invalid text maps to None. Bounded by clearing, not by eviction order.
cdef dict _TEXT4 = {}
cdef dict _TEXT6 = {}
DEF TEXT_CACHE_MAX = 4096


cdef object _text_address(str text, int family):
    cdef dict cache = _TEXT4 if family == 4 else _TEXT6
    cdef object packed = cache.get(text, False)
    if packed is not False:
        return packed
    try:
        packed = socket.inet_pton(socket.AF_INET if family == 4 else socket.AF_INET6,
                                  text.split("%", 1)[0])  # a scope id is not on the wire
    except OSError:
        packed = None
    if len(cache) >= TEXT_CACHE_MAX:
        cache.clear()
    cache[text] = packed
    return packed


cdef object _pseudo_address(object addr, int family):
    """Packed address for the pseudo-header (text accepted), or None if unusable."""
    cdef Py_ssize_t want = 4 if family == 4 else 16
    if PyBytes_CheckExact(addr):
        return addr if PyBytes_GET_SIZE(addr) == want else None
    if isinstance(addr, str):
        return _text_address(addr, family)
    try:
        raw = bytes(memoryview(addr).cast("B"))
    except TypeError:
        return None
    return raw if len(raw) == want else None


cdef object _decode(const uint8_t* p, Py_ssize_t n, int family, object src, object dst, bint as_v2):
    cdef int version, count, addr_len, auth_len, auth_type, adver_int, vrid, i
    cdef Py_ssize_t area
    cdef object checksum_ok, psrc, pdst
    cdef bytes auth_data
    if n < HEADER_LEN:
        return D_TOO_SHORT
    version = p[0] >> 4
    if version != 2 and version != 3:
        return D_BAD_VERSION
    if version == 2 and family == 6:
        return D_BAD_VERSION
    if (p[0] & 0x0F) != 1:
        return D_BAD_TYPE
    addr_len = 4 if family == 4 else 16
    auth_len = AUTH_DATA_LEN if version == 2 else 0
    if n < HEADER_LEN + auth_len:
        return D_TOO_SHORT
    area = n - HEADER_LEN - auth_len
    if area % addr_len:
        return D_BAD_LENGTH
    count = p[3]
    if area // addr_len != count:
        return D_COUNT_MISMATCH
    if version == 3:
        if as_v2 and family == 4:
            if _checksum(p, n, 0) != 0:
                return D_BAD_CHECKSUM
            checksum_ok = True
        elif src is None or dst is None:
            checksum_ok = None
        else:
            psrc = _pseudo_address(src, family)
            pdst = _pseudo_address(dst, family)
            if psrc is None or pdst is None:
                return D_BAD_PSEUDO
            if _checksum(p, n, _pseudo_sum(<const uint8_t*>PyBytes_AS_STRING(psrc),
                                           <const uint8_t*>PyBytes_AS_STRING(pdst),
                                           addr_len, <uint64_t>n)) != 0:
                return D_BAD_CHECKSUM
            checksum_ok = True
        auth_type = 0
        adver_int = ((p[4] << 8) | p[5]) & V3_MAX_ADVER_INT
        auth_data = _EMPTY
    else:
        if _checksum(p, n, 0) != 0:
            return D_BAD_CHECKSUM
        checksum_ok = True
        auth_type = p[4]
        if auth_type > 2:
            return D_BAD_AUTH_TYPE
        adver_int = p[5]
        auth_data = PyBytes_FromStringAndSize(<const char*>(p + n - AUTH_DATA_LEN), AUTH_DATA_LEN)
    vrid = p[1]
    if vrid == 0:
        return D_BAD_VRID
    cdef tuple addresses = PyTuple_New(count)
    cdef object a
    for i in range(count):
        a = PyBytes_FromStringAndSize(<const char*>(p + HEADER_LEN + i * addr_len), addr_len)
        Py_INCREF(a)
        PyTuple_SET_ITEM(addresses, i, a)
    cdef Advert adv = Advert.__new__(Advert)
    adv.version = version
    adv.type = 1
    adv.vrid = vrid
    adv.priority = p[2]
    adv.count = count
    adv.auth_type = auth_type
    adv.adver_int = adver_int
    adv.checksum = (p[6] << 8) | p[7]
    adv.checksum_ok = checksum_ok
    adv.addresses = addresses
    adv.auth_data = auth_data
    return adv


cdef inline int _family_code(object family):
    if family == 4:
        return 4
    if family == 6:
        return 6
    return 0


def decode_advert(payload, family, src=None, dst=None, *, v3_checksum_as_v2=False):
    """Validate and decode one VRRP message (the IP payload). Returns Advert or Drop; never raises
    for any bytes-like payload. For v3 the checksum is verified only when src and dst are given
    (checksum_ok is None otherwise). `v3_checksum_as_v2` (keepalived's option of that name, for
    Cisco/Juniper interop, RFC 9568) checks a v3 IPv4 checksum over the message alone."""
    cdef Py_buffer view
    cdef int fam
    if PyBytes_CheckExact(payload):
        fam = _family_code(family)
        if fam == 0:
            return D_BAD_FAMILY
        return _decode(<const uint8_t*>PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload),
                       fam, src, dst, v3_checksum_as_v2)
    _get_buffer(payload, &view)
    try:
        fam = _family_code(family)
        if fam == 0:
            return D_BAD_FAMILY
        return _decode(<const uint8_t*>view.buf, view.len, fam, src, dst, v3_checksum_as_v2)
    finally:
        PyBuffer_Release(&view)


cdef long _int_field(str name, object value, long low, long high) except? -1:
    cdef int overflow = 0
    cdef long x
    if PyLong_CheckExact(value):
        x = PyLong_AsLongAndOverflow(value, &overflow)
        if not overflow and low <= x <= high:
            return x
        raise ValueError(f"{name} {value} out of range {low}..{high}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} {value} out of range {low}..{high}")
    return value


cdef bytes _address_bytes(object addr, int family, str what):
    """A packed address of the family; text is accepted and converted."""
    cdef Py_ssize_t want = 4 if family == 4 else 16
    if isinstance(addr, str):
        packed = _text_address(addr, family)
        if packed is None:
            raise ValueError(f"{what} {addr!r} is not an IPv{family} address")
        return packed
    try:
        raw = bytes(memoryview(addr).cast("B"))
    except TypeError:
        raise ValueError(f"{what} must be packed bytes or text, got {type(addr).__name__}") from None
    if len(raw) != want:
        raise ValueError(f"{what} must be {want} packed bytes for IPv{family}, got {len(raw)}")
    return raw


cdef bytes _encode(object version_o, object vrid_o, object priority_o, object addresses,
                   object adver_int_o, object family_o, object auth_type_o, object auth_data,
                   object src, object dst, object type_o, bint as_v2):
    cdef uint8_t buf[MAX_MESSAGE]
    cdef long version = _int_field("version", version_o, 2, 3)
    cdef long family = _int_field("family", family_o, 4, 6)
    if family == 5:
        raise ValueError("family must be 4 or 6, got 5")
    if version == 2 and family == 6:
        raise ValueError("VRRPv2 (RFC 3768) is IPv4 only; use version 3 for IPv6")
    cdef long typ = _int_field("type", type_o, 0, 15)
    cdef long vrid = _int_field("vrid", vrid_o, 1, 255)
    cdef long priority = _int_field("priority", priority_o, 0, 255)
    cdef long adver_int = _int_field("adver_int", adver_int_o, 0,
                                     255 if version == 2 else V3_MAX_ADVER_INT)
    cdef Py_ssize_t addr_len = 4 if family == 4 else 16
    cdef object seq
    if type(addresses) is tuple or type(addresses) is list:
        seq = addresses
    else:
        seq = list(addresses)
    cdef Py_ssize_t count = len(seq), i, n, auth_n
    if count > MAX_ADDRESSES:
        raise ValueError(f"at most {MAX_ADDRESSES} addresses, got {count}")
    cdef object a
    for i in range(count):
        a = seq[i]
        if not (PyBytes_CheckExact(a) and PyBytes_GET_SIZE(a) == addr_len):
            a = _address_bytes(a, family, "address")
        memcpy(buf + HEADER_LEN + i * addr_len, PyBytes_AS_STRING(a), addr_len)
    n = HEADER_LEN + count * addr_len
    cdef long auth_type
    cdef uint64_t pseudo = 0
    cdef bytes raw, psrc, pdst
    if version == 2:
        auth_type = _int_field("auth_type", auth_type_o, 0, 2)
        if PyBytes_CheckExact(auth_data):
            raw = auth_data
        else:
            try:
                raw = bytes(memoryview(auth_data).cast("B"))
            except TypeError:
                raise ValueError("auth_data must be bytes") from None
        auth_n = PyBytes_GET_SIZE(raw)
        if auth_n > AUTH_DATA_LEN:
            raise ValueError(f"auth_data is at most {AUTH_DATA_LEN} bytes, got {auth_n}")
        memset(buf + n, 0, AUTH_DATA_LEN)
        memcpy(buf + n, PyBytes_AS_STRING(raw), auth_n)
        n += AUTH_DATA_LEN
        buf[4] = <uint8_t>auth_type
        buf[5] = <uint8_t>adver_int
    else:
        if auth_type_o != 0:
            raise ValueError("VRRPv3 has no authentication; auth_type must be 0")
        if auth_data:
            raise ValueError("VRRPv3 has no authentication; auth_data must be empty")
        buf[4] = <uint8_t>(adver_int >> 8)
        buf[5] = <uint8_t>(adver_int & 0xFF)
        if not (as_v2 and family == 4):
            if src is None or dst is None:
                raise ValueError("VRRPv3 needs src and dst for the checksum pseudo-header")
            psrc = src if (PyBytes_CheckExact(src) and PyBytes_GET_SIZE(src) == addr_len) \
                else _address_bytes(src, family, "src")
            pdst = dst if (PyBytes_CheckExact(dst) and PyBytes_GET_SIZE(dst) == addr_len) \
                else _address_bytes(dst, family, "dst")
            pseudo = _pseudo_sum(<const uint8_t*>PyBytes_AS_STRING(psrc),
                                 <const uint8_t*>PyBytes_AS_STRING(pdst), addr_len, <uint64_t>n)
    buf[0] = <uint8_t>((version << 4) | typ)
    buf[1] = <uint8_t>vrid
    buf[2] = <uint8_t>priority
    buf[3] = <uint8_t>count
    buf[6] = 0
    buf[7] = 0
    cdef uint16_t checksum = _checksum(buf, n, pseudo)
    buf[6] = <uint8_t>(checksum >> 8)
    buf[7] = <uint8_t>(checksum & 0xFF)
    return PyBytes_FromStringAndSize(<const char*>buf, n)


def encode_advert(version, vrid, priority, addresses, adver_int, *, family=4, auth_type=0,
                  auth_data=b"", src=None, dst=None, type=1, v3_checksum_as_v2=False):
    """Build one VRRP message with its checksum. v3 needs src/dst for the pseudo-header (not with
    `v3_checksum_as_v2` on IPv4, whose checksum covers the message alone).
    Addresses are packed bytes (or text). Bad field values raise ValueError."""
    return _encode(version, vrid, priority, addresses, adver_int, family, auth_type, auth_data,
                   src, dst, type, v3_checksum_as_v2)



# --------------------------------------------------------------------------------------------
# Hashed hierarchical timer wheel
# --------------------------------------------------------------------------------------------

DEF LEVELS = 8
DEF BITS = 8
DEF SLOTS = 256
DEF SLOT_MASK = 255
DEF NIL = -1
DEF IN_DUE = -1
DEF MAX_TICK = 4611686018427387904      # 2**62
DEF EXACT_TICK = 1125899906842624       # 2**50

WHEEL_LEVELS = LEVELS
WHEEL_BITS = BITS
WHEEL_SLOTS = SLOTS

cdef struct Node:
    int64_t key
    int64_t tick
    uint64_t seq
    int32_t prev
    int32_t next
    int32_t level      # IN_DUE for the due list
    int32_t slot


cdef struct Expired:
    int64_t tick
    uint64_t seq
    int64_t key


cdef int _cmp_expired(const void* a, const void* b) noexcept nogil:
    cdef const Expired* x = <const Expired*>a
    cdef const Expired* y = <const Expired*>b
    if x.tick != y.tick:
        return -1 if x.tick < y.tick else 1
    if x.seq != y.seq:
        return -1 if x.seq < y.seq else 1
    return 0


cdef inline uint64_t _hash(int64_t key) noexcept nogil:
    return <uint64_t>key * 0x9E3779B97F4A7C15ULL


cdef inline int64_t _key(object key) except? -1:
    """A timer key as operator.index() sees it (TypeError for floats, OverflowError past int64)."""
    if PyLong_CheckExact(key):
        return key
    return PyNumber_Index(key)


cdef double _seconds(object value) except? -1.0:
    return value   # Cython's double conversion: TypeError for text, like the reference


cdef class TimerWheel:
    """Hashed hierarchical timer wheel keyed by int ids; see kvrrp._fastpath_py.TimerWheel for
    the algorithm and ordering guarantees (identical here)."""

    cdef readonly double resolution
    cdef readonly double start
    cdef int64_t _cur
    cdef Node* _nodes
    cdef int32_t _node_cap
    cdef int32_t _free
    cdef int32_t _len
    cdef int32_t* _table        # open addressing: node index or NIL
    cdef uint64_t _table_mask
    cdef int _table_shift
    cdef int32_t _heads[LEVELS][SLOTS]
    cdef uint64_t _bitmap[LEVELS][4]
    cdef int64_t _level_count[LEVELS]
    cdef int32_t _due_head
    cdef uint64_t _seq
    cdef int64_t _next_cache
    cdef bint _next_valid
    cdef Expired* _scratch
    cdef Py_ssize_t _scratch_cap

    def __cinit__(self, resolution=0.001, start=0.0):
        cdef int i, j
        self._nodes = NULL
        self._table = NULL
        self._scratch = NULL
        for i in range(LEVELS):
            for j in range(SLOTS):
                self._heads[i][j] = NIL
            for j in range(4):
                self._bitmap[i][j] = 0
            self._level_count[i] = 0
        self._due_head = NIL
        self._free = NIL
        self._node_cap = 0
        self._len = 0
        self._seq = 0
        self._cur = 0
        self._next_valid = False
        self._next_cache = 0
        self._scratch_cap = 0
        self._table_shift = 64 - 4
        self._table_mask = 15
        self._table = <int32_t*>malloc(16 * sizeof(int32_t))
        if self._table == NULL:
            raise MemoryError()
        for i in range(16):
            self._table[i] = NIL

    def __init__(self, resolution=0.001, start=0.0):
        cdef double r = _seconds(resolution)
        cdef double s = _seconds(start)
        if not (r > 0 and isfinite(r)):
            raise ValueError(f"resolution must be a positive number of seconds, got {r!r}")
        if not isfinite(s):
            raise ValueError(f"start must be finite, got {s!r}")
        self.resolution = r
        self.start = s

    def __dealloc__(self):
        free(self._nodes)
        free(self._table)
        free(self._scratch)

    # -- time <-> ticks ------------------------------------------------------------------
    cdef inline double _time_of(self, int64_t tick) noexcept:
        return self.start + <double>tick * self.resolution

    cdef int64_t _tick_at_or_after(self, double t) except? -1:
        cdef double x = (t - self.start) / self.resolution
        cdef int64_t tick
        if not isfinite(x):
            raise ValueError(f"deadline must be finite, got {t!r}")
        if x >= <double>MAX_TICK:
            return MAX_TICK
        if x <= -<double>MAX_TICK:
            return -MAX_TICK
        tick = <int64_t>ceil(x)
        if -EXACT_TICK < tick < EXACT_TICK:
            if self._time_of(tick - 1) >= t:
                tick -= 1
            elif self._time_of(tick) < t:
                tick += 1
        return tick

    cdef int64_t _tick_at_or_before(self, double t) except? -1:
        cdef double x = (t - self.start) / self.resolution
        cdef int64_t tick
        if not isfinite(x):
            raise ValueError(f"time must be finite, got {t!r}")
        if x >= <double>MAX_TICK:
            return MAX_TICK
        if x <= -<double>MAX_TICK:
            return -MAX_TICK
        tick = <int64_t>floor(x)
        if -EXACT_TICK < tick < EXACT_TICK:
            if self._time_of(tick + 1) <= t:
                tick += 1
            elif self._time_of(tick) > t:
                tick -= 1
        return tick

    # -- key index (open addressing, linear probing, backward-shift deletion) ----------------
    cdef inline int32_t _find(self, int64_t key) noexcept:
        cdef uint64_t i = _hash(key) >> self._table_shift
        cdef int32_t idx
        while True:
            idx = self._table[i]
            if idx == NIL:
                return NIL
            if self._nodes[idx].key == key:
                return idx
            i = (i + 1) & self._table_mask

    cdef int _grow_table(self) except -1:
        cdef uint64_t old_size = self._table_mask + 1, new_size = old_size * 2, i, j
        cdef int32_t* old = self._table
        cdef int32_t* table = <int32_t*>malloc(new_size * sizeof(int32_t))
        if table == NULL:
            raise MemoryError()
        for i in range(new_size):
            table[i] = NIL
        self._table = table
        self._table_mask = new_size - 1
        self._table_shift -= 1
        for i in range(old_size):
            if old[i] != NIL:
                j = _hash(self._nodes[old[i]].key) >> self._table_shift
                while table[j] != NIL:
                    j = (j + 1) & self._table_mask
                table[j] = old[i]
        free(old)
        return 0

    cdef inline void _table_insert(self, int32_t idx) noexcept:
        cdef uint64_t i = _hash(self._nodes[idx].key) >> self._table_shift
        while self._table[i] != NIL:
            i = (i + 1) & self._table_mask
        self._table[i] = idx

    cdef void _table_remove(self, int64_t key) noexcept:
        cdef uint64_t i = _hash(key) >> self._table_shift, j, home
        cdef int32_t idx
        while True:
            idx = self._table[i]
            if idx == NIL:
                return
            if self._nodes[idx].key == key:
                break
            i = (i + 1) & self._table_mask
        # Backward-shift: pull later entries of the probe run into the hole.
        j = i
        while True:
            j = (j + 1) & self._table_mask
            idx = self._table[j]
            if idx == NIL:
                break
            home = _hash(self._nodes[idx].key) >> self._table_shift
            # Move idx into the hole at i unless its home lies cyclically in (i, j].
            if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
                self._table[i] = idx
                i = j
        self._table[i] = NIL

    # -- nodes -----------------------------------------------------------------------------
    cdef int32_t _alloc_node(self) except -1:
        cdef int32_t idx, i, new_cap
        cdef Node* nodes
        if self._free == NIL:
            new_cap = self._node_cap * 2 if self._node_cap else 64
            nodes = <Node*>realloc(self._nodes, new_cap * sizeof(Node))
            if nodes == NULL:
                raise MemoryError()
            self._nodes = nodes
            for i in range(self._node_cap, new_cap):
                nodes[i].next = i + 1 if i + 1 < new_cap else NIL
            self._free = self._node_cap
            self._node_cap = new_cap
        idx = self._free
        self._free = self._nodes[idx].next
        return idx

    cdef inline void _free_node(self, int32_t idx) noexcept:
        self._nodes[idx].next = self._free
        self._free = idx

    cdef inline void _link(self, int32_t* head, int32_t idx) noexcept:
        cdef Node* n = &self._nodes[idx]
        n.prev = NIL
        n.next = head[0]
        if head[0] != NIL:
            self._nodes[head[0]].prev = idx
        head[0] = idx

    cdef void _place(self, int32_t idx) noexcept:
        cdef Node* n = &self._nodes[idx]
        cdef int level, slot
        cdef uint64_t diff
        if n.tick <= self._cur:
            n.level = IN_DUE
            self._link(&self._due_head, idx)
            return
        diff = <uint64_t>(n.tick ^ self._cur)
        level = (63 - __builtin_clzll(diff)) >> 3
        slot = (n.tick >> (level * BITS)) & SLOT_MASK
        n.level = level
        n.slot = slot
        self._link(&self._heads[level][slot], idx)
        self._bitmap[level][slot >> 6] |= 1ULL << (slot & 63)
        self._level_count[level] += 1

    cdef void _unplace(self, int32_t idx) noexcept:
        cdef Node* n = &self._nodes[idx]
        cdef int32_t* head
        if n.level == IN_DUE:
            head = &self._due_head
        else:
            head = &self._heads[n.level][n.slot]
        if n.prev != NIL:
            self._nodes[n.prev].next = n.next
        else:
            head[0] = n.next
        if n.next != NIL:
            self._nodes[n.next].prev = n.prev
        if n.level != IN_DUE:
            if head[0] == NIL:
                self._bitmap[n.level][n.slot >> 6] &= ~(1ULL << (n.slot & 63))
            self._level_count[n.level] -= 1

    # -- public API ----------------------------------------------------------------------
    def schedule(self, key_obj, deadline):
        """Arm (or re-arm, replacing any existing timer) `key` to expire at `deadline`."""
        self._schedule(_key(key_obj), _seconds(deadline))

    cdef int _schedule(self, int64_t key, double deadline) except -1:
        cdef int64_t tick = self._tick_at_or_after(deadline)
        cdef int32_t idx = self._find(key)
        if idx != NIL:
            self._unplace(idx)
            if self._next_valid and self._next_cache == self._nodes[idx].tick:
                self._next_valid = False
        else:
            if <uint64_t>(self._len + 1) * 2 > self._table_mask + 1:
                self._grow_table()
            idx = self._alloc_node()
            self._nodes[idx].key = key
            self._table_insert(idx)
            self._len += 1
        self._seq += 1
        self._nodes[idx].tick = tick
        self._nodes[idx].seq = self._seq
        self._place(idx)
        if self._next_valid and tick < self._next_cache:
            self._next_cache = tick
        elif self._len == 1:
            self._next_cache = tick
            self._next_valid = True
        return 0

    def cancel(self, key_obj):
        """Disarm `key`; True if it was armed."""
        return self._cancel(_key(key_obj))

    cdef bint _cancel(self, int64_t key) noexcept:
        cdef int32_t idx = self._find(key)
        if idx == NIL:
            return False
        self._unplace(idx)
        if self._next_valid and self._next_cache == self._nodes[idx].tick:
            self._next_valid = False
        self._table_remove(key)
        self._free_node(idx)
        self._len -= 1
        return True

    cdef int _reserve_scratch(self, Py_ssize_t n) except -1:
        cdef Expired* p
        if n > self._scratch_cap:
            p = <Expired*>realloc(self._scratch, n * sizeof(Expired))
            if p == NULL:
                raise MemoryError()
            self._scratch = p
            self._scratch_cap = n
        return 0

    cdef int _expire_list(self, int32_t head, list out) except -1:
        """Remove every node of the chain starting at head, append keys in (tick, seq) order."""
        cdef Py_ssize_t n = 0, i
        cdef int32_t idx = head, nxt
        while idx != NIL:
            n += 1
            idx = self._nodes[idx].next
        self._reserve_scratch(n)
        idx = head
        i = 0
        while idx != NIL:
            nxt = self._nodes[idx].next
            self._scratch[i].tick = self._nodes[idx].tick
            self._scratch[i].seq = self._nodes[idx].seq
            self._scratch[i].key = self._nodes[idx].key
            self._table_remove(self._nodes[idx].key)
            self._free_node(idx)
            self._len -= 1
            i += 1
            idx = nxt
        if n > 1:
            qsort(self._scratch, n, sizeof(Expired), _cmp_expired)
        for i in range(n):
            out.append(self._scratch[i].key)
        return 0

    cdef bint _next_event(self, int64_t* event, int* level_out, int* slot_out) noexcept:
        cdef int level, shift, digit, start, w, b
        cdef uint64_t bits
        for level in range(LEVELS):
            if not self._level_count[level]:
                continue
            shift = level * BITS
            digit = (self._cur >> shift) & SLOT_MASK
            if digit == SLOT_MASK:
                continue
            start = digit + 1
            w = start >> 6
            bits = self._bitmap[level][w] & (~0ULL << (start & 63))
            while not bits:
                w += 1
                if w == 4:
                    break
                bits = self._bitmap[level][w]
            if not bits:
                continue
            b = (w << 6) + __builtin_ctzll(bits)
            if level == LEVELS - 1:
                event[0] = <int64_t>b << shift   # shifting by 64 would be undefined in C
            else:
                event[0] = ((self._cur >> (shift + BITS)) << (shift + BITS)) | (<int64_t>b << shift)
            level_out[0] = level
            slot_out[0] = b
            return True
        return False

    def advance(self, now):
        """Move the wheel to time `now`; return the keys that expired, in deadline-tick order,
        ties in scheduling order."""
        cdef int64_t target = self._tick_at_or_before(_seconds(now))
        cdef list out = []
        cdef int64_t event
        cdef int level, slot
        cdef int32_t idx, nxt, expired
        self._next_valid = False
        if self._due_head != NIL:
            idx = self._due_head
            self._due_head = NIL
            self._expire_list(idx, out)
        while target > self._cur:
            if not self._next_event(&event, &level, &slot) or event > target:
                self._cur = target
                break
            self._cur = event
            idx = self._heads[level][slot]
            self._heads[level][slot] = NIL
            self._bitmap[level][slot >> 6] &= ~(1ULL << (slot & 63))
            expired = NIL
            while idx != NIL:
                nxt = self._nodes[idx].next
                self._level_count[level] -= 1
                if self._nodes[idx].tick <= event:
                    self._nodes[idx].next = expired
                    expired = idx
                else:
                    self._place(idx)  # cascade to a lower level
                idx = nxt
            if expired != NIL:
                self._expire_list(expired, out)
        return out

    def next_deadline(self):
        """Time of the earliest armed timer's tick (may be in the past), or None if idle."""
        if self._len == 0:
            return None
        if not self._next_valid:
            self._next_cache = self._earliest_tick()
            self._next_valid = True
        return self._time_of(self._next_cache)

    cdef int64_t _earliest_tick(self) noexcept:
        cdef int32_t idx
        cdef int64_t best = MAX_TICK + 1, event
        cdef int level, slot
        if self._due_head != NIL:
            idx = self._due_head
        else:
            self._next_event(&event, &level, &slot)
            idx = self._heads[level][slot]
        while idx != NIL:
            if self._nodes[idx].tick < best:
                best = self._nodes[idx].tick
            idx = self._nodes[idx].next
        return best

    def deadline(self, key):
        """The armed tick time of `key`, or None."""
        cdef int64_t k
        cdef int32_t idx
        try:
            k = _key(key)
        except OverflowError:
            return None
        idx = self._find(k)
        return None if idx == NIL else self._time_of(self._nodes[idx].tick)

    @property
    def now(self):
        """Time of the last tick advance() processed."""
        return self._time_of(self._cur)

    def __len__(self):
        return self._len

    def __contains__(self, key):
        cdef int64_t k
        try:
            k = _key(key)
        except (TypeError, OverflowError):
            return False
        return self._find(k) != NIL


# --------------------------------------------------------------------------------------------
# The steady-state receive path (see kvrrp._fastpath_py.InstanceSlot / ReceiveTable)
# --------------------------------------------------------------------------------------------

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec* ts)
    int CLOCK_MONOTONIC
    int CLOCK_REALTIME

cdef extern from "<errno.h>" nogil:
    int errno
    int EAGAIN
    int EWOULDBLOCK
    int EINTR

cdef extern from "<sys/uio.h>" nogil:
    struct iovec:
        void* iov_base
        size_t iov_len

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct msghdr:
        void* msg_name
        socklen_t msg_namelen
        iovec* msg_iov
        size_t msg_iovlen
        void* msg_control
        size_t msg_controllen
        int msg_flags
    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    struct cmsghdr:
        size_t cmsg_len
        int cmsg_level
        int cmsg_type
    cmsghdr* CMSG_FIRSTHDR(msghdr* m)
    cmsghdr* CMSG_NXTHDR(msghdr* m, cmsghdr* c)
    unsigned char* CMSG_DATA(cmsghdr* c)
    int recvmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags, timespec* timeout)
    int MSG_DONTWAIT
    int SOL_SOCKET
    int SO_TIMESTAMPNS

cdef extern from "<netinet/in.h>" nogil:
    int IPPROTO_IPV6
    int IPV6_HOPLIMIT
    int IPV6_PKTINFO
    struct in6_addr:
        unsigned char s6_addr[16]
    struct sockaddr_in6:
        unsigned short sin6_family
        unsigned short sin6_port
        unsigned int sin6_flowinfo
        in6_addr sin6_addr
        unsigned int sin6_scope_id
    struct in6_pktinfo:
        in6_addr ipi6_addr
        unsigned int ipi6_ifindex

DEF VRRP_TTL = 255
DEF RECV_BATCH_C = 64
DEF RECV_BUF = 8192       # > any VRRP datagram (20..60 + 8 + 255 * 16 + 8 bytes)
DEF RECV_CTRL = 256
DEF MAX_BATCHES = 4       # recvmmsg calls per SocketReader call (per readable event)
RECV_BATCH = RECV_BATCH_C
RX_TIME_MAX_AGE = 0.05
cdef double _RX_TIME_MAX_AGE = 0.05
cdef double NAN_C = float("nan")


cdef struct TxTarget:
    const uint8_t* data
    Py_ssize_t length
    uint8_t dst[16]
    uint8_t src[16]
    bint has_src
    int ttl


cdef class InstanceSlot:
    """See kvrrp._fastpath_py.InstanceSlot: the same fields, here in C."""

    cdef readonly TimerWheel wheel
    cdef readonly int64_t timer_key
    cdef readonly int version, family, auth_type, wire_interval, naddr, addr_len
    cdef readonly bint unicast
    cdef uint8_t _auth[8]
    cdef uint8_t _compat[16]
    cdef bint _has_compat
    cdef bytes _addresses
    cdef readonly bint fast_rx, accept_lower, old_checksum
    cdef uint8_t _master[16]
    cdef int _master_len
    cdef readonly int master_priority, master_interval, priority
    cdef readonly double delayed_start, down_interval
    cdef readonly bint armed
    cdef readonly double deadline, down_started
    cdef public uint64_t advert_rcvd
    cdef readonly uint64_t fast_rcvd
    cdef readonly bint fast_tx
    cdef readonly SocketSender sender
    cdef readonly double adver_int
    cdef readonly tuple targets
    cdef TxTarget* _tx
    cdef int _ntx
    cdef public uint64_t advert_sent
    cdef readonly double last_sent
    cdef readonly uint64_t fast_sent

    def __cinit__(self, TimerWheel wheel not None, timer_key):
        self.wheel = wheel
        self.timer_key = _key(timer_key)
        self.version = 0
        self.family = 4
        self.addr_len = 4
        self._addresses = _EMPTY
        self.deadline = NAN_C
        self.down_started = NAN_C
        self.last_sent = NAN_C
        self.targets = ()
        self._tx = NULL

    def __dealloc__(self):
        free(self._tx)

    def set_adverts(self, sender, adver_int, targets):
        cdef tuple items = tuple(targets)
        cdef list checked = []
        cdef object pdst, psrc
        cdef int k, n, t
        if sender is not None and not isinstance(sender, SocketSender):
            raise TypeError("sender must be a SocketSender or None")
        for payload, dst, src, ttl in items:
            pdst = _pseudo_address(dst, self.family)
            psrc = _pseudo_address(src, self.family) if src is not None else None
            if pdst is None or (src is not None and psrc is None):
                raise ValueError(f"bad advert target {dst!r} from {src!r}")
            if ttl is not None and not 0 <= PyNumber_Index(ttl) <= 255:
                raise ValueError(f"TTL {ttl} outside 0..255")
            checked.append((bytes(payload), _ntop(pdst), psrc, ttl, pdst))
        cdef double ai = _seconds(adver_int)
        cdef bint on = sender is not None and len(checked) > 0
        cdef TxTarget* tx = NULL
        n = len(checked) if on else 0
        if n:
            tx = <TxTarget*>malloc(n * sizeof(TxTarget))
            if tx == NULL:
                raise MemoryError()
            memset(tx, 0, n * sizeof(TxTarget))
            for k in range(n):
                payload, dst, psrc, ttl, pdst = checked[k]
                tx[k].data = <const uint8_t*>PyBytes_AS_STRING(payload)
                tx[k].length = PyBytes_GET_SIZE(payload)
                memcpy(tx[k].dst, PyBytes_AS_STRING(pdst), self.addr_len)
                tx[k].has_src = psrc is not None
                if psrc is not None:
                    memcpy(tx[k].src, PyBytes_AS_STRING(psrc), self.addr_len)
                tx[k].ttl = -1 if ttl is None else PyNumber_Index(ttl)
        free(self._tx)
        self._tx = tx
        self._ntx = n
        self.fast_tx = on
        self.sender = <SocketSender>sender if on else None
        self.adver_int = ai
        # the payloads stay alive here while _tx points into them
        self.targets = tuple([(c[0], c[1], c[2], c[3]) for c in checked]) if on else ()

    def sent(self, now):
        self.advert_sent += 1
        self.last_sent = _seconds(now)

    def configure(self, version, family, unicast, auth_type, auth_data, wire_interval, addresses,
                  compat_dst=b""):
        cdef int v = PyNumber_Index(version), f = PyNumber_Index(family)
        if (v != 2 and v != 3) or (f != 4 and f != 6):
            raise ValueError(f"bad version/family {v}/{f}")
        cdef int alen = 4 if f == 4 else 16
        cdef bytes a = bytes(addresses)
        if len(a) % alen or len(a) // alen > MAX_ADDRESSES:
            raise ValueError("addresses must be whole packed addresses of the family")
        cdef bytes auth = bytes(auth_data)
        cdef int at = PyNumber_Index(auth_type)
        if at and len(auth) != AUTH_DATA_LEN:
            raise ValueError("auth_data must be 8 bytes")
        cdef bytes compat = bytes(compat_dst)
        if len(compat) and len(compat) != alen:
            raise ValueError("compat_dst must be a packed address of the family")
        self.version, self.family, self.addr_len = v, f, alen
        self.unicast = bool(unicast)
        self.auth_type = at
        memset(self._auth, 0, 8)
        if len(auth) == 8:
            memcpy(self._auth, PyBytes_AS_STRING(auth), 8)
        self.wire_interval = PyNumber_Index(wire_interval)
        self._addresses = a
        self.naddr = len(a) // alen
        self._has_compat = len(compat) > 0
        memset(self._compat, 0, 16)
        if self._has_compat:
            memcpy(self._compat, PyBytes_AS_STRING(compat), alen)

    def update(self, fast_rx, master, master_priority, master_interval, priority, accept_lower,
               delayed_start, down_interval, old_checksum):
        cdef bytes m = bytes(master) if master else _EMPTY
        if fast_rx and len(m) != self.addr_len:
            raise ValueError("fast_rx needs the master's packed address")
        self.fast_rx = bool(fast_rx) and self.version != 0
        memset(self._master, 0, 16)
        self._master_len = len(m)
        if self._master_len <= 16 and self._master_len:
            memcpy(self._master, PyBytes_AS_STRING(m), self._master_len)
        self.master_priority = PyNumber_Index(master_priority)
        self.master_interval = PyNumber_Index(master_interval)
        self.priority = PyNumber_Index(priority)
        self.accept_lower = bool(accept_lower)
        self.delayed_start = _seconds(delayed_start)
        self.down_interval = _seconds(down_interval)
        self.old_checksum = bool(old_checksum)

    @property
    def auth_data(self):
        return PyBytes_FromStringAndSize(<char*>self._auth, 8) if self.auth_type else _EMPTY

    @property
    def addresses(self):
        return self._addresses

    @property
    def compat_dst(self):
        return PyBytes_FromStringAndSize(<char*>self._compat, self.addr_len) if self._has_compat else _EMPTY

    @property
    def master(self):
        return PyBytes_FromStringAndSize(<char*>self._master, self._master_len)

    def schedule(self, deadline, started=NAN_C):
        self._arm(_seconds(deadline), _seconds(started))

    cdef int _arm(self, double deadline, double started) except -1:
        self.wheel._schedule(self.timer_key, deadline)
        self.armed = True
        self.deadline = deadline
        self.down_started = started
        return 0

    def cancel(self):
        if self.armed:
            self.wheel._cancel(self.timer_key)
        self.armed = False
        self.deadline = NAN_C
        self.down_started = NAN_C

    def fired(self):
        self.armed = False
        self.deadline = NAN_C


cdef inline bint _is_multicast(const uint8_t* dst, int alen) noexcept nogil:
    return dst[0] == 0xFF if alen == 16 else (dst[0] >= 224 and dst[0] <= 239)


cdef class ReceiveTable:
    """See kvrrp._fastpath_py.ReceiveTable: the same check, here in C."""

    cdef readonly int family
    cdef list _slots
    cdef readonly uint64_t accepted

    def __cinit__(self, family):
        cdef int f = PyNumber_Index(family)
        if f != 4 and f != 6:
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        self.family = f
        self._slots = [None] * 256

    def set(self, vrid, slot):
        cdef int v = PyNumber_Index(vrid)
        if not 1 <= v <= 255:
            raise ValueError(f"VRID {v} outside 1..255")
        if slot is not None and not isinstance(slot, InstanceSlot):
            raise TypeError("slot must be an InstanceSlot or None")
        if slot is not None and (<InstanceSlot>slot).version and (<InstanceSlot>slot).family != self.family:
            raise ValueError("slot family differs from the table's")
        self._slots[v] = slot

    def get(self, vrid):
        return self._slots[PyNumber_Index(vrid)]

    def clear(self):
        self._slots = [None] * 256

    def accept(self, src, dst, ttl, payload, rx_time, now):
        cdef object psrc = _pseudo_address(src, self.family)
        cdef object pdst = _pseudo_address(dst, self.family)
        cdef Py_buffer view
        cdef bint taken
        if psrc is None or pdst is None:
            return False
        cdef int t = ttl
        cdef double rxt = NAN_C if rx_time is None else _seconds(rx_time)
        cdef double n = _seconds(now)
        _get_buffer(payload, &view)
        try:
            taken = self._accept(<const uint8_t*>PyBytes_AS_STRING(psrc), <const uint8_t*>PyBytes_AS_STRING(pdst),
                                 t, <const uint8_t*>view.buf, view.len, rxt, n)
        finally:
            PyBuffer_Release(&view)
        return taken

    cdef bint _accept(self, const uint8_t* src, const uint8_t* dst, int ttl, const uint8_t* p,
                      Py_ssize_t n, double rx_time, double now) except -1:
        cdef int alen = 4 if self.family == 4 else 16
        cdef int version, naddr, priority
        cdef const uint8_t* csum_dst
        cdef double origin, begin
        if n < HEADER_LEN:
            return False
        cdef object o = self._slots[p[1]]
        if o is None:
            return False
        cdef InstanceSlot slot = <InstanceSlot>o
        if not slot.fast_rx:
            return False
        if not slot.unicast and ttl != VRRP_TTL:
            return False
        version = p[0] >> 4
        if version != slot.version or (p[0] & 0x0F) != 1:
            return False
        naddr = slot.naddr
        if p[3] != naddr or n != HEADER_LEN + naddr * alen + (AUTH_DATA_LEN if version == 2 else 0):
            return False
        if version == 2:
            if _checksum(p, n, 0) != 0:
                return False
            if p[4] != slot.auth_type or p[5] != slot.wire_interval:
                return False
            if slot.auth_type and memcmp(p + n - AUTH_DATA_LEN, slot._auth, AUTH_DATA_LEN) != 0:
                return False
        else:
            if slot.old_checksum:
                csum_dst = &slot._compat[0]
            else:
                csum_dst = dst
            if _checksum(p, n, _pseudo_sum(src, csum_dst, alen, <uint64_t>n)) != 0:
                return False
            if (((p[4] << 8) | p[5]) & V3_MAX_ADVER_INT) != slot.master_interval:
                return False
        if _is_multicast(dst, alen) == slot.unicast:
            return False
        if naddr and memcmp(p + HEADER_LEN, PyBytes_AS_STRING(slot._addresses), naddr * alen) != 0:
            return False
        priority = p[2]
        if slot._master_len != alen or memcmp(src, slot._master, alen) != 0:
            return False
        if priority == 0 or priority != slot.master_priority:
            return False
        if priority < slot.priority and not slot.accept_lower:
            return False
        if isnan(rx_time) or rx_time > now or now - rx_time > _RX_TIME_MAX_AGE:
            origin = now
        else:
            origin = rx_time
        begin = origin if origin >= slot.delayed_start else slot.delayed_start
        slot._arm(begin + slot.down_interval, begin)
        slot.advert_rcvd += 1
        slot.fast_rcvd += 1
        self.accepted += 1
        return True


cdef extern from *:
    """
    struct kvrrp_rx {
        struct mmsghdr msgs[64];
        struct iovec iov[64];
        struct sockaddr_in6 names[64];
        unsigned char bufs[64][8192];
        unsigned char ctrl[64][256];
    };
    static struct kvrrp_rx kvrrp_rx_area;

    /* hop limit, destination (pktinfo) and SO_TIMESTAMPNS of one received message */
    static void kvrrp_ancillary(struct msghdr *m, int *hops, const unsigned char **dst, struct timespec *ts, int *has_ts) {
        struct cmsghdr *c;
        for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS
                    && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
                memcpy(ts, CMSG_DATA(c), sizeof(struct timespec));
                *has_ts = 1;
            } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT
                    && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                memcpy(hops, CMSG_DATA(c), sizeof(int));
            } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO
                    && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
                *dst = CMSG_DATA(c);   /* ipi6_addr is the first member */
            }
        }
    }
    """
    struct kvrrp_rx:
        mmsghdr msgs[64]
        iovec iov[64]
        sockaddr_in6 names[64]
        unsigned char bufs[64][8192]
        unsigned char ctrl[64][256]
    kvrrp_rx kvrrp_rx_area
    void kvrrp_ancillary(msghdr* m, int* hops, const unsigned char** dst, timespec* ts, int* has_ts) nogil


cdef inline double _ts(timespec* t) noexcept nogil:
    return <double>t.tv_sec + <double>t.tv_nsec * 1e-9


cdef enum:
    C_RECEIVED = 0
    C_BAD_HEADER = 1
    C_MISSING = 2
    C_ERROR = 3          # errno of the last receive error
    C_GOT = 4            # messages the last recvmmsg returned


cdef list _receive_batch(int fd, int fam, ReceiveTable tab, int64_t* counts):
    """One recvmmsg; steady-state adverts go to tab, the rest is returned as tuples."""
    cdef kvrrp_rx* rx = &kvrrp_rx_area
    cdef int i, got, err = 0, hops, has_ts, ihl, total, alen = 4 if fam == 4 else 16
    cdef Py_ssize_t length, end
    cdef const unsigned char* data
    cdef const unsigned char* src
    cdef const unsigned char* dst
    cdef timespec ts, mono, real
    cdef double mono_now, real_now, rx_time
    cdef list punted = []
    counts[C_ERROR] = 0
    counts[C_GOT] = 0
    for i in range(RECV_BATCH_C):
        rx.iov[i].iov_base = rx.bufs[i]
        rx.iov[i].iov_len = RECV_BUF
        memset(&rx.msgs[i].msg_hdr, 0, sizeof(msghdr))
        rx.msgs[i].msg_hdr.msg_iov = &rx.iov[i]
        rx.msgs[i].msg_hdr.msg_iovlen = 1
        rx.msgs[i].msg_hdr.msg_name = &rx.names[i]
        rx.msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in6)
        rx.msgs[i].msg_hdr.msg_control = rx.ctrl[i]
        rx.msgs[i].msg_hdr.msg_controllen = RECV_CTRL
    with nogil:
        got = recvmmsg(fd, rx.msgs, RECV_BATCH_C, MSG_DONTWAIT, NULL)
        if got < 0:
            err = errno
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &real)
    if got < 0:
        if err != EAGAIN and err != EWOULDBLOCK and err != EINTR:
            counts[C_ERROR] = err
        return punted
    counts[C_GOT] = got
    mono_now = _ts(&mono)
    real_now = _ts(&real)
    for i in range(got):
        data = rx.bufs[i]
        length = rx.msgs[i].msg_len
        if length > RECV_BUF:
            length = RECV_BUF
        hops = -1
        has_ts = 0
        dst = NULL
        kvrrp_ancillary(&rx.msgs[i].msg_hdr, &hops, &dst, &ts, &has_ts)
        if fam == 4:
            if length < 20 or (data[0] >> 4) != 4:
                counts[C_BAD_HEADER] += 1
                continue
            ihl = (data[0] & 0x0F) * 4
            total = (data[2] << 8) | data[3]
            if ihl < 20 or length < ihl or total < ihl:
                counts[C_BAD_HEADER] += 1
                continue
            end = total if total < length else length
            src = data + 12
            dst = data + 16
            hops = data[8]
            data = data + ihl
            length = end - ihl
        else:
            if hops < 0 or dst == NULL:
                counts[C_MISSING] += 1
                continue
            src = rx.names[i].sin6_addr.s6_addr
        counts[C_RECEIVED] += 1
        if has_ts:
            rx_time = mono_now - (real_now - _ts(&ts))
            if rx_time > mono_now:
                rx_time = mono_now
        else:
            rx_time = NAN_C
        if tab is not None and tab._accept(src, dst, hops, data, length, rx_time, mono_now):
            continue
        punted.append((_ntop(PyBytes_FromStringAndSize(<const char*>src, alen)),
                       _ntop(PyBytes_FromStringAndSize(<const char*>dst, alen)), hops,
                       PyBytes_FromStringAndSize(<const char*>data, length),
                       None if isnan(rx_time) else rx_time))
    return punted


cdef ReceiveTable _table_arg(object table):
    if table is not None and not isinstance(table, ReceiveTable):
        raise TypeError("table must be a ReceiveTable or None")
    return <ReceiveTable>table


cdef int _family_arg(object family) except -1:
    cdef int fam = PyNumber_Index(family)
    if fam != 4 and fam != 6:
        raise ValueError(f"family must be 4 or 6, not {family!r}")
    return fam


def receive_batch(sock, family, table=None):
    """See kvrrp._fastpath_py.receive_batch: one recvmmsg of up to RECV_BATCH messages."""
    cdef int fam = _family_arg(family)
    cdef ReceiveTable tab = _table_arg(table)
    cdef int64_t counts[5]
    memset(counts, 0, sizeof(counts))
    cdef list punted = _receive_batch(sock.fileno(), fam, tab, counts)
    return punted, counts[C_RECEIVED], counts[C_BAD_HEADER], counts[C_MISSING], counts[C_ERROR]


cdef class SocketReader:
    """See kvrrp._fastpath_py.SocketReader: the same loop over _receive_batch, in C."""

    cdef object _sock
    cdef readonly int family
    cdef ReceiveTable _table
    cdef object _deliver, _on_error
    cdef int64_t _counts[5]
    cdef readonly uint64_t fast_path, recv_errors

    def __cinit__(self, sock, family, deliver, on_error=None):
        self._sock = sock
        self.family = _family_arg(family)
        self._deliver = deliver
        self._on_error = on_error
        memset(self._counts, 0, sizeof(self._counts))

    @property
    def table(self):
        return self._table

    @table.setter
    def table(self, value):
        self._table = _table_arg(value)

    @property
    def received(self):
        return self._counts[C_RECEIVED]

    @property
    def bad_ip_header(self):
        return self._counts[C_BAD_HEADER]

    @property
    def missing_ancillary(self):
        return self._counts[C_MISSING]

    def __call__(self):
        cdef int fd = self._sock.fileno()
        cdef int batch, err
        cdef int64_t before
        cdef list punted
        if fd < 0:
            return
        for batch in range(MAX_BATCHES):
            before = self._counts[C_RECEIVED]
            punted = _receive_batch(fd, self.family, self._table, self._counts)
            self.fast_path += <uint64_t>(self._counts[C_RECEIVED] - before - len(punted))
            for item in punted:
                self._deliver(*item)
            err = <int>self._counts[C_ERROR]
            if err:
                self.recv_errors += 1
                if self._on_error is not None:
                    self._on_error(err)
                return
            if self._counts[C_GOT] < RECV_BATCH_C:
                return


# --------------------------------------------------------------------------------------------
# The steady-state send path (see kvrrp._fastpath_py.SocketSender / fire_adverts)
# --------------------------------------------------------------------------------------------

TIMER_TOLERANCE = 1e-6
cdef double _TIMER_TOLERANCE = 1e-6
DEF SEND_BATCH = 256

cdef extern from "<sys/socket.h>" nogil:
    int sendmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags)

cdef extern from *:
    """
    #include <netinet/in.h>
    struct kvrrp_tx_msg {
        struct sockaddr_in6 name;     /* large enough for a sockaddr_in too */
        struct iovec iov;
        unsigned char ctrl[64];
    };
    /* destination, IP_PKTINFO / IPV6_PKTINFO with the pinned source, TTL / hop limit */
    static void kvrrp_tx_fill(struct mmsghdr *m, struct kvrrp_tx_msg *t, int family, int ifindex,
                              const unsigned char *data, size_t len, const unsigned char *dst,
                              const unsigned char *src, int has_src, int ttl) {
        struct cmsghdr *c;
        size_t used = 0;
        memset(m, 0, sizeof(*m));
        memset(&t->name, 0, sizeof(t->name));
        memset(t->ctrl, 0, sizeof(t->ctrl));
        t->iov.iov_base = (void *)data;
        t->iov.iov_len = len;
        m->msg_hdr.msg_iov = &t->iov;
        m->msg_hdr.msg_iovlen = 1;
        m->msg_hdr.msg_name = &t->name;
        m->msg_hdr.msg_control = t->ctrl;
        m->msg_hdr.msg_controllen = sizeof(t->ctrl);
        c = CMSG_FIRSTHDR(&m->msg_hdr);
        if (family == 4) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&t->name;
            sin->sin_family = AF_INET;
            memcpy(&sin->sin_addr, dst, 4);
            m->msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
            if (has_src) {
                struct in_pktinfo pi;
                memset(&pi, 0, sizeof(pi));
                pi.ipi_ifindex = ifindex;
                memcpy(&pi.ipi_spec_dst, src, 4);
                c->cmsg_level = IPPROTO_IP; c->cmsg_type = IP_PKTINFO; c->cmsg_len = CMSG_LEN(sizeof(pi));
                memcpy(CMSG_DATA(c), &pi, sizeof(pi));
                used += CMSG_SPACE(sizeof(pi));
                c = CMSG_NXTHDR(&m->msg_hdr, c);
            }
            if (ttl >= 0 && c != NULL) {
                c->cmsg_level = IPPROTO_IP; c->cmsg_type = IP_TTL; c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &ttl, sizeof(int));
                used += CMSG_SPACE(sizeof(int));
            }
        } else {
            t->name.sin6_family = AF_INET6;
            memcpy(&t->name.sin6_addr, dst, 16);
            t->name.sin6_scope_id = ifindex;
            m->msg_hdr.msg_namelen = sizeof(struct sockaddr_in6);
            if (has_src) {
                struct in6_pktinfo pi;
                memset(&pi, 0, sizeof(pi));
                memcpy(&pi.ipi6_addr, src, 16);
                pi.ipi6_ifindex = ifindex;
                c->cmsg_level = IPPROTO_IPV6; c->cmsg_type = IPV6_PKTINFO; c->cmsg_len = CMSG_LEN(sizeof(pi));
                memcpy(CMSG_DATA(c), &pi, sizeof(pi));
                used += CMSG_SPACE(sizeof(pi));
                c = CMSG_NXTHDR(&m->msg_hdr, c);
            }
            if (ttl >= 0 && c != NULL) {
                c->cmsg_level = IPPROTO_IPV6; c->cmsg_type = IPV6_HOPLIMIT; c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &ttl, sizeof(int));
                used += CMSG_SPACE(sizeof(int));
            }
        }
        m->msg_hdr.msg_controllen = used;
        if (used == 0)
            m->msg_hdr.msg_control = NULL;
    }
    """
    struct kvrrp_tx_msg:
        pass
    void kvrrp_tx_fill(mmsghdr* m, kvrrp_tx_msg* t, int family, int ifindex, const uint8_t* data, size_t length,
                       const uint8_t* dst, const uint8_t* src, int has_src, int ttl) nogil


cdef class SocketSender:
    """See kvrrp._fastpath_py.SocketSender: the queue is C arrays, a flush is sendmmsg."""

    cdef object _sock
    cdef readonly int family, ifindex
    cdef object _on_error
    cdef mmsghdr _msgs[SEND_BATCH]
    cdef kvrrp_tx_msg _tx[SEND_BATCH]
    cdef uint8_t _dsts[SEND_BATCH][16]
    cdef int _n
    cdef readonly uint64_t sent, send_errors

    def __cinit__(self, sock, family, ifindex, on_error=None):
        self._sock = sock
        self.family = _family_arg(family)
        self.ifindex = PyNumber_Index(ifindex)
        self._on_error = on_error
        self._n = 0

    cdef int _queue(self, TxTarget* t, int alen) except -1:
        if self._n == SEND_BATCH:
            self._flush()
        kvrrp_tx_fill(&self._msgs[self._n], &self._tx[self._n], self.family, self.ifindex, t.data, t.length,
                      t.dst, t.src, t.has_src, t.ttl)
        memcpy(self._dsts[self._n], t.dst, alen)
        self._n += 1
        return 0

    cdef int _flush(self) except -1:
        cdef int fd = self._sock.fileno()
        cdef int off = 0, r, err, n = self._n, alen = 4 if self.family == 4 else 16
        self._n = 0
        while off < n:
            if fd < 0:
                r = -1
                err = 9     # EBADF
            else:
                with nogil:
                    r = sendmmsg(fd, &self._msgs[off], n - off, 0)
                    err = errno if r < 0 else 0
            if r > 0:
                self.sent += r
                off += r
                continue
            if err == EINTR:
                continue
            self.send_errors += 1
            if self._on_error is not None:
                self._on_error(err, _ntop(PyBytes_FromStringAndSize(<const char*>self._dsts[off], alen)))
            off += 1
        return 0


ADVERT_GRID = 0.002
cdef double ADVERT_GRID_C = ADVERT_GRID


cdef inline double _next_advert_deadline(double deadline, double adver_int) noexcept:
    cdef double step = ADVERT_GRID_C if ADVERT_GRID_C < adver_int / 10 else adver_int / 10
    return ceil((deadline + adver_int) / step - 1e-6) * step


def next_advert_deadline(deadline, adver_int):
    """See kvrrp._fastpath_py.next_advert_deadline."""
    return _next_advert_deadline(deadline, adver_int)


def fire_adverts(list keys not None, start, now, list slots not None, timer_slots=8):
    """See kvrrp._fastpath_py.fire_adverts."""
    cdef Py_ssize_t i = PyNumber_Index(start), n = len(keys), nslots = len(slots)
    cdef double t = _seconds(now), due
    cdef int64_t ts = PyNumber_Index(timer_slots), key, uid
    cdef object o
    cdef InstanceSlot slot
    cdef SocketSender sender
    cdef list touched = []
    cdef int k
    if ts <= 0:
        raise ValueError("timer_slots must be positive")
    while i < n:
        key = _key(keys[i])
        if key < 0 or key % ts != 0:
            break
        uid = key // ts
        if uid >= nslots:
            break
        o = slots[uid]
        if o is None or not isinstance(o, InstanceSlot):
            break
        slot = <InstanceSlot>o
        if not slot.fast_tx:
            break
        i += 1
        if not slot.armed or slot.deadline > t + _TIMER_TOLERANCE:
            continue
        due = _next_advert_deadline(slot.deadline, slot.adver_int)
        slot.armed = False
        slot.deadline = NAN_C
        sender = slot.sender
        for k in range(slot._ntx):
            sender._queue(&slot._tx[k], slot.addr_len)
        if not touched or touched[len(touched) - 1] is not sender:
            if sender not in touched:
                touched.append(sender)
        slot.advert_sent += 1
        slot.fast_sent += 1
        slot.last_sent = t
        slot._arm(due if due > t else t + slot.adver_int, NAN_C)
    for o in touched:
        (<SocketSender>o)._flush()
    return i
