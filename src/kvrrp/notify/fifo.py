"""notify_fifo / vrrp_notify_fifo: one line per state change, keepalived's format, in order.

Line format (vrrp_notify.c): ``INSTANCE "VI_1" MASTER 100`` / ``GROUP "VG_1" BACKUP 0`` then a
newline; states MASTER BACKUP FAULT STOP DELETED, plus MASTER_RX_LOWER_PRI and
MASTER_PRIORITY / BACKUP_PRIORITY events. The FIFO is created if missing (mode 0600, like
keepalived's mkfifo), opened read-write and non-blocking so a missing reader never blocks the
daemon; lines that do not fit in the pipe wait in an ordered buffer written when it drains
(capped, excess lines are dropped and counted). An optional fifo script is started with the
FIFO's path as its argument and stopped with the daemon.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
from collections import deque

log = logging.getLogger("kvrrp.notify")

MAX_BUFFERED_LINES = 10000


def format_line(kind: str, name: str, state: str, priority: int) -> str:
    if kind not in ("INSTANCE", "GROUP"):
        raise ValueError(f"fifo line kind {kind!r} is not INSTANCE or GROUP")
    return f'{kind} "{name}" {state} {int(priority)}\n'


class FifoWriter:
    def __init__(self, path: str, label: str = "notify_fifo") -> None:
        self.path = path
        self.label = label
        self.fd = -1
        self.lines_written = 0
        self.lines_dropped = 0
        self._buffer: deque[bytes] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer_armed = False

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        try:
            st = os.lstat(self.path)
            if not stat.S_ISFIFO(st.st_mode):
                raise OSError(errno.EEXIST, f"{self.path} exists and is not a FIFO")
        except FileNotFoundError:
            os.mkfifo(self.path, 0o600)
        self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)

    def write_line(self, line: str) -> None:
        if self.fd < 0:
            return
        if len(self._buffer) >= MAX_BUFFERED_LINES:
            self.lines_dropped += 1
            return
        self._buffer.append(line.encode())
        self._flush()

    def _flush(self) -> None:
        while self._buffer and self.fd >= 0:
            data = self._buffer[0]
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                self._arm()
                return
            except OSError as exc:
                log.warning("%s %s write error: %s", self.label, self.path, exc.strerror)
                self.lines_dropped += 1
                self._buffer.popleft()
                continue
            if n < len(data):
                self._buffer[0] = data[n:]   # pipe writes <= PIPE_BUF are atomic; longer may split
                self._arm()
                return
            self._buffer.popleft()
            self.lines_written += 1
        self._disarm()

    def _arm(self) -> None:
        if not self._writer_armed and self._loop is not None:
            self._loop.add_writer(self.fd, self._flush)
            self._writer_armed = True

    def _disarm(self) -> None:
        if self._writer_armed and self._loop is not None:
            self._loop.remove_writer(self.fd)
            self._writer_armed = False

    def close(self) -> None:
        self._disarm()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
