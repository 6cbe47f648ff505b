"""Optional status API on ADDRESS:PORT (aiohttp): GET /status (JSON), GET /metrics (Prometheus).

The server knows nothing about VRRP: the daemon hands it two callables, one for the JSON
snapshot (the same data the SIGJSON/SIGUSR2 dumps show) and one coroutine that returns the
Prometheus exposition (prometheus-client's text, kvrrp.metrics / healthcheck.metrics). The
address defaults to loopback: the API has no authentication (see docs/operations.md).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger("kvrrp.daemon")

DEFAULT_ADDRESS = "127.0.0.1"


class StatusServer:
    def __init__(self, status: Callable[[], Any], metrics: Callable[[], Awaitable[bytes]],
                 host: str = DEFAULT_ADDRESS, port: int = 0) -> None:
        self._status = status
        self._metrics = metrics
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def _get_status(self, _request: web.Request) -> web.Response:
        try:
            body = json.dumps(self._status(), indent=2, sort_keys=True, default=str)
        except Exception:  # noqa: BLE001 - a rendering bug must not take the daemon down
            log.exception("rendering /status failed")
            return web.Response(status=500, text="status unavailable\n")
        return web.Response(text=body + "\n", content_type="application/json")

    async def _get_metrics(self, _request: web.Request) -> web.Response:
        try:
            body = await self._metrics()
        except Exception:  # noqa: BLE001
            log.exception("rendering /metrics failed")
            return web.Response(status=500, text="metrics unavailable\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/status", self._get_status)
        app.router.add_get("/metrics", self._get_metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        log.info("status API on http://%s:%d/status and /metrics", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
