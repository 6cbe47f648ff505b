"""The kernel calls behind a ProcessPlan (kvrrp.process_plan): process name, nice, SCHED_RR,
RLIMIT_RTTIME, CPU affinity, mlockall, umask; and the automatic realtime escalation.

Scheduling attributes (nice, policy, affinity, comm) belong to a thread on Linux and are
inherited by threads created later: apply() runs on the main thread before the event loop
starts its worker threads, and escalate() on the loop's thread, the one that runs late. A
failed call is logged in keepalived's words and the daemon runs on without it.
"""
from __future__ import annotations

import ctypes
import logging
import os
import resource
import signal

from kvrrp.process_plan import AutoPriority, ProcessPlan

log = logging.getLogger("kvrrp.daemon")

PR_SET_NAME = 15
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4
COMM_LEN = 15

_libc = ctypes.CDLL(None, use_errno=True)


def _errno_text() -> str:
    return os.strerror(ctypes.get_errno())


def set_comm(name: str) -> bool:
    """prctl(PR_SET_NAME): what ps, top, pgrep and /proc/PID/comm show (15 characters)."""
    if _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:COMM_LEN]), 0, 0, 0) != 0:
        log.info("Failed to set process name '%s': %s", name, _errno_text())
        return False
    return True


def lock_memory() -> bool:
    """mlockall, as keepalived: MCL_ONFAULT too where the kernel has it (4.4+), so that address
    space reserved but never touched (thread stacks, arenas) is not pinned."""
    if _libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0:
        return True
    if _libc.mlockall(MCL_CURRENT | MCL_FUTURE) == 0:
        return True
    log.info("Unable to lock process in memory - %s", _errno_text())
    return False


def unlock_memory() -> None:
    _libc.munlockall()


def set_realtime(priority: int, rlimit_rttime: int | None) -> bool:
    """SCHED_RR at `priority`, reset on fork (scripts and the checker child start with normal
    scheduling); then RLIMIT_RTTIME soft = half (SIGXCPU, a logged warning), hard = all."""
    try:
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except OSError as exc:
        log.warning("cannot set realtime priority %d (SCHED_RR): %s", priority, exc.strerror or exc)
        return False
    if rlimit_rttime:
        try:
            resource.setrlimit(resource.RLIMIT_RTTIME, (rlimit_rttime // 2, rlimit_rttime))
        except (OSError, ValueError) as exc:
            log.warning("cannot set realtime rlimit (RLIMIT_RTTIME %d usecs): %s", rlimit_rttime, exc)
    return True


def reset_realtime() -> None:
    """Back to SCHED_OTHER (at shutdown, so that the os.nice() of the stop path counts)."""
    try:
        if os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK in (os.SCHED_RR, os.SCHED_FIFO):
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except OSError as exc:
        log.debug("cannot reset realtime scheduling: %s", exc)


def current_rt_priority() -> int:
    """The calling thread's SCHED_RR/FIFO priority, 0 when it is not realtime."""
    try:
        if os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK in (os.SCHED_RR, os.SCHED_FIFO):
            return os.sched_getparam(0).sched_priority
    except OSError:
        pass
    return 0


def apply(plan: ProcessPlan, role_label: str) -> None:
    """Carry out `plan` on the calling thread (call it on the main thread, before threads)."""
    if plan.umask is not None:
        os.umask(plan.umask)
    if plan.comm:
        set_comm(plan.comm)
    if plan.rt_priority:
        if set_realtime(plan.rt_priority, plan.rlimit_rttime):
            _warn_on_sigxcpu(role_label)
    elif plan.nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, plan.nice)
        except OSError as exc:
            log.info("Unable to set process priority to %d - %s", plan.nice, exc.strerror or exc)
    if plan.no_swap:
        lock_memory()
    if plan.cpu_affinity:
        try:
            os.sched_setaffinity(0, plan.cpu_affinity)
        except OSError as exc:
            log.warning("unable to set cpu affinity to %s process (%s)", role_label, exc.strerror or exc)
    for line in plan.describe():
        log.info("%s process: %s", role_label, line)


def reapply(old: ProcessPlan, new: ProcessPlan, role_label: str) -> None:
    """A reload changed the knobs (keepalived's restore_priority): undo what the new plan no
    longer asks for, then apply it. A CPU affinity that is dropped stays, as in keepalived."""
    if old.rt_priority and not new.rt_priority:
        reset_realtime()
        try:   # back to no limit; raising a hard limit needs CAP_SYS_RESOURCE (harmless without RR)
            resource.setrlimit(resource.RLIMIT_RTTIME, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (OSError, ValueError) as exc:
            log.debug("RLIMIT_RTTIME stays: %s", exc)
    if (old.nice or old.rt_priority) and not new.nice and not new.rt_priority:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, 0)      # the nice value the start had
        except OSError as exc:
            log.info("Unable to reset process priority - %s", exc.strerror or exc)
    if old.no_swap and not new.no_swap:
        unlock_memory()
    apply(new, role_label)


def _warn_on_sigxcpu(role_label: str) -> None:
    """keepalived's log_sigxcpu: the soft RLIMIT_RTTIME is a warning, not the end (the hard one
    is, by the kernel's SIGKILL). Until the loop's signal table (which logs and ignores it)
    takes over."""
    def handler(_signum: int, _frame: object) -> None:
        log.info("%s process has used too much CPU time, %s_rlimit_rttime may need to be increased",
                 role_label, role_label.lower())
    try:
        signal.signal(signal.SIGXCPU, handler)
    except (OSError, ValueError):
        pass


class Escalator:
    """The loop's hook for late wake-ups: asks AutoPriority, makes the switch, logs as keepalived."""

    def __init__(self, plan: ProcessPlan, role_label: str) -> None:
        # from where the thread is now (a reload may restart the watch after escalations)
        self.auto = AutoPriority(plan.max_auto_priority, plan.min_auto_priority_delay,
                                 current_rt_priority() or plan.rt_priority)
        self.threshold = plan.min_auto_priority_delay
        self.rlimit_rttime = plan.rlimit_rttime
        self.role_label = role_label
        self.realtime = bool(self.auto.current)    # RLIMIT_RTTIME already set

    def __call__(self, overdue: float) -> None:
        priority = self.auto.late(overdue)
        if priority is None:
            return
        log.info("A thread timer expired %d.%06d seconds ago", int(overdue), int(overdue * 1e6) % 1000000)
        # (SIGXCPU at the soft limit is logged and ignored by the loop's signal table)
        if set_realtime(priority, None if self.realtime else self.rlimit_rttime):
            self.realtime = True
            log.info("Set realtime priority %d", priority)


WATCH_INTERVAL = 0.1       # seconds between the lateness probes (0.01 at least)


async def watch_lateness(escalator: Escalator) -> None:
    """keepalived checks after each epoll_wait how long ago its earliest timer was due; here a
    timer of our own is the probe: how late it runs is how late every timer of the loop runs.
    Only started when max_auto_priority asks for escalation."""
    import asyncio

    loop = asyncio.get_running_loop()
    interval = max(0.01, min(WATCH_INTERVAL, escalator.threshold / 2))
    while escalator.auto.current < escalator.auto.max_priority:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        overdue = loop.time() - due
        if overdue > escalator.threshold:
            escalator(overdue)
