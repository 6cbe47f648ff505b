"""What a daemon process does to itself at start, decided from the configuration (pure).

keepalived's rules (lib/process.c set_process_priorities, main.c, vrrp_daemon.c, check_daemon.c):

* the name (comm) a process shows: `process_name` renames the parent, and children forked after
  it inherit that name; `process_names` / `vrrp_process_name` / `checker_process_name` rename a
  child. kvrrp's main process is keepalived's parent and VRRP child in one, so it takes the
  VRRP name when there is one, else `process_name`; the checker child takes the checker name,
  else `process_name`;
* `*_rt_priority` set: SCHED_RR at that priority (reset on fork, so scripts run normally) and
  RLIMIT_RTTIME soft = limit/2 (a SIGXCPU warning first), hard = `*_rlimit_rttime` usecs;
  otherwise the nice value `*_priority` (0 = left alone), and the RLIMIT_RTTIME value is kept
  for an automatic escalation;
* `*_no_swap`: mlockall(MCL_CURRENT | MCL_FUTURE); `*_cpu_affinity`: sched_setaffinity;
* `max_auto_priority` > 0: when the main loop wakes more than `min_auto_priority_delay` usecs
  after its earliest timer was due, switch to SCHED_RR at the lowest priority, and one step
  higher at each further late wake-up, up to `max_auto_priority` (AutoPriority);
* `umask`: the -u command line option wins over the configuration ("umask command line option
  specified, ignoring config option").

kvrrp.io.process_tuning carries a ProcessPlan out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RT_PRIORITY_MIN = 1

ROLES = ("vrrp", "checker")


@dataclass(frozen=True, slots=True)
class ProcessPlan:
    role: str                                  # "vrrp" (kvrrp's main process) or "checker"
    comm: str | None = None                    # prctl(PR_SET_NAME); None = unchanged
    nice: int | None = None                    # setpriority; None = unchanged
    rt_priority: int | None = None             # SCHED_RR | SCHED_RESET_ON_FORK
    rlimit_rttime: int = 10000                 # usecs: RLIMIT_RTTIME once realtime
    cpu_affinity: tuple[int, ...] = ()         # () = not pinned
    no_swap: bool = False                      # mlockall
    max_auto_priority: int = 0                 # 0 (or -1) = no escalation
    min_auto_priority_delay: float = 1.0       # seconds a timer may be overdue first
    umask: int | None = None                   # None = unchanged

    @property
    def escalates(self) -> bool:
        return self.max_auto_priority > 0 and (self.rt_priority or 0) < self.max_auto_priority

    def describe(self) -> list[str]:
        """One line per setting, for the start-up log."""
        out = []
        if self.comm:
            out.append(f"process name {self.comm}")
        if self.rt_priority:
            out.append(f"realtime priority {self.rt_priority} (SCHED_RR), RLIMIT_RTTIME "
                       f"{self.rlimit_rttime // 2}/{self.rlimit_rttime} usecs")
        elif self.nice:
            out.append(f"process priority (nice) {self.nice}")
        if self.cpu_affinity:
            out.append("cpu affinity " + " ".join(str(c) for c in self.cpu_affinity))
        if self.no_swap:
            out.append("locked in memory (no swap)")
        if self.escalates:
            out.append(f"automatic realtime priority up to {self.max_auto_priority} when "
                       f"{self.min_auto_priority_delay * 1e6:.0f} usecs late")
        return out


def plan_for(config: Any, role: str, cmdline_umask: int | None = None) -> ProcessPlan:
    """The plan for `role` ("vrrp" or "checker") from a loaded model.Config."""
    if role not in ROLES:
        raise ValueError(f"no process role {role!r}")
    p = config.global_defs.process
    tuning = getattr(p, role)
    own_name = p.vrrp_process_name if role == "vrrp" else p.checker_process_name
    rt = tuning.rt_priority or None
    return ProcessPlan(
        role=role,
        comm=own_name or p.process_name,
        nice=None if rt or not tuning.nice else tuning.nice,
        rt_priority=rt,
        rlimit_rttime=tuning.rlimit_rttime,
        cpu_affinity=tuple(tuning.cpu_affinity),
        no_swap=tuning.no_swap,
        max_auto_priority=max(p.max_auto_priority, 0),
        min_auto_priority_delay=p.min_auto_priority_delay / 1e6,
        umask=cmdline_umask if cmdline_umask is not None else p.umask,
    )


class AutoPriority:
    """keepalived's automatic realtime escalation as a pure state machine: late(overdue)
    says which SCHED_RR priority to switch to now, or None."""

    def __init__(self, max_priority: int, min_delay: float, current: int | None = None) -> None:
        self.max_priority = max(max_priority, 0)
        self.min_delay = min_delay
        self.current = current or 0            # 0 = not realtime
        self.escalations = 0

    def late(self, overdue: float) -> int | None:
        """The main loop woke `overdue` seconds after its earliest timer was due."""
        if overdue <= self.min_delay or not self.max_priority or self.current >= self.max_priority:
            return None
        self.current = self.current + 1 if self.current else RT_PRIORITY_MIN
        self.escalations += 1
        return self.current
