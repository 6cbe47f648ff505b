"""auth_hmac trailer (kvrrp.vrrp.auth_hmac): byte layout, keepalived's HMAC input, anti-replay,
key rotation, migration modes. Vectors are built here by hand from the layout in keepalived's
vrrp_auth_hmac.h / .c (RFC 2104 ipad/opad over SHA-256, not the hmac module)."""
from __future__ import annotations

import hashlib
import struct

from hypothesis import given, settings, strategies as st

from kvrrp.vrrp import auth_hmac as ah
from kvrrp.vrrp.auth_hmac import HmacAuth, Mode, Result

KEY1 = bytes(range(32))
KEY2 = b"abcdefghijklmnopqrstuvwxyz0123456789"
NOW = 1_800_000_000.5
# a VRRPv3 IPv4 advert: ver/type 0x31, VRID 51, prio 100, 1 address, interval 100 cs, checksum 0xbeef
PDU = bytes([0x31, 51, 100, 1, 0x00, 0x64, 0xBE, 0xEF, 198, 18, 0, 10])


def rfc2104_sha256(key: bytes, msg: bytes) -> bytes:
    k = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in k) + msg).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in k) + inner).digest()


def auth(**kw) -> HmacAuth:
    kw.setdefault("keys", {1: KEY1, 2: KEY2})
    kw.setdefault("active_key", 1)
    kw.setdefault("time_window", 5)
    return HmacAuth(**kw)


def test_trailer_layout_and_hmac_vector():
    a = auth()
    tr = a.sign(PDU, 4, 3, 51, "198.18.0.1", NOW)
    assert len(tr) == 28
    assert tr[0] == 1                                    # ext_type HMAC-SHA256/128
    assert tr[1] == 1                                    # key_id = active_key
    assert tr[2:4] == b"\0\0"                            # reserved
    assert struct.unpack("!I", tr[4:8])[0] == 1_800_000_000   # sec
    assert struct.unpack("!H", tr[8:10])[0] == 0x8000    # 0.5 s as a 1/2^16 fraction
    assert struct.unpack("!H", tr[10:12])[0] == 0        # counter
    pseudo = bytes([4, 3, 51, 0, 198, 18, 0, 1]) + bytes(12)
    assert len(pseudo) == 20
    msg = pseudo + PDU[:6] + b"\0\0" + PDU[8:] + tr[:12] + bytes(16)
    assert tr[12:] == rfc2104_sha256(KEY1, msg)[:16]


def test_ipv6_pseudo_header_carries_the_whole_source():
    p = ah.pseudo_header(6, 3, 7, "fe80::1")
    assert p[:4] == bytes([6, 3, 7, 0]) and p[4:] == bytes([0xFE, 0x80]) + bytes(13) + b"\x01"


def test_checksum_is_not_bound_but_everything_else_is():
    a, b = auth(), auth()
    tr = a.sign(PDU, 4, 3, 51, "198.18.0.1", NOW)
    other_csum = PDU[:6] + b"\x12\x34" + PDU[8:]
    assert b.verify(other_csum, tr, 4, 3, 51, "198.18.0.1", NOW) is Result.OK
    for pdu, fam, ver, vrid, src in [(PDU[:2] + b"\xff" + PDU[3:], 4, 3, 51, "198.18.0.1"),
                                     (PDU, 4, 2, 51, "198.18.0.1"), (PDU, 4, 3, 52, "198.18.0.1"),
                                     (PDU, 4, 3, 51, "198.18.0.2")]:
        assert auth().verify(pdu, tr, fam, ver, vrid, src, NOW) is Result.BAD_HMAC


def test_drop_reasons_in_keepalived_order():
    a = auth()
    tr = a.sign(PDU, 4, 3, 51, "198.18.0.1", NOW)
    v = auth()
    assert v.verify(PDU, None, 4, 3, 51, "198.18.0.1", NOW) is Result.MISSING
    assert v.verify(PDU, tr[:27], 4, 3, 51, "198.18.0.1", NOW) is Result.MALFORMED
    assert v.verify(PDU, b"\x02" + tr[1:], 4, 3, 51, "198.18.0.1", NOW) is Result.MALFORMED
    assert v.verify(PDU, tr[:2] + b"\0\1" + tr[4:], 4, 3, 51, "198.18.0.1", NOW) is Result.MALFORMED
    # stale is decided before the key and the HMAC (a replayed flood costs no digest)
    assert v.verify(PDU, tr[:1] + b"\x09" + tr[2:], 4, 3, 51, "198.18.0.1", NOW + 6) is Result.STALE
    assert v.verify(PDU, tr[:1] + b"\x09" + tr[2:], 4, 3, 51, "198.18.0.1", NOW) is Result.UNKNOWN_KEY
    assert v.verify(PDU, tr[:-1] + bytes([tr[-1] ^ 1]), 4, 3, 51, "198.18.0.1", NOW) is Result.BAD_HMAC
    assert v.verify(PDU, tr, 4, 3, 51, "198.18.0.1", NOW) is Result.OK
    assert v.verify(PDU, tr, 4, 3, 51, "198.18.0.1", NOW) is Result.REPLAY


def test_forged_packets_do_not_move_the_replay_mark():
    a, v = auth(), auth()
    t1 = a.sign(PDU, 4, 3, 51, "198.18.0.1", NOW)
    t2 = a.sign(PDU, 4, 3, 51, "198.18.0.1", NOW)       # same clock: counter + 1
    assert t2[10:12] == b"\0\1"
    forged = t2[:10] + b"\xff\xff" + t2[12:]             # far ahead, HMAC no longer matches
    assert v.verify(PDU, forged, 4, 3, 51, "198.18.0.1", NOW) is Result.BAD_HMAC
    assert v.verify(PDU, t1, 4, 3, 51, "198.18.0.1", NOW) is Result.OK
    assert v.verify(PDU, t2, 4, 3, 51, "198.18.0.1", NOW) is Result.OK
    assert v.verify(PDU, t1, 4, 3, 51, "198.18.0.1", NOW) is Result.REPLAY


def test_key_rotation_receiver_knows_both_sender_switches():
    old, new = auth(active_key=1), auth(active_key=2)
    v = auth(keys={1: KEY1, 2: KEY2})
    assert v.verify(PDU, old.sign(PDU, 4, 3, 51, "198.18.0.1", NOW), 4, 3, 51, "198.18.0.1", NOW) is Result.OK
    t = new.sign(PDU, 4, 3, 51, "198.18.0.1", NOW + 1)
    assert t[1] == 2
    assert v.verify(PDU, t, 4, 3, 51, "198.18.0.1", NOW + 1) is Result.OK
    assert auth(keys={1: KEY1}).verify(PDU, t, 4, 3, 51, "198.18.0.1", NOW + 1) is Result.UNKNOWN_KEY


def test_monotonic_mode_ignores_the_clock_but_not_order():
    a, v = auth(anti_replay_time=False), auth(anti_replay_time=False)
    t1 = a.sign(PDU, 4, 3, 51, "198.18.0.1", NOW)
    t2 = a.sign(PDU, 4, 3, 51, "198.18.0.1", NOW - 3600)  # clock stepped back: sequence still grows
    assert v.verify(PDU, t1, 4, 3, 51, "198.18.0.1", NOW + 86400) is Result.OK
    assert v.verify(PDU, t2, 4, 3, 51, "198.18.0.1", NOW + 86400) is Result.OK
    assert v.verify(PDU, t1, 4, 3, 51, "198.18.0.1", NOW + 86400) is Result.REPLAY


def test_time_mode_sender_restarts_from_the_clock_after_a_big_step_back():
    a = auth()
    a.sign(PDU, 4, 3, 51, "198.18.0.1", NOW)
    t = a.sign(PDU, 4, 3, 51, "198.18.0.1", NOW - 60)
    assert struct.unpack("!I", t[4:8])[0] == int(NOW - 60)
    small = auth()
    small.sign(PDU, 4, 3, 51, "198.18.0.1", NOW)
    t = small.sign(PDU, 4, 3, 51, "198.18.0.1", NOW - 2)  # within the window: keep growing
    assert struct.unpack("!I", t[4:8])[0] == int(NOW) and t[10:12] == b"\0\1"


def test_migration_modes():
    assert auth(mode=Mode.PERMISSIVE).verify(PDU, None, 4, 3, 51, "198.18.0.1", NOW) is Result.OK
    assert auth(mode=Mode.RECEIVE_ONLY).verify(PDU, None, 4, 3, 51, "198.18.0.1", NOW) is Result.OK
    assert auth(mode=Mode.RECEIVE_ONLY).trailer_len() == 0 and auth().trailer_len() == 28
    # a trailer that is present is still checked in the migration modes
    tr = auth().sign(PDU, 4, 3, 51, "198.18.0.1", NOW)
    bad = tr[:-1] + bytes([tr[-1] ^ 1])
    assert auth(mode=Mode.PERMISSIVE).verify(PDU, bad, 4, 3, 51, "198.18.0.1", NOW) is Result.BAD_HMAC


def test_multicast_senders_lru_and_unicast_peers():
    v = auth()
    senders = [f"198.18.0.{n}" for n in range(1, 6)]
    signed = {s: auth().sign(PDU, 4, 3, 51, s, NOW) for s in senders}
    for s in senders:
        assert v.verify(PDU, signed[s], 4, 3, 51, s, NOW) is Result.OK
    assert len(v.mcast) == ah.MCAST_SENDERS and senders[0] not in v.mcast
    # the evicted sender's old advert is accepted once more (keepalived keeps 4 multicast slots)
    assert v.verify(PDU, signed[senders[0]], 4, 3, 51, senders[0], NOW) is Result.OK
    u = auth()
    assert u.verify(PDU, signed[senders[1]], 4, 3, 51, senders[1], NOW, unicast=True) is Result.OK
    assert u.verify(PDU, signed[senders[1]], 4, 3, 51, senders[1], NOW, unicast=True) is Result.REPLAY


def test_default_window_and_key_decoding():
    assert ah.default_window(1) == 5 and ah.default_window(4) == 12 and ah.default_window(200) == 300
    assert ah.decode_key("hex:00ff") == b"\x00\xff" and ah.decode_key("abc") == b"abc"


def test_split_payload():
    a = auth()
    assert ah.split(PDU + bytes(28), len(PDU), a) == (PDU, bytes(28))
    assert ah.split(PDU, len(PDU), a) == (PDU, None)
    assert ah.split(PDU + bytes(28), len(PDU), None) == (PDU + bytes(28), None)


@settings(max_examples=200, deadline=None)
@given(pdu=st.binary(min_size=8, max_size=80), key=st.binary(min_size=32, max_size=64),
       vrid=st.integers(1, 255), dt=st.floats(-4.9, 4.9), pos=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_round_trip_and_any_tamper_drops(pdu, key, vrid, dt, pos, flip):
    s = HmacAuth(keys={9: key}, active_key=9, time_window=5)
    tr = s.sign(pdu, 4, 3, vrid, "198.18.0.1", NOW)
    assert HmacAuth(keys={9: key}, active_key=9, time_window=5).verify(
        pdu, tr, 4, 3, vrid, "198.18.0.1", NOW + dt) is Result.OK
    whole = bytearray(pdu + tr)
    i = pos % len(whole)
    if i in (6, 7):                      # the VRRP checksum is deliberately not bound
        return
    whole[i] ^= flip
    got = HmacAuth(keys={9: key}, active_key=9, time_window=5).verify(
        bytes(whole[:len(pdu)]), bytes(whole[len(pdu):]), 4, 3, vrid, "198.18.0.1", NOW + dt)
    assert got is not Result.OK


def test_clock_skew_past_half_the_window_is_flagged():
    tr = auth().sign(PDU, 4, 3, 51, "198.18.0.1", NOW)
    v = auth()
    assert v.verify(PDU, tr, 4, 3, 51, "198.18.0.1", NOW + 2) is Result.OK and not v.skew_near_window()
    tr = auth().sign(PDU, 4, 3, 51, "198.18.0.1", NOW + 1)
    assert v.verify(PDU, tr, 4, 3, 51, "198.18.0.1", NOW + 5) is Result.OK
    assert v.last_skew == 4 and v.skew_near_window()
    assert not auth(anti_replay_time=False).skew_near_window()
