"""track_file: a number in a file, re-read when the kernel says the file changed (inotify).

The parent directory is watched (not the file), so writes, atomic renames into place and
deletions are all seen, as keepalived does. The value is parsed like strtol(buf, NULL, 0):
leading whitespace, optional sign, 0x/0 prefixes; text that is not a number reads as 0; a
deleted or unreadable file reads as 0; a number outside the 32-bit range is ignored (logged).
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from typing import Callable

from kvrrp.track import inotify

log = logging.getLogger("kvrrp.track")

_NUMBER = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
INT32_MIN = -(2 ** 31)
INT32_MAX = 2 ** 31 - 1

ValueCallback = Callable[[str, int], None]


def parse_value(text: str) -> int | None:
    """strtol(text, NULL, 0) semantics; None when the number is out of 32-bit range."""
    m = _NUMBER.match(text)
    if not m:
        return 0
    sign, digits = m.groups()
    if digits[:2] in ("0x", "0X"):
        value = int(digits, 16)
    elif digits.startswith("0") and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits)
    if sign == "-":
        value = -value
    if value < INT32_MIN or value > INT32_MAX + 1:
        return None
    return value


def read_value(path: str) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        data = os.read(fd, 127)
    except OSError:
        return 0
    finally:
        os.close(fd)
    return parse_value(data.decode("ascii", "replace"))


@dataclass
class WatchedFile:
    name: str          # the track_file block's name
    path: str          # absolute path
    value: int = 0


def initialise_file(path: str, init_value: int, overwrite: bool) -> None:
    """init_file: write the initial value if the file is missing (or always, with overwrite)."""
    exists = os.path.lexists(path)
    if exists and not overwrite:
        return
    if exists and not os.path.isfile(path):
        log.error("Cannot initialise track file %s - it is not a regular file", path)
        return
    try:
        with open(path, "w") as fh:
            fh.write(f"{init_value}\n")
    except OSError as exc:
        log.error("Unable to initialise track file %s: %s", path, exc.strerror)


class FileWatcher:
    def __init__(self, on_change: ValueCallback) -> None:
        self.on_change = on_change
        self.files: dict[str, WatchedFile] = {}
        self._by_dir: dict[int, list[WatchedFile]] = {}
        self._notify: inotify.Inotify | None = None
        self.events = 0

    def add(self, name: str, path: str) -> WatchedFile:
        path = os.path.abspath(path)
        real_dir = os.path.realpath(os.path.dirname(path))
        wf = WatchedFile(name=name, path=os.path.join(real_dir, os.path.basename(path)))
        self.files[name] = wf
        return wf

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.files:
            return
        self._notify = inotify.Inotify(loop, self._event)
        for wf in self.files.values():
            directory = os.path.dirname(wf.path)
            try:
                wd = self._notify.add_watch(directory, inotify.FILE_EVENTS | inotify.IN_ONLYDIR)
            except OSError as exc:
                log.error("track_file %s: cannot watch %s: %s (its value stays 0)", wf.name, directory, exc.strerror)
                continue
            self._by_dir.setdefault(wd, []).append(wf)
            value = read_value(wf.path)
            wf.value = value if value is not None else 0

    def _event(self, wd: int, mask: int, name: str) -> None:
        if mask & inotify.IN_ISDIR:
            return
        self.events += 1
        for wf in self._by_dir.get(wd, ()):
            if os.path.basename(wf.path) != name:
                continue
            if mask & (inotify.IN_MOVED_FROM | inotify.IN_DELETE):
                value: int | None = 0
            elif mask & (inotify.IN_MOVED_TO | inotify.IN_CLOSE_WRITE):
                value = read_value(wf.path)
                if value is None:
                    log.info("Invalid number read from %s - ignoring", wf.path)
                    continue
            else:
                continue
            if value != wf.value:
                log.info("track_file %s (%s) now %d (was %d)", wf.name, wf.path, value, wf.value)
                wf.value = value
                self.on_change(wf.name, value)

    def close(self) -> None:
        if self._notify is not None:
            self._notify.close()
            self._notify = None
        self._by_dir.clear()
