"""Talk to a control socket: blocking for kvrrpctl, async for the VRRP daemon's proxying."""
from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from kvrrp.control import protocol


class ControlError(Exception):
    """The daemon answered with an error, or could not be reached."""


def _result(line: bytes, path: str) -> Any:
    if not line:
        raise ControlError(f"{path}: the daemon closed the connection without an answer")
    answer = json.loads(line)
    if not answer.get("ok"):
        raise ControlError(answer.get("error", "unknown error"))
    return answer.get("result")


def call(path: str, cmd: str, timeout: float = 30.0, **args: Any) -> Any:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(protocol.request(cmd, **args))
            with sock.makefile("rb") as fh:
                return _result(fh.readline(protocol.ANSWER_LIMIT), path)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ControlError(f"{path}: no daemon listening ({exc.strerror})") from None
    except PermissionError:
        raise ControlError(f"{path}: permission denied (the control socket is root-only)") from None
    except socket.timeout:
        raise ControlError(f"{path}: no answer within {timeout:g} s") from None


async def call_async(path: str, cmd: str, timeout: float = 10.0, **args: Any) -> Any:
    async def exchange() -> Any:
        reader, writer = await asyncio.open_unix_connection(path, limit=protocol.ANSWER_LIMIT)
        try:
            writer.write(protocol.request(cmd, **args))
            await writer.drain()
            return _result(await reader.readline(), path)
        finally:
            writer.close()

    try:
        return await asyncio.wait_for(exchange(), timeout)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ControlError(f"{path}: no daemon listening ({exc.strerror})") from None
    except asyncio.TimeoutError:
        raise ControlError(f"{path}: no answer within {timeout:g} s") from None
