"""The kernel adapters of the VRRP engine: netlink, the raw VRRP sockets, the address manager
and the GARP / NA announcer; first up, last closed."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.io.addresses import NetlinkAddressManager
from kvrrp.io.announce import PacketAnnouncer
from kvrrp.io.netlink import Netlink
from kvrrp.io.sockbuf import RcvBuf
from kvrrp.io.transport import RawTransportFactory

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


class KeepOnStop:
    """-V/--dont-release-vrrp: the address manager, except that once the daemon stops, removing
    a VIP is skipped (the addresses stay for the next start to take over)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.keeping = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if self.keeping and name.startswith("remove"):
            def kept(*_args: Any, **_kw: Any) -> None:
                return None
            return kept
        return attr


def keeps_vips(args: Any) -> bool:
    """-V: the VIPs (and the no_accept tables that go with them) stay at exit."""
    return bool(getattr(args, "dont_release_vrrp", False))


def virtual_addresses(instances: Iterable[Any]) -> list[str]:
    """Every configured VIP (owner's too): never chosen as an advert's source address."""
    return [spec.address for inst in instances for spec in (*inst.vips, *inst.excluded_vips)]


class KernelAdapters(Service):
    name = "kernel adapters"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.netlink: Netlink | None = None
        self.addresses: NetlinkAddressManager | KeepOnStop | None = None
        self.transports: RawTransportFactory | None = None
        self.announcer: PacketAnnouncer | None = None

    async def start(self) -> None:
        d = self.daemon
        self.netlink = Netlink()
        self.transports = RawTransportFactory(d.loop, netlink=self.netlink)
        addresses = NetlinkAddressManager(self.netlink)
        self.addresses = KeepOnStop(addresses) if keeps_vips(d.args) else addresses
        self.announcer = PacketAnnouncer()
        d.netlink, d.transports, d.addresses, d.announcer = \
            self.netlink, self.transports, self.addresses, self.announcer
        self._size_netlink_buffers(d.config)

    async def commit_reload(self, new: Config) -> None:
        engine = self.daemon.engine
        if self.transports is not None:
            self.transports.set_virtual_addresses(
                virtual_addresses(inst.settings for inst in engine.instances.values()))
        self._size_netlink_buffers(new)

    async def withdraw(self) -> None:
        if isinstance(self.addresses, KeepOnStop):
            self.addresses.keeping = True   # -V: VIPs stay where they are

    async def stop(self) -> None:
        for adapter in (self.transports, self.announcer, self.netlink):
            if adapter is None:
                continue
            try:
                adapter.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                log.debug("closing %r failed", adapter, exc_info=True)

    def _size_netlink_buffers(self, config: Config) -> None:
        """vrrp_netlink_cmd_rcv_bufs(_force) on the command sockets, at start and on each
        reload as keepalived's kernel_netlink_set_recv_bufs (io.sockbuf)."""
        buf = RcvBuf.from_config(config.global_defs, "vrrp_netlink_cmd")
        if buf is None:
            return
        for target in (self.netlink, self.addresses):
            if target is None:
                continue
            try:
                target.set_receive_buffer(buf)
            except Exception:  # noqa: BLE001 - a buffer size must not stop the daemon
                log.exception("sizing a netlink command socket failed")

    def snapshot(self) -> dict[str, Any]:
        t = self.transports
        return {"sockets": t.stats() if t is not None else {},
                "socket_buffers": t.receive_buffers() if t is not None else {},
                "announcer": dict(self.announcer.stats) if self.announcer is not None else {}}
