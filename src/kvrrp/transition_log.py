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
        # name -> (from, to, reason, priority, time): a tuple, not the snapshot's dict (a five-key
        # dict per instance was ~200 B more, 2 MB at K = 10,000)
        self._last: dict[str, tuple[str, str, str, int, float]] = {}
        self._clock = clock

    def __call__(self, name: str, old: Any, new: Any, reason: str, priority: int) -> None:
        key = (name, old.value, new.value, reason)
        self.counts[key] = self.counts.get(key, 0) + 1
        self._last[name] = (old.value, new.value, reason, priority, self._clock())

    def last(self, name: str) -> dict[str, Any] | None:
        """The instance's last transition as the snapshot shows it, or None."""
        row = self._last.get(name)
        if row is None:
            return None
        return dict(zip(("from", "to", "reason", "priority", "time"), row))

    def snapshot(self) -> dict[str, Any]:
        return {"last": {name: self.last(name) for name in self._last},
                "counts": [{"instance": i, "from": f, "to": t, "reason": r, "count": c}
                           for (i, f, t, r), c in sorted(self.counts.items())]}
