"""Installing keepalived's signal table (kvrrp.signals) on an asyncio loop, for both daemons.

Each process passes the actions it has for keepalived's names (STOP, RELOAD, DATA ...). A
named signal the process has no action for, and every other catchable signal
(kvrrp.signals.ignored_signals(): SIGQUIT, SIGALRM, the whole of SIGRTMIN..SIGRTMAX not in
the table ...), is ignored: logged at warning the first time each number arrives, at debug
afterwards, and counted. Nothing but STOP/SIGINT and the uncatchable SIGKILL ends the process.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
import traceback
from typing import Callable, Mapping

from kvrrp import signals

log = logging.getLogger("kvrrp.signals")


class SignalHandlers:
    """Installs the handlers; `ignored` counts the ignored arrivals by signal description."""

    def __init__(self, loop: asyncio.AbstractEventLoop, actions: Mapping[str, Callable[[], object]],
                 process: str) -> None:
        unknown = set(actions) - {s.name for s in signals.SIGNALS} - {"INT"}
        if unknown:
            raise ValueError(f"no keepalived signal named {sorted(unknown)}")
        self.loop = loop
        self.actions = dict(actions)
        self.process = process
        self.ignored: dict[str, int] = {}
        self.handled: dict[str, int] = {}
        self.installed: list[int] = []

    def install(self) -> None:
        for sig in signals.SIGNALS:
            if sig.name in self.actions:
                self._add(sig.number, self._run, sig.name)
            else:
                self._add(sig.number, self._ignore, sig.number)
        if "INT" in self.actions:
            self._add(int(signal.SIGINT), self._run, "INT")
        for number in signals.ignored_signals():
            self._add(number, self._ignore, number)

    def remove(self) -> None:
        for number in self.installed:
            try:
                self.loop.remove_signal_handler(number)
            except (ValueError, RuntimeError):
                pass
        self.installed = []

    def snapshot(self) -> dict:
        return {"handled": dict(self.handled), "ignored": dict(self.ignored)}

    def _add(self, number: int, callback: Callable, arg: object) -> None:
        try:
            self.loop.add_signal_handler(number, callback, arg)
        except (ValueError, RuntimeError, OSError) as exc:   # not catchable on this kernel
            log.debug("cannot handle signal %d: %s", number, exc)
            return
        self.installed.append(number)

    def _run(self, name: str) -> None:
        self.handled[name] = self.handled.get(name, 0) + 1
        try:
            self.actions[name]()
        except Exception:  # noqa: BLE001 - a failing dump must not end the process
            log.exception("handling signal %s failed", name)

    def _ignore(self, number: int) -> None:
        what = signals.describe(number)
        count = self.ignored.get(what, 0) + 1
        self.ignored[what] = count
        level = logging.WARNING if count == 1 else logging.DEBUG
        log.log(level, "%s process ignores %s (received %d time(s))", self.process, what, count)


def log_task_dump(logger: logging.Logger = log) -> str:
    """TDUMP: keepalived's dump_thread_data(master, NULL) logs its scheduler's threads; ours are
    the asyncio tasks and the OS threads. Returns the text (also logged)."""
    lines = []
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        tasks = set()
    lines.append(f"{len(tasks)} asyncio task(s):")
    for task in sorted(tasks, key=lambda t: t.get_name()):
        frames = task.get_stack(limit=1)
        where = f"{frames[0].f_code.co_filename}:{frames[0].f_lineno}" if frames else "-"
        lines.append(f"  task {task.get_name()} {task.get_coro()!r} at {where}")
    current = sys._current_frames()
    lines.append(f"{threading.active_count()} thread(s):")
    for thread in threading.enumerate():
        frame = current.get(thread.ident)
        where = traceback.format_stack(frame, limit=1)[0].strip().splitlines()[0] if frame is not None else "-"
        lines.append(f"  thread {thread.name} {where}")
    text = "\n".join(lines)
    for line in lines:
        logger.info("%s", line)
    return text


def ignore_stray_signals_early() -> None:
    """Before the loop runs (config load, daemonizing): SIG_IGN for the signals that will be
    logged and ignored, so none of them kills the process during start-up. The loop's handlers
    replace this (and a handler, unlike SIG_IGN, is reset by exec, so scripts start clean)."""
    for number in signals.ignored_signals():
        try:
            signal.signal(number, signal.SIG_IGN)
        except (OSError, ValueError):
            pass
