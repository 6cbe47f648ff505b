"""The VRRP process's MIB rows and traps: KEEPALIVED-MIB's global branch and the vrrp branch's
sync group, instance and address tables, VRRP-MIB (RFC 2787, VRRPv2 IPv4 instances) and
VRRPv3-MIB (RFC 6527, every instance with VIPs, as keepalived's default build), as keepalived's
vrrp_snmp.c and snmp.c serve them (the vrrp branch's other tables: vrrp_tracking_mib.py,
vrrp_route_mib.py). Pure: everything comes from the engine, the configuration and the small
Host seam (interface indexes and MACs, the clock for TimeStamps).

Indexes are keepalived's: KEEPALIVED-MIB tables count instances (and sync groups) from 1 in
configuration order; the address table is (instance, address) with the VIPs first, then the
excluded VIPs (static addresses: instance 0); the RFC tables are indexed by (ifIndex, VRID[,
address type]).
"""
from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable

from kvrrp.snmp.agentx import (COUNTER32, COUNTER64, GAUGE32, INTEGER, IP_ADDRESS, OBJECT_IDENTIFIER,
                               OCTET_STRING, SNMP_TRAP_OID_0, TIME_TICKS, Oid, VarBind)
from kvrrp.snmp.mibview import Row
from kvrrp.snmp.vrrp_tracking_mib import script_command

KEEPALIVED = (1, 3, 6, 1, 4, 1, 9586, 100, 5)
GLOBAL = KEEPALIVED + (1,)
VRRP = KEEPALIVED + (2,)
RFC2787 = (1, 3, 6, 1, 2, 1, 68)
RFC6527 = (1, 3, 6, 1, 2, 1, 207)

ROUTER_ID_0 = GLOBAL + (2, 0)
TRAP_SYNC_GROUP_STATE = VRRP + (10, 0, 1)
TRAP_INSTANCE_STATE = VRRP + (10, 0, 2)
TRAP_NEW_MASTER = RFC2787 + (0, 1)
TRAP_AUTH_FAILURE = RFC2787 + (0, 2)
TRAP_V3_NEW_MASTER = RFC6527 + (0, 1)
TRAP_V3_PROTO_ERROR = RFC6527 + (0, 2)

# KEEPALIVED-MIB VrrpState
KA_STATE = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 5, "DELETED": 6}
KA_UNKNOWN = 4
# RFC 2787 vrrpOperState / RFC 6527 vrrpv3OperationsStatus: initialize(1) backup(2) master(3)
RFC_STATE = {"BACKUP": 2, "MASTER": 3}
# RFC 2787 vrrpTrapAuthErrorType, by kvrrp drop reason
AUTH_ERROR = {"invalid_auth_type": 1, "auth_type_mismatch": 2, "auth_failure": 3}
# RFC 6527 vrrpv3StatisticsProtoErrReason, by kvrrp drop reason
PROTO_ERROR = {"ip_ttl": 1, "version": 2, "checksum": 3, "unknown_vrid": 4}
# RFC 6527 vrrpv3StatisticsNewMasterReason: notMaster(0) priority(1) preempted(2) masterNoResponse(3)
MASTER_REASON = {"master down timer expired": 3, "received lower priority advert": 2,
                 "preempt delay expired": 2}
# InetScopeType by `scope` keyword (keepalived's snmp_scope)
SCOPE = {None: 14, "global": 14, "0": 14, "host": 1, "254": 1, "link": 2, "253": 2, "site": 5, "200": 5,
         "nowhere": 0, "255": 0}


def truth(value: Any) -> int:
    """SNMPv2-TC TruthValue (and keepalived's enabled(1)/disabled(2) columns)."""
    return 1 if value else 2


def state_name(state: Any) -> str:
    return str(getattr(state, "value", state)).upper()


def ka_state(state: Any) -> int:
    return KA_STATE.get(state_name(state), KA_UNKNOWN)


def inet_type(address: str) -> int:
    return 2 if ":" in address else 1


@lru_cache(maxsize=65536)     # the same few thousand addresses, asked for on every table build
def packed(address: str | None) -> bytes | None:
    if not address:
        return None
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).packed
    except ValueError:
        return None


def script_text(call: Any) -> str | None:
    """A notify script as keepalived's MIB shows it (cmd_str: every word quoted)."""
    return None if call is None else script_command(call.argv, call.command)


SIOCGIFHWADDR = 0x8927


def if_hwaddr(name: str) -> bytes | None:
    """An interface's hardware address (SIOCGIFHWADDR in this network namespace)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            raw = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", name.encode()[:15]))
    except OSError:
        return None
    return raw[18:24]


@dataclass
class Host:
    """What the tables need from the host: interface indexes and hardware addresses, and
    TimeTicks for a monotonic time (centiseconds since the agent started, as sysUpTime counts)."""

    ifindex: Callable[[str], int]
    ticks: Callable[[float | None], int]
    hostname: Callable[[], str] = socket.gethostname
    hwaddr: Callable[[str], bytes | None] = if_hwaddr


def if_nametoindex(name: str) -> int:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return 0


def router_id(config: Any, host: Host) -> str:
    return config.global_defs.router_id or host.hostname()


# ------------------------------------------------------------------------------------- global
def global_rows(config: Any, host: Host, version: str) -> list[Row]:
    g = config.global_defs
    s = (0,)
    rows: list[Row] = [
        (GLOBAL + (1,), s, OCTET_STRING, version),
        (GLOBAL + (2,), s, OCTET_STRING, router_id(config, host)),
        # keepalived gives the SMTP defaults (30 s, port 25, keepalived@host) only with an
        # smtp_server; without one it serves 0, 0 and no sender (an explicit
        # smtp_connect_timeout still shows, unless it is the default 30 itself)
        (GLOBAL + (3, 3), s, GAUGE32, int(g.smtp_connect_timeout)
         if g.smtp_server or g.smtp_connect_timeout != 30.0 else 0),
        (GLOBAL + (3, 4), s, OCTET_STRING, g.notification_email_from
         or (f"keepalived@{host.hostname()}" if g.smtp_server else None)),
        (GLOBAL + (3, 6), s, GAUGE32, g.smtp_server_port if g.smtp_server else 0),
        (GLOBAL + (3, 7), s, INTEGER, truth(not g.no_email_faults)),
        (GLOBAL + (3, 8), s, INTEGER, 3 if g.smtp_alert is None else truth(g.smtp_alert)),
        (GLOBAL + (3, 9), s, INTEGER, 3 if g.smtp_alert_vrrp is None else truth(g.smtp_alert_vrrp)),
        (GLOBAL + (3, 10), s, INTEGER, 3 if g.smtp_alert_checker is None else truth(g.smtp_alert_checker)),
        (GLOBAL + (4,), s, INTEGER, truth(g.enable_traps)),
        (GLOBAL + (5,), s, INTEGER, 1),                       # linkBeat: netlink
        (GLOBAL + (6,), s, INTEGER, truth(g.lvs_flush)),
        (GLOBAL + (7,), s, INTEGER, 1),                       # ipvs64BitStats: kvrrp reads STATS64
        (GLOBAL + (8,), s, OCTET_STRING, config.net_namespace or ""),
        (GLOBAL + (9,), s, INTEGER, truth(g.enable_dbus)),
        (GLOBAL + (10,), s, INTEGER, truth(g.dynamic_interfaces)),
        (GLOBAL + (11,), s, INTEGER, 3 if g.lvs_flush_on_stop_vs_only else truth(g.lvs_flush_on_stop)),
        (GLOBAL + (12,), s, INTEGER, truth(g.v3_checksum_as_v2)),
    ]
    # keepalived serves the server's type and address always: with none, its empty sockaddr
    # reads ipv6(2) (SNMP_InetAddressType of AF_UNSPEC) and 0.0.0.0
    smtp = packed(g.smtp_server)
    rows += [(GLOBAL + (3, 1), s, INTEGER, 1 if smtp is not None and len(smtp) == 4 else 2),
             (GLOBAL + (3, 2), s, OCTET_STRING, smtp if smtp is not None else bytes(4))]
    for i, addr in enumerate(g.notification_email, 1):
        rows.append((GLOBAL + (3, 5, 1, 2), (i,), OCTET_STRING, addr))
    return rows


# ----------------------------------------------------------------------------- KEEPALIVED-MIB
def one_instance_rows(i: int, inst: Any, model: Any, config: Any) -> Iterable[Row]:
    s = inst.settings
    g = config.global_defs
    col = VRRP + (3, 1)
    idx = (i,)
    initial = 2 if model is not None and model.state == "MASTER" else 1
    smtp = model.smtp_alert if model is not None else None
    if smtp is None:
        smtp = g.smtp_alert_vrrp if g.smtp_alert_vrrp is not None else bool(g.smtp_alert)
    scripts = {} if model is None else {
        22: model.notify_master, 23: model.notify_backup, 24: model.notify_fault, 25: model.notify_stop,
        26: model.notify, 31: model.notify_master_rx_lower_pri, 32: model.notify_deleted}
    notify_exec = any(v is not None for v in scripts.values())
    interval = int(round(s.adver_int)) if s.version == 2 else int(round(s.adver_int * 100))
    yield from (
        (col + (2,), idx, OCTET_STRING, inst.name),
        (col + (3,), idx, GAUGE32, s.vrid),
        (col + (4,), idx, INTEGER, ka_state(inst.state)),
        (col + (5,), idx, INTEGER, initial),
        (col + (6,), idx, INTEGER, 2 if inst.want_master else ka_state(inst.state)),
        (col + (7,), idx, INTEGER, s.priority),
        (col + (8,), idx, INTEGER, inst.effective_priority),
        (col + (9,), idx, INTEGER, truth(inst.vips_set)),
        (col + (10,), idx, OCTET_STRING, s.ifname),
        # keepalived: whether the instance has track_interface entries (its own interface and
        # weighted entries of an address owner are not kept: config validation drops them)
        (col + (11,), idx, INTEGER, truth(model is not None and model.track_interfaces)),
        (col + (12,), idx, GAUGE32, interval),
        (col + (13,), idx, INTEGER, truth(s.preempt)),
        (col + (14,), idx, GAUGE32, int(s.preempt_delay)),
        (col + (15,), idx, INTEGER, s.auth_type if s.version == 2 else 0),
        (col + (16,), idx, INTEGER, truth(model is not None and model.lvs_sync_daemon_interface)),
        (col + (17,), idx, OCTET_STRING, model.lvs_sync_daemon_interface if model is not None else None),
        (col + (18,), idx, OCTET_STRING, s.sync_group),
        (col + (19,), idx, GAUGE32, int(s.garp_master_delay)),
        (col + (20,), idx, INTEGER, truth(smtp)),
        (col + (21,), idx, INTEGER, truth(notify_exec)),
        *((col + (c,), idx, OCTET_STRING, script_text(v)) for c, v in scripts.items()),
        (col + (27,), idx, INTEGER, truth(s.accept) if s.version == 3 else 0),   # keepalived: v3 only
        (col + (28,), idx, INTEGER, truth(model is not None and model.promote_secondaries)),
        # keepalived's VRRP_FLAG_LINKBEAT_USE_POLLING: the link state is polled, not netlink's
        (col + (29,), idx, INTEGER, truth(model is not None and (model.linkbeat_use_polling
                                                                 or config.linkbeat_use_polling))),
        (col + (30,), idx, INTEGER, s.version),
        (col + (33,), idx, INTEGER, truth(model is not None and model.notify_deleted_enabled)),
    )
    if not s.unicast_peers:
        group = s.mcast_group or ("ff02::12" if s.family == 6 else "224.0.0.18")
        yield (col + (34,), idx, INTEGER, inet_type(group))
        yield (col + (35,), idx, OCTET_STRING, packed(group))
    if s.version == 3:
        yield (col + (36,), idx, INTEGER, truth(s.v3_checksum_as_v2))


def static_address_rows(config: Any, host: Host) -> list[Row]:
    """vrrpAddressTable's static_ipaddress rows: instance index 0, as keepalived numbers them;
    set (kvrrp adds them at start), not advertised."""
    from kvrrp.vrrp.settings import _broadcast

    col = VRRP + (6, 1)
    rows: list[Row] = []
    for n, a in enumerate(config.static_addresses, 1):
        idx = (0, n)
        ifname = a.dev or ""
        brd = _broadcast(a.address, a.prefixlen, a.brd) if a.family == 4 else None
        rows += [
            (col + (2,), idx, INTEGER, 2 if a.family == 6 else 1),
            (col + (3,), idx, OCTET_STRING, packed(a.address)),
            (col + (4,), idx, OCTET_STRING, (packed(brd) or bytes(4)) if a.family == 4 else None),
            (col + (5,), idx, GAUGE32, a.prefixlen),
            (col + (6,), idx, INTEGER, SCOPE.get(a.scope, 14)),
            (col + (7,), idx, INTEGER, host.ifindex(ifname) if ifname else 0),
            (col + (8,), idx, OCTET_STRING, ifname),
            (col + (9,), idx, OCTET_STRING, a.label),
            (col + (10,), idx, INTEGER, 1),
            (col + (11,), idx, INTEGER, 2),
            (col + (12,), idx, OCTET_STRING, packed(a.peer)),
        ]
    return rows


def one_address_rows(i: int, inst: Any, host: Host) -> Iterable[Row]:
    col = VRRP + (6, 1)
    n = 0
    for specs, advertised in ((inst.settings.vips, True), (inst.settings.excluded_vips, False)):
        for spec in specs:
            n += 1
            idx = (i, n)
            ifname = spec.ifname or inst.settings.ifname
            yield from (
                (col + (2,), idx, INTEGER, 2 if spec.family == 6 else 1),
                (col + (3,), idx, OCTET_STRING, packed(spec.address)),
                # keepalived serves an IPv4 address's broadcast always (0.0.0.0 when none)
                (col + (4,), idx, OCTET_STRING, (packed(spec.broadcast) or bytes(4)) if spec.family == 4 else None),
                (col + (5,), idx, GAUGE32, spec.prefixlen),
                (col + (6,), idx, INTEGER, SCOPE.get(spec.scope, 14)),
                (col + (7,), idx, INTEGER, host.ifindex(ifname)),
                (col + (8,), idx, OCTET_STRING, ifname),
                (col + (9,), idx, OCTET_STRING, spec.label),
                (col + (10,), idx, INTEGER, truth(inst.vips_set)),
                (col + (11,), idx, INTEGER, truth(advertised)),
                (col + (12,), idx, OCTET_STRING, packed(spec.peer)),
            )


def sync_group_rows(engine: Any, config: Any) -> list[Row]:
    """vrrpSyncGroupTable and vrrpSyncGroupMemberTable."""
    rows: list[Row] = []
    for gi, (name, group) in enumerate(engine.sync_groups.items(), 1):
        model = next((sg for sg in config.sync_groups if sg.name == name), None)
        idx = (gi,)
        col = VRRP + (1, 1)
        rows += [(col + (2,), idx, OCTET_STRING, name),
                 (col + (3,), idx, INTEGER, ka_state(group.state))]
        if model is not None:
            scripts = {6: model.notify_master, 7: model.notify_backup, 8: model.notify_fault,
                       9: model.notify, 11: model.notify_stop}
            rows += [(col + (4,), idx, INTEGER, truth(model.smtp_alert)),
                     (col + (5,), idx, INTEGER, truth(any(v is not None for v in scripts.values()))),
                     (col + (10,), idx, INTEGER, truth(model.sync_group_tracking_weight))]
            rows += [(col + (c,), idx, OCTET_STRING, script_text(v)) for c, v in scripts.items()]
        for mi, member in enumerate(group.members, 1):
            rows.append((VRRP + (2, 1, 2), (gi, mi), OCTET_STRING, member.name))
    return rows


def instance_rows(engine: Any, config: Any) -> list[Row]:
    """vrrpInstanceTable."""
    models = {m.name: m for m in config.instances}
    rows: list[Row] = []
    for i, inst in enumerate(engine.instances.values(), 1):
        rows.extend(one_instance_rows(i, inst, models.get(inst.name), config))
    return rows


def address_rows(engine: Any, host: Host, config: Any = None) -> list[Row]:
    """vrrpAddressTable: the static addresses (instance 0), then each instance's."""
    rows: list[Row] = static_address_rows(config, host) if config is not None else []
    for i, inst in enumerate(engine.instances.values(), 1):
        rows.extend(one_address_rows(i, inst, host))
    return rows


def keepalived_vrrp_rows(engine: Any, config: Any, host: Host) -> list[Row]:
    return sync_group_rows(engine, config) + instance_rows(engine, config) + address_rows(engine, host, config)


# ---------------------------------------------------------------------------- RFC 2787 / 6527
def suitable_rfc2787(inst: Any) -> bool:
    s = inst.settings
    return s.version == 2 and s.family == 4 and bool(s.vips)


def suitable_rfc6527(inst: Any) -> bool:
    """VRRPv3 instances and, as keepalived built with its default _SNMP_REPLY_V3_FOR_V2_
    (Debian's 2.2.7 among them), VRRPv2 ones too: any instance with VIPs."""
    return bool(inst.settings.vips)


def master_address(inst: Any) -> str | None:
    """vrrpv3OperationsMasterIpAddr as keepalived serves it: ours (the primary address) when
    we are master, else the last master heard from."""
    if state_name(inst.state) == "MASTER":
        return inst.own_address
    return inst.master_address


def mac_of(inst: Any, host: Host) -> bytes | None:
    """vrrpOperVirtualMacAddr / vrrpv3OperationsVirtualMacAddr as keepalived serves them: the
    hardware address of the interface the instance sends on (the VMAC's with use_vmac, else
    the NIC's own: keepalived reads ifp->hw_addr)."""
    s = inst.settings
    return host.hwaddr(getattr(s, "vmac_ifname", None) or s.ifname)


def rfc2787_index(inst: Any, host: Host) -> Oid:
    return (host.ifindex(inst.settings.ifname), inst.settings.vrid)


def rfc6527_index(inst: Any, host: Host) -> Oid:
    return (host.ifindex(inst.settings.ifname), inst.settings.vrid, 2 if inst.settings.family == 6 else 1)


def _stat(inst: Any, name: str) -> int:
    return int(getattr(inst.stats, name, 0))


def _engine_drops(engine: Any, reason: str) -> int:
    total = int(engine.drops.get(reason, 0))
    return total + sum(int(i.stats.drops.get(reason, 0)) for i in engine.instances.values())


def rfc2787_scalars(engine: Any, config: Any) -> list[Row]:
    ops = RFC2787 + (1,)
    return [
        (ops + (1,), (0,), INTEGER, 2),                                        # vrrpNodeVersion
        (ops + (2,), (0,), INTEGER, truth(config.global_defs.enable_traps)),  # vrrpNotificationCntl
        (RFC2787 + (2, 1), (0,), COUNTER32, _engine_drops(engine, "checksum") & 0xFFFFFFFF),
        (RFC2787 + (2, 2), (0,), COUNTER32, _engine_drops(engine, "version") & 0xFFFFFFFF),
        (RFC2787 + (2, 3), (0,), COUNTER32, _engine_drops(engine, "unknown_vrid") & 0xFFFFFFFF),
    ]


RFC2787_STATS = ("become_master", "advert_rcvd", "advert_interval_err", "auth_failure", "ip_ttl_err",
                 "pri_zero_rcvd", "pri_zero_sent", "invalid_type_rcvd", "addr_list_err", "invalid_authtype",
                 "authtype_mismatch", "packet_len_err")


def rfc2787_instance_rows(inst: Any, host: Host) -> list[Row]:
    """vrrpOperTable, vrrpAssoIpAddrTable and vrrpRouterStatsTable rows of one instance."""
    if not suitable_rfc2787(inst):
        return []
    ops = RFC2787 + (1,)
    s = inst.settings
    idx = rfc2787_index(inst, host)
    col = ops + (3, 1)
    rows: list[Row] = [
        (col + (2,), idx, OCTET_STRING, mac_of(inst, host)),
        (col + (3,), idx, INTEGER, RFC_STATE.get(state_name(inst.state), 1)),
        (col + (4,), idx, INTEGER, 1),                                  # adminState up
        (col + (5,), idx, INTEGER, s.priority),                         # keepalived: the base priority
        (col + (6,), idx, INTEGER, len(s.vips)),
        # keepalived: the last master heard from (0.0.0.0 until one was), whatever our state
        (col + (7,), idx, IP_ADDRESS, packed(inst.master_address) or bytes(4)),
        (col + (8,), idx, IP_ADDRESS, packed(inst.own_address) or bytes(4)),
        (col + (9,), idx, INTEGER, {0: 1, 1: 2, 2: 3}.get(s.auth_type, 1)),
        # 10 vrrpOperAuthKey: not returned (keepalived: "Not readable")
        (col + (11,), idx, INTEGER, max(1, int(round(s.adver_int)))),
        (col + (12,), idx, INTEGER, truth(s.preempt)),
        (col + (13,), idx, TIME_TICKS, host.ticks(inst.last_transition)),
        (col + (14,), idx, INTEGER, 1),                                 # protocol ip
        (col + (15,), idx, INTEGER, 1),                                 # rowStatus active
    ]
    for spec in s.vips:
        if spec.family == 4:
            rows.append((ops + (4, 1, 2), idx + tuple(packed(spec.address)), INTEGER, 1))
    stats = RFC2787 + (2, 4, 1)
    for c, name in enumerate(RFC2787_STATS, 1):
        rows.append((stats + (c,), idx, COUNTER32, _stat(inst, name) & 0xFFFFFFFF))
    return rows


def rfc2787_rows(engine: Any, config: Any, host: Host) -> list[Row]:
    rows = rfc2787_scalars(engine, config)
    for inst in engine.instances.values():
        rows += rfc2787_instance_rows(inst, host)
    return rows


def rfc6527_scalars(engine: Any) -> list[Row]:
    st = RFC6527 + (1, 2)
    return [
        (st + (1,), (0,), COUNTER64, _engine_drops(engine, "checksum")),
        (st + (2,), (0,), COUNTER64, _engine_drops(engine, "version")),
        (st + (3,), (0,), COUNTER64, _engine_drops(engine, "unknown_vrid")),
        (st + (4,), (0,), TIME_TICKS, 0),                                   # no discontinuity since start
    ]


def rfc6527_instance_rows(inst: Any, host: Host, master_reason: int, proto_error: int) -> list[Row]:
    """vrrpv3OperationsTable, vrrpv3AssociatedIpAddrTable and vrrpv3StatisticsTable rows."""
    if not suitable_rfc6527(inst):
        return []
    ops = RFC6527 + (1, 1)
    st = RFC6527 + (1, 2)
    s = inst.settings
    idx = rfc6527_index(inst, host)
    col = ops + (1, 1)
    master = packed(master_address(inst))
    rows: list[Row] = [
        (col + (3,), idx, OCTET_STRING, master if master is not None else bytes(16 if s.family == 6 else 4)),
        (col + (4,), idx, OCTET_STRING, packed(inst.own_address) or b""),
        (col + (5,), idx, OCTET_STRING, mac_of(inst, host)),
        (col + (6,), idx, INTEGER, RFC_STATE.get(state_name(inst.state), 1)),
        (col + (7,), idx, GAUGE32, s.priority),                         # keepalived: the base priority
        (col + (8,), idx, INTEGER, len(s.vips)),
        (col + (9,), idx, INTEGER, int(round(s.adver_int * 100))),
        (col + (10,), idx, INTEGER, truth(s.preempt)),
        (col + (11,), idx, INTEGER, truth(s.accept)),
        (col + (12,), idx, TIME_TICKS, host.ticks(inst.last_transition)),
        (col + (13,), idx, INTEGER, 1),
    ]
    for spec in s.vips:
        raw = packed(spec.address)
        if raw is not None:
            # keepalived's index: the address's bytes without the length an InetAddress index
            # should carry (RFC 2578 7.7); kvrrp answers the same OIDs
            rows.append((ops + (2, 1, 2), idx + tuple(raw), INTEGER, 1))
    scol = st + (5, 1)
    rows += [
        (scol + (1,), idx, COUNTER32, _stat(inst, "become_master") & 0xFFFFFFFF),
        (scol + (2,), idx, INTEGER, master_reason),
        (scol + (3,), idx, COUNTER64, _stat(inst, "advert_rcvd")),
        (scol + (4,), idx, COUNTER64, _stat(inst, "advert_interval_err")),
        (scol + (5,), idx, COUNTER64, _stat(inst, "ip_ttl_err")),
        (scol + (6,), idx, INTEGER, proto_error),
        (scol + (7,), idx, COUNTER64, _stat(inst, "pri_zero_rcvd")),
        (scol + (8,), idx, COUNTER64, _stat(inst, "pri_zero_sent")),
        (scol + (9,), idx, COUNTER64, _stat(inst, "invalid_type_rcvd")),
        (scol + (10,), idx, COUNTER64, _stat(inst, "addr_list_err")),
        (scol + (11,), idx, COUNTER64, _stat(inst, "packet_len_err")),
        (scol + (12,), idx, TIME_TICKS, 0),
        (scol + (13,), idx, GAUGE32, int(s.adver_int * 1000)),
    ]
    return rows


def rfc6527_rows(engine: Any, config: Any, host: Host, master_reasons: dict[str, int],
                 proto_errors: dict[str, int]) -> list[Row]:
    rows = rfc6527_scalars(engine)
    for inst in engine.instances.values():
        rows += rfc6527_instance_rows(inst, host, master_reasons.get(inst.name, 0), proto_errors.get(inst.name, 0))
    return rows


# -------------------------------------------------------------------------------------- traps
def _trap(oid: Oid, *varbinds: VarBind) -> list[VarBind]:
    return [VarBind(SNMP_TRAP_OID_0, OBJECT_IDENTIFIER, oid), *varbinds]


def instance_state_trap(name: str, state: Any, initial_master: bool, rid: str) -> list[VarBind]:
    """vrrpInstanceStateChange, with keepalived's object OIDs (no instance index)."""
    return _trap(TRAP_INSTANCE_STATE,
                 VarBind(VRRP + (3, 1, 2), OCTET_STRING, name),
                 VarBind(VRRP + (3, 1, 4), INTEGER, ka_state(state)),
                 VarBind(VRRP + (3, 1, 5), INTEGER, 2 if initial_master else 1),
                 VarBind(ROUTER_ID_0, OCTET_STRING, rid))


def sync_group_state_trap(name: str, state: str, rid: str) -> list[VarBind]:
    return _trap(TRAP_SYNC_GROUP_STATE,
                 VarBind(VRRP + (1, 1, 2), OCTET_STRING, name),
                 VarBind(VRRP + (1, 1, 3), INTEGER, ka_state(state)),
                 VarBind(ROUTER_ID_0, OCTET_STRING, rid))


def new_master_trap(inst: Any, host: Host) -> list[VarBind]:
    """RFC 2787 vrrpTrapNewMaster: vrrpOperMasterIpAddr, our own address."""
    return _trap(TRAP_NEW_MASTER, VarBind(RFC2787 + (1, 3, 1, 7) + rfc2787_index(inst, host), IP_ADDRESS,
                                          packed(inst.own_address) or bytes(4)))


def auth_failure_trap(inst: Any, host: Host, src: str | None, reason: str) -> list[VarBind]:
    idx = rfc2787_index(inst, host)
    raw = packed(src)
    return _trap(TRAP_AUTH_FAILURE,
                 VarBind(RFC2787 + (1, 5) + idx, IP_ADDRESS, raw if raw is not None and len(raw) == 4 else bytes(4)),
                 VarBind(RFC2787 + (1, 6) + idx, INTEGER, AUTH_ERROR[reason]))


def v3_new_master_trap(inst: Any, host: Host, reason: int) -> list[VarBind]:
    idx = rfc6527_index(inst, host)
    return _trap(TRAP_V3_NEW_MASTER,
                 VarBind(RFC6527 + (1, 1, 1, 1, 3) + idx, OCTET_STRING, packed(inst.own_address) or b""),
                 VarBind(RFC6527 + (1, 2, 5, 1, 2) + idx, INTEGER, reason))


def v3_proto_error_trap(inst: Any, host: Host, reason: str) -> list[VarBind]:
    idx = rfc6527_index(inst, host)
    return _trap(TRAP_V3_PROTO_ERROR, VarBind(RFC6527 + (1, 2, 5, 1, 6) + idx, INTEGER, PROTO_ERROR[reason]))


def group_state(member_states: list[str | None]) -> str | None:
    """A sync group's state from its members' (the notifier's rule): FAULT as soon as one
    member is, else MASTER / BACKUP / STOP once all members agree; None while they do not."""
    if "FAULT" in member_states:
        return "FAULT"
    if member_states and len(set(member_states)) == 1 and member_states[0] in ("MASTER", "BACKUP", "STOP"):
        return member_states[0]
    return None
