"""pyroute2's own encoding of kvrrp's IPVS messages: the reference healthcheck.ipvs_wire is
tested against byte for byte (test_hc_ipvs_wire.py), and bench/bench_ipvs.py compares costs.
Test and bench code only: the daemon's kernel adapter is healthcheck.ipvs_netlink.PyrouteKernel."""
from __future__ import annotations

import ipaddress
import socket
import struct

from healthcheck.table import Dest, DestKey, Service, ServiceKey

# `healthcheck.ipvs_netlink.PyrouteKernel`.

_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_FAMILY = {socket.AF_INET: 4, socket.AF_INET6: 6}


def _netmask_nla(family: int, prefix: int) -> str:
    """IPVS_SVC_ATTR_NETMASK travels as a raw u32: a dotted mask for IPv4, the prefix length in
    host byte order for IPv6 (ipvsadm/keepalived do the same). pyroute2 encodes it as ip4addr."""
    if family == 4:
        return str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)
    return socket.inet_ntoa(struct.pack("=I", prefix))


def _netmask_from_nla(family: int, value: str | None) -> int:
    if value is None:
        return 32 if family == 4 else 128
    if family == 4:
        return ipaddress.IPv4Network(f"0.0.0.0/{value}").prefixlen
    return struct.unpack("=I", socket.inet_aton(value))[0]


def service_fields(svc: Service) -> dict:
    """pyroute2 IPVSService keyword arguments for a full service."""
    fields = key_fields(svc.key)
    fields.update(
        sched_name=svc.sched,
        flags={"flags": svc.flags, "mask": 0xFFFFFFFF},
        timeout=svc.timeout,
        netmask=_netmask_nla(svc.key.family, svc.netmask),
    )
    if svc.pe_name:
        fields["pe_name"] = svc.pe_name
    return fields


def key_fields(key: ServiceKey) -> dict:
    if key.fwmark:
        return {"af": _AF[key.family], "fwmark": key.fwmark}
    return {"af": _AF[key.family], "protocol": key.protocol, "addr": key.addr, "port": key.port}


def dest_fields(dest: Dest) -> dict:
    return {
        "addr": dest.key.addr,
        "port": dest.key.port,
        "addr_family": _AF[dest.family],
        "fwd_method": dest.fwd,
        "weight": dest.weight,
        "u_thresh": dest.u_thresh,
        "l_thresh": dest.l_thresh,
        "tun_type": dest.tun_type,
        "tun_port": dest.tun_port,
        "tun_flags": dest.tun_flags,
    }


def service_from_nla(svc_nla) -> Service:
    """Parse an IPVS_CMD_ATTR_SERVICE nla (from a dump) into a Service."""
    g = svc_nla.get_attr
    family = _FAMILY.get(g("IPVS_SVC_ATTR_AF"), 4)
    fwmark = g("IPVS_SVC_ATTR_FWMARK") or 0
    if fwmark:
        key = ServiceKey.fwm(family, fwmark)
    else:
        addr = str(ipaddress.ip_address(g("IPVS_SVC_ATTR_ADDR")))
        key = ServiceKey(family=family, protocol=g("IPVS_SVC_ATTR_PROTOCOL") or 0, addr=addr,
                         port=g("IPVS_SVC_ATTR_PORT") or 0)
    flags = g("IPVS_SVC_ATTR_FLAGS")
    flag_bits = flags["flags"] if flags is not None else 0
    return Service(
        key=key, sched=g("IPVS_SVC_ATTR_SCHED_NAME") or "", flags=flag_bits,
        timeout=g("IPVS_SVC_ATTR_TIMEOUT") or 0,
        netmask=_netmask_from_nla(family, g("IPVS_SVC_ATTR_NETMASK")),
        pe_name=g("IPVS_SVC_ATTR_PE_NAME") or None,
    )


def dest_from_nla(dest_nla, svc_family: int) -> Dest:
    g = dest_nla.get_attr
    family = _FAMILY.get(g("IPVS_DEST_ATTR_ADDR_FAMILY"), svc_family)
    return Dest(
        key=DestKey(str(ipaddress.ip_address(g("IPVS_DEST_ATTR_ADDR"))), g("IPVS_DEST_ATTR_PORT") or 0),
        family=family,
        fwd=(g("IPVS_DEST_ATTR_FWD_METHOD") or 0) & 0x7,
        weight=g("IPVS_DEST_ATTR_WEIGHT") or 0,
        u_thresh=g("IPVS_DEST_ATTR_U_THRESH") or 0,
        l_thresh=g("IPVS_DEST_ATTR_L_THRESH") or 0,
        tun_type=g("IPVS_DEST_ATTR_TUN_TYPE") or 0,
        tun_port=g("IPVS_DEST_ATTR_TUN_PORT") or 0,
        tun_flags=g("IPVS_DEST_ATTR_TUN_FLAGS") or 0,
    )


_CONFIG_MSG = None


def _config_msg_class():
    """ipvsmsg with the timeout attributes typed as the kernel reads them (u32 seconds);
    pyroute2 declares them "hex". Built once: pyroute2 compiles nla maps per class, and a
    subclass must not inherit the parent's compiled map (hence the reset flag)."""
    global _CONFIG_MSG
    if _CONFIG_MSG is None:
        from pyroute2.netlink.generic import ipvs as genl

        class ipvs_config_msg(genl.ipvsmsg):
            _nlmsg_base__compiled_nla = False
            nla_map = tuple(
                (name, "uint32" if name.startswith("IPVS_CMD_ATTR_TIMEOUT") else kind)
                for name, kind in genl.ipvsmsg.nla_map
            )

        _CONFIG_MSG = ipvs_config_msg
    return _CONFIG_MSG


def timeouts_msg(tcp: int | None, tcpfin: int | None, udp: int | None):
    """IPVS_CMD_SET_CONFIG carrying the connection timeouts (global_defs lvs_timeouts)."""
    from pyroute2.netlink.generic import ipvs as genl

    msg = _config_msg_class()()
    msg["cmd"] = genl.IPVS_CMD_SET_CONFIG
    msg["version"] = genl.GENL_VERSION
    attrs = []
    for name, value in (("IPVS_CMD_ATTR_TIMEOUT_TCP", tcp), ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", tcpfin),
                        ("IPVS_CMD_ATTR_TIMEOUT_UDP", udp)):
        if value is not None:
            if not 0 <= value <= 0xFFFFFFFF:
                raise ValueError(f"{name} {value} out of range")
            attrs.append((name, value))
    msg["attrs"] = attrs
    return msg
