"""Virtual addresses on interfaces through netlink (pyroute2), idempotent like `ip addr replace`.

add() of an address already there and remove() of one already gone succeed quietly: the engine
reconciles rather than replays, and a restart or reload must converge. `remove_leftovers()` is the
start-up sweep for VIPs a crashed previous run left behind.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any, Iterable

from kvrrp.io.netlink import (EADDRNOTAVAIL, EEXIST, ENODEV, IFA_F_NODAD, InterfaceAddress, Netlink,
                              is_errno)
from kvrrp.io.ports import AddressSpec

log = logging.getLogger("kvrrp.io")

SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}


class AddressError(OSError):
    """The kernel refused an address change for a reason other than 'already so'."""


def scope_number(scope: str | None) -> int | None:
    if scope is None:
        return None
    if scope in SCOPES:
        return SCOPES[scope]
    try:
        value = int(scope, 0)
    except ValueError:
        raise ValueError(f"unknown address scope {scope!r} (one of {', '.join(SCOPES)} or 0-255)") from None
    if not 0 <= value <= 255:
        raise ValueError(f"address scope {value} out of range 0-255")
    return value


def _netlink_request(spec: AddressSpec, index: int) -> dict[str, Any]:
    req: dict[str, Any] = {
        "index": index,
        "family": socket.AF_INET if spec.family == 4 else socket.AF_INET6,
        "prefixlen": spec.prefixlen,
    }
    if spec.peer:
        # `ip addr add LOCAL peer PEER/len`: IFA_LOCAL is ours, IFA_ADDRESS the far end.
        req["local"] = spec.address
        req["address"] = spec.peer
    else:
        req["address"] = spec.address
    if spec.broadcast and spec.family == 4:
        req["broadcast"] = spec.broadcast
    if spec.label and spec.family == 4:
        req["label"] = spec.label
    scope = scope_number(spec.scope)
    if scope is not None:
        req["scope"] = scope
    if spec.nodad and spec.family == 6:
        req["flags"] = IFA_F_NODAD
    return req


def _same(spec: AddressSpec, have: InterfaceAddress) -> bool:
    return (have.family == spec.family
            and ipaddress.ip_address(have.address) == ipaddress.ip_address(spec.address)
            and have.prefixlen == spec.prefixlen)


class NetlinkAddressManager:
    """AddressManager over pyroute2; `netns` (tests) manages another namespace's interfaces."""

    def __init__(self, netlink: Netlink | None = None, netns: str | None = None) -> None:
        self._netlink = netlink or Netlink(netns)
        self._own = netlink is None

    def _index(self, spec: AddressSpec) -> int:
        index = self._netlink.ifindex(spec.ifname)
        if index is None:
            raise AddressError(ENODEV, f"no interface {spec.ifname} for {spec.address}")
        return index

    def add(self, spec: AddressSpec) -> None:
        req = _netlink_request(spec, self._index(spec))
        try:
            self._netlink.call(lambda ipr: ipr.addr("add", **req))
        except Exception as exc:  # noqa: BLE001 - pyroute2 raises NetlinkError
            if is_errno(exc, EEXIST):
                return
            raise AddressError(getattr(exc, "code", 0) or 0,
                               f"adding {spec.address}/{spec.prefixlen} on {spec.ifname}: {exc}") from exc
        log.debug("added %s/%s on %s", spec.address, spec.prefixlen, spec.ifname)

    def remove(self, spec: AddressSpec) -> None:
        try:
            index = self._index(spec)
        except AddressError:
            return  # the interface is gone, and the address with it
        req = _netlink_request(spec, index)
        req.pop("broadcast", None)
        req.pop("label", None)
        req.pop("flags", None)
        try:
            self._netlink.call(lambda ipr: ipr.addr("del", **req))
        except Exception as exc:  # noqa: BLE001
            if is_errno(exc, EADDRNOTAVAIL, ENODEV):
                return
            raise AddressError(getattr(exc, "code", 0) or 0,
                               f"removing {spec.address}/{spec.prefixlen} from {spec.ifname}: {exc}") from exc
        log.debug("removed %s/%s from %s", spec.address, spec.prefixlen, spec.ifname)

    def present(self, spec: AddressSpec) -> bool:
        return any(_same(spec, have) for have in self._netlink.addresses(spec.ifname, spec.family))

    def close(self) -> None:
        if self._own:
            self._netlink.close()


def remove_leftovers(manager: Any, specs: Iterable[AddressSpec]) -> list[AddressSpec]:
    """Remove each of `specs` that is on its interface now; return those removed.

    Called once at start, before any instance runs: a VIP of this configuration that is already
    on an interface can only be a leftover of a previous run that died without cleaning up
    (keepalived does the same sweep), and keeping it would answer ARP for an address some other
    node may own.
    """
    removed = []
    for spec in specs:
        try:
            if manager.present(spec):
                manager.remove(spec)
                removed.append(spec)
                log.info("removed leftover virtual address %s/%s from %s",
                         spec.address, spec.prefixlen, spec.ifname)
        except OSError as exc:
            log.warning("could not clean leftover %s on %s: %s", spec.address, spec.ifname, exc)
    return removed
