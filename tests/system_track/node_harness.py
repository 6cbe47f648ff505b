"""A kvrrp node for the tracking system tier: the daemon's own run loop plus the tracking
supervisor and the notifier, wired exactly as the daemon should wire them.

Used while src/kvrrp/daemon.py does not call kvrrp.track.attach / kvrrp.notify.attach itself
(the system tests switch to the real daemon as soon as it does). Run it as the daemon:

    python3 node_harness.py -n -l -D -P -f CONF -p PIDFILE
"""
from __future__ import annotations

import asyncio
import logging
import sys

from kvrrp import daemon as kd
from kvrrp.cli import build_parser

log = logging.getLogger("kvrrp.daemon")


class TrackingDaemon(kd.Daemon):
    async def run(self) -> int:
        from kvrrp.track.wiring import DaemonExtras
        from kvrrp.io.addresses import NetlinkAddressManager, remove_leftovers
        from kvrrp.io.announce import PacketAnnouncer
        from kvrrp.io.clock import MonotonicClock
        from kvrrp.io.netlink import Netlink
        from kvrrp.io.transport import RawTransportFactory
        from kvrrp.vrrp.engine import VrrpEngine
        from kvrrp.vrrp.settings import engine_settings

        loop = asyncio.get_running_loop()
        settings = engine_settings(self.config)
        netlink = Netlink()
        transports = RawTransportFactory(loop, netlink=netlink)
        addresses = NetlinkAddressManager(netlink)
        announcer = PacketAnnouncer()
        self._adapters = [transports, announcer, netlink]
        remove_leftovers(addresses, kd._sweepable(settings.instances))
        # --- the wiring the daemon needs (kvrrp.track.wiring.DaemonExtras) ---------------
        self.extras = DaemonExtras(self.config, loop, netlink)
        self.extras.prepare()                 # use_vmac interfaces, before the engine
        self.engine = VrrpEngine(self.config, transports=transports, addresses=addresses,
                                 announcer=announcer, clock=MonotonicClock(),
                                 source_address=transports.local_address, loop=loop,
                                 timer_resolution=getattr(kd, "TIMER_RESOLUTION", 0.001))
        await self.extras.start(self.engine)  # before engine.start(): initial FAULT/priorities
        # ----------------------------------------------------------------------------------
        self._install_signals(loop)
        self.engine.start()
        log.info("kvrrp VRRP engine started with %d instance(s)", len(settings.instances))
        await self.stopping.wait()
        log.info("Stopping")
        await self.extras.before_stop()
        self.engine.stop()
        await self.extras.after_stop()        # STOP notifications finish, VMACs removed
        for adapter in self._adapters:
            try:
                adapter.close()
            except Exception:  # noqa: BLE001
                pass
        log.info("Stopped")
        return 0

    async def reload(self) -> None:
        config = kd.load_config(self.args.config, self.args.config_id, out=kd._LogWriter())
        if config is None:
            return
        await self.extras.before_reload(config)   # notifier: added instances notify
        self.engine.apply_config(config)
        self.config = config
        await self.extras.after_reload(config)    # trackers/routes/vmacs: instances exist


def main() -> int:
    # the daemon's own main (pid file, logging, its event loop) running this Daemon subclass
    kd.Daemon = TrackingDaemon
    return kd.main(build_parser().parse_args(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
