"""IPVS generic netlink messages packed and parsed with `struct`: pure, no I/O.

pyroute2 builds every message through its generic NLA machinery, about 0.6 ms per
IPVS_CMD_NEW_DEST on the host; a cold table of 11,000 entries then costs seconds before the
kernel does anything. The IPVS messages kvrrp sends have fixed layouts, so they are packed
here from precomputed attribute headers (service key nests are cached per service). The
byte layout is pyroute2's own (same attributes, same order, same padding); the host tests
compare the two byte for byte, and parse pyroute2-encoded dump replies back.

One deliberate difference: IPVS_DEST_ATTR_TUN_PORT is big-endian, as the kernel reads it
(`nla_get_be16`) and ipvsadm/keepalived send it; pyroute2 declares it a host-order uint16.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from healthcheck.table import Dest, DestKey, Service, ServiceKey

# netlink / generic netlink (linux/netlink.h, linux/genetlink.h)
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_REPLACE = 0x100
NLMSG_ERROR = 2
NLMSG_DONE = 3
GENL_VERSION = 1

# IPVS commands and attributes (linux/ip_vs.h)
CMD_NEW_SERVICE, CMD_SET_SERVICE, CMD_DEL_SERVICE, CMD_GET_SERVICE = 1, 2, 3, 4
CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST, CMD_GET_DEST = 5, 6, 7, 8
CMD_NEW_DAEMON, CMD_DEL_DAEMON, CMD_GET_DAEMON = 9, 10, 11
CMD_SET_CONFIG, CMD_FLUSH = 12, 17
CMD_ATTR_SERVICE, CMD_ATTR_DEST, CMD_ATTR_DAEMON = 1, 2, 3
CMD_ATTR_TIMEOUT_TCP, CMD_ATTR_TIMEOUT_TCP_FIN, CMD_ATTR_TIMEOUT_UDP = 4, 5, 6
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK, SVC_SCHED, SVC_FLAGS, SVC_TIMEOUT, \
    SVC_NETMASK, SVC_STATS, SVC_PE_NAME = range(1, 12)
DEST_ADDR, DEST_PORT, DEST_FWD, DEST_WEIGHT, DEST_U_THRESH, DEST_L_THRESH = range(1, 7)
DEST_ADDR_FAMILY, DEST_TUN_TYPE, DEST_TUN_PORT, DEST_TUN_FLAGS = 11, 13, 14, 15
DAEMON_STATE, DAEMON_MCAST_IFN, DAEMON_SYNC_ID, DAEMON_SYNC_MAXLEN, DAEMON_MCAST_GROUP, \
    DAEMON_MCAST_GROUP6, DAEMON_MCAST_PORT, DAEMON_MCAST_TTL = range(1, 9)
SYNC_MASTER, SYNC_BACKUP = 1, 2             # IP_VS_STATE_MASTER / IP_VS_STATE_BACKUP
IFNAME_MAXLEN = 16                          # IP_VS_IFNAME_MAXLEN, with the NUL

# pyroute2's request flags for its verbs: "create" / "change" / "req"
FLAGS_CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
FLAGS_CHANGE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE
FLAGS_REQ = NLM_F_REQUEST | NLM_F_ACK

_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_FAMILY = {socket.AF_INET: 4, socket.AF_INET6: 6}

_NLMSG = struct.Struct("=IHHII")           # len, type, flags, seq, pid
_GENL = struct.Struct("=BBH")              # cmd, version, reserved
_NLA = struct.Struct("=HH")
_U16 = struct.Struct("=HHH2x")
_U32 = struct.Struct("=HHI")
_ERR = struct.Struct("=i")
HDR_LEN = _NLMSG.size + _GENL.size          # 20

# destinations are packed in pyroute2's attribute order (see dest_fields in tests/healthcheck/hc_pyroute2.py)
_PORT_ATTR = struct.Struct("=HH2sxx")


def nla(kind: int, data: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    return _NLA.pack(4 + len(data), kind) + data + b"\0" * (-len(data) % 4)


def nest(kind: int, data: bytes) -> bytes:
    # pyroute2 sends IPVS nests without NLA_F_NESTED; the kernel accepts both
    return _NLA.pack(4 + len(data), kind) + data


@lru_cache(maxsize=1 << 17)
def pack_addr(family: int, addr: str) -> bytes:
    return socket.inet_pton(_AF[family], addr)


def _asciiz(kind: int, text: str) -> bytes:
    return nla(kind, text.encode() + b"\0")


def netmask_bytes(family: int, prefix: int) -> bytes:
    """IPVS_SVC_ATTR_NETMASK: a dotted IPv4 mask (network order), or for IPv6 the prefix
    length as a host-order u32 (ipvsadm and keepalived do the same)."""
    if family == 4:
        return struct.pack("!I", (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF)
    return struct.pack("=I", prefix)


@lru_cache(maxsize=1 << 16)
def service_key_attrs(key: ServiceKey) -> bytes:
    """The attributes identifying a service (inside IPVS_CMD_ATTR_SERVICE), cached per key."""
    af = _U16.pack(6, SVC_AF, _AF[key.family])
    if key.fwmark:
        return af + _U32.pack(8, SVC_FWMARK, key.fwmark)
    return (af + _U16.pack(6, SVC_PROTOCOL, key.protocol) + nla(SVC_ADDR, pack_addr(key.family, key.addr))
            + _PORT_ATTR.pack(6, SVC_PORT, struct.pack("!H", key.port)))


@lru_cache(maxsize=1 << 16)
def service_key_nest(key: ServiceKey) -> bytes:
    return nest(CMD_ATTR_SERVICE, service_key_attrs(key))


def service_nest(svc: Service) -> bytes:
    """A full service: key, scheduler, flags (mask all), timeout, netmask, persistence engine."""
    body = (service_key_attrs(svc.key) + _asciiz(SVC_SCHED, svc.sched)
            + nla(SVC_FLAGS, struct.pack("=II", svc.flags, 0xFFFFFFFF))
            + _U32.pack(8, SVC_TIMEOUT, svc.timeout)
            + nla(SVC_NETMASK, netmask_bytes(svc.key.family, svc.netmask)))
    if svc.pe_name:
        body += _asciiz(SVC_PE_NAME, svc.pe_name)
    return nest(CMD_ATTR_SERVICE, body)


def _dest_struct(addr_len: int) -> struct.Struct:
    # the IPVS_CMD_ATTR_DEST nest header, then ADDR, PORT (be16, as htons'd u16), ADDR_FAMILY,
    # FWD_METHOD, WEIGHT, U_THRESH, L_THRESH, TUN_TYPE (u8), TUN_PORT (be16), TUN_FLAGS (u16)
    return struct.Struct(f"=HH HH{addr_len}s HHHxx HHHxx HHI HHI HHI HHI HHB3x HHHxx HHHxx".replace(" ", ""))


_DEST_NEST = {4: _dest_struct(4), 6: _dest_struct(16)}
_DEST_ADDR_LEN = {4: 8, 6: 20}
_HDR = struct.Struct("=IHHIIBBH")          # nlmsghdr + genlmsghdr in one go
_htons = socket.htons


def dest_nest(dest: Dest) -> bytes:
    """A full destination (one struct.pack per destination: this is the hot path)."""
    fam = dest.family
    st = _DEST_NEST[fam]
    key = dest.key
    return st.pack(
        st.size, CMD_ATTR_DEST, _DEST_ADDR_LEN[fam], DEST_ADDR, pack_addr(fam, key.addr),
        6, DEST_PORT, _htons(key.port), 6, DEST_ADDR_FAMILY, _AF[fam],
        8, DEST_FWD, dest.fwd, 8, DEST_WEIGHT, dest.weight,
        8, DEST_U_THRESH, dest.u_thresh, 8, DEST_L_THRESH, dest.l_thresh,
        5, DEST_TUN_TYPE, dest.tun_type, 6, DEST_TUN_PORT, _htons(dest.tun_port),
        6, DEST_TUN_FLAGS, dest.tun_flags)


def dest_message(family_id: int, flags: int, seq: int, cmd: int, key: ServiceKey, dest: Dest) -> bytes:
    """NEW_DEST / SET_DEST: header, the service's cached key nest, the destination."""
    svc = service_key_nest(key)
    body = dest_nest(dest)
    return _HDR.pack(HDR_LEN + len(svc) + len(body), family_id, flags, seq, 0, cmd, GENL_VERSION, 0) + svc + body


def dest_key_nest(family: int, key: DestKey) -> bytes:
    body = (nla(DEST_ADDR, pack_addr(family, key.addr)) + _PORT_ATTR.pack(6, DEST_PORT, key.port.to_bytes(2, "big"))
            + _U16.pack(6, DEST_ADDR_FAMILY, _AF[family]))
    return nest(CMD_ATTR_DEST, body)


def message(family_id: int, flags: int, seq: int, cmd: int, attrs: bytes) -> bytes:
    """nlmsghdr + genlmsghdr + attributes (pid 0: the kernel fills it in)."""
    return _HDR.pack(HDR_LEN + len(attrs), family_id, flags, seq, 0, cmd, GENL_VERSION, 0) + attrs


def timeouts_attrs(tcp: int | None, tcpfin: int | None, udp: int | None) -> bytes:
    out = b""
    for kind, name, value in ((CMD_ATTR_TIMEOUT_TCP, "tcp", tcp), (CMD_ATTR_TIMEOUT_TCP_FIN, "tcpfin", tcpfin),
                              (CMD_ATTR_TIMEOUT_UDP, "udp", udp)):
        if value is not None:
            if not 0 <= value <= 0xFFFFFFFF:
                raise ValueError(f"IPVS timeout {name} {value} out of range")
            out += _U32.pack(8, kind, value)
    return out


# ---------------------------------------------------------------------------------------------
# replies


def iter_messages(data: bytes | memoryview, end: int | None = None):
    """(type, flags, seq, offset, length) of each netlink message in a received buffer."""
    off = 0
    end = len(data) if end is None else end
    unpack = _NLMSG.unpack_from
    while off + 16 <= end:
        length, kind, flags, seq, _pid = unpack(data, off)
        if length < 16 or off + length > end:
            raise ValueError(f"truncated netlink message ({length} bytes at {off} of {end})")
        yield kind, flags, seq, off, length
        off += (length + 3) & ~3


def error_code(data, off: int) -> int:
    """NLMSG_ERROR: 0 is an ACK, else a negative errno."""
    return _ERR.unpack_from(data, off + 16)[0]


class DumpReader:
    """The answer to one NLM_F_DUMP request (`seq`), fed one received buffer at a time: each
    message of `family_id` goes through `parse(data, off, length)` into `items` (None dropped).
    The blocking and the asyncio clients share it and differ only in how they receive.

        reader = DumpReader(family_id, seq, parse_service)
        while not reader.feed(sock.recv(65536)):
            pass
        if reader.errno: raise OSError(reader.errno, ...)    # the NLMSG_ERROR at reader.error_at
    """

    __slots__ = ("family_id", "seq", "parse", "items", "errno", "error_at")

    def __init__(self, family_id: int, seq: int, parse: Callable) -> None:
        self.family_id, self.seq, self.parse = family_id, seq, parse
        self.items: list = []
        self.errno = 0                                  # the kernel's error ending the dump, if any
        self.error_at: tuple[int, int, int] = (0, 0, 0)  # its (offset, length, flags) in the last buffer

    def feed(self, data: bytes | memoryview, end: int | None = None) -> bool:
        """Take one received buffer; True once the dump is over (NLMSG_DONE or NLMSG_ERROR).
        Messages of other requests (a stale reply) are passed over."""
        for kind, flags, seq, off, length in iter_messages(data, end):
            if seq != self.seq:
                continue
            if kind == NLMSG_DONE:
                return True
            if kind == NLMSG_ERROR:
                code = error_code(data, off)
                if code:
                    self.errno, self.error_at = -code, (off, length, flags)
                return True
            if kind == self.family_id:
                item = self.parse(data, off, length)
                if item is not None:
                    self.items.append(item)
        return False


def _attrs(data, start: int, end: int) -> dict[int, tuple[int, int]]:
    """attribute type -> (offset of payload, payload length) in data[start:end]."""
    out = {}
    unpack = _NLA.unpack_from
    off = start
    while off + 4 <= end:
        alen, akind = unpack(data, off)
        if alen < 4:
            break
        out[akind & 0x3FFF] = (off + 4, alen - 4)
        off += (alen + 3) & ~3
    return out


@lru_cache(maxsize=1 << 17)
def _addr_text(family: int, raw: bytes) -> str:
    if family == 4:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    return str(ipaddress.IPv6Address(raw[:16]))


def _u(data, spec, fmt: str, default: int = 0) -> int:
    if spec is None:
        return default
    return struct.unpack_from(fmt, data, spec[0])[0]


def _text(data, spec) -> str | None:
    if spec is None:
        return None
    return bytes(data[spec[0]:spec[0] + spec[1]]).split(b"\0", 1)[0].decode()


def _netmask_prefix(family: int, raw: bytes | None) -> int:
    if raw is None:
        return 32 if family == 4 else 128
    if family == 4:
        return bin(struct.unpack("!I", raw[:4])[0]).count("1")
    return struct.unpack("=I", raw[:4])[0]


def _nested(data, off: int, length: int, kind: int) -> tuple[int, int] | None:
    """(start, end) of the top-level attribute ``kind`` of the genl message at ``off``."""
    spec = _attrs(data, off + HDR_LEN, off + length).get(kind)
    if spec is None:
        return None
    return spec[0], spec[0] + spec[1]


def parse_service(data, off: int, length: int) -> Service | None:
    """An IPVS_CMD_NEW_SERVICE message (a GET_SERVICE dump reply) -> Service."""
    span = _nested(data, off, length, CMD_ATTR_SERVICE)
    if span is None:
        return None
    a = _attrs(data, *span)
    family = _FAMILY.get(_u(data, a.get(SVC_AF), "=H", socket.AF_INET), 4)
    fwmark = _u(data, a.get(SVC_FWMARK), "=I")
    if fwmark:
        key = ServiceKey.fwm(family, fwmark)
    else:
        s = a.get(SVC_ADDR)
        raw = bytes(data[s[0]:s[0] + s[1]]) if s else bytes(16)
        key = ServiceKey(family=family, protocol=_u(data, a.get(SVC_PROTOCOL), "=H"),
                         addr=_addr_text(family, raw), port=_u(data, a.get(SVC_PORT), "!H"))
    nm = a.get(SVC_NETMASK)
    return Service(
        key=key, sched=_text(data, a.get(SVC_SCHED)) or "",
        flags=_u(data, a.get(SVC_FLAGS), "=I"),
        timeout=_u(data, a.get(SVC_TIMEOUT), "=I"),
        netmask=_netmask_prefix(family, bytes(data[nm[0]:nm[0] + 4]) if nm else None),
        pe_name=_text(data, a.get(SVC_PE_NAME)) or None,
    )


def parse_dest(data, off: int, length: int, svc_family: int) -> Dest | None:
    """An IPVS_CMD_NEW_DEST message (a GET_DEST dump reply) -> Dest."""
    span = _nested(data, off, length, CMD_ATTR_DEST)
    if span is None:
        return None
    a = _attrs(data, *span)
    family = _FAMILY.get(_u(data, a.get(DEST_ADDR_FAMILY), "=H", _AF[svc_family]), svc_family)
    s = a.get(DEST_ADDR)
    raw = bytes(data[s[0]:s[0] + s[1]]) if s else bytes(16)
    return Dest(
        key=DestKey(_addr_text(family, raw), _u(data, a.get(DEST_PORT), "!H")),
        family=family,
        fwd=_u(data, a.get(DEST_FWD), "=I") & 0x7,
        weight=_u(data, a.get(DEST_WEIGHT), "=I"),
        u_thresh=_u(data, a.get(DEST_U_THRESH), "=I"),
        l_thresh=_u(data, a.get(DEST_L_THRESH), "=I"),
        tun_type=_u(data, a.get(DEST_TUN_TYPE), "=B"),
        tun_port=_u(data, a.get(DEST_TUN_PORT), "!H"),
        tun_flags=_u(data, a.get(DEST_TUN_FLAGS), "=H"),
    )


# ---------------------------------------------------------------------------------------------
# traffic counters (ipvsadm -Ln --stats / --rate): IPVS_SVC_ATTR_STATS64 / IPVS_DEST_ATTR_STATS64
# (all u64), or the older IPVS_*_ATTR_STATS (u32 counters and rates, u64 bytes) from kernels
# without the 64-bit nest; each value is read by its attribute's length.

SVC_STATS64 = 12
DEST_ACTIVE_CONNS, DEST_INACT_CONNS, DEST_PERSIST_CONNS, DEST_STATS, DEST_STATS64 = 7, 8, 9, 10, 12
STATS_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")


def _stats(data, attrs: dict, stats64: int, stats32: int) -> dict[str, int]:
    spec = attrs.get(stats64) or attrs.get(stats32)
    out = dict.fromkeys(STATS_FIELDS, 0)
    if spec is None:
        return out
    for kind, (off, length) in _attrs(data, spec[0], spec[0] + spec[1]).items():
        if 1 <= kind <= len(STATS_FIELDS):
            fmt = "=Q" if length >= 8 else "=I"
            out[STATS_FIELDS[kind - 1]] = struct.unpack_from(fmt, data, off)[0]
    return out


def parse_service_stats(data, off: int, length: int) -> tuple[Service, dict[str, int]] | None:
    """A GET_SERVICE dump reply -> (Service, its traffic counters)."""
    svc = parse_service(data, off, length)
    span = _nested(data, off, length, CMD_ATTR_SERVICE)
    if svc is None or span is None:
        return None
    return svc, _stats(data, _attrs(data, *span), SVC_STATS64, SVC_STATS)


def parse_dest_stats(data, off: int, length: int, svc_family: int) -> tuple[Dest, dict[str, int]] | None:
    """A GET_DEST dump reply -> (Dest, its traffic counters and connection counts)."""
    dest = parse_dest(data, off, length, svc_family)
    span = _nested(data, off, length, CMD_ATTR_DEST)
    if dest is None or span is None:
        return None
    a = _attrs(data, *span)
    stats = _stats(data, a, DEST_STATS64, DEST_STATS)
    stats["active_conns"] = _u(data, a.get(DEST_ACTIVE_CONNS), "=I")
    stats["inactive_conns"] = _u(data, a.get(DEST_INACT_CONNS), "=I")
    stats["persistent_conns"] = _u(data, a.get(DEST_PERSIST_CONNS), "=I")
    return dest, stats


# ---------------------------------------------------------------------------------------------
# connection synchronisation daemons (IPVS_CMD_NEW_DAEMON / DEL_DAEMON / GET_DAEMON)


@dataclass(frozen=True)
class SyncDaemon:
    """One kernel sync daemon, as started or as a GET_DAEMON dump shows it. Optional fields
    (None) are left out of NEW_DAEMON, so the kernel's defaults apply (keepalived's
    ipvs_syncd_cmd sends them only when configured): maxlen from the MTU, port 8848, TTL 1,
    group 224.0.0.81."""
    state: int                      # SYNC_MASTER or SYNC_BACKUP
    ifname: str = ""
    sync_id: int = 0
    maxlen: int | None = None
    port: int | None = None
    ttl: int | None = None
    group: str | None = None


def daemon_nest(d: SyncDaemon, *, stop: bool = False) -> bytes:
    """IPVS_CMD_ATTR_DAEMON for NEW_DAEMON (everything set) or DEL_DAEMON (state and sync id,
    as libipvs sends; the kernel needs only the state)."""
    body = _U32.pack(8, DAEMON_STATE, d.state)
    if not stop:
        name = d.ifname.encode()
        if not name or len(name) >= IFNAME_MAXLEN or b"\0" in name:
            raise ValueError(f"sync daemon interface name {d.ifname!r} must be 1-{IFNAME_MAXLEN - 1} bytes")
        body += nla(DAEMON_MCAST_IFN, name + b"\0")
    body += _U32.pack(8, DAEMON_SYNC_ID, d.sync_id)
    if not stop:
        if d.maxlen is not None:
            body += _U16.pack(6, DAEMON_SYNC_MAXLEN, d.maxlen)
        if d.port is not None:
            body += _U16.pack(6, DAEMON_MCAST_PORT, d.port)      # host order: nla_get_u16
        if d.ttl is not None:
            body += nla(DAEMON_MCAST_TTL, struct.pack("=B", d.ttl))
        if d.group is not None:
            group = ipaddress.ip_address(d.group)
            if not group.is_multicast:
                raise ValueError(f"sync daemon group {d.group} is not a multicast address")
            body += nla(DAEMON_MCAST_GROUP if group.version == 4 else DAEMON_MCAST_GROUP6, group.packed)
    return nest(CMD_ATTR_DAEMON, body)


def parse_daemon(data, off: int, length: int) -> SyncDaemon | None:
    """A GET_DAEMON dump reply -> SyncDaemon (every field the kernel reports)."""
    span = _nested(data, off, length, CMD_ATTR_DAEMON)
    if span is None:
        return None
    a = _attrs(data, *span)
    group = None
    for kind, size in ((DAEMON_MCAST_GROUP, 4), (DAEMON_MCAST_GROUP6, 16)):
        spec = a.get(kind)
        if spec is not None and spec[1] >= size:
            group = str(ipaddress.ip_address(bytes(data[spec[0]:spec[0] + size])))
    return SyncDaemon(
        state=_u(data, a.get(DAEMON_STATE), "=I"),
        ifname=_text(data, a.get(DAEMON_MCAST_IFN)) or "",
        sync_id=_u(data, a.get(DAEMON_SYNC_ID), "=I"),
        maxlen=_u(data, a.get(DAEMON_SYNC_MAXLEN), "=H") if DAEMON_SYNC_MAXLEN in a else None,
        port=_u(data, a.get(DAEMON_MCAST_PORT), "=H") if DAEMON_MCAST_PORT in a else None,
        ttl=_u(data, a.get(DAEMON_MCAST_TTL), "=B") if DAEMON_MCAST_TTL in a else None,
        group=group,
    )
