"""Pure-Python reference of the VRRP fast path (the readable twin of `_fastpath.pyx`).

Everything here has the same name, signature, results and exceptions as the Cython module;
tests/fastpath runs every test against both. When changing an algorithm, change both files.

Wire formats (network byte order):

    VRRPv2 (RFC 3768)                        VRRPv3 (RFC 5798)
    0: version(4) | type(4)                  0: version(4) | type(4)
    1: VRID                                  1: VRID
    2: priority                              2: priority
    3: count IPvX addrs                      3: count IPvX addrs
    4: auth type                             4-5: rsvd(4) | max adver int (12 bits, centiseconds)
    5: adver int (seconds)
    6-7: checksum (VRRP message only)        6-7: checksum (with IPv4/IPv6 pseudo-header, proto 112)
    8..: count x 4-byte IPv4 addresses       8..: count x 4- or 16-byte addresses
    then 8 bytes auth data
"""
from __future__ import annotations

import math
import operator
import socket
import sys
from dataclasses import dataclass

__all__ = [
    "IMPLEMENTATION", "DROP_REASONS", "Advert", "Drop", "TimerWheel",
    "inet_checksum", "pseudo_sum_ipv4", "pseudo_sum_ipv6",
    "decode_advert", "encode_advert",
    "InstanceSlot", "ReceiveTable", "SocketReader", "receive_batch", "RECV_BATCH", "RX_TIME_MAX_AGE",
    "SocketSender", "fire_adverts", "next_advert_deadline", "ADVERT_GRID", "TIMER_TOLERANCE",
]

IMPLEMENTATION = "python"

VRRP_PROTOCOL = 112
HEADER_LEN = 8
AUTH_DATA_LEN = 8
MAX_ADDRESSES = 255
V3_MAX_ADVER_INT = 0x0FFF

# decode_advert reports the first check that fails.
# decode_advert's drop reasons: the names the receive counters use (kvrrp.vrrp.stats.DROP_REASONS),
# so a drop keeps one name from the fast path to the metrics
DROP_REASONS = (
    "family",             # family argument is not 4 or 6
    "packet_length",      # shorter than the fixed header (8 bytes; 16 for v2 with its auth data), an
                          # address area that is not whole addresses, or a count field that disagrees
    "version",            # version field not 2 or 3 (or v2 on IPv6, which RFC 3768 does not define)
    "invalid_type",       # type field not 1 (ADVERTISEMENT)
    "checksum",           # RFC 1071 checksum does not verify (or v3 src/dst are not addresses of the family)
    "invalid_auth_type",  # v2 auth type not 0 (none), 1 (simple password) or 2 (IP AH)
    "unknown_vrid",       # VRID 0 (valid VRIDs are 1..255)
)

_ADDR_LEN = {4: 4, 6: 16}
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_MAX_TICK = 1 << 62
_EXACT_TICK = 1 << 50  # below this, tick arithmetic in doubles is exact enough to correct rounding


# --------------------------------------------------------------------------------------------
# RFC 1071 Internet checksum
# --------------------------------------------------------------------------------------------

def _word_sum(data: bytes | bytearray | memoryview) -> int:
    """Sum of the buffer as big-endian 16-bit words, odd last byte padded with zero; unfolded."""
    n = len(data)
    total = 0
    for i in range(0, n - 1, 2):
        total += (data[i] << 8) | data[i + 1]
    if n & 1:
        total += data[n - 1] << 8
    return total


def _fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def inet_checksum(data, initial=0) -> int:
    """RFC 1071 checksum of `data` (any bytes-like) plus an unfolded partial sum `initial`."""
    initial = operator.index(initial)
    if not 0 <= initial < 1 << 64:
        raise OverflowError("initial must be in 0..2**64-1")
    buf = memoryview(data).cast("B")
    return ~_fold(_word_sum(buf) + initial) & 0xFFFF


def _packed(addr, length: int, what: str) -> bytes:
    raw = bytes(memoryview(addr).cast("B"))
    if len(raw) != length:
        raise ValueError(f"{what} must be {length} packed bytes, got {len(raw)}")
    return raw


def pseudo_sum_ipv4(src, dst, length) -> int:
    """Unfolded sum of the IPv4 pseudo-header (src, dst, zero, protocol 112, 16-bit length)."""
    length = operator.index(length)
    if not 0 <= length <= 0xFFFF:
        raise ValueError(f"length {length} out of range 0..65535")
    return _word_sum(_packed(src, 4, "src")) + _word_sum(_packed(dst, 4, "dst")) + VRRP_PROTOCOL + length


def pseudo_sum_ipv6(src, dst, length) -> int:
    """Unfolded sum of the IPv6 pseudo-header (src, dst, 32-bit length, zeros, next header 112)."""
    length = operator.index(length)
    if not 0 <= length <= 0xFFFFFFFF:
        raise ValueError(f"length {length} out of range 0..2**32-1")
    return (_word_sum(_packed(src, 16, "src")) + _word_sum(_packed(dst, 16, "dst"))
            + (length >> 16) + (length & 0xFFFF) + VRRP_PROTOCOL)


# --------------------------------------------------------------------------------------------
# Advertisements
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Advert:
    """A decoded, validated advertisement. `adver_int` is seconds (v2) or centiseconds (v3)."""

    version: int
    type: int
    vrid: int
    priority: int
    count: int
    auth_type: int
    adver_int: int
    checksum: int
    checksum_ok: bool | None
    addresses: tuple[bytes, ...]
    auth_data: bytes

    def to_dict(self) -> dict:
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


@dataclass(frozen=True, slots=True)
class Drop:
    """Why a received message was discarded; `reason` is one of DROP_REASONS."""

    reason: str


def _ntop(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(packed) == 16 else socket.AF_INET, packed)


_DROPS = {reason: Drop(reason) for reason in DROP_REASONS}


def _pseudo_address(addr, family: int) -> bytes | None:
    """Packed address for the pseudo-header; text is accepted too. None if unusable."""
    if isinstance(addr, str):
        try:
            return socket.inet_pton(_AF[family], addr.split("%", 1)[0])  # a scope id is not on the wire
        except OSError:
            return None
    try:
        raw = bytes(memoryview(addr).cast("B"))
    except TypeError:
        return None
    return raw if len(raw) == _ADDR_LEN[family] else None


def decode_advert(payload, family, src=None, dst=None, *, v3_checksum_as_v2=False):
    """Validate and decode one VRRP message (the IP payload). Returns Advert or Drop; never raises
    for any bytes-like payload. For v3 the checksum is verified only when src and dst are given
    (checksum_ok is None otherwise). `v3_checksum_as_v2` (keepalived's option of that name, for
    Cisco/Juniper interop, RFC 9568) checks a v3 IPv4 checksum over the message alone."""
    buf = memoryview(payload).cast("B")
    if family != 4 and family != 6:
        return _DROPS["family"]
    n = len(buf)
    if n < HEADER_LEN:
        return _DROPS["packet_length"]
    version = buf[0] >> 4
    if version != 2 and version != 3:
        return _DROPS["version"]
    if version == 2 and family == 6:
        return _DROPS["version"]
    if buf[0] & 0x0F != 1:
        return _DROPS["invalid_type"]
    addr_len = _ADDR_LEN[family]
    auth_len = AUTH_DATA_LEN if version == 2 else 0
    if n < HEADER_LEN + auth_len:
        return _DROPS["packet_length"]
    area = n - HEADER_LEN - auth_len
    if area % addr_len:
        return _DROPS["packet_length"]
    count = buf[3]
    if area // addr_len != count:
        return _DROPS["packet_length"]
    if version == 3:
        if v3_checksum_as_v2 and family == 4:
            checksum_ok = inet_checksum(buf) == 0
            if not checksum_ok:
                return _DROPS["checksum"]
        elif src is None or dst is None:
            checksum_ok = None
        else:
            psrc = _pseudo_address(src, family)
            pdst = _pseudo_address(dst, family)
            if psrc is None or pdst is None:
                return _DROPS["checksum"]
            pseudo = pseudo_sum_ipv4(psrc, pdst, n) if family == 4 else pseudo_sum_ipv6(psrc, pdst, n)
            checksum_ok = inet_checksum(buf, pseudo) == 0
            if not checksum_ok:
                return _DROPS["checksum"]
        auth_type = 0
        adver_int = ((buf[4] << 8) | buf[5]) & V3_MAX_ADVER_INT
        auth_data = b""
    else:
        if inet_checksum(buf) != 0:
            return _DROPS["checksum"]
        checksum_ok = True
        auth_type = buf[4]
        if auth_type > 2:
            return _DROPS["invalid_auth_type"]
        adver_int = buf[5]
        auth_data = bytes(buf[n - AUTH_DATA_LEN:n])
    vrid = buf[1]
    if vrid == 0:
        return _DROPS["unknown_vrid"]
    addresses = tuple(bytes(buf[i:i + addr_len])
                      for i in range(HEADER_LEN, HEADER_LEN + count * addr_len, addr_len))
    return Advert(version, 1, vrid, buf[2], count, auth_type, adver_int,
                  (buf[6] << 8) | buf[7], checksum_ok, addresses, auth_data)


def _int_field(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} {value} out of range {low}..{high}")
    return value


def _address_bytes(addr, family: int, what: str) -> bytes:
    """A packed address of the family; text is accepted and converted."""
    if isinstance(addr, str):
        try:
            return socket.inet_pton(_AF[family], addr.split("%", 1)[0])
        except OSError:
            raise ValueError(f"{what} {addr!r} is not an IPv{family} address") from None
    try:
        raw = bytes(memoryview(addr).cast("B"))
    except TypeError:
        raise ValueError(f"{what} must be packed bytes or text, got {type(addr).__name__}") from None
    if len(raw) != _ADDR_LEN[family]:
        raise ValueError(f"{what} must be {_ADDR_LEN[family]} packed bytes for IPv{family}, got {len(raw)}")
    return raw


def encode_advert(version, vrid, priority, addresses, adver_int, *, family=4, auth_type=0,
                  auth_data=b"", src=None, dst=None, type=1, v3_checksum_as_v2=False) -> bytes:
    """Build one VRRP message with its checksum. v3 needs src/dst for the pseudo-header (not with
    `v3_checksum_as_v2` on IPv4, whose checksum covers the message alone).
    Addresses are packed bytes (or text). Bad field values raise ValueError."""
    _int_field("version", version, 2, 3)
    _int_field("family", family, 4, 6)
    if family == 5:
        raise ValueError("family must be 4 or 6, got 5")
    if version == 2 and family == 6:
        raise ValueError("VRRPv2 (RFC 3768) is IPv4 only; use version 3 for IPv6")
    _int_field("type", type, 0, 15)
    _int_field("vrid", vrid, 1, 255)
    _int_field("priority", priority, 0, 255)
    _int_field("adver_int", adver_int, 0, 255 if version == 2 else V3_MAX_ADVER_INT)
    addresses = list(addresses)
    if len(addresses) > MAX_ADDRESSES:
        raise ValueError(f"at most {MAX_ADDRESSES} addresses, got {len(addresses)}")
    packed = [_address_bytes(a, family, "address") for a in addresses]
    if version == 2:
        _int_field("auth_type", auth_type, 0, 2)
        try:
            auth = bytes(memoryview(auth_data).cast("B"))
        except TypeError:
            raise ValueError("auth_data must be bytes") from None
        if len(auth) > AUTH_DATA_LEN:
            raise ValueError(f"auth_data is at most {AUTH_DATA_LEN} bytes, got {len(auth)}")
        body = bytes([0x20 | type, vrid, priority, len(packed), auth_type, adver_int, 0, 0])
        msg = bytearray(body + b"".join(packed) + auth.ljust(AUTH_DATA_LEN, b"\0"))
        pseudo = 0
    else:
        if auth_type != 0:
            raise ValueError("VRRPv3 has no authentication; auth_type must be 0")
        if auth_data:
            raise ValueError("VRRPv3 has no authentication; auth_data must be empty")
        body = bytes([0x30 | type, vrid, priority, len(packed), adver_int >> 8, adver_int & 0xFF, 0, 0])
        msg = bytearray(body + b"".join(packed))
        n = len(msg)
        if v3_checksum_as_v2 and family == 4:
            pseudo = 0
        else:
            if src is None or dst is None:
                raise ValueError("VRRPv3 needs src and dst for the checksum pseudo-header")
            psrc = _address_bytes(src, family, "src")
            pdst = _address_bytes(dst, family, "dst")
            pseudo = pseudo_sum_ipv4(psrc, pdst, n) if family == 4 else pseudo_sum_ipv6(psrc, pdst, n)
    checksum = inet_checksum(msg, pseudo)
    msg[6] = checksum >> 8
    msg[7] = checksum & 0xFF
    return bytes(msg)


# --------------------------------------------------------------------------------------------
# Hashed hierarchical timer wheel
# --------------------------------------------------------------------------------------------

WHEEL_LEVELS = 8
WHEEL_BITS = 8
WHEEL_SLOTS = 1 << WHEEL_BITS
_SLOT_MASK = WHEEL_SLOTS - 1


def _seconds(value) -> float:
    """A real number of seconds, converted like a C double parameter would be (no text)."""
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"must be real number, not {type(value).__name__}")
    return float(value)


class TimerWheel:
    """Hashed hierarchical timer wheel keyed by int ids (one per VRRP instance timer).

    Time is cut into ticks of `resolution` seconds counted from `start`. A deadline belongs to
    the first tick whose time is >= the deadline, so a timer never fires early. The wheel has
    8 levels of 256 slots; level k holds timers whose tick first differs from the current tick
    in bits 8k..8k+7 (64-bit ticks, so every deadline fits without an overflow list). Deadlines
    at or before the current tick wait in a due list and fire on the next advance().

    advance(now) returns the expired keys ordered by deadline tick ascending, then by the order
    they were scheduled (a reschedule counts as a new scheduling). It jumps over empty stretches
    using per-level occupancy bitmaps, so a long gap costs O(levels x events), not O(ticks).
    schedule() and cancel() are O(1).
    """

    __slots__ = ("resolution", "start", "_cur", "_timers", "_slots", "_bitmaps", "_level_count",
                 "_due", "_seq", "_next_cache")

    def __init__(self, resolution=0.001, start=0.0):
        resolution = _seconds(resolution)
        start = _seconds(start)
        if not (resolution > 0 and math.isfinite(resolution)):
            raise ValueError(f"resolution must be a positive number of seconds, got {resolution!r}")
        if not math.isfinite(start):
            raise ValueError(f"start must be finite, got {start!r}")
        self.resolution = resolution
        self.start = start
        self._cur = 0                     # every tick <= _cur has been processed
        self._timers: dict[int, list] = {}  # key -> [tick, seq, level, slot]; level -1 = due list
        self._slots = [[{} for _ in range(WHEEL_SLOTS)] for _ in range(WHEEL_LEVELS)]
        self._bitmaps = [0] * WHEEL_LEVELS  # bit s set <=> slot s of the level is non-empty
        self._level_count = [0] * WHEEL_LEVELS
        self._due: dict[int, None] = {}
        self._seq = 0
        self._next_cache: int | None = None  # earliest tick, when known

    # -- time <-> ticks ------------------------------------------------------------------
    def _time_of(self, tick: int) -> float:
        return self.start + tick * self.resolution

    def _tick_at_or_after(self, t: float) -> int:
        x = (t - self.start) / self.resolution
        if x != x or x in (math.inf, -math.inf):
            raise ValueError(f"deadline must be finite, got {t!r}")
        if x >= _MAX_TICK:
            return _MAX_TICK
        if x <= -_MAX_TICK:
            return -_MAX_TICK
        tick = math.ceil(x)
        if -_EXACT_TICK < tick < _EXACT_TICK:
            if self._time_of(tick - 1) >= t:
                tick -= 1
            elif self._time_of(tick) < t:
                tick += 1
        return tick

    def _tick_at_or_before(self, t: float) -> int:
        x = (t - self.start) / self.resolution
        if x != x or x in (math.inf, -math.inf):
            raise ValueError(f"time must be finite, got {t!r}")
        if x >= _MAX_TICK:
            return _MAX_TICK
        if x <= -_MAX_TICK:
            return -_MAX_TICK
        tick = math.floor(x)
        if -_EXACT_TICK < tick < _EXACT_TICK:
            if self._time_of(tick + 1) <= t:
                tick += 1
            elif self._time_of(tick) > t:
                tick -= 1
        return tick

    # -- placement -----------------------------------------------------------------------
    def _place(self, key: int, entry: list) -> None:
        tick = entry[0]
        if tick <= self._cur:
            entry[2] = -1
            self._due[key] = None
            return
        level = ((tick ^ self._cur).bit_length() - 1) >> 3
        slot = (tick >> (level * WHEEL_BITS)) & _SLOT_MASK
        entry[2] = level
        entry[3] = slot
        self._slots[level][slot][key] = None
        self._bitmaps[level] |= 1 << slot
        self._level_count[level] += 1

    def _unplace(self, key: int, entry: list) -> None:
        level = entry[2]
        if level < 0:
            del self._due[key]
            return
        bucket = self._slots[level][entry[3]]
        del bucket[key]
        if not bucket:
            self._bitmaps[level] &= ~(1 << entry[3])
        self._level_count[level] -= 1

    # -- public API ----------------------------------------------------------------------
    def schedule(self, key, deadline) -> None:
        """Arm (or re-arm, replacing any existing timer) `key` to expire at `deadline`."""
        key = operator.index(key)
        if not -(1 << 63) <= key < 1 << 63:
            raise OverflowError("timer key must fit in a signed 64-bit integer")
        tick = self._tick_at_or_after(_seconds(deadline))
        entry = self._timers.get(key)
        if entry is not None:
            self._unplace(key, entry)
            if self._next_cache == entry[0]:
                self._next_cache = None
        else:
            entry = [0, 0, 0, 0]
            self._timers[key] = entry
        self._seq += 1
        entry[0] = tick
        entry[1] = self._seq
        self._place(key, entry)
        if self._next_cache is not None and tick < self._next_cache:
            self._next_cache = tick
        elif len(self._timers) == 1:
            self._next_cache = tick

    def cancel(self, key) -> bool:
        """Disarm `key`; True if it was armed."""
        key = operator.index(key)
        if not -(1 << 63) <= key < 1 << 63:
            raise OverflowError("timer key must fit in a signed 64-bit integer")
        entry = self._timers.pop(key, None)
        if entry is None:
            return False
        self._unplace(key, entry)
        if self._next_cache == entry[0]:
            self._next_cache = None
        return True

    def _expire(self, keys: list[int], out: list[int]) -> None:
        timers = self._timers
        keys.sort(key=lambda k: (timers[k][0], timers[k][1]))
        for k in keys:
            del timers[k]
        out.extend(keys)

    def advance(self, now) -> list[int]:
        """Move the wheel to time `now`; return the keys that expired, in deadline-tick order,
        ties in scheduling order."""
        target = self._tick_at_or_before(_seconds(now))
        out: list[int] = []
        self._next_cache = None
        if self._due:
            due = list(self._due)
            self._due.clear()
            self._expire(due, out)
        while target > self._cur:
            event, level, slot = self._next_event()
            if event is None or event > target:
                self._cur = target
                break
            self._cur = event
            bucket = self._slots[level][slot]
            keys = list(bucket)
            bucket.clear()
            self._bitmaps[level] &= ~(1 << slot)
            self._level_count[level] -= len(keys)
            expired = []
            for k in keys:
                entry = self._timers[k]
                if entry[0] <= event:
                    expired.append(k)
                else:
                    self._place(k, entry)  # cascade to a lower level
            if expired:
                self._expire(expired, out)
        return out

    def _next_event(self):
        """The next tick (> current) at which a slot must expire or cascade, with its slot."""
        cur = self._cur
        for level in range(WHEEL_LEVELS):
            if not self._level_count[level]:
                continue
            shift = level * WHEEL_BITS
            digit = (cur >> shift) & _SLOT_MASK
            above = self._bitmaps[level] >> (digit + 1)
            if above:
                slot = digit + 1 + ((above & -above).bit_length() - 1)
                base = (cur >> (shift + WHEEL_BITS)) << (shift + WHEEL_BITS)
                return base | (slot << shift), level, slot
        return None, 0, 0

    def next_deadline(self) -> float | None:
        """Time of the earliest armed timer's tick (may be in the past), or None if idle."""
        if not self._timers:
            return None
        if self._next_cache is None:
            self._next_cache = self._earliest_tick()
        return self._time_of(self._next_cache)

    def _earliest_tick(self) -> int:
        if self._due:
            return min(self._timers[k][0] for k in self._due)
        event, level, slot = self._next_event()
        # Lower levels always hold earlier ticks than higher ones, so the earliest timer sits
        # in the first occupied slot of the lowest occupied level.
        return min(self._timers[k][0] for k in self._slots[level][slot])

    def deadline(self, key) -> float | None:
        """The armed tick time of `key`, or None."""
        entry = self._timers.get(operator.index(key))
        return None if entry is None else self._time_of(entry[0])

    @property
    def now(self) -> float:
        """Time of the last tick advance() processed."""
        return self._time_of(self._cur)

    def __len__(self) -> int:
        return len(self._timers)

    def __contains__(self, key) -> bool:
        try:
            return operator.index(key) in self._timers
        except TypeError:
            return False


# --------------------------------------------------------------------------------------------
# The steady-state receive path: per-instance slots, per-socket tables, batched receive
# --------------------------------------------------------------------------------------------

NAN = math.nan
VRRP_TTL = 255
RX_TIME_MAX_AGE = 0.05      # a receive time older than this is not a timer's origin
RECV_BATCH = 64             # messages per receive_batch() call (one recvmmsg in the Cython build)
MAX_BATCHES = 4             # receive_batch calls per SocketReader call (per readable event)
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
_IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
_IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class InstanceSlot:
    """What the fast path knows about one VRRP instance, and the Master_Down_Timer it restarts.

    Static fields come from the instance's settings (`configure`). The instance pushes its
    run-time facts with `update` after anything it handled: whether an advert from the current
    master may be taken without Python (`fast_rx`: BACKUP, no preempt delay or sync hold-back
    pending, ...), the master's address / priority / interval field, our effective priority,
    the Master_Down_Interval. The protocol timer's deadline and start (`armed`, `deadline`,
    `down_started`) and the `advert_rcvd` counter live here, written by both sides: the
    instance when Python handles something, ReceiveTable.accept when it restarts the timer.
    """

    __slots__ = ("wheel", "timer_key", "version", "family", "unicast", "auth_type", "auth_data",
                 "wire_interval", "addresses", "compat_dst",
                 "fast_rx", "master", "master_priority", "master_interval", "priority", "accept_lower",
                 "delayed_start", "down_interval", "old_checksum",
                 "armed", "deadline", "down_started", "advert_rcvd", "fast_rcvd",
                 "fast_tx", "sender", "adver_int", "targets", "advert_sent", "last_sent", "fast_sent")

    def __init__(self, wheel, timer_key):
        self.wheel = wheel
        self.timer_key = operator.index(timer_key)
        self.version = 0            # 0: not configured, never fast
        self.family = 4
        self.unicast = False
        self.auth_type = 0
        self.auth_data = b""
        self.wire_interval = 0
        self.addresses = b""
        self.compat_dst = b""
        self.fast_rx = False
        self.master = b""
        self.master_priority = 0
        self.master_interval = 0
        self.priority = 0
        self.accept_lower = False
        self.delayed_start = 0.0
        self.down_interval = 0.0
        self.old_checksum = False
        self.armed = False
        self.deadline = NAN
        self.down_started = NAN
        self.advert_rcvd = 0
        self.fast_rcvd = 0
        self.fast_tx = False
        self.sender = None
        self.adver_int = 0.0
        self.targets = ()
        self.advert_sent = 0
        self.last_sent = NAN
        self.fast_sent = 0

    def set_adverts(self, sender, adver_int, targets):
        """A MASTER's steady state: when its Adver_Timer fires, fire_adverts() queues `targets`
        on `sender` (a SocketSender) and re-arms the timer adver_int later, without Python.
        targets: (payload, dst, src, ttl) per destination - the advert with its checksum, the
        destination address (text), the source to pin (text) and the TTL / hop limit (None:
        the socket's 255). A sender of None (or no targets) turns it off."""
        targets = tuple(targets)
        if sender is not None and not isinstance(sender, SocketSender):
            raise TypeError("sender must be a SocketSender or None")
        checked = []
        for payload, dst, src, ttl in targets:
            pdst = _pseudo_address(dst, self.family)
            psrc = _pseudo_address(src, self.family) if src is not None else None
            if pdst is None or (src is not None and psrc is None):
                raise ValueError(f"bad advert target {dst!r} from {src!r}")
            if ttl is not None and not 0 <= operator.index(ttl) <= 255:
                raise ValueError(f"TTL {ttl} outside 0..255")
            checked.append((bytes(payload), _ntop(pdst), psrc, ttl))
        adver_int = _seconds(adver_int)
        self.fast_tx = sender is not None and bool(checked)
        self.sender = sender if self.fast_tx else None
        self.adver_int = adver_int
        self.targets = tuple(checked) if self.fast_tx else ()

    def configure(self, version, family, unicast, auth_type, auth_data, wire_interval, addresses,
                  compat_dst=b""):
        """version 2/3, family 4/6, unicast, v2 auth type (0/1) and 8 bytes of auth data, the v2
        Adver Int field, our packed advert addresses in advert order, the group of the old
        unicast checksum (packed, or b"")."""
        version = operator.index(version)
        family = operator.index(family)
        if version not in (2, 3) or family not in (4, 6):
            raise ValueError(f"bad version/family {version}/{family}")
        addresses = bytes(addresses)
        if len(addresses) % _ADDR_LEN[family] or len(addresses) // _ADDR_LEN[family] > MAX_ADDRESSES:
            raise ValueError("addresses must be whole packed addresses of the family")
        auth_data = bytes(auth_data)
        if auth_type and len(auth_data) != AUTH_DATA_LEN:
            raise ValueError("auth_data must be 8 bytes")
        compat_dst = bytes(compat_dst)
        if compat_dst and len(compat_dst) != _ADDR_LEN[family]:
            raise ValueError("compat_dst must be a packed address of the family")
        self.version, self.family, self.unicast = version, family, bool(unicast)
        self.auth_type, self.auth_data = operator.index(auth_type), auth_data
        self.wire_interval = operator.index(wire_interval)
        self.addresses, self.compat_dst = addresses, compat_dst

    def update(self, fast_rx, master, master_priority, master_interval, priority, accept_lower,
               delayed_start, down_interval, old_checksum):
        """The instance's run-time facts, after Python handled anything (see the class doc)."""
        master = bytes(master) if master else b""
        if fast_rx and len(master) != _ADDR_LEN[self.family]:
            raise ValueError("fast_rx needs the master's packed address")
        self.fast_rx = bool(fast_rx) and self.version != 0
        self.master = master
        self.master_priority = operator.index(master_priority)
        self.master_interval = operator.index(master_interval)
        self.priority = operator.index(priority)
        self.accept_lower = bool(accept_lower)
        self.delayed_start = _seconds(delayed_start)
        self.down_interval = _seconds(down_interval)
        self.old_checksum = bool(old_checksum)

    def schedule(self, deadline, started=NAN):
        """Arm the protocol timer (Adver_Timer or Master_Down_Timer) at deadline on the wheel;
        `started` is when a Master_Down_Timer started (NaN for none)."""
        deadline = _seconds(deadline)
        self.wheel.schedule(self.timer_key, deadline)
        self.armed, self.deadline, self.down_started = True, deadline, _seconds(started)

    def cancel(self):
        """Disarm the protocol timer."""
        if self.armed:
            self.wheel.cancel(self.timer_key)
        self.armed, self.deadline, self.down_started = False, NAN, NAN

    def fired(self):
        """The wheel handed the timer out: it is no longer armed."""
        self.armed, self.deadline = False, NAN

    def sent(self, now):
        """An advert went out (from Python): count it and remember when."""
        self.advert_sent += 1
        self.last_sent = _seconds(now)


def _is_multicast(dst: bytes) -> bool:
    return dst[0] == 0xFF if len(dst) == 16 else 224 <= dst[0] <= 239


class ReceiveTable:
    """The instances of one socket (interface, family), by VRID, and the steady-state check.

    accept() takes one received message and returns True when it was the steady state, fully
    handled here: an advert that passes every receive check of RFC 5798 7.1 for its instance,
    from the instance's current master, at the priority and interval it already advertised, to
    a BACKUP for which accepting it only restarts Master_Down_Timer. It then counts it
    (advert_rcvd), restarts the timer from the kernel receive time (or now, when that is absent,
    in the future or older than RX_TIME_MAX_AGE) and the wheel. Anything else - a drop, a new
    master, a priority change, priority 0, an instance not in the steady state - returns False
    without touching anything: the caller hands it to the Python state machine, which runs
    every check and counts every drop.
    """

    __slots__ = ("family", "_slots", "accepted")

    def __init__(self, family):
        family = operator.index(family)
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        self.family = family
        self._slots = [None] * 256
        self.accepted = 0

    def set(self, vrid, slot):
        vrid = operator.index(vrid)
        if not 1 <= vrid <= 255:
            raise ValueError(f"VRID {vrid} outside 1..255")
        if slot is not None and not isinstance(slot, InstanceSlot):
            raise TypeError("slot must be an InstanceSlot or None")
        if slot is not None and slot.version and slot.family != self.family:
            raise ValueError("slot family differs from the table's")
        self._slots[vrid] = slot

    def get(self, vrid):
        return self._slots[operator.index(vrid)]

    def clear(self):
        self._slots = [None] * 256

    def accept(self, src, dst, ttl, payload, rx_time, now) -> bool:
        """src/dst: packed (or text) IP addresses; ttl; the VRRP message; the receive time on
        the monotonic clock (None when unknown); now on the same clock."""
        psrc = _pseudo_address(src, self.family)
        pdst = _pseudo_address(dst, self.family)
        if psrc is None or pdst is None:
            return False
        return self._accept(psrc, pdst, ttl, memoryview(payload).cast("B"),
                            NAN if rx_time is None else _seconds(rx_time), _seconds(now))

    def _accept(self, src: bytes, dst: bytes, ttl: int, p, rx_time: float, now: float) -> bool:
        n = len(p)
        if n < HEADER_LEN:
            return False
        slot = self._slots[p[1]]
        if slot is None or not slot.fast_rx:
            return False
        # RFC 5798 7.1 in order: TTL, version/type, length, checksum, VRID, interval/auth,
        # destination (multicast for a multicast instance), addresses
        if not slot.unicast and ttl != VRRP_TTL:
            return False
        version = p[0] >> 4
        if version != slot.version or p[0] & 0x0F != 1:
            return False
        addr_len = _ADDR_LEN[self.family]
        naddr = len(slot.addresses) // addr_len
        if p[3] != naddr or n != HEADER_LEN + naddr * addr_len + (AUTH_DATA_LEN if version == 2 else 0):
            return False
        if version == 2:
            if inet_checksum(p) != 0:
                return False
            if p[4] != slot.auth_type or p[5] != slot.wire_interval:
                return False
            if slot.auth_type and p[n - AUTH_DATA_LEN:n] != slot.auth_data:
                return False
        else:
            csum_dst = slot.compat_dst if slot.old_checksum else dst
            pseudo = pseudo_sum_ipv4(src, csum_dst, n) if addr_len == 4 else pseudo_sum_ipv6(src, csum_dst, n)
            if inet_checksum(p, pseudo) != 0:
                return False
            if ((p[4] << 8) | p[5]) & V3_MAX_ADVER_INT != slot.master_interval:
                return False
        if _is_multicast(dst) == slot.unicast:
            return False
        if p[HEADER_LEN:HEADER_LEN + naddr * addr_len] != slot.addresses:
            return False
        # the current master, unchanged: accepting it only restarts Master_Down_Timer
        priority = p[2]
        if src != slot.master or priority == 0 or priority != slot.master_priority:
            return False
        if priority < slot.priority and not slot.accept_lower:
            return False
        origin = now if rx_time != rx_time or rx_time > now or now - rx_time > RX_TIME_MAX_AGE else rx_time
        begin = max(origin, slot.delayed_start)
        slot.schedule(begin + slot.down_interval, begin)
        slot.advert_rcvd += 1
        slot.fast_rcvd += 1
        self.accepted += 1
        return True


def _rx_time(ancillary, mono_now: float, real_now: float) -> float:
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= 16:
            sec = int.from_bytes(value[0:8], sys.byteorder, signed=True)
            nsec = int.from_bytes(value[8:16], sys.byteorder, signed=True)
            return min(mono_now, mono_now - (real_now - (sec + nsec * 1e-9)))
    return NAN


def _ip_payload4(data: bytes):
    """(src, dst, ttl, payload) from a whole IPv4 datagram, or None when its header is bad."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    total = (data[2] << 8) | data[3]
    if ihl < 20 or len(data) < ihl or total < ihl:
        return None
    return bytes(data[12:16]), bytes(data[16:20]), data[8], bytes(data[ihl:min(total, len(data))])


def _ip_payload6(data: bytes, ancillary, addr):
    hops = -1
    dst = None
    for level, kind, value in ancillary:
        if level != socket.IPPROTO_IPV6:
            continue
        if kind == _IPV6_HOPLIMIT and len(value) >= 4:
            hops = int.from_bytes(value[0:4], sys.byteorder, signed=True)
        elif kind == _IPV6_PKTINFO and len(value) >= 16:
            dst = bytes(value[:16])
    if hops < 0 or dst is None:
        return None
    return socket.inet_pton(socket.AF_INET6, addr[0].split("%", 1)[0]), dst, hops, bytes(data)


def receive_batch(sock, family, table=None):
    """Read up to RECV_BATCH messages from a raw VRRP socket (non-blocking) and run each through
    table.accept (when a table is given).

    Returns (punted, received, bad_header, missing_ancillary, error): `punted` is a list of
    (src, dst, ttl, payload, rx_time) for the messages the table did not take (src/dst text,
    payload the VRRP message, rx_time on time.monotonic()'s scale or None); `received` counts
    the messages with a usable IP header (taken or punted); `bad_header` IPv4 datagrams with a
    bad header; `missing_ancillary` IPv6 messages without hop limit / pktinfo; `error` the errno
    of a receive error other than "nothing more to read" (0 for none). Fewer than RECV_BATCH
    messages read means the socket is drained."""
    import time as _time
    family = operator.index(family)
    if family not in (4, 6):
        raise ValueError(f"family must be 4 or 6, not {family!r}")
    punted = []
    received = bad = missing = error = 0
    for _ in range(RECV_BATCH):
        try:
            data, anc, _flags, addr = sock.recvmsg(65535, 256)
        except (BlockingIOError, InterruptedError):
            break
        except OSError as exc:
            error = exc.errno or -1
            break
        mono_now, real_now = _time.monotonic(), _time.time()
        parsed = _ip_payload4(data) if family == 4 else _ip_payload6(data, anc, addr)
        if parsed is None:
            if family == 4:
                bad += 1
            else:
                missing += 1
            continue
        received += 1
        src, dst, ttl, payload = parsed
        rx_time = _rx_time(anc, mono_now, real_now)
        if table is not None and table._accept(src, dst, ttl, memoryview(payload), rx_time, mono_now):
            continue
        punted.append((_ntop(src), _ntop(dst), ttl, payload, None if rx_time != rx_time else rx_time))
    return punted, received, bad, missing, error


class SocketReader:
    """The event loop's readable callback for one raw VRRP socket (loop.add_reader(fd, reader)).

    Each call reads up to MAX_BATCHES batches (stopping at the first one that is not full),
    lets `table` (a ReceiveTable, settable, None for none) take the steady-state adverts and
    calls deliver(src, dst, ttl, payload, rx_time) for every other message. Counters:
    received, fast_path (taken by the table), bad_ip_header, missing_ancillary, recv_errors;
    on_error(errno) is called for a receive error (then the call returns)."""

    __slots__ = ("_sock", "family", "table", "_deliver", "_on_error", "received", "fast_path",
                 "bad_ip_header", "missing_ancillary", "recv_errors")

    def __init__(self, sock, family, deliver, on_error=None):
        family = operator.index(family)
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        self._sock, self.family, self.table = sock, family, None
        self._deliver, self._on_error = deliver, on_error
        self.received = self.fast_path = self.bad_ip_header = self.missing_ancillary = self.recv_errors = 0

    def __setattr__(self, name, value):
        if name == "table" and value is not None and not isinstance(value, ReceiveTable):
            raise TypeError("table must be a ReceiveTable or None")
        object.__setattr__(self, name, value)

    def __call__(self):
        if self._sock.fileno() < 0:
            return
        for _ in range(MAX_BATCHES):
            punted, received, bad, missing, error = receive_batch(self._sock, self.family, self.table)
            self.received += received
            self.fast_path += received - len(punted)
            self.bad_ip_header += bad
            self.missing_ancillary += missing
            for item in punted:
                self._deliver(*item)
            if error:
                self.recv_errors += 1
                if self._on_error is not None:
                    self._on_error(error)
                return
            if received + bad + missing < RECV_BATCH:
                return


TIMER_TOLERANCE = 1e-6      # a deadline later than now + this was re-armed after the wheel fired it


class SocketSender:
    """The adverts of one raw socket queued by fire_adverts(), sent together at its end (one
    sendmmsg per flush in the Cython build) with the source pinned by IP_PKTINFO /
    IPV6_PKTINFO on `ifindex`, like io.transport's send(). Counters: sent, send_errors;
    on_error(errno, dst) is called for each message the kernel refused."""

    __slots__ = ("_sock", "family", "ifindex", "_queue", "sent", "send_errors", "_on_error")

    def __init__(self, sock, family, ifindex, on_error=None):
        family = operator.index(family)
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        self._sock, self.family, self.ifindex = sock, family, operator.index(ifindex)
        self._on_error = on_error
        self._queue = []
        self.sent = self.send_errors = 0

    def _flush(self):
        queue, self._queue = self._queue, []
        for payload, dst, src, ttl in queue:
            anc = []
            if self.family == 4:
                if src is not None:
                    anc.append((socket.IPPROTO_IP, _IP_PKTINFO,
                                self.ifindex.to_bytes(4, sys.byteorder, signed=True) + src + b"\0\0\0\0"))
                if ttl is not None:
                    anc.append((socket.IPPROTO_IP, socket.IP_TTL, ttl.to_bytes(4, sys.byteorder)))
                addr = (dst, 0)
            else:
                if src is not None:
                    anc.append((socket.IPPROTO_IPV6, _IPV6_PKTINFO, src + self.ifindex.to_bytes(4, sys.byteorder)))
                if ttl is not None:
                    anc.append((socket.IPPROTO_IPV6, _IPV6_HOPLIMIT, ttl.to_bytes(4, sys.byteorder)))
                addr = (dst, 0, 0, self.ifindex)
            try:
                self._sock.sendmsg([payload], anc, 0, addr)
            except OSError as exc:
                self.send_errors += 1
                if self._on_error is not None:
                    self._on_error(exc.errno or -1, dst)
                continue
            self.sent += 1


ADVERT_GRID = 0.002     # seconds: steady-state adverts are due on multiples of this (or adver_int / 10)


def next_advert_deadline(deadline, adver_int):
    """adver_int after `deadline`, rounded up to the advert grid (see fire_adverts)."""
    step = min(ADVERT_GRID, adver_int / 10)
    return math.ceil((deadline + adver_int) / step - 1e-6) * step


def fire_adverts(keys, start, now, slots, timer_slots=8):
    """Handle expired Adver_Timer keys from keys[start:] (a TimerWheel.advance() list) for as
    long as they are steady-state adverts: the key is an instance's protocol timer (key %
    timer_slots == 0), slots[key // timer_slots] is its InstanceSlot with fast_tx on. For each,
    exactly what the state machine does for ADVER_TIMER in MASTER: the advert to every target,
    advert_sent counted, last_sent = now, and the timer re-armed adver_int after the deadline it
    was due at, rounded up to the advert grid (ADVERT_GRID, at most a tenth of adver_int; now +
    adver_int when that is already past). Re-arming from the send time would add every
    wake-up's lateness to every interval, a steady deficit on the wire (~1-2 % at 0.1 s);
    re-arming from the exact deadline would keep thousands of instances' phases apart, one
    wake-up per advert. On the grid the rate stays K / advert_int and adverts due within one
    grid step leave in one batch (each instance's phase moves later once, by less than a step).
    A key whose timer
    was cancelled or re-armed for later is skipped, as the instance would. Returns the index of
    the first key it left for Python (len(keys) when none); the adverts queued so far are sent
    before it returns, so the wire keeps the order of the keys."""
    start = operator.index(start)
    now = _seconds(now)
    n = len(keys)
    i = start
    touched = []
    while i < n:
        key = keys[i]
        uid, kind = divmod(key, timer_slots)
        if kind != 0 or uid >= len(slots):
            break
        slot = slots[uid]
        if slot is None or not slot.fast_tx:
            break
        i += 1
        if not slot.armed or slot.deadline > now + TIMER_TOLERANCE:
            continue
        due = next_advert_deadline(slot.deadline, slot.adver_int)
        slot.fired()
        sender = slot.sender
        sender._queue.extend(slot.targets)
        if sender not in touched:
            touched.append(sender)
        slot.advert_sent += 1
        slot.fast_sent += 1
        slot.last_sent = now
        slot.schedule(due if due > now else now + slot.adver_int)
    for sender in touched:
        sender._flush()
    return i
