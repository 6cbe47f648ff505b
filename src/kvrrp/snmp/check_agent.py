"""The checker process's SNMP subagent (keepalived's check_snmp.c): with enable_snmp_checker
(or -x) it registers KEEPALIVED-MIB's global and check branches and, with enable_traps, sends
realServerStateChange when a real server goes up or down and virtualServerQuorumStateChange
when a virtual server gains or loses its quorum. realServerWeight may be set (kvrrp.snmp.check_set).

The IPVS traffic columns (virtualServerStats*, realServerStats*, the rates) come from one
kernel dump_stats(), read again when a request finds it older than the smaller of
snmp_vs_stats_update_interval and snmp_rs_stats_update_interval (keepalived: 5 s, and the vs
interval for real servers).
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kvrrp.snmp import check_mib, check_set, settx, vrrp_mib
from kvrrp.snmp.mibview import MibView, SubtreeViews
from kvrrp.snmp.subagent import Subagent
from kvrrp.snmp.vrrp_mib import Host, if_nametoindex

log = logging.getLogger("kvrrp.snmp")

STATS_TIMEOUT = 2.0     # a stuck netlink dump must not stall the master agent's request
VIEW_TTL = 1.0
VS_SLICE = 20           # virtual servers tabulated between two turns of the event loop


def checker_snmp_wanted(args: Any, config: Any) -> bool:
    return bool(getattr(args, "snmp", False) or config.global_defs.enable_snmp_checker)


class CheckerSnmpAgent:
    def __init__(self, engine: Any, *, socket: str | None, version: str, retry: float = 5.0,
                 ping_interval: float = 15.0) -> None:
        self.engine = engine
        self.version = version
        self.subagent = Subagent(socket, [(vrrp_mib.GLOBAL, "Keepalived"), (check_mib.CHECK, "Healthchecker")],
                                 self.view, setter=self._check_set, retry=retry, ping_interval=ping_interval)
        self.host = Host(ifindex=if_nametoindex, ticks=lambda _t: 0)
        self.traffic: dict | None = None
        # the tables are rebuilt when a walk finds them older than the stats interval (at most
        # VIEW_TTL) or a real server / quorum changed, not for each of a walk's GetNexts
        self._tables = SubtreeViews(
            [(vrrp_mib.GLOBAL, lambda: MibView(vrrp_mib.global_rows(self.engine.config, self.host, self.version))),
             (check_mib.CHECK, self._check_table)], VIEW_TTL)
        self.traffic_at = float("-inf")
        self.traps_sent: dict[str, int] = {}

    @property
    def traps(self) -> bool:
        return bool(self.engine.config.global_defs.enable_traps)

    def start(self) -> None:
        log.info("Starting SNMP subagent")
        self.engine.add_state_listener(self.on_change)
        self.subagent.start()

    def reload(self) -> None:
        """A reload kept this session: the next request rebuilds the tables from the new
        configuration (the engine is the same; enable_traps is read at each change)."""
        self._tables.invalidate()
        self.traffic_at = float("-inf")

    async def close(self) -> None:
        self.engine.remove_state_listener(self.on_change)
        await self.subagent.close()

    def snapshot(self) -> dict:
        return {**self.subagent.snapshot(), "traps": dict(self.traps_sent)}

    def stats_interval(self) -> float:
        g = self.engine.config.global_defs
        rs = g.snmp_rs_stats_update_interval or g.snmp_vs_stats_update_interval
        return min(g.snmp_vs_stats_update_interval, rs)

    def view(self) -> SubtreeViews:
        self._tables.ttl = min(VIEW_TTL, self.stats_interval())    # a reload may change the interval
        return self._tables

    async def _check_table(self) -> MibView:
        now = time.monotonic()
        if now - self.traffic_at >= self.stats_interval():
            self.traffic_at = now
            try:
                self.traffic = await asyncio.wait_for(self.engine.reconciler.kernel.dump_stats(), STATS_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - the health columns are served without traffic
                log.warning("SNMP: reading the IPVS counters failed: %s", exc)
                self.traffic = None
        rows: list = []
        for n, part in enumerate(check_mib.check_row_parts(self.engine, self.traffic), 1):
            rows += part
            if n % VS_SLICE == 0:
                await asyncio.sleep(0)      # the checks run between slices of a large table
        return MibView(rows)

    def _check_set(self, vb):
        """TestSet of one varbind; a committed weight shows in the very next Get."""
        return settx.refreshing(check_set.check(self.engine, vb), self._tables.invalidate)

    def shutdown_traps(self) -> None:
        """keepalived's "we always want to send SNMP messages on shutdown": before the checker
        removes its IPVS entries, realServerStateChange (dead) for each real server still
        alive, then virtualServerQuorumStateChange with shutdown(3) for each virtual server."""
        if not self.traps:
            return
        from healthcheck.health import iter_real_servers, rs_alive

        rid = vrrp_mib.router_id(self.engine.config, self.host)
        for vs in self.engine.config.virtual_servers:
            servers = list(iter_real_servers(vs))
            alive = [rs for key, rs in servers if rs_alive(self.engine.rs_states.get(key, ()))]
            up = len(alive)
            for rs in alive:
                up -= 1
                self._send("realServerStateChange", check_mib.real_server_trap(vs, rs, False, up, len(servers), rid))
            self._send("virtualServerQuorumStateChange",
                       check_mib.quorum_trap(vs, False, 0, len(servers), rid, stopping=True))

    def _send(self, kind: str, varbinds: list) -> None:
        self.traps_sent[kind] = self.traps_sent.get(kind, 0) + 1
        self.subagent.notify(varbinds)

    def on_change(self, kind: str, vs: Any, rs: Any, up: bool) -> None:
        """CheckerEngine state listener: "rs" (a real server's verdict) or "quorum"."""
        self._tables.invalidate()
        if not self.traps:
            return
        from healthcheck.health import iter_real_servers, rs_alive

        servers = list(iter_real_servers(vs))
        alive = sum(1 for rid, _rs in servers if rs_alive(self.engine.rs_states.get(rid, ())))
        rid = vrrp_mib.router_id(self.engine.config, self.host)
        if kind == "rs":
            kind_name = "realServerStateChange"
            varbinds = check_mib.real_server_trap(vs, rs, up, alive, len(servers), rid)
        else:
            kind_name = "virtualServerQuorumStateChange"
            varbinds = check_mib.quorum_trap(vs, up, alive, len(servers), rid)
        self._send(kind_name, varbinds)
