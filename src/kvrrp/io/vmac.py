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
that is on the outgoing interface.
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


@dataclass(frozen=True)
class VmacSpec:
    ifname: str
    base: str
    mac: str
    family: int = 4


def spec_for(instance: Any, vmac_prefix: str = "vrrp") -> VmacSpec | None:
    """The VMAC a config VrrpInstance asks for, or None."""
    vm = getattr(instance, "use_vmac", None)
    if vm is None:
        return None
    if not instance.interface or instance.vrid is None:
        raise VmacError(f"({instance.name}) use_vmac needs interface and virtual_router_id")
    family = instance.family or 4
    return VmacSpec(ifname=vmac_name(instance.vrid, vmac_prefix, vm.name), base=instance.interface,
                    mac=(vm.mac or vmac_address(instance.vrid, family)).lower(), family=family)


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

    def __init__(self, netlink: Any) -> None:
        self.netlink = netlink
        self.created: dict[str, VmacSpec] = {}
        self._base_saved: dict[str, dict[str, str | None]] = {}

    def _link(self, name: str) -> Any | None:
        def q(ipr):
            idx = ipr.link_lookup(ifname=name)
            return ipr.get_links(idx[0])[0] if idx else None
        return self.netlink.call(q)

    def ensure(self, spec: VmacSpec) -> int:
        """Create (or adopt) the VMAC and bring it up; returns its ifindex."""
        base = self._link(spec.base)
        if base is None:
            raise VmacError(f"VMAC {spec.ifname}: base interface {spec.base} does not exist")
        existing = self._link(spec.ifname)
        if existing is not None:
            mac = (existing.get_attr("IFLA_ADDRESS") or "").lower()
            link = existing.get_attr("IFLA_LINK")
            if mac != spec.mac or link != base["index"]:
                raise VmacError(f"interface {spec.ifname} exists but is not the VMAC for {spec.base} "
                                f"with {spec.mac} (it has {mac} on ifindex {link})")
            index = existing["index"]
        else:
            def create(ipr):
                ipr.link("add", ifname=spec.ifname, kind="macvlan", link=base["index"],
                         macvlan_mode="private", address=spec.mac)
                return ipr.link_lookup(ifname=spec.ifname)[0]
            index = self.netlink.call(create)
            log.info("created VMAC %s (%s) on %s", spec.ifname, spec.mac, spec.base)
        self._configure_sysctls(spec)
        if spec.family == 6:
            # before "up": no link-local derived from the virtual MAC
            self._sysctl(_write_sysctl, spec.ifname, "addr_gen_mode", "1", SYSCTL_ROOT6)
        self.netlink.call(lambda ipr: ipr.link("set", index=index, state="up"))
        if spec.family == 6:
            self._add_base_link_local(spec, base["index"], index)
        self.created[spec.ifname] = spec
        return index

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


def prepare_vmacs(manager: VmacManager, config: Any) -> dict[str, str]:
    """Create every VMAC the config asks for; returns {instance name: vmac ifname}. An instance
    whose VMAC cannot be made is logged and left out: the engine still runs it on the VMAC's
    name, so its socket and VIPs fail with logged errors (it never claims the VIPs on the
    base interface, where they would answer ARP with the wrong MAC)."""
    out = {}
    prefix = getattr(config.global_defs, "vmac_prefix", "vrrp") or "vrrp"
    for inst in config.instances:
        try:
            spec = spec_for(inst, prefix)
            if spec is None:
                continue
            manager.ensure(spec)
            out[inst.name] = spec.ifname
        except (VmacError, ValueError, OSError) as exc:
            log.error("(%s) use_vmac: %s", inst.name, exc)
    return out
