"""use_vmac: a macvlan interface carrying the virtual router MAC 00:00:5e:00:01:VRID (IPv4)
or 00:00:5e:00:02:VRID (IPv6), created and removed through pyroute2, keepalived's way.

keepalived names it ``vrrp.<VRID>`` (global ``vmac_prefix``, or the name given to use_vmac),
creates it in macvlan "private" mode on the instance's interface (so the node still hears
adverts sent from the same MAC by its peers), brings it up, and sets on it arp_ignore=1,
accept_local=1 and rp_filter=0, and on the base interface arp_ignore=1 / arp_filter=1 so only
the VMAC answers ARP for the VIPs (vrrp_if_config.c). An existing interface of that name with
the right MAC and base is adopted (a restart converges); one that does not match is an error.
The base interface's old sysctl values are restored when its last VMAC goes.

An IPv6 VMAC gets no address of its own (addr_gen_mode none) but the base interface's
link-local address, so adverts leave the VMAC from the same link-local the base has (RFC 5798
5.1.2.1; keepalived's set_link_local_address): the kernel only sends from a link-local address
that is on the outgoing interface (not with vmac_xmit_base: the adverts then leave the base).

The variants (plan_vmacs decides which interfaces one configuration needs, as keepalived's
vrrp_complete_instance does): VMACs for single addresses (a VIP's `use_vmac`, the instance's
`use_vmac_addr`) on the address's interface with the address family's virtual MAC, and
`use_ipvlan`, an L2 ipvlan (mode flag bridge / private / vepa) with the base's MAC and an
address of its own. Each macvlan's IGMP/MLD reports are moved to its base interface by
kvrrp.io.vmac_igmp (keepalived's nftables rules).
"""
from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("kvrrp.io")

MACVLAN_MODE_PRIVATE = 1
SYSCTL_ROOT = "/proc/sys/net/ipv4/conf"
SYSCTL_ROOT6 = "/proc/sys/net/ipv6/conf"
IFA_F_NODAD = 0x02


class VmacError(RuntimeError):
    pass


def vmac_address(vrid: int, family: int = 4) -> str:
    if not 1 <= vrid <= 255:
        raise ValueError(f"VRID {vrid} outside 1..255")
    return f"00:00:5e:00:{1 if family == 4 else 2:02x}:{vrid:02x}"


def vmac_name(vrid: int, prefix: str = "vrrp", name: str | None = None) -> str:
    ifname = name or f"{prefix}.{vrid}"
    if len(ifname) > 15:
        raise VmacError(f"VMAC interface name {ifname!r} is longer than 15 characters")
    return ifname


MACVLAN = "macvlan"
IPVLAN = "ipvlan"
IPVLAN_MODE_L2 = 0
IPVLAN_FLAGS = {"bridge": 0, "private": 1, "vepa": 2}       # IFLA_IPVLAN_FLAGS: IPVLAN_F_*


@dataclass(frozen=True)
class VmacSpec:
    ifname: str
    base: str
    mac: str | None                  # None for an ipvlan: it has its base interface's MAC
    family: int = 4
    kind: str = MACVLAN
    ipvlan_mode: str = "bridge"
    address: str | None = None       # an ipvlan's own address (use_ipvlan ADDRESS/PREFIX)
    prefixlen: int | None = None
    ipv6: bool = True                # False: IPv6 off on it (an IPv4 one without IPv6 eVIPs)
    other_family: bool = False       # eVIPs of the other family (IGMP/MLD rules for both)
    xmit_base: bool = False          # IPv6: no link-local of its own (adverts leave the base)
    group: str | None = None         # link group (number or /etc/iproute2/group name); None: the base's
    netlink_notify: bool = False     # use_vmac netlink_notify_msg: re-set the base's group after


@dataclass(frozen=True)
class InstanceVmacs:
    """Where one instance's adverts and addresses go, and the interfaces kvrrp makes for it."""

    ifname: str | None                       # use_vmac macvlan / use_ipvlan ipvlan, or None
    kind: str | None                         # MACVLAN / IPVLAN / None
    vips: tuple[str | None, ...] = ()        # per virtual_ipaddress entry: the interface it
    evips: tuple[str | None, ...] = ()       # goes on (a VMAC), or None: its dev / the interface
    specs: tuple[VmacSpec, ...] = ()


def _auto_name(prefix: str, vrid: int, family: int, taken: set[str]) -> str:
    """keepalived's create_vmac_name: PREFIX.VRID, then PREFIX1.VRID, PREFIX2.VRID, ... (IPv6
    tries PREFIX6.VRID first and skips 6 later), the prefix cut so the name fits 15 chars."""
    num = 0
    while True:
        digits = "" if num == 0 else str(num)
        tail = f"{digits}.{vrid}"
        name = prefix[:15 - len(tail)] + tail
        if name not in taken:
            taken.add(name)
            return name
        if family == 6:
            if num == 0:
                num = 6
            elif num == 6:
                num = 1
            else:
                num += 1 if num != 5 else 2
        else:
            num += 1


def plan_vmacs(config: Any) -> dict[str, InstanceVmacs]:
    """Every VMAC / ipvlan the config asks for, named and placed as keepalived's
    vrrp_complete_instance does (instances in file order; names given in the config are
    reserved first). Pure: interfaces that already exist are checked when they are made."""
    g = config.global_defs
    prefix = getattr(g, "vmac_prefix", "vrrp") or "vrrp"
    addr_prefix = getattr(g, "vmac_addr_prefix", None) or prefix
    taken: set[str] = set()
    for inst in config.instances:
        for opt in (getattr(inst, "use_vmac", None), getattr(inst, "use_ipvlan", None)):
            if opt is not None and opt.name:
                taken.add(opt.name)
    by_mac: dict[tuple[str, str], VmacSpec] = {}       # (base, MAC) -> addr VMAC, shared
    out = {}
    for inst in config.instances:
        vm, ipv = getattr(inst, "use_vmac", None), getattr(inst, "use_ipvlan", None)
        if (vm is None and ipv is None and not getattr(inst, "use_vmac_addr", False)
                and not any(a.use_vmac for a in inst.virtual_ipaddress + inst.virtual_ipaddress_excluded)):
            continue
        if not inst.interface or inst.vrid is None:
            raise VmacError(f"({inst.name}) use_vmac needs interface and virtual_router_id")
        family = inst.family or 4
        specs: list[VmacSpec] = []
        own = None
        other_family = any(a.family != family for a in inst.virtual_ipaddress_excluded)
        if vm is not None:
            name = vmac_name(inst.vrid, prefix, vm.name) if vm.name else _auto_name(prefix, inst.vrid, family, taken)
            own = VmacSpec(ifname=name, base=inst.interface, mac=(vm.mac or vmac_address(inst.vrid, family)).lower(),
                           family=family, ipv6=family == 6 or other_family, other_family=other_family,
                           xmit_base=vm.xmit_base, group=vm.group, netlink_notify=vm.netlink_notify_msg)
        elif ipv is not None:
            name = vmac_name(inst.vrid, prefix, ipv.name) if ipv.name else _auto_name(prefix, inst.vrid, family, taken)
            own = VmacSpec(ifname=name, base=inst.interface, mac=None, family=family, kind=IPVLAN,
                           ipvlan_mode=ipv.mode, address=ipv.address, prefixlen=ipv.prefixlen,
                           ipv6=family == 6 or other_family, other_family=other_family, group=ipv.group)
        if own is not None:
            specs.append(own)
        placed: list[list[str | None]] = [[], []]
        for n, addrs in enumerate((inst.virtual_ipaddress, inst.virtual_ipaddress_excluded)):
            for a in addrs:
                placed[n].append(_place(inst, a, family, own, specs, by_mac, addr_prefix, taken))
        out[inst.name] = InstanceVmacs(ifname=own.ifname if own else None, kind=own.kind if own else None,
                                       vips=tuple(placed[0]), evips=tuple(placed[1]), specs=tuple(specs))
    return out


def _place(inst: Any, a: Any, family: int, own: VmacSpec | None, specs: list[VmacSpec],
           by_mac: dict[tuple[str, str], VmacSpec], addr_prefix: str, taken: set[str]) -> str | None:
    """The interface one VIP/eVIP goes on (keepalived: use_vmac applies to an address on the
    instance's interface of another family, or on another interface; use_vmac_addr to all of
    those); None = its dev, or the instance's interface."""
    has_vmac = own is not None and own.kind == MACVLAN
    on_own_if = a.dev is None or a.dev == inst.interface
    use = bool(a.use_vmac)
    if use and ((on_own_if and has_vmac and a.family == family) or getattr(inst, "use_vmac_addr", False)):
        use = False                  # config validation reports these two cases, as keepalived does
    if on_own_if:
        if has_vmac and a.family == family:
            return own.ifname
        wanted = use or (getattr(inst, "use_vmac_addr", False) and a.family != family)
    else:
        wanted = use or getattr(inst, "use_vmac_addr", False)
    if not wanted:
        return None
    base = a.dev or inst.interface
    vm = getattr(inst, "use_vmac", None)
    mac = (vm.mac if vm is not None and vm.mac else vmac_address(inst.vrid, a.family)).lower()
    spec = by_mac.get((base, mac))
    if spec is None:
        spec = VmacSpec(ifname=_auto_name(addr_prefix, inst.vrid, a.family, taken), base=base, mac=mac,
                        family=a.family, ipv6=a.family == 6)
        by_mac[(base, mac)] = spec
    if spec not in specs:
        specs.append(spec)
    return spec.ifname


def _link_group(name: str | None, default: int) -> int:
    """use_vmac / use_ipvlan `group G`: a number or a name from iproute2's group file."""
    if name is None:
        return default
    if name.isdigit():
        return int(name)
    for path in ("/etc/iproute2/group", "/usr/share/iproute2/group", "/usr/lib/iproute2/group"):
        try:
            with open(path) as fh:
                for line in fh:
                    words = line.split("#", 1)[0].split()
                    if len(words) >= 2 and words[1] == name and words[0].isdigit():
                        return int(words[0])
        except OSError:
            continue
    log.warning("VMAC group %s not found - using the base interface's", name)
    return default


def _register_ipvlan_flags() -> None:
    """pyroute2 0.9's ipvlan attributes stop at IFLA_IPVLAN_MODE; IFLA_IPVLAN_FLAGS (2, the
    bridge / private / vepa flag, Linux 4.15) is added through its public register_link_kind."""
    from pyroute2.netlink import nla
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

    data_map = ifinfmsg.ifinfo.data_map
    if any(name == "IFLA_IPVLAN_FLAGS" for name, _ in getattr(data_map.get(IPVLAN), "nla_map", ())):
        return

    class ipvlan_data(nla):
        prefix = "IFLA_"
        nla_map = (("IFLA_IPVLAN_UNSPEC", "none"), ("IFLA_IPVLAN_MODE", "uint16"),
                   ("IFLA_IPVLAN_FLAGS", "uint16"))

    ifinfmsg.ifinfo.register_link_kind(module={IPVLAN: ipvlan_data})


def _read_sysctl(ifname: str, key: str, root: str = SYSCTL_ROOT) -> str | None:
    try:
        with open(f"{root}/{ifname}/{key}") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _write_sysctl(ifname: str, key: str, value: str, root: str = SYSCTL_ROOT) -> None:
    try:
        with open(f"{root}/{ifname}/{key}", "w") as fh:
            fh.write(value)
    except OSError as exc:
        log.warning("cannot set %s/%s/%s=%s: %s", root, ifname, key, value, exc.strerror)


class VmacManager:
    """Creates / removes VMAC interfaces on the io layer's netlink thread (Netlink.call)."""

    def __init__(self, netlink: Any, igmp: Any = None) -> None:
        self.netlink = netlink
        self.igmp = igmp                 # kvrrp.io.vmac_igmp.VmacIgmp, or None (no rules)
        self.created: dict[str, VmacSpec] = {}
        self._base_saved: dict[str, dict[str, str | None]] = {}

    def _link(self, name: str) -> Any | None:
        def q(ipr):
            idx = ipr.link_lookup(ifname=name)
            return ipr.get_links(idx[0])[0] if idx else None
        return self.netlink.call(q)

    def ensure(self, spec: VmacSpec) -> int:
        """Create (or adopt) the VMAC / ipvlan and bring it up; returns its ifindex."""
        base = self._link(spec.base)
        if base is None:
            raise VmacError(f"VMAC {spec.ifname}: base interface {spec.base} does not exist")
        existing = self._link(spec.ifname)
        if existing is not None:
            self._check_existing(spec, existing, base["index"])
            index = existing["index"]
        else:
            index = self.netlink.call(lambda ipr: self._create(ipr, spec, base["index"],
                                                               base.get_attr("IFLA_GROUP") or 0))
            log.info("created %s %s (%s) on %s", "VMAC" if spec.kind == MACVLAN else "ipvlan", spec.ifname,
                     spec.mac or f"mode l2 {spec.ipvlan_mode}", spec.base)
        if spec.kind == MACVLAN:
            self._configure_sysctls(spec)
            if self.igmp is not None:
                # before "up" (keepalived's firewall_add_vmac): the first reports already go to
                # the base; nftables' socket lives on the netlink thread, in this namespace
                self.netlink.call(lambda ipr: self.igmp.add(spec.ifname, spec.base, spec.family,
                                                            spec.other_family))
        # keepalived's link_set_ipv6: no IPv6 (so no MLD, no link-local) on an IPv4 VMAC
        # unless eVIPs of the other family need it
        self._sysctl(_write_sysctl, spec.ifname, "disable_ipv6", "0" if spec.ipv6 else "1", SYSCTL_ROOT6)
        if spec.ipv6 and spec.kind == MACVLAN:
            # before "up": no link-local derived from the virtual MAC (RFC 5798 7.4)
            self._sysctl(_write_sysctl, spec.ifname, "addr_gen_mode", "1", SYSCTL_ROOT6)
        self.netlink.call(lambda ipr: ipr.link("set", index=index, state="up"))
        if spec.family == 6 and spec.kind == MACVLAN and not spec.xmit_base:
            self._add_base_link_local(spec, base["index"], index)
        if spec.address is not None:
            self._add_address(spec, index)
        self.created[spec.ifname] = spec
        return index

    @staticmethod
    def _create(ipr: Any, spec: VmacSpec, base_index: int, base_group: int) -> int:
        # keepalived 2.4: in the base's link group (firewall rules matching iifgroup/oifgroup
        # keep working) unless `group` names another one
        group = _link_group(spec.group, base_group)
        if spec.kind == IPVLAN:
            _register_ipvlan_flags()
            ipr.link("add", ifname=spec.ifname, kind=IPVLAN, link=base_index, ipvlan_mode=IPVLAN_MODE_L2,
                     ipvlan_flags=IPVLAN_FLAGS[spec.ipvlan_mode], group=group)
        else:
            ipr.link("add", ifname=spec.ifname, kind=MACVLAN, link=base_index, macvlan_mode="private",
                     address=spec.mac, group=group)
            if spec.netlink_notify:
                # netlink_notify_msg: the kernel sends no RTM_NEWLINK for the base's promiscuity
                # change on some drivers; re-setting its group forces one
                ipr.link("set", index=base_index, group=base_group)
        return ipr.link_lookup(ifname=spec.ifname)[0]

    @staticmethod
    def _check_existing(spec: VmacSpec, link: Any, base_index: int) -> None:
        info = link.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
        mac = (link.get_attr("IFLA_ADDRESS") or "").lower()
        parent = link.get_attr("IFLA_LINK")
        if spec.kind == IPVLAN:
            if kind != IPVLAN or parent != base_index:
                raise VmacError(f"interface {spec.ifname} exists but is not an ipvlan on {spec.base}")
        elif (kind is not None and kind != MACVLAN) or mac != spec.mac or parent != base_index:
            raise VmacError(f"interface {spec.ifname} exists but is not the VMAC for {spec.base} "
                            f"with {spec.mac} (it has {mac} on ifindex {parent})")

    def _add_address(self, spec: VmacSpec, index: int) -> None:
        """use_ipvlan ADDRESS/PREFIX: the ipvlan's own address (keepalived adds it after up)."""
        def add(ipr):
            have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index)}
            if spec.address not in have:
                ipr.addr("add", index=index, address=spec.address, prefixlen=spec.prefixlen,
                         **({"flags": IFA_F_NODAD} if ":" in spec.address else {}))
        try:
            self.netlink.call(add)
        except Exception as exc:  # noqa: BLE001 - logged like keepalived's "Failed to add"
            log.error("%s: failed to add interface address %s to %s: %s", spec.ifname, spec.address,
                      spec.ifname, exc)

    def _add_base_link_local(self, spec: VmacSpec, base_index: int, index: int) -> None:
        def add(ipr):
            lls = [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(family=socket.AF_INET6, index=base_index)
                   if a.get_attr("IFA_ADDRESS", "").lower().startswith("fe80:")]
            if not lls:
                return None
            have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(family=socket.AF_INET6, index=index)}
            if lls[0] not in have:
                ipr.addr("add", index=index, address=lls[0], prefixlen=64, flags=IFA_F_NODAD)
            return lls[0]
        try:
            added = self.netlink.call(add)
        except Exception as exc:  # noqa: BLE001 - the VMAC works for IPv4 without it
            raise VmacError(f"VMAC {spec.ifname}: cannot add {spec.base}'s link-local address: {exc}") from exc
        if added is None:
            log.warning("VMAC %s: %s has no IPv6 link-local address to share yet", spec.ifname, spec.base)
        else:
            log.info("VMAC %s: link-local %s (from %s)", spec.ifname, added, spec.base)

    def _sysctl(self, fn, *args):  # noqa: ANN001, ANN202
        # /proc/sys/net shows the namespace of the thread that opens it: use the netlink
        # thread, which lives in the namespace the interfaces are in
        return self.netlink.call(lambda ipr: fn(*args))

    def _configure_sysctls(self, spec: VmacSpec) -> None:
        self._sysctl(_write_sysctl, spec.ifname, "arp_ignore", "1")
        self._sysctl(_write_sysctl, spec.ifname, "accept_local", "1")
        self._sysctl(_write_sysctl, spec.ifname, "rp_filter", "0")
        if spec.base not in self._base_saved:
            self._base_saved[spec.base] = {k: self._sysctl(_read_sysctl, spec.base, k)
                                           for k in ("arp_ignore", "arp_filter")}
        self._sysctl(_write_sysctl, spec.base, "arp_ignore", "1")
        self._sysctl(_write_sysctl, spec.base, "arp_filter", "1")

    def remove(self, ifname: str) -> None:
        spec = self.created.pop(ifname, None)
        if self.igmp is not None:
            # before the link goes: the map is keyed by its ifindex (keepalived 2.4 does the same)
            self.netlink.call(lambda ipr: self.igmp.remove(ifname))

        def delete(ipr):
            idx = ipr.link_lookup(ifname=ifname)
            if idx:
                ipr.link("del", index=idx[0])
                return True
            return False
        if self.netlink.call(delete):
            log.info("removed VMAC %s", ifname)
        if spec is not None and not any(s.base == spec.base for s in self.created.values()):
            for key, value in self._base_saved.pop(spec.base, {}).items():
                if value is not None:
                    self._sysctl(_write_sysctl, spec.base, key, value)

    def remove_all(self) -> None:
        for name in list(self.created):
            self.remove(name)
        if self.igmp is not None:
            self.netlink.call(lambda ipr: self.igmp.close())


def prepare_vmacs(manager: VmacManager, config: Any) -> dict[str, str]:
    """Create every VMAC / ipvlan the config asks for (plan_vmacs); returns {key: ifname},
    the key being the instance name for its own interface and "NAME ADDRESS" for a VMAC made
    for one of its addresses (use_vmac on a VIP, use_vmac_addr). One that cannot be made is
    logged and left out: the engine still uses its name, so the socket and VIPs on it fail
    with logged errors (the VIPs never land on the base interface with the wrong MAC)."""
    out: dict[str, str] = {}
    done: set[VmacSpec] = set()
    try:
        plan = plan_vmacs(config)
    except (VmacError, ValueError) as exc:
        log.error("use_vmac: %s", exc)
        return out
    for inst in config.instances:
        iv = plan.get(inst.name)
        if iv is None:
            continue
        addrs = inst.virtual_ipaddress + inst.virtual_ipaddress_excluded
        for spec in iv.specs:
            try:
                if spec not in done:            # an address VMAC two instances share
                    manager.ensure(spec)
                    done.add(spec)
            except (VmacError, ValueError, OSError) as exc:
                log.error("(%s) %s: %s", inst.name, "use_ipvlan" if spec.kind == IPVLAN else "use_vmac", exc)
                continue
            if spec.ifname == iv.ifname:
                out[inst.name] = spec.ifname
            else:
                for a, placed in zip(addrs, iv.vips + iv.evips):
                    if placed == spec.ifname:
                        out[f"{inst.name} {a.address}"] = spec.ifname
    return out
