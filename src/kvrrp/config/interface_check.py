"""Does every interface a configuration names exist on this host? (keepalived's parse-time
lookups: "WARNING - interface eth9 for vrrp_instance VI_1 doesn't exist", a config error that
makes `keepalived -t` exit 5.)

kvrrp runs the check in `kvrrp -t` and on every reload, against the interfaces of the network
namespace the process runs in (socket.if_nameindex(), which asks the kernel, so it is right
inside `ip netns exec` too). Interfaces kvrrp makes itself (use_vmac macvlans) are not looked
up. With global_defs `dynamic_interfaces` keepalived waits for a missing interface instead;
so does kvrrp: the diagnostic becomes a warning that does not fail the test or the reload.

`kvrrp -t --skip-interface-check` leaves the check out, for testing a configuration meant
for another host.
"""
from __future__ import annotations

import socket
from typing import Callable, Collection, Iterator

from kvrrp.config import model as m
from kvrrp.config.diagnostics import Diagnostics

CODE = "missing-interface"
Where = Callable[[object, str], "m.Location | None"]


def host_interfaces() -> frozenset[str]:
    """The interface names of the calling thread's network namespace."""
    return frozenset(name for _, name in socket.if_nameindex())


def _vmac_names(cfg: m.Config) -> set[str]:
    from kvrrp.io.vmac import VmacError, plan_vmacs

    try:
        plan = plan_vmacs(cfg)
    except VmacError:
        return set()
    return {spec.ifname for iv in plan.values() for spec in iv.specs}


def _named(cfg: m.Config, where: Where) -> Iterator[tuple[str, str, "m.Location | None"]]:
    """(interface, what names it, location) for every interface the configuration names."""
    for inst in cfg.instances:
        if inst.interface:
            yield inst.interface, f"for vrrp_instance {inst.name}", where(inst, "interface")
        for ref in inst.track_interfaces:
            yield ref.name, f"tracked by vrrp_instance {inst.name}", ref.loc or inst.loc
        for addr in inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
            if addr.dev:
                yield addr.dev, f"for ip address {addr.address} of vrrp_instance {inst.name}", addr.loc or inst.loc
        for route in inst.virtual_routes:
            yield from _route_devs(route, f"of vrrp_instance {inst.name}", inst.loc)
        for rule in inst.virtual_rules:
            yield from _rule_devs(rule, f"of vrrp_instance {inst.name}", inst.loc)
    for group in cfg.sync_groups:
        for ref in group.track_interfaces:
            yield ref.name, f"tracked by vrrp_sync_group {group.name}", ref.loc or group.loc
    for gg in cfg.garp_groups:
        for name in gg.interfaces:
            yield name, "specified for garp_group", gg.loc
    for addr in cfg.static_addresses:
        if addr.dev:
            yield addr.dev, f"for static ip address {addr.address}", addr.loc
    for route in cfg.static_routes:
        yield from _route_devs(route, "(static)", route.loc)
    for rule in cfg.static_rules:
        yield from _rule_devs(rule, "(static)", rule.loc)
    for lb in getattr(cfg, "linkbeat_interfaces", ()):
        yield lb.interface, "specified for linkbeat interface", lb.loc
    for delay in getattr(cfg, "interface_up_down_delays", ()):
        yield delay.interface, "specified for up/down delay", delay.loc
    lvs = cfg.global_defs.lvs_sync_daemon
    if lvs is not None and lvs.interface:
        yield lvs.interface, "for lvs_sync_daemon", lvs.loc


def _route_devs(route: m.VirtualRoute, owner: str, fallback) -> Iterator[tuple[str, str, object]]:
    if route.dev:
        yield route.dev, f"for route {route.to} {owner}", route.loc or fallback
    for hop in route.nexthops:
        if hop.dev:
            yield hop.dev, f"for route {route.to} nexthop {owner}", route.loc or fallback


def _rule_devs(rule: m.VirtualRule, owner: str, fallback) -> Iterator[tuple[str, str, object]]:
    for dev in (rule.iif, rule.oif):
        if dev:
            yield dev, f"for rule {owner}", rule.loc or fallback


def check_interfaces(cfg: m.Config, diags: Diagnostics, where: Where, existing: Collection[str]) -> None:
    """One diagnostic per (interface, user) the host does not have: an error (fails `-t` and a
    reload), or with dynamic_interfaces a warning that does neither."""
    existing = set(existing)
    ours = _vmac_names(cfg)
    dynamic = bool(getattr(cfg.global_defs, "dynamic_interfaces", False))
    seen: set[tuple[str, str]] = set()
    for name, what, loc in _named(cfg, where):
        if name in existing or name in ours or (name, what) in seen:
            continue
        seen.add((name, what))
        text = f"interface {name} {what} does not exist on this host"
        if dynamic:
            diags.warning(loc, text + " (dynamic_interfaces: waiting for it)", CODE)
        else:
            diags.error(loc, text, CODE)
