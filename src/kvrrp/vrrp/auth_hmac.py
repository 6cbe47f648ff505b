"""keepalived 2.4's HMAC-SHA256 advert trailer (draft-cassen-vrrp-auth-hmac), without I/O.

The trailer follows the VRRP PDU (28 bytes):
    ext_type u8 (1 = HMAC-SHA256/128) | key_id u8 | reserved u16 (0) |
    sec u32 | subsec u16 (1/2^16 s) | ctr u16 | hmac 16 bytes (SHA256 truncated)
all in network order. sec|subsec|ctr form a 64-bit sequence number that only grows.

The HMAC input is a 20-byte pseudo header (family 4/6, version, VRID, 0, sender address padded
to 16 bytes), then the PDU and the trailer with the VRRP checksum and the HMAC field read as
zero: the IP header is left out (TTL, kernel-written IPv6 checksum) so only what the sender
claims is bound. Behaviour (window derivation, replay marks, sequence stepping) follows
keepalived's vrrp_auth_hmac.c.
"""
from __future__ import annotations

import enum
import hmac
import ipaddress
import struct
from dataclasses import dataclass, field
from hashlib import sha256

EXT_TYPE_SHA256 = 1
HMAC_LEN = 16
TRAILER_LEN = 28
TRAILER_PREFIX = struct.Struct("!BBHIHH")      # everything before the HMAC field (12 bytes)
PSEUDO_LEN = 20
CHECKSUM_OFFSET = 6                            # VRRP header: ver/type, vrid, prio, count, (int), csum
KEY_MIN, KEY_MAX = 32, 64
WINDOW_MIN, WINDOW_MAX, WINDOW_FLOOR = 1, 300, 5
MCAST_SENDERS = 4                              # replay slots kept for multicast senders (LRU)


class Mode(enum.Enum):
    ENFORCE = "enforce"              # sign, and require a valid trailer
    PERMISSIVE = "permissive"        # sign, accept adverts without a trailer (migration)
    RECEIVE_ONLY = "receive-only"    # do not sign, accept adverts without a trailer (migration)


class Result(enum.Enum):
    """Outcome of verify(); each failure is a named receive drop reason."""

    OK = "ok"
    MISSING = "auth_ext_missing"
    MALFORMED = "auth_ext_malformed"
    UNKNOWN_KEY = "auth_ext_unknown_key"
    BAD_HMAC = "auth_ext_invalid_hmac"
    STALE = "auth_ext_stale"
    REPLAY = "auth_ext_replay"


def decode_key(text: str) -> bytes:
    """An inline key value: 'hex:...' is raw bytes, anything else its ASCII bytes."""
    if text.startswith("hex:"):
        return bytes.fromhex(text[4:])
    return text.encode()


def default_window(advert_int: float) -> int:
    """keepalived's window when time_window is not given: 3 whole advert intervals, in [5, 300]."""
    return min(max(3 * int(advert_int), WINDOW_FLOOR), WINDOW_MAX)


def pseudo_header(family: int, version: int, vrid: int, sender: str) -> bytes:
    addr = ipaddress.ip_address(sender).packed
    return bytes((6 if family == 6 else 4, version, vrid, 0)) + addr.ljust(16, b"\0")


def digest(key: bytes, pseudo: bytes, pdu: bytes, prefix: bytes) -> bytes:
    """HMAC over pseudo | PDU with its checksum zeroed | trailer prefix | 16 zero bytes, truncated."""
    msg = pseudo + pdu[:CHECKSUM_OFFSET] + b"\0\0" + pdu[CHECKSUM_OFFSET + 2:] + prefix + bytes(HMAC_LEN)
    return hmac.new(key, msg, sha256).digest()[:HMAC_LEN]


def seq_after(a: int, b: int) -> bool:
    """RFC 1982 serial-number order over 64 bits: is a later than b."""
    d = (a - b) & 0xFFFFFFFFFFFFFFFF
    return 0 < d < (1 << 63)


def clock_seq(now: float) -> int:
    """A realtime reading as a sequence: seconds high 32 bits, 1/2^16 s fraction next, counter 0."""
    sec = int(now)
    sub = int((now - sec) * 65536) & 0xFFFF
    return ((sec & 0xFFFFFFFF) << 32) | (sub << 16)


def _age(now: float, sec: int) -> int:
    """now minus a 32-bit timestamp, as keepalived's signed 32-bit difference."""
    d = (int(now) - sec) & 0xFFFFFFFF
    return d - (1 << 32) if d >= (1 << 31) else d


@dataclass(slots=True)
class ReplayMark:
    seq: int | None = None           # last accepted sequence, None until one is accepted


@dataclass
class HmacAuth:
    """One instance's keys and replay state. keys: id -> key bytes; active_key signs."""

    keys: dict[int, bytes]
    active_key: int
    mode: Mode = Mode.ENFORCE
    anti_replay_time: bool = True
    time_window: int = WINDOW_FLOOR
    send_seq: int = 0
    peers: dict[str, ReplayMark] = field(default_factory=dict)          # unicast: per configured peer
    mcast: dict[str, tuple[int, ReplayMark]] = field(default_factory=dict)  # multicast: LRU-limited
    _lru: int = 0
    last_skew: int = 0               # receiver clock minus the last checked trailer's, seconds
    skew_warnings: int = 0           # verified adverts whose skew passed half the window

    def skew_near_window(self) -> bool:
        """keepalived warns when a verified advert's clock skew passes half the window."""
        return self.anti_replay_time and abs(self.last_skew) > self.time_window // 2

    @property
    def signs(self) -> bool:
        return self.mode is not Mode.RECEIVE_ONLY

    def trailer_len(self) -> int:
        return TRAILER_LEN if self.signs else 0

    def next_seq(self, now: float) -> int:
        """Larger of the clock and last+1; in time mode a sender stranded more than the window
        ahead (clock stepped back) restarts from the clock so receivers accept it again."""
        clk = clock_seq(now)
        if seq_after(clk, self.send_seq):
            self.send_seq = clk
            return clk
        ahead = ((self.send_seq >> 32) - (clk >> 32)) & 0xFFFFFFFF
        ahead = ahead - (1 << 32) if ahead >= (1 << 31) else ahead
        if self.anti_replay_time and ahead > self.time_window:
            self.send_seq = clk
        else:
            self.send_seq = (self.send_seq + 1) & 0xFFFFFFFFFFFFFFFF
        return self.send_seq

    def sign(self, pdu: bytes, family: int, version: int, vrid: int, sender: str, now: float) -> bytes:
        """The trailer to append to `pdu` (the VRRP PDU without IP header; its checksum is not bound)."""
        seq = self.next_seq(now)
        prefix = TRAILER_PREFIX.pack(EXT_TYPE_SHA256, self.active_key, 0, seq >> 32, (seq >> 16) & 0xFFFF,
                                     seq & 0xFFFF)
        key = self.keys.get(self.active_key)
        if key is None:      # config validation prevents this; a zero HMAC is refused everywhere
            return prefix + bytes(HMAC_LEN)
        return prefix + digest(key, pseudo_header(family, version, vrid, sender), pdu, prefix)

    def verify(self, pdu: bytes, trailer: bytes | None, family: int, version: int, vrid: int, sender: str,
               now: float, unicast: bool = False) -> Result:
        """Check a received trailer in keepalived's order: missing, malformed, stale (before the
        HMAC so replayed floods cost no digest), unknown key, HMAC, replay. The replay mark
        moves only after the HMAC verified."""
        if trailer is None:
            return Result.OK if self.mode is not Mode.ENFORCE else Result.MISSING
        if len(trailer) != TRAILER_LEN:
            return Result.MALFORMED
        ext, key_id, reserved, sec, sub, ctr = TRAILER_PREFIX.unpack_from(trailer)
        if ext != EXT_TYPE_SHA256 or reserved != 0:
            return Result.MALFORMED
        seq = (sec << 32) | (sub << 16) | ctr
        if self.anti_replay_time:
            self.last_skew = _age(now, sec)
            if abs(self.last_skew) > self.time_window:
                return Result.STALE
        key = self.keys.get(key_id)
        if key is None:
            return Result.UNKNOWN_KEY
        want = digest(key, pseudo_header(family, version, vrid, sender), pdu, trailer[:12])
        if not hmac.compare_digest(want, trailer[12:]):
            return Result.BAD_HMAC
        mark = self._mark(sender, unicast)
        if mark.seq is not None and self.anti_replay_time and abs(_age(now, mark.seq >> 32)) > self.time_window:
            mark.seq = None          # a mark outside the window orders nothing the window lets in
        if mark.seq is not None and not seq_after(seq, mark.seq):
            return Result.REPLAY
        mark.seq = seq
        return Result.OK

    def _mark(self, sender: str, unicast: bool) -> ReplayMark:
        if unicast:
            return self.peers.setdefault(sender, ReplayMark())
        self._lru += 1
        if sender in self.mcast:
            mark = self.mcast[sender][1]
        else:
            if len(self.mcast) >= MCAST_SENDERS:      # evict the least recently used sender
                del self.mcast[min(self.mcast, key=lambda s: self.mcast[s][0])]
            mark = ReplayMark()
        self.mcast[sender] = (self._lru, mark)
        return mark


def split(payload: bytes, expected_len: int | None, auth: HmacAuth | None) -> tuple[bytes, bytes | None]:
    """Split a received VRRP payload into PDU and trailer: a trailer is present when the instance
    has auth_hmac and the payload is exactly one trailer longer than its header accounts for
    (keepalived: Ethernet padding can never reach that size)."""
    if auth is not None and expected_len is not None and len(payload) == expected_len + TRAILER_LEN:
        return payload[:expected_len], payload[expected_len:]
    return payload, None


def from_config(cfg, prev: HmacAuth | None = None) -> HmacAuth | None:
    """The runtime state for a validated config.AuthHmac (None: no auth_hmac). On reload the send
    sequence and the replay marks carry over, so neither side replays nor refuses fresh adverts."""
    if cfg is None or cfg.active_key is None:
        return None
    window = cfg.time_window if cfg.time_window is not None else WINDOW_FLOOR
    auth = HmacAuth(keys=dict(cfg.keys), active_key=cfg.active_key, mode=Mode(cfg.mode),
                    anti_replay_time=cfg.anti_replay == "time", time_window=window)
    if prev is not None:
        auth.send_seq, auth.peers, auth.mcast, auth._lru = prev.send_seq, prev.peers, prev.mcast, prev._lru
    return auth


def expected_length(payload: bytes, family: int) -> int | None:
    """The length a PDU's own header accounts for (header, addresses, v2 auth data)."""
    if len(payload) < 8:
        return None
    version = payload[0] >> 4
    return 8 + payload[3] * (4 if family == 4 else 16) + (8 if version == 2 else 0)
