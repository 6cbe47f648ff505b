"""keepalived's gratuitous ARP / unsolicited NA schedule for one instance.

On becoming MASTER: `garp_master_repeat` announcements of every address (VIPs and excluded
VIPs), a second burst `garp_master_delay` later, and a burst of `garp_master_refresh_repeat`
every `garp_master_refresh`. When a master answers a lower priority advert: a burst of
`garp_lower_prio_repeat`, again after `garp_lower_prio_delay`. Announcements are spaced by
`vrrp_garp_interval` (IPv4) / `vrrp_gna_interval` (IPv6) when those are set. Timers live on the
instance's slots of the engine's wheel; this class only decides what to send and when: its
methods return the announcements due now as effects (kvrrp.vrrp.effects.Announce).
"""
from __future__ import annotations

from collections import deque
from typing import Protocol

from kvrrp.vrrp.effects import Announce
from kvrrp.vrrp.settings import InstanceSettings
from kvrrp.vrrp.stats import InstanceStats

T_GARP_PACE = 2         # next queued announcement when an interval is set
T_GARP_SECOND = 3       # second burst after becoming master
T_GARP_REFRESH = 4      # periodic refresh
T_GARP_LOWER = 5        # second burst after answering a lower priority advert
GARP_TIMERS = (T_GARP_PACE, T_GARP_SECOND, T_GARP_REFRESH, T_GARP_LOWER)

class TimerSlots(Protocol):
    def schedule_timer(self, kind: int, delay: float) -> None: ...
    def cancel_timer(self, kind: int) -> None: ...
    def timer_armed(self, kind: int) -> bool: ...


class GarpSchedule:
    # One per instance: slots, and the queue exists only while a burst is being sent (an empty
    # deque is 600+ bytes, times 10,000 instances).
    __slots__ = ("settings", "timers", "stats", "queue")

    def __init__(self, settings: InstanceSettings, timers: TimerSlots, stats: InstanceStats) -> None:
        self.settings = settings
        self.timers = timers
        self.stats = stats
        self.queue: deque[tuple[str, int, str]] | None = None

    def on_become_master(self) -> list[Announce]:
        s = self.settings
        due = self._burst(s.garp_master_repeat)
        if s.garp_master_delay > 0:
            self.timers.schedule_timer(T_GARP_SECOND, s.garp_master_delay)
        if s.garp_master_refresh > 0:
            self.timers.schedule_timer(T_GARP_REFRESH, s.garp_master_refresh)
        return due

    def on_lower_priority_advert(self) -> list[Announce]:
        s = self.settings
        if not s.garp_lower_prio_repeat:
            return []
        due = self._burst(s.garp_lower_prio_repeat)
        if s.garp_lower_prio_delay > 0:
            self.timers.schedule_timer(T_GARP_LOWER, s.garp_lower_prio_delay)
        return due

    def announce_once(self) -> list[Announce]:
        """One announcement of every address now (paced like the others): keepalived's
        vrrp_send_link_update(vrrp, 1), what DBus SendGarp asks for."""
        return self._burst(1)

    def stop(self) -> None:
        self.queue = None
        for kind in GARP_TIMERS:
            self.timers.cancel_timer(kind)

    def on_timer(self, kind: int) -> list[Announce]:
        """A GARP timer fired while we are MASTER."""
        s = self.settings
        if kind == T_GARP_PACE:
            return self._flush()
        if kind == T_GARP_SECOND:
            return self._burst(s.garp_master_repeat)
        if kind == T_GARP_REFRESH:
            self.timers.schedule_timer(T_GARP_REFRESH, s.garp_master_refresh)
            return self._burst(s.garp_master_refresh_repeat)
        if kind == T_GARP_LOWER:
            return self._burst(s.garp_lower_prio_repeat)
        return []

    def _burst(self, repeat: int) -> list[Announce]:
        specs = self.settings.vips + self.settings.excluded_vips
        if self.queue is None:
            self.queue = deque()
        for _ in range(repeat):
            for spec in specs:
                self.queue.append((spec.ifname, spec.family, spec.address))
        if self.timers.timer_armed(T_GARP_PACE):
            return []           # paced: the queue drains on T_GARP_PACE
        return self._flush()

    def _flush(self) -> list[Announce]:
        s = self.settings
        queue = self.queue
        due: list[Announce] = []
        if queue is None:
            return due
        while queue:
            ifname, family, address = queue.popleft()
            due.append(Announce(ifname, family, address))
            if family == 4:
                self.stats.garp_sent += 1
            else:
                self.stats.na_sent += 1
            pace = s.garp_interval if family == 4 else s.gna_interval
            if pace > 0 and queue:
                self.timers.schedule_timer(T_GARP_PACE, pace)
                return due
        self.queue = None
        return due
