"""Optional status API on 127.0.0.1:PORT (aiohttp): GET /status (JSON), GET /metrics (Prometheus).

The server knows nothing about VRRP: the daemon hands it two callables that render the engine's
current snapshot, so the payloads are always the same data the SIGJSON/SIGUSR2 dumps show.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

from aiohttp import web

log = logging.getLogger("kvrrp.daemon")

PROMETHEUS_CONTENT_TYPE = "text/plain"


class StatusServer:
    def __init__(self, status: Callable[[], Any], metrics: Callable[[], str],
                 host: str = "127.0.0.1", port: int = 0) -> None:
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
            body = self._metrics()
        except Exception:  # noqa: BLE001
            log.exception("rendering /metrics failed")
            return web.Response(status=500, text="metrics unavailable\n")
        return web.Response(text=body, content_type=PROMETHEUS_CONTENT_TYPE, charset="utf-8")

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
        log.info("status API on http://%s:%d/status and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def prometheus_text(families: list[tuple[str, str, str, list[tuple[dict[str, object], float]]]]) -> str:
    """Render (name, type, help, [(labels, value)]) metric families in the text exposition format."""
    lines: list[str] = []
    for name, kind, help_text, samples in families:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            rendered = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(labels.items()))
            number = repr(float(value)) if isinstance(value, float) and not float(value).is_integer() else str(int(value))
            lines.append(f"{name}{{{rendered}}} {number}" if rendered else f"{name} {number}")
    return "\n".join(lines) + "\n"
