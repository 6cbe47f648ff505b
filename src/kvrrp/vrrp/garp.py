"""keepalived's gratuitous ARP / unsolicited NA schedule for one instance.

On becoming MASTER: `garp_master_repeat` announcements of every address (VIPs and excluded
VIPs), a second burst `garp_master_delay` later, and a burst of `garp_master_refresh_repeat`
every `garp_master_refresh`. When a master answers a lower priority advert: a burst of
`garp_lower_prio_repeat`, again after `garp_lower_prio_delay`. Announcements are spaced by
`vrrp_garp_interval` (IPv4) / `vrrp_gna_interval` (IPv6) when those are set. Timers live on the
instance's slots of the engine's wheel; this class only decides what to send and when: its
methods return the announcements due now as effects (kvrrp.vrrp.effects.Announce).

The spacing is per interface, whichever instance sends (keepalived's per-interface garp_delay),
and a `garp_group` puts several interfaces (those on one switch) under one spacing with its
own `garp_interval` / `gna_interval`: GarpPacer, one per engine, shared by the instances.
An announcement leaving a VMAC (use_vmac macvlan or use_ipvlan) is paced on the VMAC's base
interface, as keepalived's (IF_BASE_IFP): the VMACs of one link share its spacing.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol

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


@dataclass(frozen=True, slots=True)
class GarpGroupSettings:
    """One garp_group: its interfaces share one pacing; 0 = no spacing for that family."""
    interfaces: tuple[str, ...]
    garp_interval: float = 0.0
    gna_interval: float = 0.0


class GarpPacer:
    """When the next gratuitous ARP / unsolicited NA may leave an interface (pure; times from
    the engine's clock). Interfaces of a garp_group share one clock and the group's intervals;
    any other interface has its own, with the instance's (global) vrrp_garp/gna_interval."""

    __slots__ = ("_group_of", "_groups", "_next", "_base_of")

    def __init__(self, groups: tuple[GarpGroupSettings, ...] = (),
                 bases: tuple[tuple[str, str], ...] = ()) -> None:
        self._next: dict[tuple[object, int], float] = {}
        self._group_of: dict[str, int] = {}
        self._groups: tuple[GarpGroupSettings, ...] = ()
        self._base_of: dict[str, str] = {}
        self.configure(groups, bases)

    def configure(self, groups: tuple[GarpGroupSettings, ...],
                  bases: tuple[tuple[str, str], ...] = ()) -> None:
        """New groups and VMAC bases (a reload); an interface named by two groups belongs to
        the first. bases: (VMAC name, its base interface) pairs."""
        self._groups = tuple(groups)
        self._group_of = {}
        self._base_of = dict(bases)
        for index, group in enumerate(self._groups):
            for ifname in group.interfaces:
                self._group_of.setdefault(ifname, index)

    def _domain(self, ifname: str, family: int, interval: float) -> tuple[tuple[object, int], float]:
        ifname = self._base_of.get(ifname, ifname)
        index = self._group_of.get(ifname)
        if index is None:
            return (ifname, family), interval
        group = self._groups[index]
        return (("group", index), family), group.garp_interval if family == 4 else group.gna_interval

    def wait(self, ifname: str, family: int, interval: float, now: float) -> float:
        """Seconds until ifname may announce (0: now); interval: the instance's own spacing."""
        key, spacing = self._domain(ifname, family, interval)
        if spacing <= 0:
            return 0.0
        return max(0.0, self._next.get(key, now) - now)

    def sent(self, ifname: str, family: int, interval: float, now: float) -> None:
        key, spacing = self._domain(ifname, family, interval)
        if spacing > 0:
            self._next[key] = now + spacing


class GarpSchedule:
    # One per instance: slots, and the queue exists only while a burst is being sent (an empty
    # deque is 600+ bytes, times 10,000 instances).
    __slots__ = ("settings", "timers", "stats", "queue", "pacer", "now")

    def __init__(self, settings: InstanceSettings, timers: TimerSlots, stats: InstanceStats,
                 pacer: GarpPacer | None = None, now: Callable[[], float] | None = None) -> None:
        self.settings = settings
        self.timers = timers
        self.stats = stats
        self.queue: deque[tuple[str, int, str]] | None = None
        self.pacer = pacer if pacer is not None else GarpPacer()   # the engine's, shared
        self.now = now

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
        pacer, clock = self.pacer, self.now
        while queue:
            ifname, family, address = queue[0]
            interval = s.garp_interval if family == 4 else s.gna_interval
            now = clock() if clock is not None else 0.0
            if clock is not None:
                wait = pacer.wait(ifname, family, interval, now)
                if wait > 1e-9:
                    self.timers.schedule_timer(T_GARP_PACE, wait)
                    return due
            queue.popleft()
            due.append(Announce(ifname, family, address))
            if family == 4:
                self.stats.garp_sent += 1
            else:
                self.stats.na_sent += 1
            if clock is not None:
                pacer.sent(ifname, family, interval, now)
            elif interval > 0 and queue:      # no clock (bare tests): space by this instance alone
                self.timers.schedule_timer(T_GARP_PACE, interval)
                return due
        self.queue = None
        return due
