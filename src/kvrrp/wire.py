"""VRRP's wire constants and the IP / Ethernet / ARP / neighbour-advertisement parsers, once.

Used by the raw transport (constants), the GARP/NA sender, the packet tool (`kvrrp-packet`)
and the test lab's capture. The VRRP message itself is the fast path's job
(kvrrp.fastpath.decode_advert / encode_advert); this module finds it inside IP packets and
frames. Parsers are pure: bytes in, values out, MalformedPacket (a ValueError whose message
says what is wrong) for bytes that cannot be what was asked for.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

IPPROTO_VRRP = 112
IPPROTO_AH = 51
IPPROTO_ICMPV6 = 58
VRRP_GROUP4 = "224.0.0.18"
VRRP_GROUP6 = "ff02::12"
VRRP_GROUP = {4: VRRP_GROUP4, 6: VRRP_GROUP6}
VRRP_TTL = 255

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ETH_P_VLAN = (0x8100, 0x88A8)
ETH_HEADER = 14
ND_NEIGHBOR_ADVERT = 136
ARP_REQUEST = 1

_IPV6_SKIPPABLE = (0, 43, 60)  # hop-by-hop, routing, destination options: walk past them


class MalformedPacket(ValueError):
    """Bytes that are not what was asked for; the message says why."""


class NotThisFormat(MalformedPacket):
    """The bytes do not even look like the link-layer format tried."""


@dataclass(frozen=True)
class IpVrrp:
    """The VRRP message inside an IP packet, with what the IP header said."""

    family: int
    src: bytes
    dst: bytes
    ttl: int                 # TTL / hop limit
    protocol: int            # 112 (VRRP) or 51 (AH carrying VRRP)
    payload: bytes


@dataclass(frozen=True)
class ArpInfo:
    op: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _after_ah(data: bytes, what: str) -> tuple[int, bytes]:
    """(next header, rest) after an IPsec AH header (RFC 4302: length in 32-bit words minus 2)."""
    if len(data) < 12:
        raise MalformedPacket(f"{what}: AH header truncated")
    ah_len = (data[1] + 2) * 4
    if len(data) < ah_len:
        raise MalformedPacket(f"{what}: AH header says {ah_len} bytes, only {len(data)} present")
    return data[0], data[ah_len:]


def vrrp_in_ipv4(data: bytes) -> IpVrrp:
    if len(data) < 20 or data[0] >> 4 != 4:
        raise MalformedPacket("not an IPv4 packet (needs a 20-byte header starting with version 4)")
    ihl = (data[0] & 0x0F) * 4
    total = struct.unpack_from("!H", data, 2)[0]
    if ihl < 20 or len(data) < ihl:
        raise MalformedPacket(f"IPv4 header length {ihl} is invalid for {len(data)} bytes")
    if total < ihl or total > len(data):
        raise MalformedPacket(f"IPv4 total length {total} does not fit the {len(data)} bytes given")
    proto = data[9]
    body = data[ihl:total]  # total length also strips Ethernet padding
    if proto == IPPROTO_AH:
        inner, body = _after_ah(body, "IPv4")
        if inner != IPPROTO_VRRP:
            raise MalformedPacket(f"AH carries protocol {inner}, not VRRP (112)")
    elif proto != IPPROTO_VRRP:
        raise MalformedPacket(f"IPv4 protocol {proto} is not VRRP (112) or AH (51)")
    return IpVrrp(4, data[12:16], data[16:20], data[8], proto, body)


def vrrp_in_ipv6(data: bytes) -> IpVrrp:
    if len(data) < 40 or data[0] >> 4 != 6:
        raise MalformedPacket("not an IPv6 packet (needs a 40-byte header starting with version 6)")
    plen = struct.unpack_from("!H", data, 4)[0]
    if 40 + plen > len(data):
        raise MalformedPacket(f"IPv6 payload length {plen} does not fit the {len(data)} bytes given")
    nh, hlim, src, dst = data[6], data[7], data[8:24], data[24:40]
    body = data[40:40 + plen]
    outer = nh
    while nh in _IPV6_SKIPPABLE:
        if len(body) < 8 or len(body) < (body[1] + 1) * 8:
            raise MalformedPacket("IPv6 extension header truncated")
        nh, body = body[0], body[(body[1] + 1) * 8:]
    if nh == IPPROTO_AH:
        outer = IPPROTO_AH
        nh, body = _after_ah(body, "IPv6")
    if nh != IPPROTO_VRRP:
        raise MalformedPacket(f"IPv6 next header {nh} is not VRRP (112) or AH (51)")
    return IpVrrp(6, src, dst, hlim, outer, body)


def vrrp_in_ip(data: bytes) -> IpVrrp:
    if data and data[0] >> 4 == 4:
        return vrrp_in_ipv4(data)
    if data and data[0] >> 4 == 6:
        return vrrp_in_ipv6(data)
    raise MalformedPacket("not an IP packet (first nibble is neither 4 nor 6)")


def link_payload(data: bytes, type_offset: int = 12, link: str = "ether") -> tuple[int, bytes]:
    """(ethertype, payload) of a link-layer frame whose type field is at `type_offset` (12 for
    Ethernet, 14 for Linux cooked captures), past any VLAN tags."""
    offset = type_offset
    if len(data) < offset + 2:
        raise NotThisFormat(f"{link} header truncated")
    ethertype = struct.unpack_from("!H", data, offset)[0]
    while ethertype in ETH_P_VLAN and len(data) >= offset + 6:
        offset += 4
        ethertype = struct.unpack_from("!H", data, offset)[0]
    return ethertype, data[offset + 2:]


def vrrp_in_frame(data: bytes, type_offset: int = 12, link: str = "ether") -> IpVrrp:
    """The VRRP message in a link-layer frame; NotThisFormat when it carries no IP."""
    ethertype, ip = link_payload(data, type_offset, link)
    if ethertype == ETH_P_IP and ip[:1] and ip[0] >> 4 == 4:
        return vrrp_in_ipv4(ip)
    if ethertype == ETH_P_IPV6 and ip[:1] and ip[0] >> 4 == 6:
        return vrrp_in_ipv6(ip)
    raise NotThisFormat(f"{link} frame carries ethertype 0x{ethertype:04x}, not IPv4/IPv6")


def arp_in_frame(frame: bytes) -> ArpInfo | None:
    """The ARP message of an Ethernet frame, or None."""
    if len(frame) < ETH_HEADER + 28 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_ARP:
        return None
    d = frame
    op = struct.unpack_from("!H", d, 20)[0]
    return ArpInfo(op, mac_text(d[22:28]), socket.inet_ntoa(d[28:32]), mac_text(d[32:38]), socket.inet_ntoa(d[38:42]))


def na_target_in_frame(frame: bytes) -> str | None:
    """The target address of an ICMPv6 neighbour advertisement in an Ethernet frame, or None."""
    d = frame
    if (len(d) < ETH_HEADER + 40 + 24 or struct.unpack_from("!H", d, 12)[0] != ETH_P_IPV6
            or d[20] != IPPROTO_ICMPV6 or d[54] != ND_NEIGHBOR_ADVERT):
        return None
    return socket.inet_ntop(socket.AF_INET6, d[62:78])
