"""What the engine needs to know about each instance, resolved from the config model.

InstanceSettings is frozen and compares by value: a reload keeps an instance running exactly
when its settings compare equal. All keepalived inheritance (global_defs defaults, IPv6
forcing v3, state MASTER clearing nopreempt, min_garp, strict mode) is resolved here once.
"""
from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass

from kvrrp.config.effective import global_values, is_strict, resolve
from kvrrp.io.ports import AddressSpec
from kvrrp.wire import VRRP_GROUP4, VRRP_GROUP6

AUTH_NONE = 0
AUTH_PASS = 1
AUTH_AH = 2
OWNER_PRIORITY = 255

# keepalived's VRRPv3 unicast checksum compatibility (pre-1.3.6 keepalived put the multicast
# group, not the peer, in the pseudo-header): "auto" switches to the old form when a peer's
# advert only verifies that way (keepalived's default), "config" (old_unicast_checksum) uses
# the old form from the start, "never" (old_unicast_checksum never) never does.
CHECKSUM_COMPAT_AUTO = "auto"
CHECKSUM_COMPAT_CONFIG = "config"
CHECKSUM_COMPAT_NEVER = "never"


class UnsupportedConfig(ValueError):
    """A configuration the engine refuses with a clear message (e.g. IPSEC-AH)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceSettings:
    name: str
    ifname: str
    vrid: int
    family: int = 4
    version: int = 2
    priority: int = 100
    adver_int: float = 1.0
    vips: tuple[AddressSpec, ...] = ()
    excluded_vips: tuple[AddressSpec, ...] = ()
    unicast_peers: tuple[str, ...] = ()
    unicast_src_ip: str | None = None
    check_unicast_src: bool = False
    unicast_peer_ttl: tuple[tuple[str, int, int], ...] = ()   # (peer, min_ttl, max_ttl) ranges
    mcast_group: str | None = None          # None: 224.0.0.18 / ff02::12
    auth_type: int = AUTH_NONE
    auth_pass: bytes = b""                   # 8 bytes, NUL padded, when auth_type is PASS
    preempt: bool = True
    preempt_delay: float = 0.0
    # Accept_Mode (RFC 5798 6.1): False = a master that is not the address owner drops traffic
    # to its VIPs (keepalived's no_accept, the default in strict mode), through nftables
    accept: bool = True
    skip_check_adv_addr: bool = False
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    down_timer_adverts: int = 3
    garp_master_delay: float = 5.0
    garp_master_repeat: int = 5
    garp_lower_prio_delay: float = 5.0
    garp_lower_prio_repeat: int = 5
    garp_master_refresh: float = 0.0
    garp_master_refresh_repeat: int = 1
    garp_interval: float = 0.0
    gna_interval: float = 0.0
    sync_group: str | None = None
    owner_ignore_adverts: bool = False       # a priority 255 master ignores received adverts
    fault_no_peer: bool = False              # unicast_fault_no_peer with no peer of our family
    # a configuration keepalived runs in FAULT ("setting instance to fault state"): the reason
    config_fault: str | None = None
    v3_checksum_as_v2: bool = False          # v3/IPv4 checksum without the pseudo-header (RFC 9568)
    # use_vmac: VIPs without their own dev live on this macvlan and GARPs leave from it; adverts
    # are sent and received on it (keepalived's vrrp->ifp: the Ethernet source is the virtual
    # MAC, and a private macvlan consumes the peers' adverts from that MAC, the base interface
    # never sees them) with the base interface's address as IP source - unless vmac_xmit_base
    vmac_ifname: str | None = None
    vmac_xmit_base: bool = False
    unicast_ttl: int | None = None           # TTL / hop limit of unicast adverts (None: 255)
    unicast_checksum_compat: str = CHECKSUM_COMPAT_AUTO
    compat_group: str = VRRP_GROUP4          # vrrp_mcast_group4: the old checksum's destination
    # this instance's part of its receive socket's SO_RCVBUF: ("bytes", n), ("mtu", multiplier)
    # or ("", 0) for none (kernel_rx_buf_size / vrrp_rx_bufs_policy, see rx_buf_share)
    rx_buf_share: tuple[str, int] = ("", 0)
    # auth_hmac { ... } (kvrrp.config.model.AuthHmac, validated): adverts carry keepalived 2.4's
    # HMAC-SHA256 trailer; the runtime keeps the replay state (kvrrp.vrrp.auth_hmac.HmacAuth)
    auth_hmac: object | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.vrid <= 255:
            raise ValueError(f"({self.name}) virtual_router_id {self.vrid} outside 1..255")
        if not 1 <= self.priority <= 255:
            raise ValueError(f"({self.name}) priority {self.priority} outside 1..255")
        if self.family not in (4, 6):
            raise ValueError(f"({self.name}) family {self.family} is not 4 or 6")
        if self.version not in (2, 3) or (self.family == 6 and self.version != 3):
            raise ValueError(f"({self.name}) VRRP version {self.version} invalid for IPv{self.family}")
        if self.auth_type not in (AUTH_NONE, AUTH_PASS):
            raise UnsupportedConfig(f"({self.name}) authentication type {self.auth_type} is not supported "
                                    "(only PASS; IPSEC-AH is not implemented)")
        if self.auth_type == AUTH_PASS and len(self.auth_pass) != 8:
            raise ValueError(f"({self.name}) auth_pass must be padded to 8 bytes")
        if self.unicast_ttl is not None and not 0 <= self.unicast_ttl <= 255:
            raise ValueError(f"({self.name}) unicast_ttl {self.unicast_ttl} outside 0..255")
        if self.unicast_checksum_compat not in (CHECKSUM_COMPAT_AUTO, CHECKSUM_COMPAT_CONFIG,
                                                CHECKSUM_COMPAT_NEVER):
            raise ValueError(f"({self.name}) unknown unicast checksum mode {self.unicast_checksum_compat!r}")

    @property
    def is_unicast(self) -> bool:
        return bool(self.unicast_peers)

    @property
    def is_owner(self) -> bool:
        return self.priority == OWNER_PRIORITY

    @property
    def vrrp_ifname(self) -> str:
        """The interface adverts are sent and received on: the VMAC unless vmac_xmit_base,
        else the configured one (ifname, whose primary address is always the advert source)."""
        if self.vmac_ifname and not self.vmac_xmit_base:
            return self.vmac_ifname
        return self.ifname

    @property
    def old_unicast_checksum_possible(self) -> bool:
        """Whether the pre-1.3.6 unicast checksum can apply: v3 IPv4 unicast with a pseudo-header."""
        return (self.version == 3 and self.family == 4 and self.is_unicast and not self.v3_checksum_as_v2
                and self.unicast_checksum_compat != CHECKSUM_COMPAT_NEVER)

    @property
    def group(self) -> str:
        if self.mcast_group:
            return self.mcast_group
        return VRRP_GROUP4 if self.family == 4 else VRRP_GROUP6

    @property
    def advert_addresses(self) -> tuple[str, ...]:
        """The VIPs carried in adverts: those of the instance's family, in config order."""
        return tuple(v.address for v in self.vips if v.family == self.family)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncGroupSettings:
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    instances: tuple[InstanceSettings, ...] = ()
    sync_groups: tuple[SyncGroupSettings, ...] = ()
    startup_delay: float = 0.0               # vrrp_startup_delay: no takeover before start + this
    log_unknown_vrids: bool = False
    garp_groups: tuple = ()                  # vrrp.garp.GarpGroupSettings: shared GARP/NA pacing
    vmac_bases: tuple[tuple[str, str], ...] = ()   # (VMAC, base interface): GARPs paced on the base


def pad_password(password: str) -> bytes:
    """keepalived keeps the first 8 bytes of auth_pass in a zeroed 8-byte field."""
    return password.encode()[:8].ljust(8, b"\0")


def _broadcast(address: str, prefixlen: int, brd: str | None) -> str | None:
    if brd is None or brd == "-":
        return None
    if brd == "+":
        computed = str(ipaddress.ip_interface(f"{address}/{prefixlen}").network.broadcast_address)
        return address if computed == address else computed   # a /32: no second copy of the string
    return brd


def address_spec(vip, default_ifname: str) -> AddressSpec:
    """config.model.VirtualAddress -> AddressSpec (dev defaults to the instance interface)."""
    return AddressSpec(
        address=vip.address, prefixlen=vip.prefixlen, ifname=vip.dev or default_ifname,
        family=vip.family, broadcast=_broadcast(vip.address, vip.prefixlen, vip.brd) if vip.family == 4 else None,
        label=vip.label, scope=vip.scope, peer=vip.peer, nodad=vip.nodad)


def _first(*values):
    for v in values:
        if v is not None:
            return v
    return None


# InstanceSettings fields whose values come from the one resolver (kvrrp.config.effective)
_RESOLVED = ("accept", "skip_check_adv_addr", "check_unicast_src", "owner_ignore_adverts",
             "lower_prio_no_advert", "higher_prio_send_advert", "down_timer_adverts",
             "garp_master_delay", "garp_master_repeat", "garp_lower_prio_delay", "garp_lower_prio_repeat",
             "garp_master_refresh", "garp_master_refresh_repeat", "garp_interval", "gna_interval")


def instance_settings(inst, g, sync_group: str | None = None, sync_group_model=None,
                      globals_: dict | None = None, vmacs=None) -> InstanceSettings:
    """config.model.VrrpInstance + GlobalDefs (+ its vrrp_sync_group) -> InstanceSettings.
    vmacs: the instance's kvrrp.io.vmac.InstanceVmacs from plan_vmacs over the whole config
    (VMAC names depend on the other instances); None plans this instance alone."""
    family = inst.family or 4
    version = 3 if family == 6 else (inst.version or g.vrrp_version)
    if inst.interface is None and not inst.unicast_peers:
        raise ValueError(f"({inst.name}) needs an interface")
    if inst.vrid is None:
        raise ValueError(f"({inst.name}) needs a virtual_router_id")
    ifname = inst.interface or g.default_interface
    if vmacs is None:
        vmacs = _plan_one(inst, g)
    elif vmacs is False:                  # planned with the whole config: nothing for this one
        vmacs = None
    # use_vmac: the instance's adverts and its VIPs of its family on the VMAC; use_ipvlan: the
    # adverts on the ipvlan, the VIPs on the interface (keepalived >= 2.2, vrrp_complete_instance)
    vmac = vmacs.ifname if vmacs is not None else None
    ipvlan = vmacs is not None and vmacs.kind == "ipvlan"
    use_vmac = vmac is not None and not ipvlan
    placed_vips = vmacs.vips if vmacs is not None else (None,) * len(inst.virtual_ipaddress)
    placed_evips = vmacs.evips if vmacs is not None else (None,) * len(inst.virtual_ipaddress_excluded)
    auth_type, auth_pass = AUTH_NONE, b""
    if inst.authentication is not None and version == 2:
        kind = inst.authentication.auth_type.upper()
        if kind == "AH":
            raise UnsupportedConfig(f"({inst.name}) authentication AH is not supported; use PASS or none")
        auth_type, auth_pass = AUTH_PASS, pad_password(inst.authentication.auth_pass)
    nopreempt, preempt_delay = inst.nopreempt, inst.preempt_delay
    if inst.state == "MASTER":
        # keepalived: "nopreempt/preempt delay will not work with initial state MASTER - clearing"
        nopreempt, preempt_delay = False, 0.0
    eff = resolve(inst, g, sync_group_model, globals_)
    return InstanceSettings(
        name=inst.name, ifname=ifname, vrid=inst.vrid, family=family, version=version,
        priority=inst.priority, adver_int=inst.advert_int,
        vips=tuple(_placed(v, where, ifname) for v, where in zip(inst.virtual_ipaddress, placed_vips)),
        excluded_vips=tuple(_placed(v, where, ifname)
                            for v, where in zip(inst.virtual_ipaddress_excluded, placed_evips)),
        unicast_peers=tuple(p.address for p in inst.unicast_peers if p.family == family),
        # use_ipvlan ADDRESS is also the adverts' source unless one is configured (keepalived)
        unicast_src_ip=_first(inst.unicast_src_ip, inst.mcast_src_ip,
                              inst.use_ipvlan.address if ipvlan and inst.use_ipvlan is not None else None),
        unicast_peer_ttl=tuple((p.address, p.min_ttl if p.min_ttl is not None else 0,
                                p.max_ttl if p.max_ttl is not None else 255)
                               for p in inst.unicast_peers
                               if p.family == family and (p.min_ttl is not None or p.max_ttl is not None)),
        mcast_group=inst.mcast_dst_ip or (g.vrrp_mcast_group4 if family == 4 else g.vrrp_mcast_group6),
        auth_type=auth_type, auth_pass=auth_pass, auth_hmac=inst.auth_hmac,
        preempt=not nopreempt, preempt_delay=preempt_delay,
        sync_group=sync_group,
        v3_checksum_as_v2=version == 3 and family == 4 and bool(_first(inst.v3_checksum_as_v2,
                                                                       g.v3_checksum_as_v2)),
        fault_no_peer=inst.unicast_fault_no_peer and not any(p.family == family for p in inst.unicast_peers),
        vmac_ifname=vmac,
        # keepalived: "IPv4 ipvlan requires a source ip address to be configured. setting
        # instance to fault state"
        config_fault=("ipvlan_without_address" if ipvlan and family == 4 and inst.use_ipvlan is not None
                      and inst.use_ipvlan.address is None else None),
        # keepalived: unicast + VMAC needs vmac_xmit_base (a unicast peer is not on the VMAC's subnet)
        # and strict mode clears it ("xmit_base is incompatible with strict mode - resetting")
        vmac_xmit_base=use_vmac and ((inst.use_vmac.xmit_base and not is_strict(inst, g))
                                     or any(p.family == family for p in inst.unicast_peers)),
        unicast_ttl=inst.unicast_ttl if any(p.family == family for p in inst.unicast_peers) else None,
        unicast_checksum_compat=_checksum_compat(inst),
        compat_group=g.vrrp_mcast_group4 or VRRP_GROUP4,
        rx_buf_share=rx_buf_share(getattr(inst, "kernel_rx_buf_size", None), g, family, version,
                                  sum(1 for v in inst.virtual_ipaddress if v.family == family)),
        **{name: eff[name] for name in _RESOLVED},
    )


IPV4_HEADER = 20
VRRP_HEADER = 8
VRRP_AUTH_LEN = 8


def advert_length(family: int, version: int, n_addresses: int) -> int:
    """keepalived's vrrp_adv_len(): the VRRP packet (authentication data in v2) plus, for
    IPv4, the IP header."""
    if family == 4:
        return IPV4_HEADER + VRRP_HEADER + (VRRP_AUTH_LEN if version == 2 else 0) + 4 * n_addresses
    return VRRP_HEADER + 16 * n_addresses


def rx_buf_share(kernel_rx_buf_size: int | None, g, family: int, version: int, n_addresses: int) -> tuple[str, int]:
    """What one instance adds to its receive socket's SO_RCVBUF, as keepalived's
    vrrp_scheduler.c: kernel_rx_buf_size, else a fixed vrrp_rx_bufs_policy size, else
    vrrp_rx_bufs_multiplier x the advert length (ADVERT) or x the interface MTU (MTU, known
    only at run time), else nothing."""
    if kernel_rx_buf_size:
        return ("bytes", kernel_rx_buf_size)
    policy = getattr(g, "vrrp_rx_bufs_policy", None)
    multiplier = getattr(g, "vrrp_rx_bufs_multiplier", 3)
    if policy == "SIZE":
        return ("bytes", g.vrrp_rx_bufs_size)
    if policy == "ADVERT":
        return ("bytes", multiplier * advert_length(family, version, n_addresses))
    if policy == "MTU":
        return ("mtu", multiplier)
    return ("", 0)


def _placed(vip, where: str | None, ifname: str) -> AddressSpec:
    """A VIP on the VMAC plan_vmacs put it on, else on its dev or the instance's interface."""
    spec = address_spec(vip, ifname)
    if where is not None:
        spec = dataclasses.replace(spec, ifname=where)
    return spec


def _plan_one(inst, g):
    """plan_vmacs for one instance (its VMAC names as if it were alone in the config)."""
    from types import SimpleNamespace

    from kvrrp.io.vmac import VmacError, plan_vmacs

    try:
        return plan_vmacs(SimpleNamespace(global_defs=g, instances=(inst,))).get(inst.name)
    except VmacError as exc:
        raise ValueError(str(exc)) from None


def plan_all(config) -> dict:
    from kvrrp.io.vmac import VmacError, plan_vmacs

    try:
        return plan_vmacs(config)
    except VmacError as exc:
        raise ValueError(str(exc)) from None


def _checksum_compat(inst) -> str:
    # config.model.VrrpInstance.old_unicast_checksum: True for the bare keyword; an explicit
    # mode string ("never") when the config layer provides one
    mode = getattr(inst, "old_unicast_checksum", False)
    if isinstance(mode, str):
        return mode if mode in (CHECKSUM_COMPAT_NEVER, CHECKSUM_COMPAT_CONFIG) else CHECKSUM_COMPAT_AUTO
    return CHECKSUM_COMPAT_CONFIG if mode else CHECKSUM_COMPAT_AUTO


def engine_settings(config) -> EngineSettings:
    """config.model.Config -> EngineSettings (accepts an EngineSettings unchanged)."""
    if isinstance(config, EngineSettings):
        return config
    g = config.global_defs
    group_of: dict[str, str] = {}
    group_model: dict = {}
    groups = []
    for sg in config.sync_groups:
        members = tuple(m for m in sg.group if config.instance(m) is not None)
        groups.append(SyncGroupSettings(name=sg.name, members=members))
        for m in members:
            group_of[m] = sg.name
            group_model[m] = sg
    gv = global_values(g)
    vmacs = plan_all(config)
    instances = tuple(instance_settings(i, g, group_of.get(i.name), group_model.get(i.name), gv,
                                        vmacs.get(i.name, False))
                      for i in config.instances)
    return EngineSettings(instances=instances, sync_groups=tuple(groups),
                          startup_delay=g.vrrp_startup_delay, log_unknown_vrids=g.log_unknown_vrids,
                          garp_groups=garp_group_settings(config),
                          vmac_bases=tuple((spec.ifname, spec.base) for plan in vmacs.values()
                                           for spec in plan.specs))


def garp_group_settings(config) -> tuple:
    """garp_group blocks -> GarpGroupSettings; an interval left out is no spacing for that
    family (keepalived's have_garp_interval), a group with neither is dropped (reported by -t)."""
    from kvrrp.vrrp.garp import GarpGroupSettings

    out = []
    for gg in getattr(config, "garp_groups", ()):
        if gg.garp_interval is None and gg.gna_interval is None:
            continue
        out.append(GarpGroupSettings(interfaces=tuple(gg.interfaces), garp_interval=gg.garp_interval or 0.0,
                                     gna_interval=gg.gna_interval or 0.0))
    return tuple(out)
