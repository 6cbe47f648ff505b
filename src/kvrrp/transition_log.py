"""Every VRRP transition counted by (instance, from, to, reason), and the last one of each
instance: an engine transition listener whose snapshot goes into /status (kvrrpctl status's
LAST REASON) and the metrics (kvrrp_vrrp_transitions_total). Kept apart from kvrrp.metrics so
that the daemon does not import prometheus-client unless it serves metrics."""
from __future__ import annotations

import time
from typing import Any, Callable


class TransitionRecorder:
    """Engine transition listener: counts per (instance, from, to, reason), remembers the last."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.counts: dict[tuple[str, str, str, str], int] = {}
        self.last: dict[str, dict[str, Any]] = {}
        self._clock = clock

    def __call__(self, name: str, old: Any, new: Any, reason: str, priority: int) -> None:
        key = (name, old.value, new.value, reason)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.last[name] = {"from": old.value, "to": new.value, "reason": reason,
                           "priority": priority, "time": self._clock()}

    def snapshot(self) -> dict[str, Any]:
        return {"last": dict(self.last),
                "counts": [{"instance": i, "from": f, "to": t, "reason": r, "count": c}
                           for (i, f, t, r), c in sorted(self.counts.items())]}
