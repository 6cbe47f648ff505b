"""Whether a reload may apply a new configuration, and the counters that say what reloads did.

keepalived applies whatever it parsed on SIGHUP, reporting the errors; an editor that saved
half a file (or an empty one) then takes every VIP down. kvrrp refuses instead, keeping the
running configuration, when the new one:

  * has any error-level diagnostic (what makes `kvrrp -t` fail with errors: a value out of
    range, a block cut off, an interface this host does not have ...), or
  * has no vrrp_instance while the running one has some (or, for the checker process, no
    virtual_server while the running one has some) - unless the daemon runs with
    --allow-reload-removing-all. Stopping the daemon is the deliberate way to drop everything.

Pure: the caller parses (with the host's interfaces) and logs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

MAX_LISTED = 5


def refusal(result: Any, running: Any, *, allow_remove_all: bool = False, part: str = "vrrp",
            namespace_override: str | None = None) -> str | None:
    """Why the reload must not apply ``result`` (a config.loader.LoadResult) over the running
    configuration, or None when it may. part: "vrrp" (the VRRP process) or "checker";
    namespace_override: -s NAME, which replaces the configuration's net_namespace."""
    if result.config is None:
        return "the new configuration could not be read"
    errors = result.errors
    if errors:
        listed = "; ".join(d.format() for d in errors[:MAX_LISTED])
        more = f" (and {len(errors) - MAX_LISTED} more)" if len(errors) > MAX_LISTED else ""
        return f"the new configuration has {len(errors)} error(s): {listed}{more}"
    if running is not None:
        why = unsupported_change(result.config, running, namespace_override)
        if why is not None:
            return why
    if allow_remove_all or running is None:
        return None
    if part == "vrrp" and running.instances and not result.config.instances:
        return (f"the new configuration has no vrrp_instance, the running one has {len(running.instances)} "
                "(start with --allow-reload-removing-all to allow this, or stop the daemon)")
    if part == "checker" and running.virtual_servers and not result.config.virtual_servers:
        return (f"the new configuration has no virtual_server, the running one has "
                f"{len(running.virtual_servers)} (start with --allow-reload-removing-all to allow this)")
    return None


def unsupported_change(new: Any, running: Any, namespace_override: str | None = None) -> str | None:
    """keepalived's reload keeps the old configuration when one of these changed: the process
    already lives in its namespace, and its IPVS socket in the other one."""
    if namespace_override is None and getattr(new, "net_namespace", None) != getattr(running, "net_namespace", None):
        return "Cannot change network namespace at a reload - please restart kvrrp"
    if getattr(new, "net_namespace_ipvs", None) != getattr(running, "net_namespace_ipvs", None):
        return "Cannot change IPVS network namespace at a reload - please restart kvrrp"
    return None


@dataclass
class ReloadCounters:
    """What reloads did, for /status, the JSON dump and the metrics."""

    requested: int = 0          # RELOAD signals (and API requests) received
    coalesced: int = 0          # requests that arrived during a reload (folded into one more)
    started: int = 0
    applied: int = 0
    refused: int = 0            # the new configuration was not applied (reason in last_error)
    failed: int = 0             # applying raised; the running configuration was kept
    last_outcome: str = ""      # applied | refused | failed
    last_error: str = ""
    last_finished: float | None = None      # wall clock
    history: list[str] = field(default_factory=list)

    def finish(self, outcome: str, error: str = "") -> None:
        if outcome == "applied":
            self.applied += 1
        elif outcome == "refused":
            self.refused += 1
        else:
            self.failed += 1
        self.last_outcome = outcome
        self.last_error = error
        self.last_finished = time.time()

    def as_dict(self) -> dict:
        return {"requested": self.requested, "coalesced": self.coalesced, "started": self.started,
                "applied": self.applied, "refused": self.refused, "failed": self.failed,
                "last_outcome": self.last_outcome, "last_error": self.last_error,
                "last_finished": self.last_finished}
