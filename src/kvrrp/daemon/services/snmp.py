"""The SNMP subagent of the VRRP process (kvrrp.snmp; imported only when a MIB is enabled, or
-x): started before the instances run (their first transitions trap too), restarted or stopped
to match a reload, closed after the instances stopped (the STOP traps go out first)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kvrrp import version
from kvrrp.config.model import Config
from kvrrp.daemon.checker_child import wants_checker
from kvrrp.daemon.optional import snmp_wanted
from kvrrp.daemon.service import Service
from kvrrp.snmp.vrrp_agent import VrrpSnmpAgent, snmp_settings

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


class Snmp(Service):
    name = "SNMP subagent"
    critical = False

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.agent: VrrpSnmpAgent | None = None

    async def start(self) -> None:
        await self._follow(self.daemon.config)

    async def commit_reload(self, new: Config) -> None:
        await self._follow(new)

    async def _follow(self, config: Config) -> None:
        d = self.daemon
        wanted = snmp_wanted(d.args, config)
        try:
            settings = snmp_settings(d.args, config)
            if self.agent is not None:
                if wanted and settings == self.agent.settings:
                    self.agent.reload(config)
                    return
                await self.agent.close()
                self.agent = None
            if wanted:
                self.agent = VrrpSnmpAgent(d.engine, config, settings, version=f"kvrrp {version()}",
                                           checker_serves_global=wants_checker(d.args, config))
                self.agent.start()
        except Exception:  # noqa: BLE001 - VRRP itself must run without its SNMP agent
            log.exception("starting the SNMP subagent failed; running without it")
            self.agent = None

    async def stop(self) -> None:
        if self.agent is not None:
            await self.agent.close()

    def snapshot(self) -> dict[str, Any]:
        return {"snmp": self.agent.snapshot()} if self.agent is not None else {}
