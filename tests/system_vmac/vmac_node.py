"""A kvrrp node for the use_vmac system tests: the daemon's run loop with the VMAC wiring of
kvrrp.track.wiring.DaemonExtras (VMACs created before the engine, removed at stop).

src/kvrrp/daemon.py does not call DaemonExtras yet; this is the daemon with exactly the
sequence that module documents. Run it as the daemon:

    python3 vmac_node.py -n -l -D -P -f CONF -p PIDFILE
"""
from __future__ import annotations

import asyncio
import logging
import sys

from kvrrp import daemon as kd
from kvrrp.cli import build_parser

log = logging.getLogger("kvrrp.daemon")


class VmacDaemon(kd.Daemon):
    async def run(self) -> int:
        from kvrrp.io.addresses import NetlinkAddressManager, remove_leftovers
        from kvrrp.io.announce import PacketAnnouncer
        from kvrrp.io.clock import MonotonicClock
        from kvrrp.io.netlink import Netlink
        from kvrrp.io.transport import RawTransportFactory
        from kvrrp.track.wiring import DaemonExtras
        from kvrrp.vrrp.engine import VrrpEngine
        from kvrrp.vrrp.settings import engine_settings

        loop = asyncio.get_running_loop()
        settings = engine_settings(self.config)
        netlink = Netlink()
        transports = RawTransportFactory(loop, netlink=netlink)
        addresses = NetlinkAddressManager(netlink)
        announcer = PacketAnnouncer()
        adapters = [transports, announcer, netlink]
        self.extras = DaemonExtras(self.config, loop, netlink)
        self.extras.prepare()                 # the VMACs first: VIPs and sockets live on them
        remove_leftovers(addresses, kd._sweepable(settings.instances))
        self.engine = VrrpEngine(self.config, transports=transports, addresses=addresses,
                                 announcer=announcer, clock=MonotonicClock(),
                                 source_address=transports.local_address, loop=loop,
                                 timer_resolution=getattr(kd, "TIMER_RESOLUTION", 0.001))
        await self.extras.start(self.engine)
        self._install_signals(loop)
        self.engine.start()
        log.info("kvrrp VRRP engine started with %d instance(s)", len(settings.instances))
        await self.stopping.wait()
        log.info("Stopping")
        await self.extras.before_stop()
        self.engine.stop()
        await self.extras.after_stop()        # VMACs removed
        for adapter in adapters:
            try:
                adapter.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        log.info("Stopped")
        return 0


def main() -> int:
    kd.Daemon = VmacDaemon
    return kd.main(build_parser().parse_args(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
