"""kvrrp.wire: the one home of the IP / Ethernet / ARP / NA parsers the transport, the packet
tool and the lab's capture share."""
from __future__ import annotations

import socket
import struct

import pytest

from kvrrp import fastpath, wire
from kvrrp.packet_cli import ip_header

SRC4, DST4 = socket.inet_aton("198.18.0.1"), socket.inet_aton(wire.VRRP_GROUP4)
VRRP = fastpath.encode_advert(2, 51, 100, [socket.inet_aton("198.18.0.200")], 1)
MAC = bytes.fromhex("0200c6120011")


def ether(ethertype: int, payload: bytes, dst: bytes = b"\xff" * 6) -> bytes:
    return dst + MAC + struct.pack("!H", ethertype) + payload


def test_vrrp_in_ipv4_ipv6_and_frames():
    packet = ip_header(4, SRC4, DST4, len(VRRP)) + VRRP
    found = wire.vrrp_in_ip(packet + b"\0" * 6)            # Ethernet padding cut by total length
    assert (found.family, found.src, found.dst, found.ttl, found.protocol, found.payload) == (
        4, SRC4, DST4, 255, wire.IPPROTO_VRRP, VRRP)
    assert wire.vrrp_in_frame(ether(wire.ETH_P_IP, packet)) == found
    tagged = MAC + MAC + struct.pack("!HH", 0x8100, 5) + struct.pack("!H", wire.ETH_P_IP) + packet
    assert wire.vrrp_in_frame(tagged) == found
    src6, dst6 = socket.inet_pton(socket.AF_INET6, "fe80::1"), socket.inet_pton(socket.AF_INET6, wire.VRRP_GROUP6)
    v3 = fastpath.encode_advert(3, 51, 100, [src6], 100, family=6, src=src6, dst=dst6)
    six = wire.vrrp_in_frame(ether(wire.ETH_P_IPV6, ip_header(6, src6, dst6, len(v3)) + v3))
    assert (six.family, six.ttl, six.payload) == (6, 255, v3)


@pytest.mark.parametrize("data, message", [
    (b"\x45" + b"\0" * 10, "not an IPv4 packet"),
    (b"\x46" + b"\0" * 19, "header length 24"),
    (bytes([0x45, 0, 0, 200]) + b"\0" * 16, "total length 200"),
    (bytes([0x45, 0, 0, 20, 0, 0, 0, 0, 255, 6]) + b"\0" * 10, "protocol 6 is not VRRP"),
    (b"\x20" + b"\0" * 40, "not an IP packet"),
])
def test_malformed_packets_say_why(data, message):
    with pytest.raises(wire.MalformedPacket, match=message):
        wire.vrrp_in_ip(data)


def test_frames_without_ip_are_not_this_format():
    with pytest.raises(wire.NotThisFormat):
        wire.vrrp_in_frame(ether(wire.ETH_P_ARP, b"\0" * 28))
    with pytest.raises(wire.NotThisFormat):
        wire.vrrp_in_frame(b"\0" * 5)


def test_arp_and_na_in_frames():
    vip = socket.inet_aton("198.18.0.200")
    garp = ether(wire.ETH_P_ARP, struct.pack("!HHBBH", 1, wire.ETH_P_IP, 6, 4, wire.ARP_REQUEST)
                 + MAC + vip + b"\xff" * 6 + vip)
    info = wire.arp_in_frame(garp)
    assert (info.op, info.sender_ip, info.target_ip, info.sender_mac) == (1, "198.18.0.200", "198.18.0.200",
                                                                          "02:00:c6:12:00:11")
    assert wire.arp_in_frame(garp[:30]) is None and wire.na_target_in_frame(garp) is None
    target = socket.inet_pton(socket.AF_INET6, "2001:2::200")
    icmp = bytes([wire.ND_NEIGHBOR_ADVERT, 0, 0, 0, 0x20, 0, 0, 0]) + target
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(icmp), wire.IPPROTO_ICMPV6, 255, target, target)
    assert wire.na_target_in_frame(ether(wire.ETH_P_IPV6, ip6 + icmp)) == "2001:2::200"
