"""VRRP advertisement encode/decode on both implementations: fields, limits, every drop reason."""
from __future__ import annotations

import dataclasses
import socket

import pytest


def packed(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text.split("%")[0])


SRC4, DST4 = packed("198.18.0.11"), packed("224.0.0.18")
SRC6, DST6 = packed("fe80::c6ff:fe12:b"), packed("ff02::12")
VIP4 = packed("198.18.0.200")
VIP6 = packed("fe80::200")


def v4_addrs(n):
    return [bytes([198, 18, i // 256, i % 256]) for i in range(n)]


def v6_addrs(n):
    return [packed("2001:db8::") [:14] + i.to_bytes(2, "big") for i in range(n)]


def v2(impl, **kw):
    args = dict(version=2, vrid=51, priority=150, addresses=[VIP4], adver_int=1)
    args.update(kw)
    return impl.encode_advert(args.pop("version"), args.pop("vrid"), args.pop("priority"),
                              args.pop("addresses"), args.pop("adver_int"), **args)


def v3(impl, family=4, **kw):
    args = dict(version=3, vrid=51, priority=150, adver_int=100,
                addresses=[VIP4 if family == 4 else VIP6],
                src=SRC4 if family == 4 else SRC6, dst=DST4 if family == 4 else DST6)
    args.update(kw)
    return impl.encode_advert(args.pop("version"), args.pop("vrid"), args.pop("priority"),
                              args.pop("addresses"), args.pop("adver_int"), family=family, **args)


# -- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("count", [0, 1, 3, 20, 255])
def test_v2_round_trip(impl, count):
    addrs = v4_addrs(count)
    msg = v2(impl, addresses=addrs, priority=254, adver_int=3, auth_type=1, auth_data=b"secret")
    assert len(msg) == 8 + 4 * count + 8
    adv = impl.decode_advert(msg, 4)
    assert isinstance(adv, impl.Advert)
    assert (adv.version, adv.type, adv.vrid, adv.priority, adv.count) == (2, 1, 51, 254, count)
    assert (adv.auth_type, adv.auth_data, adv.adver_int) == (1, b"secret\0\0", 3)
    assert adv.addresses == tuple(addrs)
    assert adv.checksum_ok is True
    assert adv.checksum == int.from_bytes(msg[6:8], "big")


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("count", [0, 1, 3, 20, 255])
def test_v3_round_trip(impl, family, count):
    addrs = v4_addrs(count) if family == 4 else v6_addrs(count)
    msg = v3(impl, family, addresses=addrs, adver_int=4095, priority=0)
    assert len(msg) == 8 + (4 if family == 4 else 16) * count
    src, dst = (SRC4, DST4) if family == 4 else (SRC6, DST6)
    adv = impl.decode_advert(msg, family, src, dst)
    assert isinstance(adv, impl.Advert)
    assert (adv.version, adv.vrid, adv.priority, adv.count, adv.adver_int) == (3, 51, 0, count, 4095)
    assert adv.auth_type == 0 and adv.auth_data == b""
    assert adv.addresses == tuple(addrs)
    assert adv.checksum_ok is True


def test_v3_without_pseudo_header_leaves_checksum_unverified(impl):
    msg = v3(impl)
    adv = impl.decode_advert(msg, 4)
    assert isinstance(adv, impl.Advert) and adv.checksum_ok is None


def test_v3_checksum_depends_on_pseudo_header(impl):
    msg = v3(impl)
    assert impl.decode_advert(msg, 4, SRC4, packed("198.18.0.12")) == impl.Drop("checksum")
    assert impl.decode_advert(msg, 4, packed("198.18.0.12"), DST4) == impl.Drop("checksum")


def test_text_addresses_are_accepted(impl):
    assert v3(impl, addresses=["198.18.0.200"], src="198.18.0.11", dst="224.0.0.18") == v3(impl)
    adv = impl.decode_advert(v3(impl), 4, "198.18.0.11", "224.0.0.18")
    assert adv.checksum_ok is True


def test_v3_reserved_bits_are_ignored_on_receive(impl):
    msg = bytearray(v3(impl, src=SRC4, dst=DST4))
    msg[4] |= 0xF0  # rsvd nibble, then fix the checksum so only rsvd differs
    msg[6:8] = b"\0\0"
    msg[6:8] = impl.inet_checksum(msg, impl.pseudo_sum_ipv4(SRC4, DST4, len(msg))).to_bytes(2, "big")
    adv = impl.decode_advert(bytes(msg), 4, SRC4, DST4)
    assert isinstance(adv, impl.Advert) and adv.adver_int == 100


def test_v2_auth_types(impl):
    for auth_type, data in ((0, b""), (1, b"kvpass12"), (2, b"")):
        adv = impl.decode_advert(v2(impl, auth_type=auth_type, auth_data=data), 4)
        assert adv.auth_type == auth_type
        assert adv.auth_data == data.ljust(8, b"\0")


def test_decode_accepts_any_buffer(impl):
    msg = v2(impl)
    expected = impl.decode_advert(msg, 4)
    assert impl.decode_advert(bytearray(msg), 4) == expected
    assert impl.decode_advert(memoryview(b"\0" + msg)[1:], 4) == expected


# -- drops ------------------------------------------------------------------------------------

def mutate(msg: bytes, offset: int, value: int) -> bytes:
    out = bytearray(msg)
    out[offset] = value
    return bytes(out)


def fix_v2_checksum(impl, msg: bytes) -> bytes:
    out = bytearray(msg)
    out[6:8] = b"\0\0"
    out[6:8] = impl.inet_checksum(out).to_bytes(2, "big")
    return bytes(out)


def test_every_drop_reason_is_reachable(impl):
    good2 = v2(impl)
    good3 = v3(impl)
    cases = [
        ("family", impl.decode_advert(good2, 5)),
        ("packet_length", impl.decode_advert(good2[:7], 4)),                  # too short
        ("version", impl.decode_advert(mutate(good2, 0, 0x11), 4)),
        ("invalid_type", impl.decode_advert(mutate(good2, 0, 0x22), 4)),
        ("packet_length", impl.decode_advert(good2 + b"\0", 4)),              # not whole addresses
        ("packet_length", impl.decode_advert(mutate(good2, 3, 2), 4)),         # count disagrees
        ("checksum", impl.decode_advert(good3, 4, SRC6, DST4)),               # pseudo-header unusable
        ("checksum", impl.decode_advert(mutate(good2, 9, 0), 4)),
        ("invalid_auth_type", impl.decode_advert(fix_v2_checksum(impl, mutate(good2, 4, 3)), 4)),
        ("unknown_vrid", impl.decode_advert(fix_v2_checksum(impl, mutate(good2, 1, 0)), 4)),
    ]
    for reason, result in cases:
        assert result == impl.Drop(reason), reason
    assert {reason for reason, _ in cases} == set(impl.DROP_REASONS)


def test_short_v2_without_auth_data_is_too_short(impl):
    assert impl.decode_advert(v2(impl, addresses=[])[:12], 4) == impl.Drop("packet_length")


def test_v2_on_ipv6_is_a_bad_version(impl):
    msg = bytes.fromhex("2133960100010000") + VIP6 + b"\0" * 8
    assert impl.decode_advert(msg, 6) == impl.Drop("version")


def test_decode_never_raises_on_junk(impl):
    for junk in (b"", b"\x21", b"\x31" * 7, b"\xff" * 4000, bytes(range(256)) * 20):
        for family in (4, 6, 0, None, "4"):
            result = impl.decode_advert(junk, family, b"\0", "nonsense")
            assert isinstance(result, (impl.Advert, impl.Drop))


def test_decode_rejects_non_buffers_with_type_error(impl):
    with pytest.raises(TypeError):
        impl.decode_advert("2133", 4)
    with pytest.raises(TypeError):
        impl.decode_advert(None, 4)


# -- encode errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(version=4), "version 4 out of range 2..3"),
    (dict(vrid=0), "vrid 0 out of range 1..255"),
    (dict(vrid=256), "vrid 256 out of range"),
    (dict(priority=-1), "priority -1 out of range 0..255"),
    (dict(adver_int=256), "adver_int 256 out of range 0..255"),
    (dict(vrid="1"), "vrid must be an integer"),
    (dict(priority=True), "priority must be an integer"),
    (dict(auth_type=3), "auth_type 3 out of range 0..2"),
    (dict(auth_data=b"123456789"), "auth_data is at most 8 bytes"),
    (dict(addresses=[b"\0" * 5]), "address must be 4 packed bytes"),
    (dict(addresses=["fe80::1"]), "is not an IPv4 address"),
    (dict(addresses=[VIP4] * 256), "at most 255 addresses"),
    (dict(family=6), "IPv4 only"),
    (dict(family=5), "family must be 4 or 6"),
    (dict(type=16), "type 16 out of range 0..15"),
])
def test_v2_encode_errors(impl, kwargs, message):
    with pytest.raises(ValueError, match=message):
        v2(impl, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(adver_int=4096), "adver_int 4096 out of range 0..4095"),
    (dict(src=None), "needs src and dst"),
    (dict(dst=None), "needs src and dst"),
    (dict(auth_type=1), "no authentication"),
    (dict(auth_data=b"x"), "no authentication"),
    (dict(src=SRC6), "src must be 4 packed bytes"),
    (dict(dst="ff02::12"), "dst 'ff02::12' is not an IPv4 address"),
])
def test_v3_encode_errors(impl, kwargs, message):
    with pytest.raises(ValueError, match=message):
        v3(impl, **kwargs)


def test_encode_type_field_for_crafting_bad_packets(impl):
    msg = v2(impl, type=2)
    assert msg[0] == 0x22
    assert impl.decode_advert(msg, 4) == impl.Drop("invalid_type")


# -- value objects ----------------------------------------------------------------------------

def test_advert_is_read_only_compares_by_fields_and_hashes(impl):
    a = impl.decode_advert(v2(impl), 4)
    b = impl.decode_advert(v2(impl), 4)
    assert a == b and hash(a) == hash(b)
    assert a != impl.decode_advert(v2(impl, priority=1), 4)
    with pytest.raises(AttributeError):
        a.priority = 1
    assert "priority=150" in repr(a)
    assert a == impl.Advert(2, 1, 51, 150, 1, 0, 1, a.checksum, True, (VIP4,), b"\0" * 8)


def test_drop_compares_by_reason(impl):
    assert impl.Drop("invalid_type") == impl.Drop("invalid_type")
    assert impl.Drop("invalid_type") != impl.Drop("packet_length")
    assert hash(impl.Drop("x")) == hash(impl.Drop("x"))
    assert repr(impl.Drop("invalid_type")) == "Drop(reason='invalid_type')"
    with pytest.raises(AttributeError):
        impl.Drop("x").reason = "y"


def test_to_dict_is_json_ready(impl):
    adv = impl.decode_advert(v2(impl, auth_type=1, auth_data=b"pw"), 4)
    assert adv.to_dict() == {
        "version": 2, "type": 1, "vrid": 51, "priority": 150, "count": 1, "auth_type": 1,
        "adver_int": 1, "checksum": adv.checksum, "checksum_ok": True,
        "addresses": ["198.18.0.200"], "auth_data": "7077000000000000",
    }
    adv6 = impl.decode_advert(v3(impl, 6), 6)
    assert adv6.to_dict()["addresses"] == ["fe80::200"] and adv6.to_dict()["checksum_ok"] is None


# -- batches ----------------------------------------------------------------------------------

# -- keepalived's v3_checksum_as_v2 and IPv6 scope ids ------------------------------------------

def test_v3_checksum_as_v2_on_ipv4(impl):
    msg = impl.encode_advert(3, 51, 150, [VIP4], 100, v3_checksum_as_v2=True)  # no src/dst needed
    assert impl.inet_checksum(msg) == 0  # checksum over the message alone
    adv = impl.decode_advert(msg, 4, v3_checksum_as_v2=True)
    assert isinstance(adv, impl.Advert) and adv.checksum_ok is True
    assert impl.decode_advert(msg, 4, SRC4, DST4) == impl.Drop("checksum")
    assert impl.decode_advert(v3(impl), 4, SRC4, DST4, v3_checksum_as_v2=True) == impl.Drop("checksum")


def test_v3_checksum_as_v2_does_not_apply_to_ipv6(impl):
    with pytest.raises(ValueError, match="needs src and dst"):
        impl.encode_advert(3, 51, 150, [VIP6], 100, family=6, v3_checksum_as_v2=True)
    msg = v3(impl, 6)
    assert impl.decode_advert(msg, 6, SRC6, DST6, v3_checksum_as_v2=True).checksum_ok is True


def test_text_addresses_may_carry_a_scope_id(impl):
    msg = v3(impl, 6)
    adv = impl.decode_advert(msg, 6, "fe80::c6ff:fe12:b%eth0", "ff02::12")
    assert adv.checksum_ok is True
    assert v3(impl, 6, src="fe80::c6ff:fe12:b%veth1", addresses=["fe80::200%veth1"]) == msg
    assert impl.decode_advert(msg, 6, "fe80::c6ff:fe12:b%eth0", "224.0.0.18") == impl.Drop("checksum")
