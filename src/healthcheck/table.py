"""The IPVS table as plain data, and how a config's virtual servers map onto it.

Pure: no I/O. `Service` / `Dest` are what the kernel stores (only the attributes kvrrp sets
and compares); `Table` is services with their destinations. `services_of(vs, groups)` expands
one `virtual_server` (IP+port, fwmark or virtual_server_group with address ranges and fwmarks)
into kernel services; `dest_of(...)` builds a destination for a real or sorry server.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Iterator, Mapping

from kvrrp.config.effective import lvs_method
from kvrrp.config.model import (
    RealServer,
    SorryServer,
    VirtualServer,
    VirtualServerGroup,
    VsgEntry,
)

PROTOCOLS = {"TCP": 6, "UDP": 17, "SCTP": 132}
PROTOCOL_NAMES = {v: k.lower() for k, v in PROTOCOLS.items()}

# IPVS service flags (include/uapi/linux/ip_vs.h)
F_PERSISTENT = 0x0001
F_HASHED = 0x0002          # kernel-internal; never compared
F_ONEPACKET = 0x0004
F_SCHED1 = 0x0008          # sh-fallback / mh-fallback
F_SCHED2 = 0x0010          # sh-port / mh-port
F_SCHED3 = 0x0020
FLAGS_COMPARED = F_PERSISTENT | F_ONEPACKET | F_SCHED1 | F_SCHED2 | F_SCHED3

# forwarding methods (IP_VS_CONN_F_*)
FWD_NAT = 0
FWD_LOCAL = 1
FWD_TUN = 2
FWD_DR = 3
FWD_METHODS = {"NAT": FWD_NAT, "DR": FWD_DR, "TUN": FWD_TUN}
FWD_NAMES = {FWD_NAT: "Masq", FWD_LOCAL: "Local", FWD_TUN: "Tunnel", FWD_DR: "Route"}

TUN_TYPES = {None: 0, "ipip": 0, "gue": 1, "gre": 2}
TUN_CSUM = {None: 0, "nocsum": 0, "csum": 1, "remcsum": 2}

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos")
PERSISTENT_TIMEOUT_DEFAULT = 360     # keepalived: granularity without timeout -> 6 minutes
WEIGHT_MAX = 2**31 - 1


class TableError(ValueError):
    """A virtual server that cannot become an IPVS service (bad range, unknown group...)."""


@dataclass(frozen=True, slots=True, order=True)
class ServiceKey:
    """What identifies an IPVS service: (family, protocol, address, port) or (family, fwmark).

    fwmark services have protocol 0, addr "" and port 0 (the kernel keys them by mark only)."""

    family: int
    protocol: int
    addr: str
    port: int
    fwmark: int = 0

    @classmethod
    def fwm(cls, family: int, fwmark: int) -> ServiceKey:
        return cls(family=family, protocol=0, addr="", port=0, fwmark=fwmark)

    def __str__(self) -> str:
        if self.fwmark:
            return f"FWM {self.fwmark}"
        host = f"[{self.addr}]"
        return f"{host}:{PROTOCOL_NAMES.get(self.protocol, self.protocol)}:{self.port}"


@dataclass(frozen=True, slots=True)
class Service:
    key: ServiceKey
    sched: str = "wlc"
    flags: int = 0
    timeout: int = 0
    netmask: int = 32                 # prefix length (IPv4 32 = 255.255.255.255; IPv6 128)
    pe_name: str | None = None

    def same_attrs(self, other: Service) -> bool:
        return (
            self.sched == other.sched
            and (self.flags & FLAGS_COMPARED) == (other.flags & FLAGS_COMPARED)
            and self.timeout == other.timeout
            and self.netmask == other.netmask
            and (self.pe_name or None) == (other.pe_name or None)
        )


@dataclass(frozen=True, slots=True, order=True)
class DestKey:
    addr: str
    port: int

    def __str__(self) -> str:
        return f"[{self.addr}]:{self.port}"


@dataclass(frozen=True, slots=True)
class Dest:
    key: DestKey
    family: int = 4
    fwd: int = FWD_NAT
    weight: int = 1
    u_thresh: int = 0
    l_thresh: int = 0
    tun_type: int = 0
    tun_port: int = 0
    tun_flags: int = 0

    def same_attrs(self, other: Dest) -> bool:
        if (self.fwd, self.weight, self.u_thresh, self.l_thresh) != (
            other.fwd, other.weight, other.u_thresh, other.l_thresh
        ):
            return False
        if self.fwd == FWD_TUN:
            return (self.tun_type, self.tun_port, self.tun_flags) == (
                other.tun_type, other.tun_port, other.tun_flags
            )
        return True


@dataclass(slots=True)
class ServiceEntry:
    service: Service
    dests: dict[DestKey, Dest] = field(default_factory=dict)


class Table:
    """Services and their destinations, keyed for diffing."""

    __slots__ = ("entries",)

    def __init__(self, entries: Mapping[ServiceKey, ServiceEntry] | None = None) -> None:
        self.entries: dict[ServiceKey, ServiceEntry] = dict(entries or {})

    def add_service(self, svc: Service) -> ServiceEntry:
        entry = self.entries.get(svc.key)
        if entry is None:
            entry = self.entries[svc.key] = ServiceEntry(svc)
        else:
            entry.service = svc
        return entry

    def add_dest(self, key: ServiceKey, dest: Dest) -> None:
        self.entries[key].dests[dest.key] = dest

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ServiceKey]:
        return iter(self.entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    def copy(self) -> Table:
        return Table({k: ServiceEntry(e.service, dict(e.dests)) for k, e in self.entries.items()})

    def as_dict(self) -> dict[ServiceKey, tuple[Service, dict[DestKey, Dest]]]:
        return {k: (e.service, dict(e.dests)) for k, e in self.entries.items()}

    def weights(self) -> dict[str, dict[str, int]]:
        """{"[198.18.0.1]:tcp:80": {"[198.18.1.1]:80": weight}} - handy in tests and status."""
        return {
            str(k): {str(d): dest.weight for d, dest in sorted(e.dests.items())}
            for k, e in sorted(self.entries.items())
        }

    def format(self) -> str:
        """ipvsadm -Ln look-alike, for logs and dumps."""
        lines = []
        for key, entry in sorted(self.entries.items()):
            svc = entry.service
            head = f"FWM  {key.fwmark}" if key.fwmark else f"{PROTOCOL_NAMES.get(key.protocol, '?').upper()}  {_hostport(key.addr, key.port)}"
            extra = f" persistent {svc.timeout}" if svc.flags & F_PERSISTENT else ""
            lines.append(f"{head} {svc.sched}{extra}")
            for dk, d in sorted(entry.dests.items()):
                lines.append(f"  -> {_hostport(dk.addr, dk.port)}  {FWD_NAMES.get(d.fwd, d.fwd)}  {d.weight}")
        return "\n".join(lines)


def _hostport(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


# ---------------------------------------------------------------------------------------------
# config -> services / dests


def vs_ident(vs: VirtualServer) -> tuple[str, str, int]:
    """Stable identity of a virtual_server block across reloads."""
    return (vs.key, vs.protocol, vs.family)


def service_attrs(vs: VirtualServer, key: ServiceKey) -> Service:
    if vs.lvs_sched not in SCHEDULERS:
        raise TableError(f"unknown lvs_sched {vs.lvs_sched!r} for VS {vs.key}")
    flags = 0
    timeout = 0
    family = key.family
    netmask = 32 if family == 4 else 128
    if vs.persistence_timeout is not None or vs.persistence_granularity is not None:
        flags |= F_PERSISTENT
        timeout = vs.persistence_timeout if vs.persistence_timeout is not None else PERSISTENT_TIMEOUT_DEFAULT
    if vs.persistence_granularity is not None:
        netmask = _granularity(vs.persistence_granularity, family)
    if vs.flag_1 or vs.sh_fallback or vs.mh_fallback:
        flags |= F_SCHED1
    if vs.flag_2 or vs.sh_port or vs.mh_port:
        flags |= F_SCHED2
    if vs.flag_3:
        flags |= F_SCHED3
    if vs.ops:
        flags |= F_ONEPACKET
    return Service(key=key, sched=vs.lvs_sched, flags=flags, timeout=timeout,
                   netmask=netmask, pe_name=vs.persistence_engine)


def _granularity(text: str, family: int) -> int:
    text = text.strip()
    if family == 6 or text.isdigit():
        n = int(text.lstrip("/"))
        limit = 32 if family == 4 else 128
        if not 1 <= n <= limit:
            raise TableError(f"persistence_granularity {text!r} out of range")
        return n
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{text}").prefixlen
    except ValueError as exc:
        raise TableError(f"bad persistence_granularity {text!r}: {exc}") from None


def _range_addresses(entry: VsgEntry) -> list[str]:
    first = ipaddress.ip_address(entry.ip)
    if entry.prefixlen is not None:
        net = ipaddress.ip_network(f"{entry.ip}/{entry.prefixlen}", strict=False)
        if net.num_addresses > 65536:
            raise TableError(f"virtual_server_group range {net} too large")
        return [str(a) for a in net]
    if entry.ip_end is None:
        return [str(first)]
    last = ipaddress.ip_address(entry.ip_end)
    if last.version != first.version or int(last) < int(first):
        raise TableError(f"bad virtual_server_group range {entry.ip}-{entry.ip_end}")
    count = int(last) - int(first) + 1
    if count > 65536:
        raise TableError(f"virtual_server_group range {entry.ip}-{entry.ip_end} too large")
    return [str(ipaddress.ip_address(int(first) + i)) for i in range(count)]


def services_of(vs: VirtualServer, groups: Mapping[str, VirtualServerGroup]) -> list[Service]:
    """The kernel services one virtual_server block stands for."""
    proto = PROTOCOLS.get(vs.protocol.upper())
    if proto is None:
        raise TableError(f"unknown protocol {vs.protocol!r} for VS {vs.key}")
    keys: list[ServiceKey] = []
    if vs.fwmark is not None:
        keys.append(ServiceKey.fwm(vs.family, vs.fwmark))
    elif vs.group is not None:
        group = groups.get(vs.group)
        if group is None:
            raise TableError(f"virtual_server_group {vs.group!r} is not defined")
        for entry in group.entries:
            if entry.fwmark is not None:
                # the kernel keys fwmark services by (family, mark): each family's VS gets its own
                keys.append(ServiceKey.fwm(vs.family, entry.fwmark))
                continue
            if entry.family != vs.family:
                continue        # a group serves each family's virtual_server separately
            port = entry.port or vs.port
            for addr in _range_addresses(entry):
                keys.append(ServiceKey(family=vs.family, protocol=proto, addr=addr, port=port))
    else:
        if vs.ip is None:
            raise TableError("virtual_server without address, fwmark or group")
        addr = canonical(vs.ip)
        keys.append(ServiceKey(family=vs.family, protocol=proto, addr=addr, port=vs.port))
    return [service_attrs(vs, k) for k in keys]


@lru_cache(maxsize=65536)
def canonical(addr: str) -> str:
    """Canonical text of an address (config values are canonical already; cheap when cached)."""
    return str(ipaddress.ip_address(addr))


def dest_of(server: RealServer | SorryServer, vs: VirtualServer, weight: int, service: ServiceKey) -> Dest:
    method = lvs_method(vs, server)
    fwd = FWD_METHODS.get(method.method.upper())
    if fwd is None:
        raise TableError(f"unknown lvs_method {method.method!r}")
    port = server.port
    if port == 0 and not service.fwmark:
        port = service.port              # keepalived: a real server without port takes the VS port
    tun_type = tun_port = tun_flags = 0
    if fwd == FWD_TUN:
        tun_type = TUN_TYPES.get(method.tunnel_type, 0)
        tun_port = method.tunnel_port or 0
        tun_flags = TUN_CSUM.get(method.tunnel_csum, 0)
    u = getattr(server, "uthreshold", 0)
    l = getattr(server, "lthreshold", 0)
    return Dest(
        key=DestKey(canonical(server.ip), port), family=server.family, fwd=fwd,
        weight=max(0, min(WEIGHT_MAX, weight)), u_thresh=u, l_thresh=l,
        tun_type=tun_type, tun_port=tun_port, tun_flags=tun_flags,
    )


def group_map(groups: Iterable[VirtualServerGroup]) -> dict[str, VirtualServerGroup]:
    return {g.name: g for g in groups}
