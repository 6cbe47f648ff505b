"""The status API (--status-port, --status-address; aiohttp: imported only when asked for):
/status and /metrics, the latter with the checker child's families, fetched over its control
socket, so that one scrape target covers both processes."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from kvrrp.control.client import ControlError, call_async
from kvrrp.daemon.service import Service
from kvrrp.logging_setup import describe_error
from kvrrp.metrics import render, vrrp_registry
from kvrrp.status_http import DEFAULT_ADDRESS, StatusServer

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


class StatusHttp(Service):
    name = "status API"
    critical = False

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.server: StatusServer | None = None

    async def start(self) -> None:
        args = self.daemon.args
        host = getattr(args, "status_address", None) or DEFAULT_ADDRESS
        server = StatusServer(status=self.daemon.status, metrics=self.metrics, host=host, port=args.status_port)
        try:
            await server.start()
        except OSError as exc:
            log.error("status API on %s:%s unavailable: %s", host, args.status_port, describe_error(exc))
            return
        self.server = server

    async def metrics(self) -> bytes:
        """This process's families, then the checker child's (kvrrp_checker_*, keepalived_lvs_*)
        asked over its control socket."""
        checker = self.daemon.checker
        checker_text = b""
        if checker is not None:
            try:
                checker_text = (await call_async(checker.control_socket, "metrics", timeout=30.0)).encode()
                checker.scraped = True
            except (ControlError, OSError, ValueError) as exc:
                log.debug("checker metrics unavailable: %s", exc)
                checker.scraped = False
        # the snapshot is taken here, on the loop; turning it into text (the costly part: about
        # 0.1 s per 100 instances on a busy host) runs in a worker thread, so adverts and timers
        # keep their pace during a scrape
        snapshot = self.daemon.status()                     # kvrrp_checker_up from snapshot["checker"]
        return await asyncio.to_thread(render, vrrp_registry(lambda: snapshot)) + checker_text

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
