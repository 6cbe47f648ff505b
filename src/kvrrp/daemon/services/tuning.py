"""The process settings (kvrrp.process_plan: vrrp_priority, vrrp_rt_priority, max_auto_priority
...): the lateness watch that escalates to realtime scheduling, the new settings on a reload
(keepalived's restore_priority), and at stop, once the instances stopped, a step back (no
realtime, nice 10): what is left is not urgent, the backups taking over on this host are."""
from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.io import process_tuning
from kvrrp.io.process_tuning import Escalator, watch_lateness
from kvrrp.process_plan import plan_for

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


class ProcessTuning(Service):
    name = "process tuning"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._lateness_watch: asyncio.Task | None = None

    async def start(self) -> None:
        self._watch_lateness()

    def _watch_lateness(self) -> None:
        """max_auto_priority: realtime scheduling, one step at a time, when the loop runs late."""
        plan = self.daemon.plan
        if plan is None or not plan.escalates:
            return
        self._lateness_watch = self.daemon.loop.create_task(watch_lateness(Escalator(plan, "VRRP")))

    async def commit_reload(self, new: Config) -> None:
        """keepalived's restore_priority() on reload: the new vrrp_* knobs and process name."""
        d = self.daemon
        plan = plan_for(new, "vrrp", getattr(d.args, "umask", None))
        if d.plan is not None and plan != d.plan:
            try:
                process_tuning.reapply(d.plan, plan, "VRRP")
            except Exception:  # noqa: BLE001 - the reload itself has been applied
                log.exception("applying the new process settings failed")
        changed = d.plan is None or (plan.max_auto_priority, plan.min_auto_priority_delay) != \
            (d.plan.max_auto_priority, d.plan.min_auto_priority_delay)
        d.plan = plan
        if changed:
            if self._lateness_watch is not None:
                self._lateness_watch.cancel()
                self._lateness_watch = None
            self._watch_lateness()

    async def stop(self) -> None:
        if self._lateness_watch is not None:
            self._lateness_watch.cancel()
        process_tuning.reset_realtime()   # SCHED_RR (vrrp_rt_priority, max_auto_priority) would void the nice
        try:
            os.nice(10)
        except OSError:
            pass
