"""Announcement frames against keepalived 2.2.7's own, captured on the wire (shared/vectors)."""
from __future__ import annotations

import pytest

from kvrrp.io.addresses import scope_number
from kvrrp.io.announce import garp_frame, unsolicited_na_frame

from kvio_vectors import KEEPALIVED_GARP, KEEPALIVED_NA, MAC


def test_garp_matches_keepalived_byte_for_byte() -> None:
    assert garp_frame(MAC, "198.18.0.200") == KEEPALIVED_GARP


def test_unsolicited_na_matches_keepalived_byte_for_byte() -> None:
    assert unsolicited_na_frame(MAC, "fe80::200") == KEEPALIVED_NA


def test_na_router_flag_changes_flags_and_checksum() -> None:
    frame = unsolicited_na_frame(MAC, "fe80::200", router=True)
    assert frame[58] == 0xA0  # Router | Override
    assert frame[56:58] != KEEPALIVED_NA[56:58]
    # checksum still verifies: ones-complement sum over pseudo-header + body is 0xffff
    import struct
    body = frame[54:]
    pseudo = frame[22:38] + frame[38:54] + struct.pack("!I3xB", len(body), 58)
    data = pseudo + body
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF


@pytest.mark.parametrize("name,value", [("host", 254), ("link", 253), ("global", 0),
                                        ("site", 200), ("nowhere", 255), ("17", 17), (None, None)])
def test_scope_names(name: str | None, value: int | None) -> None:
    assert scope_number(name) == value


@pytest.mark.parametrize("bad", ["planet", "256", "-1"])
def test_bad_scope_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        scope_number(bad)
