"""keepalived's signal table: every signal keepalived 2.4 defines, its name and its number.

keepalived names its control signals (lib/signals.c get_signum(), `keepalived --signum=NAME`):

    name          number            VRRP process                      checker process
    STOP          SIGTERM  (15)     stop (priority 0, VIPs removed)   stop (IPVS entries removed)
    RELOAD        SIGHUP   (1)      reload the configuration          reload the configuration
    DATA          SIGUSR1  (10)     data dump /tmp/keepalived.data    data dump
    STATS         SIGUSR2  (12)     stats dump /tmp/keepalived.stats  (not consumed)
    STATS_CLEAR   SIGRTMAX-1 (63)   stats dump, then counters zeroed  (not consumed)
    JSON          SIGRTMIN+2 (36)   JSON dump /tmp/keepalived.json    (not consumed)
    TDUMP         SIGRTMAX (64)     scheduler dump to the log         scheduler dump to the log

SIGINT stops like SIGTERM (keepalived: unless --ignore-sigint); it has no --signum name.
TDUMP exists only in keepalived builds configured with thread dumping (THREAD_DUMP; Debian's
2.2.7 answers "Unknown sigfunc TDUMP"); kvrrp always has it: the asyncio tasks and threads are
written to the log, keepalived's dump_thread_data(master, NULL) equivalent.

The numbers are the same in keepalived 2.2.7 and 2.4.x (lib/signals.h: SIGJSON SIGRTMIN + 2,
SIGSTATS_CLEAR SIGRTMAX - 1, SIGTDUMP SIGRTMAX; checked against `keepalived --signum` 2.2.7 on
this glibc: 15 1 10 12 63 36). The real-time numbers are glibc's SIGRTMIN/SIGRTMAX as this
process sees them (34/64 on Linux with glibc), i.e. what keepalived on the same host answers.

Every other catchable signal (the rest of SIGRTMIN..SIGRTMAX included) is logged once and
ignored by both processes: a stray `kill -s RTMIN+5` must not take a VIP down without priority 0
(keepalived's default disposition kills it). `ignored_signals()` lists them.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeepalivedSignal:
    name: str           # keepalived's --signum name
    number: int
    vrrp: str           # what the VRRP process does with it
    checker: str        # what the checker process does with it ("" = logged and ignored)


SIGNALS: tuple[KeepalivedSignal, ...] = (
    KeepalivedSignal("STOP", int(signal.SIGTERM), "stop", "stop"),
    KeepalivedSignal("RELOAD", int(signal.SIGHUP), "reload", "reload"),
    KeepalivedSignal("DATA", int(signal.SIGUSR1), "data dump", "data dump"),
    KeepalivedSignal("STATS", int(signal.SIGUSR2), "stats dump", ""),
    KeepalivedSignal("STATS_CLEAR", int(signal.SIGRTMAX) - 1, "stats dump, counters cleared", ""),
    KeepalivedSignal("JSON", int(signal.SIGRTMIN) + 2, "JSON dump", ""),
    KeepalivedSignal("TDUMP", int(signal.SIGRTMAX), "task dump to the log", "task dump to the log"),
)

_BY_NAME = {s.name: s for s in SIGNALS}
_BY_NUMBER = {s.number: s for s in SIGNALS}

# Signals the process never ignores: cannot be caught (KILL, STOP), asyncio's child watcher
# (CHLD), job control and faults whose default action is the right one (a SIGSEGV handler that
# returns loops forever), and SIGINT which stops like SIGTERM.
_NOT_IGNORABLE = frozenset(
    int(s) for s in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGINT, signal.SIGSEGV,
                     signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT, signal.SIGTRAP,
                     signal.SIGSYS, signal.SIGCONT, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
)


def signum(name: str) -> int:
    """`keepalived --signum=NAME`: the number of keepalived's named signal.

    Names are keepalived's, matched exactly as keepalived does (STOP, RELOAD, DATA, STATS,
    STATS_CLEAR, JSON, TDUMP); anything else raises ValueError."""
    found = _BY_NAME.get(name)
    if found is None:
        raise ValueError(f"Unknown sigfunc {name} (known: {', '.join(_BY_NAME)})")
    return found.number


def describe(number: int) -> str:
    """SIGRTMIN+5, SIGRTMAX-1 (STATS_CLEAR), SIGUSR2 (STATS) ... for log lines."""
    number = int(number)
    rtmin, rtmax = int(signal.SIGRTMIN), int(signal.SIGRTMAX)
    if rtmin <= number <= rtmax:
        up, down = number - rtmin, rtmax - number
        if up <= down:
            base = f"SIGRTMIN+{up}" if up else "SIGRTMIN"
        else:
            base = f"SIGRTMAX-{down}" if down else "SIGRTMAX"
    else:
        try:
            base = signal.Signals(number).name
        except ValueError:
            base = f"signal {number}"
    known = _BY_NUMBER.get(number)
    return f"{base} ({known.name})" if known is not None else base


def ignored_signals() -> list[int]:
    """Every catchable signal that is neither in keepalived's table nor handled otherwise:
    the daemons log these once and ignore them."""
    out = []
    for number in range(1, int(signal.SIGRTMAX) + 1):
        if number in _BY_NUMBER or number in _NOT_IGNORABLE:
            continue
        if 32 <= number < int(signal.SIGRTMIN):
            continue  # glibc keeps these for its threads (NPTL); not valid to handle
        if number == signal.SIGPIPE:
            continue  # already ignored by the runtime (keepalived: signal_ignore(SIGPIPE))
        out.append(number)
    return out
