"""Narrow seams between the VRRP engine and the kernel.

The engine (kvrrp.vrrp) only ever talks to these interfaces. Real adapters live beside this
file (raw sockets, pyroute2 netlink, AF_PACKET announcements); tests use in-memory fakes and a
fake clock. Addresses cross the seam as text (ipaddress-compatible strings) so fakes stay
trivial; payloads are the VRRP message only (no IP header).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol


@dataclass(frozen=True, slots=True)
class Received:
    """One VRRP message as it came off the wire, with what the IP header told us."""

    ifname: str
    family: int          # 4 or 6
    src: str             # IP source address
    dst: str             # IP destination (multicast group or our unicast address)
    ttl: int             # IPv4 TTL or IPv6 hop limit
    payload: bytes       # the VRRP message, IP header removed
    # When the kernel received it, on the Clock.monotonic() scale (the raw sockets take it from
    # SO_TIMESTAMPNS), or None when unknown (fakes). A backup restarting Master_Down_Timer or
    # Skew_Time from this instead of "now" does not count its own wake-up latency into the
    # failover. Not part of equality: two receptions of the same message compare equal.
    rx_time: float | None = field(default=None, compare=False)


ReceiveCallback = Callable[[Received], None]


class Transport(Protocol):
    """One per (interface, family), shared by every instance on it."""

    ifname: str
    family: int

    def send(self, payload: bytes, dst: str, src: str | None = None) -> None:
        """Send one VRRP message with TTL/hop limit 255 to dst (multicast group or unicast peer).

        Without src the message leaves from local_address(), pinned (IP_PKTINFO/IPV6_PKTINFO),
        so a v3 checksum computed over local_address() matches the wire.

        Optional extension: an adapter whose send() also takes a keyword `ttl: int | None = None`
        (TTL / hop limit for this message, None = 255) gets keepalived's `unicast_ttl` passed
        through it; the engine looks at the signature and never passes ttl to one without it."""

    def local_address(self) -> str | None:
        """The source used when send() gets no src: the interface's primary IPv4 address, or its
        IPv6 link-local address (RFC 5798 5.1.2.1); None while the interface has none."""

    def close(self) -> None: ...


class TransportFactory(Protocol):
    def open(self, ifname: str, family: int, on_receive: ReceiveCallback,
             mcast_group: str | None) -> Transport: ...


@dataclass(frozen=True, slots=True)
class AddressSpec:
    """A virtual address to place on an interface, as `ip addr add` would take it."""

    address: str                  # without prefix
    prefixlen: int
    ifname: str
    family: int
    broadcast: str | None = None
    label: str | None = None
    scope: str | None = None      # host | link | global | site | nowhere | number
    peer: str | None = None
    nodad: bool = False           # IPv6: skip duplicate address detection


class AddressManager(Protocol):
    def add(self, spec: AddressSpec) -> None: ...
    def remove(self, spec: AddressSpec) -> None: ...
    def present(self, spec: AddressSpec) -> bool: ...


class Announcer(Protocol):
    """Gratuitous ARP (IPv4, request form) and unsolicited neighbour advertisements (IPv6)."""

    def gratuitous_arp(self, ifname: str, address: str) -> None: ...
    def unsolicited_na(self, ifname: str, address: str) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float: ...
