"""`reload_time_file` / `reload_repeat`: a reload at the time written in a file (keepalived's
reload_monitor.c).

The file holds one line: `HH:MM:SS` (the next such time, today or tomorrow), `YY-MM-DD
HH:MM:SS` or `YYYY-MM-DD HH:MM:SS`, local time, or UTC with a trailing `Z`. The daemon watches
the file (inotify on its directory: written and closed, moved in, deleted), schedules the
reload, moves it when the file changes and cancels it when the file goes or says something
invalid. When the time comes the file is removed, unless `reload_repeat` is set and no date
was given (then the same time the next day follows), and the daemon reloads as on SIGHUP.
"""
from __future__ import annotations

import asyncio
import calendar
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("kvrrp.daemon")

_FORMATS = {8: "%H:%M:%S", 17: "%y-%m-%d %H:%M:%S", 19: "%Y-%m-%d %H:%M:%S"}


@dataclass(frozen=True)
class ReloadTime:
    at: float                 # seconds since the epoch
    date_specified: bool


def parse_reload_time(text: str, now: float) -> ReloadTime | str:
    """The time `text` names after `now`, or keepalived's log message for why not."""
    utc = text.endswith("Z")
    body = text[:-1] if utc else text
    fmt = _FORMATS.get(len(body))
    if fmt is None:
        return f"Reload time {text} format is incorrect - ignoring"
    try:
        parsed = time.strptime(body, fmt)
    except ValueError:
        return f"Reload date/time {text} invalid - ignoring"
    if len(body) == 8:   # time only: today's date, in the zone the time is written in
        today = time.gmtime(now) if utc else time.localtime(now)
        fields = (today.tm_year, today.tm_mon, today.tm_mday, parsed.tm_hour, parsed.tm_min, parsed.tm_sec)
    else:
        fields = (parsed.tm_year, parsed.tm_mon, parsed.tm_mday, parsed.tm_hour, parsed.tm_min, parsed.tm_sec)
    at = _epoch(fields, utc)
    if at is None:
        return f"Reload time {text} is not valid - ignoring"
    if at <= now:
        if len(body) != 8:
            return "Reload date/time is in the past - ignoring"
        y, mo, d, h, mi, s = fields
        next_day = time.gmtime(calendar.timegm((y, mo, d, 12, 0, 0)) + 86400)   # noon: no DST edge
        at = _epoch((next_day.tm_year, next_day.tm_mon, next_day.tm_mday, h, mi, s), utc)
        if at is None:
            return f"Reload time {text} is not valid - ignoring"
    return ReloadTime(at, len(body) != 8)


def _epoch(fields: tuple[int, int, int, int, int, int], utc: bool) -> float | None:
    """Seconds since the epoch of a wall-clock time; None when it does not exist locally
    (keepalived: mktime() normalised it into another time, e.g. inside a DST gap)."""
    if utc:
        return float(calendar.timegm((*fields, 0, 0, 0)))
    at = time.mktime((*fields, 0, 0, -1))
    back = time.localtime(at)
    if (back.tm_year, back.tm_mon, back.tm_mday, back.tm_hour, back.tm_min, back.tm_sec) != fields:
        return None
    return at


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


class ReloadScheduler:
    """Watches `path` and calls `reload()` at the time it names (see the module text)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, path: str, repeat: bool,
                 reload: Callable[[], None], clock: Callable[[], float] = time.time) -> None:
        from kvrrp.track.inotify import IN_CLOSE_WRITE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO, Inotify

        self.path = os.path.abspath(path)
        self.repeat = repeat
        self._reload = reload
        self._clock = clock
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self.scheduled: ReloadTime | None = None
        self.fired = 0
        self._name = os.path.basename(self.path)
        self._inotify = Inotify(loop, self._event)
        try:
            self._inotify.add_watch(os.path.dirname(self.path) or ".",
                                    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)
        except OSError as exc:
            log.error("reload_time_file %s: cannot watch its directory: %s", self.path, exc.strerror or exc)
        self.read()

    def _event(self, _wd: int, _mask: int, name: str) -> None:
        if name == self._name:
            self.read()

    def read(self, not_before: float = 0.0) -> None:
        """Re-read the file and (re)schedule, move or cancel the reload; times up to
        `not_before` count as past (the one that just fired, if the loop woke a hair early)."""
        try:
            with open(self.path) as fh:
                line = fh.readline(64).rstrip("\n")
        except FileNotFoundError:
            self._cancel()
            return
        except OSError as exc:
            log.warning("reload_time_file %s: %s", self.path, exc.strerror)
            self._cancel()
            return
        if not line:
            self._cancel()
            return
        found = parse_reload_time(line, max(self._clock(), not_before))
        if isinstance(found, str):
            log.info("%s", found)
            self._cancel()
            return
        if self.scheduled is not None and found.at == self.scheduled.at:
            self.scheduled = found
            return
        if self.scheduled is not None:
            log.info("Reload time updated from %s to %s", _stamp(self.scheduled.at), _stamp(found.at))
        else:
            log.info("Scheduling reload for %s", _stamp(found.at))
        if self._handle is not None:
            self._handle.cancel()
        self.scheduled = found
        delay = max(0.0, found.at - self._clock())
        self._handle = self._loop.call_at(self._loop.time() + delay, self._fire)

    def _cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.scheduled is not None:
            log.info("Cancelling reload scheduled for %s", _stamp(self.scheduled.at))
            self.scheduled = None

    def _fire(self) -> None:
        when, self.scheduled, self._handle = self.scheduled, None, None
        self.fired += 1
        if not self.repeat or (when is not None and when.date_specified):
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self._reload()
        if self.repeat and when is not None and not when.date_specified:
            self.read(not_before=when.at)       # the same time tomorrow

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._inotify.close()
