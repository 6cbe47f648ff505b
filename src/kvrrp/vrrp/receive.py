"""Receive checks of RFC 5798 section 7.1 / RFC 3768 section 7.1, in order, as named reasons.

`check_advert` returns None for an advert the state machine may act on, otherwise the name of
the first failed check (one of stats.DROP_REASONS). It never raises: anything odd in a packet
is a reason, not an exception. The structural checks (length, version 2/3, type, address
count, checksum) were done by kvrrp.fastpath.decode_advert; here they are only mapped to our
reasons, after the TTL check the RFC puts first.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from kvrrp.io.ports import Received
from kvrrp.vrrp.settings import AUTH_AH, AUTH_NONE, AUTH_PASS, InstanceSettings
from kvrrp.vrrp.stats import FASTPATH_DROP_MAP

VRRP_TTL = 255
_VALID_V2_AUTH = (AUTH_NONE, AUTH_PASS, AUTH_AH)


def peek_vrid(payload: bytes) -> int | None:
    """The VRID byte, when there is one, to find the instance before full validation."""
    return payload[1] if len(payload) >= 2 else None


def is_multicast(address: str) -> bool:
    # cheap textual test; addresses crossing the seam are canonical ipaddress strings
    if ":" in address:
        return address[:2].lower() == "ff"
    first = address.split(".", 1)[0]
    return first.isdigit() and 224 <= int(first) <= 239


def check_ttl(rx: Received, settings: InstanceSettings | None) -> str | None:
    """MUST verify TTL/hop limit 255 (keepalived skips this for unicast instances)."""
    if (settings is None or not settings.is_unicast) and rx.ttl != VRRP_TTL:
        return "ip_ttl"
    return None


def check_decoded(decoded) -> str | None:
    """Map a fastpath Drop to our reason; None for a decoded Advert."""
    reason = getattr(decoded, "reason", None)
    if reason is None:
        return None
    return FASTPATH_DROP_MAP.get(reason, "packet_length")


@dataclass(frozen=True, slots=True)
class InstanceView:
    """What the per-instance checks need to know beyond the settings."""

    settings: InstanceSettings
    vip_set: frozenset[bytes]           # packed advert addresses of this instance
    wire_interval: int                  # our Adver Int field (v2 seconds)
    own_addresses: frozenset[str]       # addresses we send from
    master_address: str | None          # current master (skip_check_adv_addr)


def check_advert(rx: Received, advert, view: InstanceView) -> str | None:
    """Per-instance checks after the VRID matched, in RFC order."""
    s = view.settings
    if advert.version != s.version:
        return "version"
    if s.version == 2:
        if advert.auth_type not in _VALID_V2_AUTH:
            return "invalid_auth_type"
        if advert.auth_type != s.auth_type:
            return "auth_type_mismatch"
        if s.auth_type == AUTH_PASS and not hmac.compare_digest(bytes(advert.auth_data), s.auth_pass):
            return "auth_failure"
        if advert.adver_int != view.wire_interval:
            return "advert_interval"
    if is_multicast(rx.dst) == s.is_unicast:
        return "destination"
    skip = s.skip_check_adv_addr and view.master_address is not None and rx.src == view.master_address
    if not skip and (advert.count != len(view.vip_set) or frozenset(advert.addresses) != view.vip_set):
        return "address_list"
    if s.is_unicast and s.check_unicast_src:
        if rx.src not in s.unicast_peers:
            return "unicast_src"
        for peer, min_ttl, max_ttl in s.unicast_peer_ttl:
            if peer == rx.src and not min_ttl <= rx.ttl <= max_ttl:
                return "ip_ttl"         # keepalived: unicast_peer { IP min_ttl N max_ttl M }
    if rx.src in view.own_addresses:
        return "own_packet"
    return None
