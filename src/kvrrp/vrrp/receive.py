"""The one receive validator: RFC 5798 section 7.1 / RFC 3768 section 7.1, in order, as named reasons.

`validate(rx, inst, vmac_base_copy)` takes a received packet and the instance its
(interface, family, VRID) routes to, and returns a Verdict: the decoded advert the state machine
may act on, or the name of the first failed check (one of stats.DROP_REASONS, the same names the
fast path's decode_advert uses). It never raises: anything odd in a packet is a reason, not an
exception. The engine only routes the packet here and carries the verdict out (counts the drop,
or hands the advert to the instance's state machine).

Order: TTL / hop limit (the RFC's first check) -> the structural checks of the fast path's
decode_advert (length, version 2/3, type, checksum in the variant the instance uses, auth type,
VRID 0) -> the VRID is one of ours -> per instance: version, v2 authentication and interval,
multicast/unicast destination, address list, unicast source, our own advert -> the instance
is running. The steady-state adverts of a BACKUP never get here: the fast path's ReceiveTable
runs the same checks in C and restarts Master_Down_Timer (docs/fastpath.md).
"""
from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import logging
import time
from dataclasses import dataclass

from kvrrp import fastpath
from kvrrp.io.ports import Received
from kvrrp.vrrp import auth_hmac
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.settings import AUTH_AH, AUTH_NONE, AUTH_PASS, InstanceSettings
from kvrrp.wire import VRRP_TTL

log = logging.getLogger("kvrrp.vrrp")

_VALID_V2_AUTH = (AUTH_NONE, AUTH_PASS, AUTH_AH)
_RUNNING = (State.BACKUP, State.MASTER, State.FAULT)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What validate() found. advert: the decoded advert when reason is None.
    old_checksum: the advert verified only with the pre-1.3.6 unicast checksum (keepalived's
    auto mode: the instance switches to that form; the engine tells it)."""

    reason: str | None
    advert: object = None
    old_checksum: bool = False


@dataclass(frozen=True, slots=True)
class InstanceView:
    """What the per-instance checks need to know beyond the settings."""

    settings: InstanceSettings
    vip_set: frozenset[bytes]           # packed advert addresses of this instance
    wire_interval: int                  # our Adver Int field (v2 seconds)
    own_addresses: frozenset[str]       # addresses we send from
    master_address: str | None          # current master (skip_check_adv_addr)


def peek_vrid(payload: bytes) -> int | None:
    """The VRID byte, when there is one, to find the instance before full validation."""
    return payload[1] if len(payload) >= 2 else None


def is_multicast(address: str) -> bool:
    # cheap textual test; addresses crossing the seam are canonical ipaddress strings
    if ":" in address:
        return address[:2].lower() == "ff"
    first = address.split(".", 1)[0]
    return first.isdigit() and 224 <= int(first) <= 239


def validate(rx: Received, inst, vmac_base_copy: bool = False) -> Verdict:
    """Every receive check of one packet, in RFC order. inst: the VrrpInstanceRuntime its
    (interface, family, VRID) routes to, or None. vmac_base_copy: no instance here, but a VMAC
    instance has this VRID on this base interface (its macvlan hears the same advert)."""
    settings = inst.settings if inst is not None else None
    # keepalived checks TTL 255 for multicast only (unicast adverts may cross routers)
    if (settings is None or not settings.is_unicast) and rx.ttl != VRRP_TTL:
        return Verdict("ip_ttl")
    hm = getattr(inst, "hmac", None)
    trailer = None
    if hm is not None:
        pdu, trailer = auth_hmac.split(rx.payload, auth_hmac.expected_length(rx.payload, rx.family), hm)
        if trailer is not None:
            decoded, old_checksum = _decode_with_trailer(rx, inst, pdu)
        else:
            decoded, old_checksum = _decode(rx, inst)
    else:
        decoded, old_checksum = _decode(rx, inst)
    reason = getattr(decoded, "reason", None)
    if reason is not None:
        return Verdict(reason)
    if inst is None:
        # a peer without our virtual MAC: the base interface hears it as well as the VMAC; the
        # VMAC's copy is the one that counts
        return Verdict("vmac_base_copy" if vmac_base_copy else "unknown_vrid")
    reason = check_advert(rx, decoded, inst.receive_view(inst.own_address), hm,
                          rx.payload[:len(rx.payload) - auth_hmac.TRAILER_LEN] if trailer is not None else None,
                          trailer)
    if reason is None and inst.state not in _RUNNING:
        reason = "not_running"
    return Verdict(reason, decoded if reason is None else None, old_checksum)


def _decode(rx: Received, inst):
    """decode_advert with the checksum variant the instance uses: (Advert or Drop, old_checksum)."""
    s = inst.settings if inst is not None else None
    if s is not None and s.v3_checksum_as_v2:
        decoded = fastpath.decode_advert(rx.payload, rx.family)       # no pseudo-header
        if getattr(decoded, "reason", None) is None and decoded.version == 3 and fastpath.inet_checksum(rx.payload):
            return fastpath.Drop("checksum"), False
        return decoded, False
    if s is not None and s.old_unicast_checksum_possible and rx.dst != s.compat_group:
        # v3 IPv4 unicast: keepalived <= 1.3.6 put the multicast group in the pseudo-header. In
        # old mode only that form verifies; in auto mode the real destination is tried first
        if inst.old_unicast_checksum:
            return fastpath.decode_advert(rx.payload, rx.family, rx.src, s.compat_group), False
        decoded = fastpath.decode_advert(rx.payload, rx.family, rx.src, rx.dst)
        if getattr(decoded, "reason", None) == "checksum":
            retry = fastpath.decode_advert(rx.payload, rx.family, rx.src, s.compat_group)
            if getattr(retry, "reason", None) is None:
                return retry, True
        return decoded, False
    return fastpath.decode_advert(rx.payload, rx.family, rx.src, rx.dst), False


def _decode_with_trailer(rx: Received, inst, pdu: bytes):
    """decode_advert of the PDU in front of an auth_hmac trailer. IPv4: the VRRP checksum covers
    the PDU alone (keepalived computes it so); IPv6: keepalived's kernel (IPV6_CHECKSUM) covers
    the whole payload, trailer included, so that is verified here and the PDU decoded as is."""
    if rx.family == 6 and pdu[:1] and pdu[0] >> 4 == 3:
        try:
            pseudo = fastpath.pseudo_sum_ipv6(ipaddress.ip_address(rx.src).packed, ipaddress.ip_address(rx.dst).packed,
                                              len(rx.payload))
        except ValueError:
            return fastpath.Drop("checksum"), False
        if fastpath.inet_checksum(rx.payload, pseudo):
            return fastpath.Drop("checksum"), False
        return fastpath.decode_advert(pdu, rx.family), False
    return _decode(dataclasses.replace(rx, payload=pdu), inst)


def check_advert(rx: Received, advert, view: InstanceView, hm: auth_hmac.HmacAuth | None = None,
                 pdu: bytes | None = None, trailer: bytes | None = None) -> str | None:
    """Per-instance checks after the VRID matched, in RFC order; auth_hmac right after the version
    as keepalived has it, before any field reaches the state machine. pdu/trailer: the payload
    split by auth_hmac.split (trailer None when there was none)."""
    s = view.settings
    if advert.version != s.version:
        return "version"
    if hm is not None:
        if trailer is not None and s.is_unicast and rx.src not in s.unicast_peers:
            return "unicast_src"         # keepalived: the replay state is anchored at a configured peer
        result = hm.verify(pdu if pdu is not None else rx.payload, trailer, s.family, s.version, s.vrid, rx.src,
                           time.time(), unicast=s.is_unicast)
        if result is not auth_hmac.Result.OK:
            return result.value
        if trailer is not None and hm.skew_near_window():
            hm.skew_warnings += 1
            if str(hm.skew_warnings).rstrip("0") == "1":      # 1st, 10th, 100th ...: no log flood
                log.warning("(%s) authentication clock skew %d sec from %s approaching window %d sec",
                            s.name, hm.last_skew, rx.src, hm.time_window)
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
