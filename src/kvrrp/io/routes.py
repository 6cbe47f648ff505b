"""virtual_routes / virtual_rules: installed while an instance is MASTER, removed otherwise,
through pyroute2 (no `ip` command), keepalived's behaviour.

``route_request`` / ``rule_request`` turn the config model's VirtualRoute / VirtualRule into
pyroute2 keyword arguments (pure, unit-tested); ``RouteManager`` applies them on the io layer's
netlink thread (kvrrp.io.netlink.Netlink.call); ``RoutesOnMaster`` is an engine transition
listener doing the add on entering MASTER and the delete on leaving it. A route that is already
there (EEXIST) counts as present and one already gone (ESRCH/ENOENT) as removed: restarts and
reloads converge.
"""
from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from typing import Any, Callable, Iterable

from kvrrp.config.model import Config, VirtualRoute, VirtualRule
from kvrrp.config.rtnames import RtNames, UnknownName

log = logging.getLogger("kvrrp.io")

RT_TYPES = {"unicast": 1, "local": 2, "broadcast": 3, "anycast": 4, "multicast": 5,
            "blackhole": 6, "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10}
FR_ACTIONS = {"table": 1, "goto": 2, "nop": 3, "blackhole": 6, "unreachable": 7, "prohibit": 8}
RTNH_F_ONLINK = 4
RTPROT_KEEPALIVED = 18
RT_SCOPE_LINK = 253


class RouteError(ValueError):
    pass


def _named(names: RtNames, kind: str, value: str, what: str) -> int:
    try:
        return names.lookup(kind, value)
    except UnknownName as exc:
        raise RouteError(f"unknown {what} {value!r}: {exc}") from None


def table_id(value: str, names: RtNames | None = None) -> int:
    return _named(names or RtNames(), "rt_tables", value, "routing table")


def _prefix(text: str, family: int) -> tuple[str, int]:
    if text == "default":
        return ("0.0.0.0" if family == 4 else "::"), 0
    net = ipaddress.ip_network(text, strict=False)
    return str(net.network_address), net.prefixlen


def route_request(route: VirtualRoute, default_dev: str | None, ifindex: Callable[[str], int | None],
                  names: RtNames | None = None) -> dict[str, Any]:
    """pyroute2 ``route()`` kwargs for one virtual_routes entry; table / protocol / scope names
    through `names` (iproute_etc_dir / iproute_usr_dir, config.rtnames)."""
    names = names or RtNames()
    family = socket.AF_INET if route.family == 4 else socket.AF_INET6
    dst, dst_len = _prefix(route.to, route.family)
    req: dict[str, Any] = {"family": family, "dst": dst, "dst_len": dst_len,
                           "type": RT_TYPES.get(route.type, None)}
    if req["type"] is None:
        raise RouteError(f"unknown route type {route.type!r}")
    req["proto"] = _named(names, "rt_protos", route.protocol, "route protocol") if route.protocol \
        else RTPROT_KEEPALIVED
    if route.table:
        req["table"] = table_id(route.table, names)
    if route.src:
        req["prefsrc"] = route.src
    if route.from_:
        req["src"], req["src_len"] = _prefix(route.from_, route.family)
    if route.metric is not None:
        req["priority"] = route.metric
    if route.tos is not None:
        req["tos"] = route.tos
    if route.scope:
        req["scope"] = _named(names, "rt_scopes", route.scope, "route scope")
    if route.nexthops:
        hops = []
        for nh in route.nexthops:
            hop: dict[str, Any] = {}
            if nh.via:
                hop["gateway"] = nh.via
            dev = nh.dev or (None if nh.via else default_dev)
            if dev:
                idx = ifindex(dev)
                if idx is None:
                    raise RouteError(f"nexthop device {dev} does not exist")
                hop["oif"] = idx
            if nh.weight:
                hop["hops"] = nh.weight - 1
            if nh.onlink:
                hop["flags"] = RTNH_F_ONLINK
            hops.append(hop)
        req["multipath"] = hops
        return req
    if route.type == "unicast":
        if route.via:
            req["gateway"] = route.via
        dev = route.dev or (default_dev if not route.via else None)
        if dev:
            idx = ifindex(dev)
            if idx is None:
                raise RouteError(f"route device {dev} does not exist")
            req["oif"] = idx
        if "scope" not in req and not route.via:
            req["scope"] = RT_SCOPE_LINK
        if route.onlink:
            req["flags"] = RTNH_F_ONLINK
    return req


def rule_request(rule: VirtualRule, names: RtNames | None = None) -> dict[str, Any]:
    """pyroute2 ``rule()`` kwargs for one virtual_rules entry."""
    family = socket.AF_INET if rule.family == 4 else socket.AF_INET6
    req: dict[str, Any] = {"family": family}
    action = FR_ACTIONS.get(rule.action)
    if action is None:
        raise RouteError(f"unknown rule action {rule.action!r}")
    req["action"] = action
    if rule.from_:
        req["src"], req["src_len"] = _prefix(rule.from_, rule.family)
    if rule.to:
        req["dst"], req["dst_len"] = _prefix(rule.to, rule.family)
    if rule.table:
        req["table"] = table_id(rule.table, names)  # pyroute2 puts ids > 255 in FRA_TABLE
    if rule.goto is not None:
        req["goto"] = rule.goto
    if rule.preference is not None:
        req["priority"] = rule.preference
    if rule.iif:
        req["iifname"] = rule.iif
    if rule.oif:
        req["oifname"] = rule.oif
    if rule.tos is not None:
        req["tos"] = rule.tos
    if rule.fwmark is not None:
        req["fwmark"] = rule.fwmark
    if rule.fwmask is not None:
        req["fwmask"] = rule.fwmask
    return req


_PRESENT = (errno.EEXIST,)
_ABSENT = (errno.ESRCH, errno.ENOENT, errno.EADDRNOTAVAIL)


def _code(exc: BaseException) -> int | None:
    return getattr(exc, "code", None) or getattr(exc, "errno", None)


class RouteManager:
    """Adds / removes routes and rules on a netlink handle: ``netlink.call(fn)`` runs fn(ipr)
    on the io layer's netlink thread (kvrrp.io.netlink.Netlink)."""

    def __init__(self, netlink: Any, names: RtNames | None = None) -> None:
        self.netlink = netlink
        self.names = names or RtNames()     # replaced on reload (iproute_etc_dir / _usr_dir)
        self.errors = 0

    def _ifindex(self, name: str) -> int | None:
        return self.netlink.call(lambda ipr: (ipr.link_lookup(ifname=name) or [None])[0])

    def add_routes(self, routes: Iterable[VirtualRoute], default_dev: str | None) -> None:
        for r in routes:
            self._apply("add", "route", r, lambda r=r: route_request(r, r.dev or default_dev, self._ifindex, self.names))

    def remove_routes(self, routes: Iterable[VirtualRoute], default_dev: str | None) -> None:
        for r in routes:
            self._apply("del", "route", r, lambda r=r: route_request(r, r.dev or default_dev, self._ifindex, self.names))

    def add_rules(self, rules: Iterable[VirtualRule]) -> None:
        for r in rules:
            self._apply("add", "rule", r, lambda r=r: rule_request(r, self.names))

    def remove_rules(self, rules: Iterable[VirtualRule]) -> None:
        for r in rules:
            self._apply("del", "rule", r, lambda r=r: rule_request(r, self.names))

    def _apply(self, verb: str, kind: str, item: Any, build: Callable[[], dict[str, Any]]) -> None:
        try:
            req = build()
            self.netlink.call(lambda ipr: getattr(ipr, kind)(verb, **req))
            log.info("%s %s %s", "added" if verb == "add" else "removed", kind, _describe(item))
        except RouteError as exc:
            self.errors += 1
            log.error("virtual %s %s: %s", kind, _describe(item), exc)
        except Exception as exc:  # NetlinkError carries .code
            code = _code(exc)
            if (verb == "add" and code in _PRESENT) or (verb == "del" and code in _ABSENT):
                return
            self.errors += 1
            log.error("cannot %s virtual %s %s: %s", verb, kind, _describe(item), exc)


def _describe(item: Any) -> str:
    if isinstance(item, VirtualRoute):
        return " ".join(x for x in (item.to, f"from {item.from_}" if item.from_ else "", f"via {item.via}" if item.via else "",
                                    f"dev {item.dev}" if item.dev else "",
                                    f"table {item.table}" if item.table else "") if x)
    if isinstance(item, VirtualRule):
        return " ".join(x for x in (f"from {item.from_}" if item.from_ else "", f"to {item.to}" if item.to else "",
                                    f"table {item.table}" if item.table else "") if x) or "rule"
    return repr(item)


class RoutesOnMaster:
    """Engine transition listener: an instance's virtual_routes / virtual_rules are present
    exactly while it is MASTER."""

    def __init__(self, manager: RouteManager, config: Config) -> None:
        self.manager = manager
        self.config = config
        self.installed: set[str] = set()

    def __call__(self, instance_name: str, old_state: Any, new_state: Any, reason: str, priority: int) -> None:
        new = str(getattr(new_state, "value", new_state)).upper()
        inst = self.config.instance(instance_name)
        if inst is None or not (inst.virtual_routes or inst.virtual_rules):
            return
        if new == "MASTER" and instance_name not in self.installed:
            self.manager.add_rules(inst.virtual_rules)
            self.manager.add_routes(inst.virtual_routes, inst.interface)
            self.installed.add(instance_name)
        elif new != "MASTER" and instance_name in self.installed:
            self.manager.remove_routes(inst.virtual_routes, inst.interface)
            self.manager.remove_rules(inst.virtual_rules)
            self.installed.discard(instance_name)

    def reload(self, new_config: Config) -> None:
        """Routes of a MASTER whose route list changed: take the old ones out, put the new in.
        The old ones go with the names they were added with; the new ones use the new
        configuration's iproute_etc_dir / iproute_usr_dir."""
        new_names = RtNames.from_config(new_config.global_defs)
        for name in list(self.installed):
            old = self.config.instance(name)
            new = new_config.instance(name)
            if old is None:
                continue
            if new is None or (old.virtual_routes, old.virtual_rules) != (new.virtual_routes, new.virtual_rules):
                self.manager.remove_routes(old.virtual_routes, old.interface)
                self.manager.remove_rules(old.virtual_rules)
                self.installed.discard(name)
                self.manager.names = new_names
                if new is not None:
                    self.manager.add_rules(new.virtual_rules)
                    self.manager.add_routes(new.virtual_routes, new.interface)
                    self.installed.add(name)
        self.manager.names = new_names
        self.config = new_config
