"""One BFD session's state machine and timers (RFC 5880 sections 6.8.1-6.8.7), without I/O.

Time is an argument (seconds, a monotonic clock); intervals are microseconds, the wire's unit.
The runtime asks `packet()` for what to send when `tx_deadline` passes, calls `receive()` for
every packet addressed to the session and `expire()` when `detect_deadline` passes; each
returns an `Outcome` (state changes, drop reason, whether a Final reply is due at once).

Where RFC 5880 leaves a choice, keepalived's bfd_scheduler.c is followed:
* while not Up the Desired Min TX Interval sent is ``idle_tx`` (at least 1 s, RFC 6.8.3);
* going Up with a different ``min_tx`` starts a Poll Sequence (6.8.3);
* a neighbour signalling AdminDown takes the session Down with diagnostic 3 but is not a
  failure for the trackers (RFC 5882 section 3.2): `tracked_up` stays as it was.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from kvrrp.bfd.packet import (ADMIN_DOWN, DIAG_ADMIN_DOWN, DIAG_EXPIRED, DIAG_NEIGHBOR_DOWN, DIAG_NONE, DOWN, INIT,
                              STATE_NAMES, UP, Control)

ONE_SECOND_US = 1_000_000


@dataclass(frozen=True, slots=True)
class SessionSettings:
    name: str
    min_rx: int            # Required Min RX Interval, us
    min_tx: int            # Desired Min TX Interval while Up, us
    idle_tx: int           # Desired Min TX Interval while not Up, us (>= 1 s)
    detect_mult: int
    passive: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    old: int
    new: int
    diag: int
    tracked_changed: bool  # the trackers' view (up / not up) changed; AdminDown is no failure

    def describe(self) -> str:
        return f"{STATE_NAMES[self.old]} -> {STATE_NAMES[self.new]}"


@dataclass(slots=True)
class Outcome:
    drop: str | None = None
    changes: list[Change] = field(default_factory=list)
    send_now: bool = False           # a Poll arrived: answer with Final without waiting


class Session:
    def __init__(self, settings: SessionSettings, local_discr: int, now: float,
                 rng: Callable[[], float]) -> None:
        if local_discr == 0:
            raise ValueError("a local discriminator must not be zero")
        self.settings = settings
        self.rng = rng
        self.state = DOWN
        self.remote_state = DOWN
        self.local_discr = local_discr
        self.remote_discr = 0
        self.local_diag = DIAG_NONE
        self.remote_diag = DIAG_NONE
        self.remote_min_rx = 1             # RFC 6.8.1: initialised to 1
        self.remote_min_tx = 0
        self.remote_mult = 0
        self.remote_demand = False
        self.poll = False
        self.final = False
        self.tracked_up = False
        self.detect_deadline: float | None = None
        self.tx_deadline: float | None = None
        self.sent = 0
        self.received = 0
        self.up_count = 0
        self.last_rx: float | None = None
        self._reschedule_tx(now, first=True)

    # -- timers ----------------------------------------------------------------------------

    @property
    def desired_min_tx(self) -> int:
        s = self.settings
        return s.min_tx if self.state == UP else max(s.idle_tx, ONE_SECOND_US)

    @property
    def tx_interval(self) -> int:
        """RFC 6.8.7: the larger of our Desired Min TX and the remote's Required Min RX."""
        return max(self.desired_min_tx, self.remote_min_rx)

    @property
    def detection_time(self) -> int:
        """RFC 6.8.4, asynchronous mode: the remote's Detect Mult times the agreed interval."""
        return self.remote_mult * max(self.settings.min_rx, self.remote_min_tx)

    def may_transmit(self) -> bool:
        if self.state == ADMIN_DOWN:
            return False
        if self.settings.passive and self.remote_discr == 0:
            return False                   # RFC 6.1 / 6.8.7: passive waits to be spoken to
        if self.remote_min_rx == 0:
            return False                   # the remote asked for no periodic packets
        if self.remote_demand and self.state == UP and self.remote_state == UP:
            return False
        return True

    def jittered(self, interval_us: int) -> float:
        """RFC 6.8.7: reduced by 0-25 %; with Detect Mult 1 by 10-25 %. Seconds."""
        r = self.rng()
        low = 0.75
        span = 0.15 if self.settings.detect_mult == 1 else 0.25
        return interval_us * (low + span * r) / 1e6

    def _reschedule_tx(self, now: float, first: bool = False, due: float | None = None) -> None:
        if not self.may_transmit():
            self.tx_deadline = None
            return
        # the first packet of a session leaves at once; later ones keep the jittered spacing
        gap = 0.0 if first else self.jittered(self.tx_interval)
        at = now + gap
        if due is not None and not first:
            # a packet sent late (a busy loop) does not push every later one back: the next is
            # spaced from when this one was due, but never closer than the smallest interval
            # RFC 5880 6.8.7 allows (the negotiated one less 25 % jitter)
            at = max(due + gap, now + 0.75 * self.tx_interval / 1e6)
        self.tx_deadline = at

    def update_settings(self, settings: SessionSettings, now: float) -> None:
        """A reload changed the timers or the passive role: state is kept (RFC 6.8.1: state
        variables are never reinitialised); while Up a changed interval starts a Poll (6.8.3)."""
        old = self.settings
        self.settings = settings
        if self.state == UP and (old.min_tx, old.min_rx) != (settings.min_tx, settings.min_rx):
            self.poll = True
        if not self.may_transmit():
            self.tx_deadline = None
        elif self.tx_deadline is None:
            self._reschedule_tx(now, first=True)

    # -- sending ---------------------------------------------------------------------------

    def packet(self) -> Control:
        poll = self.poll and not self.final
        return Control(state=self.state, my_discr=self.local_discr, your_discr=self.remote_discr,
                       desired_min_tx=self.desired_min_tx, required_min_rx=self.settings.min_rx,
                       detect_mult=self.settings.detect_mult, diag=self.local_diag, poll=poll,
                       final=self.final)

    def transmitted(self, now: float, periodic: bool = True) -> None:
        """A packet from packet() went out: the Final is answered; periodic ones re-arm."""
        self.sent += 1
        self.final = False
        if periodic:
            self._reschedule_tx(now, due=self.tx_deadline)

    # -- receiving -------------------------------------------------------------------------

    def receive(self, pkt: Control, now: float) -> Outcome:
        """RFC 6.8.6 from "If the A bit is set" on (decode and the service did the rest)."""
        out = Outcome()
        if pkt.auth:
            out.drop = "auth_unsupported"
            return out
        if self.state == ADMIN_DOWN:
            out.drop = "admin_down"
            return out
        self.received += 1
        self.last_rx = now
        old_interval = self.tx_interval
        self.remote_discr = pkt.my_discr
        self.remote_state = pkt.state
        self.remote_diag = pkt.diag
        self.remote_demand = pkt.demand
        self.remote_min_rx = pkt.required_min_rx
        self.remote_min_tx = pkt.desired_min_tx
        self.remote_mult = pkt.detect_mult
        if pkt.final:
            self.poll = False

        if pkt.state == ADMIN_DOWN:
            if self.state != DOWN:
                self._set_state(DOWN, DIAG_NEIGHBOR_DOWN, out)
        elif self.state == DOWN:
            if pkt.state == DOWN:
                self._set_state(INIT, DIAG_NONE, out)
            elif pkt.state == INIT:
                self._set_state(UP, DIAG_NONE, out)
        elif self.state == INIT:
            if pkt.state in (INIT, UP):
                self._set_state(UP, DIAG_NONE, out)
        elif pkt.state == DOWN:                              # we are Up
            self._set_state(DOWN, DIAG_NEIGHBOR_DOWN, out)

        self.detect_deadline = now + self.detection_time / 1e6
        if pkt.poll:
            # RFC 6.8.6: answer with Final "as soon as practicable, without respect to the
            # transmission timer" - also when periodic packets are not wanted
            self.final = True
            out.send_now = True
        if not self.may_transmit():
            self.tx_deadline = None
        elif self.tx_deadline is None:
            self._reschedule_tx(now, first=True)
        elif self.tx_interval < old_interval:
            # sending faster now (the session came Up, or the remote wants more): don't wait out
            # the old, longer gap
            self.tx_deadline = min(self.tx_deadline, now + self.jittered(self.tx_interval))
        return out

    def expire(self, now: float) -> Outcome:
        """The detection time passed without a valid packet (RFC 6.8.4 / 6.8.6)."""
        out = Outcome()
        self.detect_deadline = None
        self.remote_discr = 0
        if self.state in (INIT, UP):
            self.remote_state = DOWN
            self._set_state(DOWN, DIAG_EXPIRED, out)
        if not self.may_transmit():
            self.tx_deadline = None
        elif self.tx_deadline is None:
            self._reschedule_tx(now)
        return out

    def admin_down(self, now: float) -> Outcome:
        out = Outcome()
        if self.state != ADMIN_DOWN:
            self._set_state(ADMIN_DOWN, DIAG_ADMIN_DOWN, out)
        self.tx_deadline = None
        self.detect_deadline = None
        return out

    def _set_state(self, new: int, diag: int, out: Outcome) -> None:
        old = self.state
        self.state = new
        self.local_diag = diag
        tracked_changed = False
        if new == UP:
            self.up_count += 1
            if not self.tracked_up:
                self.tracked_up = True
                tracked_changed = True
            if self.settings.min_tx != max(self.settings.idle_tx, ONE_SECOND_US):
                self.poll = True         # RFC 6.8.3: our Desired Min TX changes while Up
        elif old == UP or self.tracked_up:
            self.poll = False
            if not (new == DOWN and self.remote_state == ADMIN_DOWN) and new != ADMIN_DOWN:
                if self.tracked_up:
                    self.tracked_up = False
                    tracked_changed = True
        out.changes.append(Change(old, new, diag, tracked_changed))
