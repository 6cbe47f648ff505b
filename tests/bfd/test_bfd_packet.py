"""BFD control packets: encode/decode round trips and every decode drop reason."""
from __future__ import annotations

import struct

from hypothesis import given, settings, strategies as st

from kvrrp.bfd.packet import DECODE_DROPS, DOWN, INIT, UP, ADMIN_DOWN, Control, Drop, decode

u32 = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def controls(draw):
    state = draw(st.sampled_from([ADMIN_DOWN, DOWN, INIT, UP]))
    your = draw(u32) if state in (ADMIN_DOWN, DOWN) else draw(st.integers(1, 2**32 - 1))
    poll = draw(st.booleans())
    return Control(state=state, my_discr=draw(st.integers(1, 2**32 - 1)), your_discr=your,
                   desired_min_tx=draw(u32), required_min_rx=draw(u32),
                   detect_mult=draw(st.integers(1, 255)), diag=draw(st.integers(0, 8)), poll=poll,
                   final=False if poll else draw(st.booleans()), demand=draw(st.booleans()),
                   cpi=draw(st.booleans()), required_min_echo_rx=draw(u32))


@settings(deadline=None)          # a loaded 2-core machine: no per-example time limit
@given(controls())
def test_round_trip(c):
    data = c.encode()
    assert len(data) == 24
    assert decode(data) == c


@settings(deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_decode_or_drop_never_raise(data):
    out = decode(data)
    assert isinstance(out, (Control, Drop))
    if isinstance(out, Drop):
        assert out.reason in DECODE_DROPS


def _raw(vers=1, diag=0, state=UP, flags=0, mult=3, length=24, my=1, your=2, tail=b""):
    return struct.pack("!BBBBIIIII", (vers << 5) | diag, (state << 6) | flags, mult, length, my, your,
                       100000, 100000, 0) + tail


def test_every_drop_reason():
    cases = {
        "runt": _raw()[:23],
        "bad_version": _raw(vers=2),
        "bad_length": _raw(length=20),
        "truncated": _raw(length=30),
        "zero_detect_mult": _raw(mult=0),
        "multipoint": _raw(flags=0x01),
        "zero_my_discr": _raw(my=0),
        "zero_your_discr": _raw(your=0, state=UP),
        "poll_and_final": _raw(flags=0x30),
        "bad_diag": _raw(diag=9),
    }
    assert set(cases) == set(DECODE_DROPS)
    for reason, data in cases.items():
        assert decode(data) == Drop(reason), reason


def test_auth_bit_needs_auth_section_length():
    assert decode(_raw(flags=0x04)) == Drop("bad_length")
    pkt = decode(_raw(flags=0x04, length=28, tail=b"\x01\x04ab"))
    assert isinstance(pkt, Control) and pkt.auth


def test_down_with_zero_your_discriminator_is_valid():
    pkt = decode(_raw(state=DOWN, your=0))
    assert isinstance(pkt, Control) and pkt.your_discr == 0 and pkt.state == DOWN


def test_wire_layout_matches_rfc5880_figure():
    c = Control(state=INIT, my_discr=0x01020304, your_discr=0x0A0B0C0D, desired_min_tx=1_000_000,
                required_min_rx=300_000, detect_mult=3, diag=3, poll=True)
    data = c.encode()
    assert data[0] == 0x23            # version 1, diag 3
    assert data[1] == 0x80 | 0x20     # state Init, P bit
    assert data[2:4] == b"\x03\x18"
    assert data[4:12] == bytes.fromhex("010203040a0b0c0d")
    assert struct.unpack("!III", data[12:24]) == (1_000_000, 300_000, 0)
