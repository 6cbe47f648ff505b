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
        # (from, to, reason) -> {instance: count}: the few kinds of transition are shared by all
        # instances, so each instance costs a dict entry per kind, not a 4-tuple key (docs/scale.md)
        self._counts: dict[tuple[str, str, str], dict[str, int]] = {}
        self._kinds: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        # name -> ((from, to, reason), priority, time): not the snapshot's five-key dict
        self._last: dict[str, tuple[tuple[str, str, str], int, float]] = {}
        self._clock = clock

    def __call__(self, name: str, old: Any, new: Any, reason: str, priority: int) -> None:
        kind = (old.value, new.value, reason)
        per_instance = self._counts.get(kind)
        if per_instance is None:
            per_instance = self._counts[kind] = {}
            self._kinds[kind] = kind
        else:
            kind = self._kinds[kind]        # the one stored tuple of this kind, not a new one each
        per_instance[name] = per_instance.get(name, 0) + 1
        self._last[name] = (kind, priority, self._clock())

    def last(self, name: str) -> dict[str, Any] | None:
        """The instance's last transition as the snapshot shows it, or None."""
        row = self._last.get(name)
        if row is None:
            return None
        (old, new, reason), priority, when = row
        return {"from": old, "to": new, "reason": reason, "priority": priority, "time": when}

    @property
    def counts(self) -> dict[tuple[str, str, str, str], int]:
        """Count per (instance, from, to, reason)."""
        return {(name, *kind): n for kind, per_instance in self._counts.items() for name, n in per_instance.items()}

    def snapshot(self) -> dict[str, Any]:
        return {"last": {name: self.last(name) for name in self._last},
                "counts": [{"instance": i, "from": f, "to": t, "reason": r, "count": c}
                           for (i, f, t, r), c in sorted(self.counts.items())]}
