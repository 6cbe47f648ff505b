"""systemd's sd_notify protocol: state lines to the datagram socket in $NOTIFY_SOCKET.

keepalived's unit is `Type=notify`: systemd waits for READY=1 before the start counts as done,
and with `WatchdogSec=` expects WATCHDOG=1 more often than $WATCHDOG_USEC. kvrrp sends
READY=1 once its instances run, RELOADING=1 (with MONOTONIC_USEC, as systemd 253's
Type=notify-reload wants) and READY=1 around a SIGHUP reload, STOPPING=1 when it stops, and
WATCHDOG=1 at half the watchdog interval while the event loop runs (a stuck loop stops the
pings, which is the point).

Without $NOTIFY_SOCKET every call is a no-op. An abstract socket name starts with '@'.
Only the process systemd started (or the one it was told about with MAINPID=) may notify:
the daemon sends MAINPID= with READY=1 after forking, and honours $WATCHDOG_PID.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

log = logging.getLogger("kvrrp.daemon")


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET") or None
        self.watchdog_usec = _watchdog_usec(env)
        self._sock: socket.socket | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self.sent: list[str] = []   # what went out, for the status and tests

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def _target(self) -> str | bytes:
        assert self.address is not None
        if self.address.startswith("@"):
            return b"\0" + self.address[1:].encode()
        return self.address

    def notify(self, *lines: str) -> bool:
        """Send one datagram with these `KEY=VALUE` lines; False (logged) if it could not go."""
        if self.address is None:
            return False
        payload = "\n".join(lines)
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload.encode(), self._target())
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.address, exc.strerror or exc)
            return False
        self.sent.append(payload)
        return True

    def ready(self, status: str | None = None) -> bool:
        lines = ["READY=1", f"MAINPID={os.getpid()}"]
        if status:
            lines.append(f"STATUS={status}")
        return self.notify(*lines)

    def reloading(self) -> bool:
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> bool:
        self._stop_watchdog()   # a stopping daemon is not watched any more
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    # -- watchdog ---------------------------------------------------------------------------
    def start_watchdog(self, loop: asyncio.AbstractEventLoop) -> float | None:
        """Ping WATCHDOG=1 every WATCHDOG_USEC/2 from the loop; returns the period (s)."""
        if self.address is None or not self.watchdog_usec:
            return None
        period = self.watchdog_usec / 2e6

        def ping() -> None:
            self.notify("WATCHDOG=1")
            self._watchdog = loop.call_later(period, ping)

        ping()
        return period

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def close(self) -> None:
        self._stop_watchdog()
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _watchdog_usec(env: dict[str, str]) -> int | None:
    """$WATCHDOG_USEC, unless $WATCHDOG_PID says it is meant for another process."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return usec
