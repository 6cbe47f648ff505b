"""The control socket server: a Unix stream socket, root-only (0600), one request per line.

The server only parses and routes: each command is an async handler the owning daemon gives
it (args dict -> JSON-able result). A handler raising CommandError (or ValueError/KeyError)
answers {"ok": false, "error": ...}; anything else is logged and answered as an internal error,
never taking the daemon down.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from typing import Any, Awaitable, Callable, Mapping

from kvrrp.control import protocol

log = logging.getLogger("kvrrp.control")

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class CommandError(Exception):
    """A command that cannot be done, with the reason for the operator."""


class ControlServer:
    def __init__(self, path: str, handlers: Mapping[str, Handler]) -> None:
        self.path = path
        self.handlers = dict(handlers)
        self._server: asyncio.AbstractServer | None = None
        self.requests = 0
        self.errors = 0

    async def start(self) -> None:
        self._remove_stale()
        old = os.umask(0o177)           # the socket is created 0600: no window with wider rights
        try:
            self._server = await asyncio.start_unix_server(self._serve, self.path, limit=protocol.MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        log.info("control socket on %s", self.path)

    def _remove_stale(self) -> None:
        """A socket left by a crashed run is replaced (the pid file already proved no other
        daemon runs with this name); anything that is not a socket is refused."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise OSError(f"{self.path} exists and is not a socket")
        os.unlink(self.path)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    writer.write(protocol.error("request too long"))
                    break
                if not line:
                    break
                writer.write(await self.answer(line))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def answer(self, line: bytes) -> bytes:
        self.requests += 1
        try:
            req = json.loads(line)
            cmd, args = req["cmd"], req.get("args") or {}
            if not isinstance(cmd, str) or not isinstance(args, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self.errors += 1
            return protocol.error('bad request: expected {"cmd": NAME, "args": {...}} on one line')
        handler = self.handlers.get(cmd)
        if handler is None:
            self.errors += 1
            return protocol.error(f"unknown command {cmd!r} (known: {', '.join(sorted(self.handlers))})")
        try:
            return protocol.ok(await handler(args))
        except (CommandError, ValueError) as exc:
            self.errors += 1
            return protocol.error(str(exc))
        except KeyError as exc:
            self.errors += 1
            return protocol.error(str(exc.args[0]) if exc.args else "not found")
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the daemon
            self.errors += 1
            log.exception("control command %s failed", cmd)
            return protocol.error(f"internal error: {exc!r}")
