"""RFC 1071 checksum and the RFC 5798 pseudo-header sums, on both implementations."""
from __future__ import annotations

import array
import random
import socket

import pytest


def packed(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text.split("%")[0])



def reference_checksum(data: bytes, initial: int = 0) -> int:
    """Straight from RFC 1071 section 4.1, independent of both implementations."""
    total = initial
    for i in range(0, len(data) - 1, 2):
        total += (data[i] << 8) + data[i + 1]
    if len(data) % 2:
        total += data[-1] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def test_rfc1071_worked_example(impl):
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum (folded) to ddf2.
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert impl.inet_checksum(data) == ~0xDDF2 & 0xFFFF


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 20, 63, 64, 65, 1499, 1500])
def test_matches_reference_at_every_alignment(impl, size):
    rnd = random.Random(size)
    data = bytes(rnd.randrange(256) for _ in range(size))
    assert impl.inet_checksum(data) == reference_checksum(data)
    assert impl.inet_checksum(data, 0x1234567) == reference_checksum(data, 0x1234567)


def test_buffer_with_its_checksum_verifies_to_zero(impl):
    data = bytearray(b"\x45\x00\x00\x1c\x00\x00\x00\x00\xff\x70\x00\x00\xc6\x12\x00\x0b\xe0\x00\x00\x12")
    csum = impl.inet_checksum(data)
    data[10:12] = csum.to_bytes(2, "big")
    assert impl.inet_checksum(data) == 0


def test_all_zero_and_all_ones(impl):
    assert impl.inet_checksum(b"\0" * 10) == 0xFFFF
    assert impl.inet_checksum(b"\xff" * 10) == 0
    assert impl.inet_checksum(b"") == 0xFFFF


def test_any_buffer_type(impl):
    data = bytes(range(37))
    expected = reference_checksum(data)
    assert impl.inet_checksum(bytearray(data)) == expected
    assert impl.inet_checksum(memoryview(data)) == expected
    assert impl.inet_checksum(memoryview(b"xx" + data)[2:]) == expected
    words = array.array("B", data)
    assert impl.inet_checksum(words) == expected


def test_large_initial_sum_is_folded(impl):
    data = b"\x12\x34"
    assert impl.inet_checksum(data, (1 << 64) - 1) == reference_checksum(data, (1 << 64) - 1)


def test_bad_arguments(impl):
    with pytest.raises(TypeError):
        impl.inet_checksum("text")
    with pytest.raises(TypeError):
        impl.inet_checksum(None)
    with pytest.raises(OverflowError):
        impl.inet_checksum(b"ab", -1)
    with pytest.raises(OverflowError):
        impl.inet_checksum(b"ab", 1 << 64)
    with pytest.raises(TypeError):
        impl.inet_checksum(b"ab", 1.5)


def test_pseudo_sum_ipv4(impl):
    src, dst = packed("198.18.0.11"), packed("224.0.0.18")
    expected = 0xC612 + 0x000B + 0xE000 + 0x0012 + 112 + 20
    assert impl.pseudo_sum_ipv4(src, dst, 20) == expected


def test_pseudo_sum_ipv6(impl):
    src, dst = packed("fe80::c6ff:fe12:b"), packed("ff02::12")
    expected = 0xFE80 + 0xC6FF + 0xFE12 + 0x000B + 0xFF02 + 0x0012 + 0x0001 + 0x0002 + 112
    assert impl.pseudo_sum_ipv6(src, dst, 0x10002) == expected


def test_pseudo_sum_against_explicit_header(impl):
    """The sums equal the checksum of an explicitly built pseudo-header."""
    src, dst = packed("198.18.0.1"), packed("198.18.0.2")
    msg = bytes(range(24))
    header4 = src + dst + b"\x00\x70" + len(msg).to_bytes(2, "big")
    assert impl.inet_checksum(msg, impl.pseudo_sum_ipv4(src, dst, len(msg))) == reference_checksum(header4 + msg)
    src6, dst6 = packed("fe80::1"), packed("ff02::12")
    header6 = src6 + dst6 + len(msg).to_bytes(4, "big") + b"\x00\x00\x00\x70"
    assert impl.inet_checksum(msg, impl.pseudo_sum_ipv6(src6, dst6, len(msg))) == reference_checksum(header6 + msg)


def test_pseudo_sum_bad_arguments(impl):
    v4, v6 = packed("198.18.0.1"), packed("fe80::1")
    with pytest.raises(ValueError, match="src must be 4 packed bytes"):
        impl.pseudo_sum_ipv4(v6, v4, 8)
    with pytest.raises(ValueError, match="dst must be 16 packed bytes"):
        impl.pseudo_sum_ipv6(v6, v4, 8)
    with pytest.raises(ValueError, match="length"):
        impl.pseudo_sum_ipv4(v4, v4, 70000)
    with pytest.raises(ValueError, match="length"):
        impl.pseudo_sum_ipv6(v6, v6, -1)
