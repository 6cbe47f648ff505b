"""Everything this area adds around the VRRP engine, in the order the daemon must call it.

    extras = DaemonExtras(config, loop, netlink)   # netlink: kvrrp.io.netlink.Netlink
    extras.prepare()                               # use_vmac interfaces (before the engine)
    engine = VrrpEngine(...)
    await extras.start(engine)                     # startup_script, notifier, trackers (initial FAULTs and
                                                   # priorities), virtual_routes listener
    engine.start()
    ...
    await extras.before_reload(new_config)         # SIGHUP: raises for a config the engine would
                                                   # refuse; new trackers run once
    engine.apply_config(new_config)                # added instances get their tracker state from
                                                   # the engine's prestart hook, before they start
    await extras.after_reload(new_config)
    # or, when apply_config raised: await extras.abort_reload(old_config)
    ...
    await extras.before_stop()                     # trackers stop
    engine.stop()                                  # STOP transitions: notify_stop, routes out
    await extras.after_stop()                      # notify scripts finish, VMACs removed,
                                                   # shutdown_script
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from kvrrp.config.model import Config

log = logging.getLogger("kvrrp.track")


def _wants_vmacs(config: Config) -> bool:
    return any(i.use_vmac is not None or getattr(i, "use_vmac_addr", False)
               or any(a.use_vmac for a in i.virtual_ipaddress + i.virtual_ipaddress_excluded)
               for i in config.instances)


class DaemonExtras:
    def __init__(self, config: Config, loop: asyncio.AbstractEventLoop | None, netlink: Any) -> None:
        self.config = config
        self.loop = loop
        self.netlink = netlink
        self.engine: Any = None
        self.notifier: Any = None
        self.tracking: Any = None
        self.routes: Any = None
        self.vmacs: Any = None
        self.bfd: Any = None           # kvrrp.bfd.service.BfdService (see _start_bfd)
        self.run_bfd = True            # False with -B (keepalived's --no_bfd): no sessions run
        self.vmac_names: dict[str, str] = {}
        self._vmacs_wanted: dict[str, str] | None = None
        self.local_igmp: Any = None

    def prepare(self) -> dict[str, str]:
        from kvrrp.io.vmac import VmacManager, prepare_vmacs
        from kvrrp.io.vmac_igmp import LocalIgmpReports, VmacIgmp

        g = self.config.global_defs
        if getattr(g, "disable_local_igmp", False):
            # at start only, as keepalived ("Cannot change disable_local_igmp at a reload")
            self.local_igmp = LocalIgmpReports()
            if self.netlink.call(lambda ipr: self.local_igmp.disable()):
                log.info("disable_local_igmp: no IGMP reports for 224.0.0.0/24 groups while running")
        igmp = None
        if _wants_vmacs(self.config):
            igmp = VmacIgmp(getattr(g, "nftables", None) or "keepalived", getattr(g, "nftables_priority", -1),
                            getattr(g, "disable_local_igmp", False))
            self.netlink.call(lambda ipr: igmp.reset())     # an earlier run's table
        self.vmacs = VmacManager(self.netlink, igmp)
        self.vmac_names = prepare_vmacs(self.vmacs, self.config)
        return self.vmac_names

    async def _global_script(self, which: str) -> None:
        """startup_script / shutdown_script (global_defs), each with its own timeout."""
        from kvrrp.notify.runner import run_script
        from kvrrp.notify.security import ScriptRefused, default_run_as, vet_script

        g = self.config.global_defs
        call = getattr(g, f"{which}_script")
        if call is None or not call.argv:
            return
        timeout = getattr(g, f"{which}_script_timeout")
        try:
            checked = vet_script(call, default_run_as(g.script_user, g.script_group), g.enable_script_security)
        except ScriptRefused as exc:
            log.error("%s_script disabled: %s", which, exc)
            return
        result = await run_script(checked, timeout)
        if not result.success:
            log.warning("%s_script %s %s", which, call.command,
                        "timed out" if result.timed_out else f"failed ({result.error or result.returncode})")

    async def start(self, engine: Any) -> None:
        from kvrrp import notify, track
        from kvrrp.io.routes import RouteManager, RoutesOnMaster

        await self._global_script("startup")
        self.engine = engine
        self.notifier = notify.attach(engine, self.config)
        await self.notifier.start()
        from kvrrp.config.rtnames import RtNames

        self.routes = RoutesOnMaster(RouteManager(self.netlink, RtNames.from_config(self.config.global_defs)),
                                     self.config)
        engine.add_transition_listener(self.routes)
        self._start_bfd()
        self.tracking = track.attach(engine, self.config, self.loop, bfd=self.bfd)
        self.tracking.add_priority_listener(self.notifier.priority_changed)
        await self.tracking.start()
        if hasattr(engine, "add_prestart_hook"):
            # instances a reload adds start on their trackers' state (FAULT straight away)
            engine.add_prestart_hook(self.tracking.prestart)

    def _start_bfd(self) -> None:
        """The BFD sessions (keepalived's Keepalived_bfd, here a part of this loop:
        kvrrp.bfd.service says why). Always built, with no socket while no bfd_instance
        exists, so the tracking supervisor and the checker child's feed follow one object."""
        from kvrrp.bfd.service import BfdService

        self.bfd = BfdService(self._bfd_instances(self.config), loop=self.loop)
        self.bfd.start()

    def _bfd_instances(self, config: Config) -> tuple:
        if not self.run_bfd and config.bfd_instances:
            log.warning("BFD disabled (-B): %d bfd_instance(s) not run", len(config.bfd_instances))
            return ()
        return config.bfd_instances

    async def before_reload(self, new_config: Config) -> None:
        from kvrrp.vrrp.settings import engine_settings
        from kvrrp.vrrp.engine import validate_settings

        # what engine.apply_config would refuse: refuse it here, before anything changes
        validate_settings(engine_settings(new_config))
        if self.vmacs is not None:
            from kvrrp.io.vmac import prepare_vmacs

            # VMACs the new config adds must exist before apply_config opens sockets and adds
            # VIPs on them; ones it drops go in after_reload, once their instances stopped
            self._vmacs_wanted = prepare_vmacs(self.vmacs, new_config)
        if self.notifier is not None:
            await self.notifier.reload(new_config)
        if self.tracking is not None:
            if self.bfd is not None:
                self.bfd.reload(self._bfd_instances(new_config))   # unchanged sessions keep their state
            await self.tracking.prepare_reload(new_config)

    async def after_reload(self, new_config: Config) -> None:
        self.config = new_config
        if self.routes is not None:
            self.routes.reload(new_config)
        if self.tracking is not None:
            await self.tracking.reload(new_config)
        if self.vmacs is not None:
            from kvrrp.io.vmac import prepare_vmacs

            wanted = self._vmacs_wanted
            self._vmacs_wanted = None
            if wanted is None:                                     # before_reload was not called
                wanted = prepare_vmacs(self.vmacs, new_config)
            for name in set(self.vmacs.created) - set(wanted.values()):
                self.vmacs.remove(name)
            self.vmac_names = wanted

    async def abort_reload(self, old_config: Config) -> None:
        """Undo before_reload(new_config) when applying it failed and old_config stays in force:
        VMACs made only for the new configuration go (the running one's stay), the notifier and
        the trackers (held and rebuilt for the new configuration) return to old_config. Every
        step runs even if an earlier one fails: the running configuration must keep working."""
        self._vmacs_wanted = None
        if self.vmacs is not None:
            keep = set(self.vmac_names.values())
            for name in set(self.vmacs.created) - keep:
                try:
                    self.vmacs.remove(name)
                except Exception:  # noqa: BLE001 - the others still go
                    log.exception("removing VMAC %s made for the failed reload", name)
        if self.bfd is not None:
            try:
                self.bfd.reload(self._bfd_instances(old_config))
            except Exception:  # noqa: BLE001
                log.exception("returning the BFD sessions to the running configuration failed")
        for part in (self.notifier, self.tracking):
            if part is None:
                continue
            try:
                await part.reload(old_config)
            except Exception:  # noqa: BLE001
                log.exception("returning %s to the running configuration failed", type(part).__name__)
        self.config = old_config

    async def before_stop(self) -> None:
        if self.tracking is not None:
            await self.tracking.stop()
        if self.bfd is not None:
            self.bfd.stop()

    async def after_stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
        if self.vmacs is not None:
            self.vmacs.remove_all()
        if self.local_igmp is not None:
            self.netlink.call(lambda ipr: self.local_igmp.restore())
        await self._global_script("shutdown")

    def snapshot(self) -> dict:
        """For the status API / JSON dump."""
        return {
            "tracking": self.tracking.snapshot() if self.tracking else None,
            "bfd": self.bfd.snapshot() if self.bfd else None,
            "notify": self.notifier.snapshot() if self.notifier else None,
            "vmacs": dict(self.vmac_names),
            "routes_installed": sorted(self.routes.installed) if self.routes else [],
        }
