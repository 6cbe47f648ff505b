"""An in-memory LAN of VRRP engines on one fake clock: no sockets, no sleeping, deterministic.

Each node has one engine. Packets a transport sends are queued and delivered (after the
handler that sent them returns) to every other node on the same interface name: multicast to
all of them, unicast to the node that owns the destination address. Time only moves in
run_until(), jumping from one timer deadline to the next.
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field

from kvrrp.daemon import Daemon
from kvrrp.daemon.services.bfd import BfdSessions
from kvrrp.daemon.services.notifier import Notifications
from kvrrp.daemon.services.routes import VirtualRoutes
from kvrrp.daemon.services.tracking import Trackers
from kvrrp.io.ports import AddressSpec, Received
from kvrrp.vrrp import EngineSettings, InstanceSettings, VrrpEngine
from kvrrp.vrrp.receive import is_multicast


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def monotonic(self) -> float:
        return self.t


class FakeAddresses:
    def __init__(self) -> None:
        self.present_set: set[tuple[str, str, int]] = set()
        self.log: list[tuple[str, str]] = []

    def add(self, spec: AddressSpec) -> None:
        self.present_set.add((spec.ifname, spec.address, spec.prefixlen))
        self.log.append(("add", spec.address))

    def remove(self, spec: AddressSpec) -> None:
        self.present_set.discard((spec.ifname, spec.address, spec.prefixlen))
        self.log.append(("remove", spec.address))

    def present(self, spec: AddressSpec) -> bool:
        return (spec.ifname, spec.address, spec.prefixlen) in self.present_set

    def holds(self, address: str) -> bool:
        return any(a == address for _, a, _ in self.present_set)


class FakeAnnouncer:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, str, str]] = []

    def gratuitous_arp(self, ifname: str, address: str) -> None:
        self.sent.append((self.clock.t, "garp", ifname, address))

    def unsolicited_na(self, ifname: str, address: str) -> None:
        self.sent.append((self.clock.t, "na", ifname, address))


@dataclass
class Sent:
    time: float
    node: str
    ifname: str
    family: int
    src: str
    dst: str
    payload: bytes
    segment: str = ""        # the LAN segment: the base interface of a VMAC, else ifname
    ttl: int | None = None   # what the sender asked for (None: the default 255)


class FakeTransport:
    def __init__(self, lan: "FakeLan", node: "Node", ifname: str, family: int, on_receive, group) -> None:
        self.lan, self.node, self.ifname, self.family = lan, node, ifname, family
        self.on_receive = on_receive
        self.group = group
        self.closed = False

    def send(self, payload: bytes, dst: str, src: str | None = None, ttl: int | None = None) -> None:
        if self.closed:
            raise OSError("transport closed")
        if src is None:
            # like the raw socket: a VMAC without an address of its own has nothing to pin
            src = self.node.sources.get((self.ifname, self.family))
            if src is None:
                raise OSError(f"no source address on {self.ifname}")
        pkt = Sent(self.lan.clock.t, self.node.name, self.ifname, self.family, src, dst, payload,
                   self.node.links.get(self.ifname, self.ifname), ttl)
        self.lan.wire.append(pkt)
        self.lan.queue.append(pkt)

    def close(self) -> None:
        self.closed = True


class LegacyTransport(FakeTransport):
    """An adapter whose send() predates the optional ttl argument."""

    def send(self, payload: bytes, dst: str, src: str | None = None) -> None:      # type: ignore[override]
        super().send(payload, dst, src)


class FakeFactory:
    def __init__(self, lan: "FakeLan", node: "Node") -> None:
        self.lan, self.node = lan, node
        self.opened: list[tuple[str, int, str | None]] = []

    def open(self, ifname: str, family: int, on_receive, mcast_group):
        cls = LegacyTransport if self.node.legacy_transport else FakeTransport
        t = cls(self.lan, self.node, ifname, family, on_receive, mcast_group)
        self.opened.append((ifname, family, mcast_group))
        self.node.transports[(ifname, family)] = t
        return t


@dataclass
class Node:
    name: str
    sources: dict[tuple[str, int], str]
    engine: VrrpEngine | None = None
    addresses: FakeAddresses = field(default_factory=FakeAddresses)
    announcer: FakeAnnouncer | None = None
    transports: dict[tuple[str, int], FakeTransport] = field(default_factory=dict)
    alive: bool = True
    transitions: list[tuple[float, str, str, str, str, int]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)     # VMAC ifname -> base ifname (segment)
    legacy_transport: bool = False

    def state(self, instance: str = "VI_1") -> str:
        return self.engine.instance(instance).state.value


class FakeLan:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.nodes: dict[str, Node] = {}
        self.queue: list[Sent] = []
        self.wire: list[Sent] = []
        self.blocked: set[str] = set()          # nodes cut off the LAN (partition)
        self.deaf: set[str] = set()             # nodes that send but receive nothing
        self.ttl = 255

    def add_node(self, name: str, config, v4: str | None = None, v6: str | None = None,
                 ifname: str = "eth0", start: bool = True, sources: dict | None = None,
                 links: dict | None = None, legacy_transport: bool = False, **engine_kw) -> Node:
        sources = dict(sources or {})
        if v4:
            sources[(ifname, 4)] = v4
        if v6:
            sources[(ifname, 6)] = v6
        node = Node(name, sources, links=dict(links or {}), legacy_transport=legacy_transport)
        node.announcer = FakeAnnouncer(self.clock)
        node.engine = VrrpEngine(config, transports=FakeFactory(self, node), addresses=node.addresses,
                                 announcer=node.announcer, clock=self.clock,
                                 source_address=lambda i, f, n=node: n.sources.get((i, f)),
                                 drive_timers=False, raise_errors=True, **engine_kw)
        node.engine.add_transition_listener(
            lambda inst, old, new, reason, prio, n=node: n.transitions.append(
                (self.clock.t, n.name, inst, old.value, new.value, prio, reason)))
        self.nodes[name] = node
        if start:
            node.engine.start()
            self.deliver()
        return node

    def kill(self, name: str) -> None:
        """SIGKILL: the node vanishes without a word (no priority 0)."""
        node = self.nodes[name]
        node.alive = False
        self.queue = [p for p in self.queue if p.node != name]

    def deliver(self) -> None:
        rounds = 0
        while self.queue:
            rounds += 1
            assert rounds < 1_000_000, "packet storm"
            pkt = self.queue.pop(0)
            if pkt.node in self.blocked:
                continue
            for node in self.nodes.values():
                if node.name == pkt.node or not node.alive or node.name in self.blocked or node.name in self.deaf:
                    continue
                if not is_multicast(pkt.dst) and pkt.dst not in node.sources.values():
                    continue
                segment = pkt.segment or pkt.ifname
                targets = [(ifname, t) for (ifname, family), t in node.transports.items()
                           if family == pkt.family and not t.closed and node.links.get(ifname, ifname) == segment]
                if pkt.ifname != segment and any(ifname == pkt.ifname for ifname, _ in targets):
                    # sent from a VMAC whose MAC the receiver's VMAC of the same name has: a
                    # private macvlan takes such a frame for itself, the base never sees it
                    targets = [(ifname, t) for ifname, t in targets if ifname == pkt.ifname]
                elif not is_multicast(pkt.dst):
                    targets = [(ifname, t) for ifname, t in targets if ifname == segment]
                for ifname, transport in targets:
                    transport.on_receive(Received(ifname, pkt.family, pkt.src, pkt.dst,
                                                  self.ttl if pkt.ttl is None else pkt.ttl, pkt.payload))

    def next_deadline(self) -> float | None:
        deadlines = [n.engine.next_deadline() for n in self.nodes.values() if n.alive]
        deadlines = [d for d in deadlines if d is not None]
        return min(deadlines) if deadlines else None

    def run_until(self, t: float) -> None:
        self.deliver()
        while True:
            nxt = self.next_deadline()
            if nxt is None or nxt > t:
                break
            self.clock.t = max(self.clock.t, nxt)
            # every node due at this instant acts before any packet arrives, as on a real LAN
            for node in list(self.nodes.values()):
                d = node.engine.next_deadline() if node.alive else None
                if d is not None and d <= self.clock.t:
                    node.engine.run_due()
            self.deliver()
        self.clock.t = max(self.clock.t, t)

    def run_for(self, seconds: float) -> None:
        self.run_until(self.clock.t + seconds)

    def masters(self, instance: str = "VI_1") -> list[str]:
        return [n.name for n in self.nodes.values()
                if n.alive and instance in n.engine.instances
                and n.engine.instance(instance).state.value == "MASTER"]

    def transitions(self) -> list[tuple]:
        return sorted((t for n in self.nodes.values() for t in n.transitions), key=lambda x: x[0])


# -- building blocks the engine tests share -----------------------------------------------------

def inst(name="VI_1", vrid=51, prio=100, vip="198.18.0.100", ifname="eth0", **kw) -> InstanceSettings:
    """One instance on `ifname` with one /24 VIP (override with vips=...)."""
    kw.setdefault("vips", (AddressSpec(vip, 24, ifname, 4),))
    return InstanceSettings(name=name, ifname=ifname, vrid=vrid, priority=prio, **kw)


def conf(*instances, groups=()) -> EngineSettings:
    return EngineSettings(instances=tuple(instances), sync_groups=tuple(groups))


def pair(a_conf, b_conf) -> "FakeLan":
    """Nodes a (198.18.0.1) and b (198.18.0.2), run for 10 s: settled."""
    lan = FakeLan()
    lan.add_node("a", a_conf, v4="198.18.0.1")
    lan.add_node("b", b_conf, v4="198.18.0.2")
    lan.run_for(10)
    return lan


TICK = 0.002          # the shared wheel rounds deadlines up to 1 ms; allow two


def takeover_time(lan, node_name, since):
    """Seconds from `since` until `node_name` entered MASTER."""
    for t, node, _inst, _old, new, _prio, _reason in lan.transitions():
        if node == node_name and new == "MASTER" and t >= since:
            return t - since
    raise AssertionError(f"{node_name} never became master after {since}")


# -- a daemon around one fake LAN node's engine (reload and tracker tests) ----------------------

class NoNetlink:
    def call(self, fn):  # noqa: ANN001, ANN201
        raise AssertionError("no netlink use expected")


# the services the daemon runs around an engine (kvrrp.daemon.root.SERVICES' order)
AROUND = (BfdSessions, Notifications, VirtualRoutes, Trackers)


def around(engine, config) -> Daemon:  # noqa: ANN001
    """A daemon with the fake LAN node's engine, without kernel adapters."""
    d = Daemon(types.SimpleNamespace(config="keepalived.conf", config_id=None), config)
    d.engine, d.netlink = engine, NoNetlink()
    return d
