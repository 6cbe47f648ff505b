"""Gratuitous ARP and unsolicited neighbour advertisements, byte for byte as keepalived sends them.

IPv4 (keepalived vrrp_arp.c): an Ethernet broadcast ARP *request* whose sender and target protocol
addresses are both the VIP, sender hardware address the interface MAC, target hardware address
ff:ff:ff:ff:ff:ff; 42 bytes, no padding.
IPv6 (vrrp_ndisc.c): a neighbour advertisement from the VIP itself to ff02::1 (Ethernet
33:33:00:00:00:01), hop limit 255, Override flag (plus Router when the interface forwards IPv6),
target = the VIP, one Target Link-Layer Address option with the interface MAC.
Both go out through one AF_PACKET socket that receives nothing (protocol 0).
"""
from __future__ import annotations

import logging
import socket
import struct
import time
from collections import Counter
from contextlib import nullcontext

from kvrrp.io.ifinfo import ARPHRD_ETHER, IFF_NOARP, hardware_address, interface_flags, ipv6_forwarding
from kvrrp.io.netns import entered
from kvrrp.wire import ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ND_NEIGHBOR_ADVERT

log = logging.getLogger("kvrrp.io")

BROADCAST_MAC = b"\xff" * 6
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"
ALL_NODES = socket.inet_pton(socket.AF_INET6, "ff02::1")
ND_NA_FLAG_ROUTER = 0x80
ND_NA_FLAG_OVERRIDE = 0x20
ND_OPT_TARGET_LINKADDR = 2
# How long an interface's MAC / flags / IPv6 forwarding are trusted: a GARP burst (5 frames
# back to back by default) asks once, a change of MAC or NOARP is seen within this time.
INTERFACE_INFO_TTL = 1.0
_MAX_FRAMES = 4096


def _ones_complement(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def garp_frame(mac: bytes, address: str) -> bytes:
    """keepalived's gratuitous ARP request for IPv4 `address` from interface MAC `mac`."""
    ip = socket.inet_aton(address)
    eth = BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", ARPHRD_ETHER, ETH_P_IP, 6, 4, 1) + mac + ip + BROADCAST_MAC + ip
    return eth + arp


def unsolicited_na_frame(mac: bytes, address: str, router: bool = False) -> bytes:
    """keepalived's unsolicited neighbour advertisement for IPv6 `address` from MAC `mac`."""
    target = socket.inet_pton(socket.AF_INET6, address)
    flags = ND_NA_FLAG_OVERRIDE | (ND_NA_FLAG_ROUTER if router else 0)
    option = struct.pack("!BB", ND_OPT_TARGET_LINKADDR, 1) + mac
    body = struct.pack("!BBHB3x", ND_NEIGHBOR_ADVERT, 0, 0, flags) + target + option
    pseudo = target + ALL_NODES + struct.pack("!I3xB", len(body), 58)
    checksum = _ones_complement(pseudo + body)
    body = body[:2] + struct.pack("!H", checksum) + body[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + target + ALL_NODES
    return ALL_NODES_MAC + mac + struct.pack("!H", ETH_P_IPV6) + ip6 + body


class PacketAnnouncer:
    """Announcer over AF_PACKET; `netns` (tests) sends from another namespace's interfaces."""

    def __init__(self, netns: str | None = None) -> None:
        self._netns = netns
        with entered(netns) if netns else nullcontext():
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self._sock.setblocking(False)
        self.stats: Counter[str] = Counter()
        self._info: dict[str, tuple[float, bytes | None, str | None]] = {}   # ifname -> (at, mac, skip)
        self._forwarding: dict[str, tuple[float, bool]] = {}                  # ifname -> (at, router)
        self._frames: dict[tuple[str, bytes, str, bool], bytes] = {}

    def prepare(self, ifname: str, address: str, family: int = 4) -> None:
        """Build the frame for a VIP now (config time) so the first announcement after a
        takeover is one sendto()."""
        mac = self._interface(ifname)
        if mac is not None:
            self._frame(ifname, mac, address, family)

    def _frame(self, ifname: str, mac: bytes, address: str, family: int) -> bytes:
        router = False
        if family == 6:
            router = self._router(ifname)
        key = (ifname, mac, address, router)
        frame = self._frames.get(key)
        if frame is None:
            if len(self._frames) >= _MAX_FRAMES:
                self._frames.clear()
            frame = garp_frame(mac, address) if family == 4 else unsolicited_na_frame(mac, address, router=router)
            self._frames[key] = frame
        return frame

    def _router(self, ifname: str) -> bool:
        cached = self._forwarding.get(ifname)
        now = time.monotonic()
        if cached is not None and now - cached[0] < INTERFACE_INFO_TTL:
            return cached[1]
        with entered(self._netns) if self._netns else nullcontext():
            router = ipv6_forwarding(ifname)
        self._forwarding[ifname] = (now, router)
        return router

    def _interface(self, ifname: str) -> bytes | None:
        """The interface MAC, or None (counted) when it cannot or must not carry announcements."""
        now = time.monotonic()
        cached = self._info.get(ifname)
        if cached is not None and now - cached[0] < INTERFACE_INFO_TTL:
            _at, mac, skip = cached
            if skip is not None:
                self.stats[skip] += 1
            return mac
        mac, skip = self._lookup_interface(ifname)
        if skip != "skipped_no_interface":     # a missing interface is asked again next time
            self._info[ifname] = (now, mac, skip)
        if skip is not None:
            self.stats[skip] += 1
        return mac

    def _lookup_interface(self, ifname: str) -> tuple[bytes | None, str | None]:
        try:
            hatype, mac = hardware_address(self._sock, ifname)
            flags = interface_flags(self._sock, ifname)
        except OSError as exc:
            log.warning("cannot announce on %s: %s", ifname, exc.strerror)
            return None, "skipped_no_interface"
        if hatype != ARPHRD_ETHER:
            return None, "skipped_not_ethernet"
        if flags & IFF_NOARP:
            return None, "skipped_noarp"
        return mac, None

    def _send(self, ifname: str, frame: bytes, ethertype: int, what: str, address: str) -> None:
        try:
            self._sock.sendto(frame, (ifname, ethertype))
        except OSError as exc:
            self.stats["send_errors"] += 1
            self._info.pop(ifname, None)    # the interface may have changed: look again next time
            log.warning("sending %s on %s for %s failed: %s", what, ifname, address, exc.strerror)
            return
        self.stats[what] += 1

    def gratuitous_arp(self, ifname: str, address: str) -> None:
        mac = self._interface(ifname)
        if mac is not None:
            self._send(ifname, self._frame(ifname, mac, address, 4), ETH_P_ARP, "garp_sent", address)
            log.debug("Sending gratuitous ARP on %s for %s", ifname, address)

    def unsolicited_na(self, ifname: str, address: str) -> None:
        mac = self._interface(ifname)
        if mac is not None:
            self._send(ifname, self._frame(ifname, mac, address, 6), ETH_P_IPV6, "na_sent", address)
            log.debug("Sending unsolicited Neighbour Advert on %s for %s", ifname, address)

    def close(self) -> None:
        self._sock.close()
