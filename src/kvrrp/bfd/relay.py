"""BFD session states from the VRRP daemon to its checker child (keepalived's BFD process
writes them to the checker process over a pipe; here the pipe is the child's stdin).

One JSON object per line: ``{"bfd": NAME, "up": BOOL}``. When the child starts (or restarts)
it first gets every state the listeners have heard so far, then each change as it happens.
A child started without the parent's pipe (``kvrrp -C`` on its own) runs the sessions itself
(healthcheck.daemon).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable

log = logging.getLogger("kvrrp.bfd")

ENV = "KVRRP_BFD_FROM_PARENT"          # set in the child's environment: read states from stdin


def encode(name: str, up: bool) -> bytes:
    return json.dumps({"bfd": name, "up": bool(up)}, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> tuple[str, bool] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("bfd"), str) or not isinstance(obj.get("up"), bool):
        return None
    return obj["bfd"], obj["up"]


class ParentFeed:
    """In the VRRP daemon: follows the BfdService and writes to the current child's stdin."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.writer: asyncio.StreamWriter | None = None
        self.sent = 0
        service.add_listener(self._changed)

    def attach(self, writer: asyncio.StreamWriter | None) -> None:
        """A new child: it learns every state heard so far, then every change."""
        self.writer = writer
        for name, up in sorted(self.service.reported().items()):
            self._write(name, up)

    def _changed(self, name: str, up: bool) -> None:
        self._write(name, up)

    def _write(self, name: str, up: bool) -> None:
        w = self.writer
        if w is None or w.is_closing():
            return
        try:
            w.write(encode(name, up))
            self.sent += 1
        except (ConnectionError, RuntimeError, OSError):
            self.writer = None        # the child died: the next one is attached on its start


class ChildFeed:
    """In the checker child: reads the parent's lines from stdin into on_state(name, up)."""

    def __init__(self, on_state: Callable[[str, bool], None]) -> None:
        self.on_state = on_state
        self.received = 0
        self.bad_lines = 0
        self._task: asyncio.Task | None = None

    async def start(self, fd: int = 0) -> None:
        import os

        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
        self._task = loop.create_task(self._run(reader))

    async def _run(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return                 # the parent is gone (we die with it: PR_SET_PDEATHSIG)
            msg = decode(line)
            if msg is None:
                self.bad_lines += 1
                log.warning("BFD state from the VRRP daemon not understood: %r", line[:80])
                continue
            self.received += 1
            self.on_state(*msg)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
