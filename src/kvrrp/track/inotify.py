"""A minimal inotify binding (ctypes) read from the asyncio loop: no polling, no thread.

Only what track_file needs: watch a directory for files written and closed, moved in or out,
or deleted, and hand each event's (watch descriptor, mask, name) to a callback.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import struct
from typing import Callable

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

FILE_EVENTS = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE

_EVENT = struct.Struct("iIII")    # wd, mask, cookie, len

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]

EventCallback = Callable[[int, int, str], None]


def parse_events(buf: bytes) -> list[tuple[int, int, str]]:
    """Split a read() of the inotify fd into (wd, mask, name) tuples."""
    out = []
    offset = 0
    while offset + _EVENT.size <= len(buf):
        wd, mask, _cookie, length = _EVENT.unpack_from(buf, offset)
        offset += _EVENT.size
        raw = buf[offset:offset + length]
        offset += length
        out.append((wd, mask, raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")))
    return out


class Inotify:
    def __init__(self, loop: asyncio.AbstractEventLoop, callback: EventCallback) -> None:
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self.fd = fd
        self._loop = loop
        self._callback = callback
        loop.add_reader(fd, self._readable)

    def add_watch(self, path: str, mask: int) -> int:
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_add_watch {path}: {os.strerror(err)}")
        return wd

    def rm_watch(self, wd: int) -> None:
        _libc.inotify_rm_watch(self.fd, wd)

    def _readable(self) -> None:
        while True:
            try:
                buf = os.read(self.fd, 64 * 1024)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            if not buf:
                return
            for wd, mask, name in parse_events(buf):
                self._callback(wd, mask, name)

    def close(self) -> None:
        if self.fd >= 0:
            self._loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
