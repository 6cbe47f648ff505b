"""keepalived's signal table for the VRRP process (kvrrp.signals): STOP (SIGTERM) and SIGINT
stop; RELOAD (SIGHUP) reloads; DATA, STATS, STATS_CLEAR, JSON write the dumps; TDUMP logs the
tasks. RELOAD, DATA and TDUMP also go to the checker child, as keepalived's parent passes them
on. Every other catchable signal is logged and ignored (kvrrp.signal_handlers)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kvrrp.daemon.service import Service
from kvrrp.signal_handlers import SignalHandlers, log_task_dump

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


class Signals(Service):
    name = "signal handlers"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.handlers: SignalHandlers | None = None

    async def start(self) -> None:
        d = self.daemon

        def tdump() -> None:
            log_task_dump()
            d.pass_to_checker("TDUMP")

        def data() -> None:
            d.dump("data")
            d.pass_to_checker("DATA")

        self.handlers = SignalHandlers(d.loop, {
            "STOP": lambda: d.on_stop("SIGTERM"),
            "INT": (lambda: log.info("Received SIGINT: ignored (--ignore-sigint)"))
            if getattr(d.args, "ignore_sigint", False) else (lambda: d.on_stop("SIGINT")),
            "RELOAD": d.request_reload,
            "DATA": data,
            "STATS": lambda: d.dump("stats"),
            "STATS_CLEAR": lambda: d.dump("stats", clear=True),
            "JSON": lambda: d.dump("json"),
            "TDUMP": tdump,
        }, process="VRRP")
        self.handlers.install()

    def snapshot(self) -> dict[str, Any]:
        return {"signals": self.handlers.snapshot() if self.handlers is not None else {}}
