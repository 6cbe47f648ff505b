"""The checker process's control commands (its own control socket, beside its pid file).

kvrrpctl reaches them through the VRRP daemon (which passes `rs ...` on) or directly with
--socket when the checker runs alone (kvrrp -C). `metrics` is what the VRRP daemon appends to
its /metrics in the default mode.
"""
from __future__ import annotations

from typing import Any

from kvrrp.control.server import CommandError, Handler
from kvrrp.control.vrrp_commands import version_info

from healthcheck.metrics import CheckerMetrics


class CheckerControl:
    def __init__(self, daemon: Any, metrics: CheckerMetrics) -> None:
        self.daemon = daemon
        self.metrics = metrics

    @property
    def engine(self) -> Any:
        return self.daemon.engine

    def handlers(self) -> dict[str, Handler]:
        return {"rs": self.rs, "metrics": self.render_metrics, "version": self.version,
                "reload": self.reload, "dump": self.dump, "status": self.status, "bgp": self.bgp}

    async def bgp(self, args: dict) -> dict:
        """Node maintenance from the VRRP daemon (kvrrpctl maintenance --all): the anycast
        routes this process announces are withdrawn / announced again."""
        on = args.get("maintenance")
        if not isinstance(on, bool):
            raise CommandError("bgp needs maintenance true or false")
        if self.daemon.bgp is None:
            raise CommandError("no kvrrp_bgp block in the configuration")
        self.daemon.bgp.maintenance(on)
        return self.daemon.bgp.snapshot()

    async def rs(self, args: dict) -> Any:
        action = args.get("action")
        if action == "list":
            return await self.rs_list()
        if action in ("drain", "enable"):
            vs, rs = args.get("vs"), args.get("rs")
            if not isinstance(vs, str) or not isinstance(rs, str):
                raise CommandError("rs drain|enable needs a virtual server and a real server")
            return self.engine.set_drained(vs, rs, action == "drain")
        raise CommandError("rs needs list, drain or enable")

    async def rs_list(self) -> dict:
        st = self.engine.status()
        try:
            traffic = await self.engine.reconciler.kernel.dump_stats()
        except Exception:  # noqa: BLE001 - the list still shows health without traffic
            traffic = None
        keys = self.engine.kernel_keys()
        for vs in st["virtual_servers"]:
            for rs in vs["real_servers"]:
                rs["checks"] = sum(c.get("runs", 0) for c in rs["checkers"])
                rs["failures"] = sum(c.get("failures", 0) for c in rs["checkers"])
                if traffic is None:
                    continue
                total: dict[str, int] = {}
                for skey, dkey in keys.get((vs["virtual_server"], rs["address"]), ()):
                    for field, n in traffic.get(skey, ({}, {}))[1].get(dkey, {}).items():
                        total[field] = total.get(field, 0) + n
                rs["traffic"] = total or None
        return st

    async def render_metrics(self, args: dict) -> str:
        return (await self.metrics.render()).decode()

    async def version(self, args: dict) -> dict:
        return version_info()

    async def status(self, args: dict) -> dict:
        return self.daemon.status()

    async def reload(self, args: dict) -> dict:
        self.daemon.reloads.requested += 1
        if not await self.daemon.reload():      # the SIGHUP path
            r = self.daemon.reloads
            raise CommandError(f"reload {r.last_outcome or 'failed'}: {r.last_error or 'see the log'}; "
                               "the running configuration is kept")
        return {"reloaded": True}

    async def dump(self, args: dict) -> dict:
        return {"checker": self.daemon.dump()}  # the SIGUSR1 path
