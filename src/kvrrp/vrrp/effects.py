"""What a VRRP instance asks the outside world to do, as values.

The instance's state machine handlers return these instead of calling sockets, netlink or
listeners; the engine carries them out, in order (VrrpEngine.apply). Tests assert lists of
effects. Timers are not effects: they are the instance's own state on the shared wheel.
"""
from __future__ import annotations

from dataclasses import dataclass

from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp.fsm import State


@dataclass(frozen=True, slots=True)
class SendAdvert:
    """One advert on the wire: payload to dst, from src (None: the kernel picks), with the
    unicast TTL when one is configured."""

    payload: bytes
    dst: str
    src: str | None


@dataclass(frozen=True, slots=True)
class AddAddress:
    spec: AddressSpec


@dataclass(frozen=True, slots=True)
class RemoveAddress:
    spec: AddressSpec


@dataclass(frozen=True, slots=True)
class Announce:
    """A gratuitous ARP (IPv4) or unsolicited neighbour advertisement (IPv6) for one address."""

    ifname: str
    family: int
    address: str


@dataclass(frozen=True, slots=True)
class Transitioned:
    """The instance changed state (listeners, notify scripts, the sync group)."""

    old: State
    new: State
    reason: str


@dataclass(frozen=True, slots=True)
class InstanceEvent:
    """A non-transition event for listeners: instance.EVENT_MASTER_RX_LOWER_PRI / EVENT_PRIORITY."""

    name: str


Effect = SendAdvert | AddAddress | RemoveAddress | Announce | Transitioned | InstanceEvent
