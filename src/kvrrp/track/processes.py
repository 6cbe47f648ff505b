"""vrrp_track_process: is a process (by name) running, with a quorum of instances.

How presence is learnt: a scan of /proc every ``scan_interval`` seconds (default 1 s). Each
scan reads /proc/PID/stat (the 15-character comm and the state, zombies ignored) and, only for
``full_command`` trackers, /proc/PID/cmdline. The netlink process connector that keepalived
uses is not an option here: the kernel delivers its events only to sockets in the initial
network namespace, and kvrrp commonly runs inside one of its own (ip netns exec). A scan costs
about a millisecond per hundred processes (see docs/tracking.md for the measured figure).

Matching follows keepalived: without full_command the name is compared with comm; with
full_command (implied by parameters or param_match) with argv[0], and parameters by
``param_match`` exact / initial / partial. Quorum: present when quorum <= count <= quorum_max.
``fork_delay`` / ``terminate_delay`` hold back gaining / losing the quorum for that long.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kvrrp.aio import cancel_and_wait

log = logging.getLogger("kvrrp.track")

QuorumCallback = Callable[[str, bool], None]


@dataclass(frozen=True)
class ProcessSpec:
    name: str                      # the vrrp_track_process block's name
    process: str                   # comm, or argv[0] with full_command
    params: tuple[str, ...] = ()
    param_match: str = "none"      # none | exact | initial | partial (none: parameters not read)
    full_command: bool = False
    quorum: int = 1
    quorum_max: int | None = None  # None = unlimited
    fork_delay: float = 0.0
    terminate_delay: float = 0.0

    @property
    def uses_cmdline(self) -> bool:
        return self.full_command or bool(self.params)


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    comm: str
    argv: tuple[str, ...] = ()


def params_match(spec: ProcessSpec, argv_params: tuple[str, ...]) -> bool:
    """keepalived's check_params over NUL-terminated parameter strings: a bare `param_match`
    (exact, no parameters) wants a process without parameters."""
    match = spec.param_match if spec.param_match != "none" or not spec.params else "exact"
    if match == "none":
        return True
    want = b"".join(p.encode() + b"\0" for p in spec.params)
    have = b"".join(p.encode() + b"\0" for p in argv_params)
    if len(have) < len(want):
        return False
    if match == "exact":
        return have == want
    if not want:
        return True
    if match == "partial":
        return have.startswith(want)
    # initial: the last wanted parameter may be a prefix of the actual one
    return len(want) == 1 or have.startswith(want[:-1])


def matches(spec: ProcessSpec, proc: ProcInfo) -> bool:
    if spec.uses_cmdline:
        if not proc.argv or proc.argv[0] != spec.process:
            return False
        return params_match(spec, proc.argv[1:])
    return proc.comm == spec.process


def count(spec: ProcessSpec, procs: Iterable[ProcInfo]) -> int:
    return sum(1 for p in procs if matches(spec, p))


def has_quorum(spec: ProcessSpec, n: int) -> bool:
    return n >= spec.quorum and (spec.quorum_max is None or n <= spec.quorum_max)


def scan_proc(need_cmdline: bool, proc_root: str = "/proc") -> list[ProcInfo]:
    out = []
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return out
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc_root}/{entry}/stat", "rb") as fh:
                stat = fh.read(512)
        except OSError:
            continue                       # it exited between listdir and open
        lpar = stat.find(b"(")
        rpar = stat.rfind(b")")
        if lpar < 0 or rpar < 0 or rpar + 2 >= len(stat):
            continue
        if stat[rpar + 2:rpar + 3] == b"Z":
            continue                       # zombies are not running
        comm = stat[lpar + 1:rpar].decode("utf-8", "surrogateescape")
        argv: tuple[str, ...] = ()
        if need_cmdline:
            try:
                with open(f"{proc_root}/{entry}/cmdline", "rb") as fh:
                    raw = fh.read(4096)
            except OSError:
                continue
            argv = tuple(a.decode("utf-8", "surrogateescape") for a in raw.rstrip(b"\0").split(b"\0")) if raw else ()
        out.append(ProcInfo(pid=int(entry), comm=comm, argv=argv))
    return out


@dataclass
class _State:
    spec: ProcessSpec
    count: int = 0
    quorum: bool = False
    pending: asyncio.TimerHandle | None = field(default=None, repr=False)


class ProcessWatcher:
    def __init__(self, specs: Iterable[ProcessSpec], on_change: QuorumCallback, *,
                 scan_interval: float = 1.0, proc_root: str = "/proc") -> None:
        self.states = {s.name: _State(spec=s) for s in specs}
        self.on_change = on_change
        self.scan_interval = scan_interval
        self.proc_root = proc_root
        self.scans = 0
        self.last_scan_seconds = 0.0
        self._task: asyncio.Task | None = None

    def have_quorum(self, name: str) -> bool:
        return self.states[name].quorum

    def scan_once(self, initial: bool = False) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        need_cmdline = any(st.spec.uses_cmdline for st in self.states.values())
        procs = scan_proc(need_cmdline, self.proc_root)
        self.scans += 1
        for st in self.states.values():
            n = count(st.spec, procs)
            st.count = n
            want = has_quorum(st.spec, n)
            if initial:
                st.quorum = want
                continue
            if want == st.quorum:
                if st.pending is not None:        # flapped back before the delay ran out
                    st.pending.cancel()
                    st.pending = None
                continue
            delay = st.spec.fork_delay if want else st.spec.terminate_delay
            if delay > 0:
                if st.pending is None:
                    st.pending = loop.call_later(delay, self._settle, st)
                continue
            self._set(st, want)
        self.last_scan_seconds = loop.time() - t0

    def _settle(self, st: _State) -> None:
        st.pending = None
        want = has_quorum(st.spec, st.count)
        if want != st.quorum:
            self._set(st, want)

    def _set(self, st: _State, quorum: bool) -> None:
        st.quorum = quorum
        log.info("Quorum %s for tracked process %s (%d running)", "gained" if quorum else "lost",
                 st.spec.name, st.count)
        self.on_change(st.spec.name, quorum)

    async def start(self) -> None:
        if not self.states:
            return
        self.scan_once(initial=True)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="track_process")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.scan_interval)
            try:
                self.scan_once()
            except Exception:
                log.exception("process scan failed")

    async def stop(self) -> None:
        for st in self.states.values():
            if st.pending is not None:
                st.pending.cancel()
                st.pending = None
        await cancel_and_wait(self._task)
        self._task = None
