"""The BFD runtime of one process: every session on one receive socket per family and port,
their timers on one loop timer, state changes to listeners.

Why a task in the daemon and not keepalived's separate Keepalived_bfd process: kvrrp's VRRP
daemon is one event loop that already multiplexes thousands of timers (DESIGN.md "many
instances, one clock"); a BFD session is two timers and a socket read, and a tracker change
must reach the VRRP engine in the same loop (track_bfd -> engine.set_tracker) without a pipe
hop. Only one process of a namespace can own UDP 3784, so the checker child gets the states
from the VRRP daemon over a pipe on its stdin (kvrrp.bfd.relay), as keepalived's checker
process gets them from Keepalived_bfd over a pipe.

Timers: every session's transmit and detection timers on one of kvrrp's timer wheels
(kvrrp.fastpath.TimerWheel, 1 ms ticks, never early: the VRRP engine's structure, a wheel of
its own so the two stay independent) and one ``loop.call_at`` for the earliest deadline, so a
thousand 10 ms sessions cost one loop timer and O(1) per (re)arm.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import random
from typing import Any, Callable

from kvrrp import fastpath
from kvrrp.bfd.packet import DECODE_DROPS, DIAG_NAMES, STATE_NAMES, UP, Control, Drop, decode
from kvrrp.bfd.session import Outcome, Session
from kvrrp.bfd.settings import BfdPeer, plan_sessions
from kvrrp.config.model import BfdInstance
from kvrrp.io.bfd_sockets import BfdSockets, Datagram, Sender, UdpSockets

log = logging.getLogger("kvrrp.bfd")

# every reason a received packet can be dropped for, each with a counter
DROP_REASONS = DECODE_DROPS + ("unknown_discriminator", "unknown_session", "wrong_source", "wrong_port",
                               "ttl", "auth_unsupported", "admin_down")

Listener = Callable[[str, bool], None]
_TX, _DETECT = 0, 1            # wheel key = entry id * 2 + kind
TICK = 0.001


class _Entry:
    __slots__ = ("id", "peer", "session", "sender", "send_errors", "socket_error")

    def __init__(self, entry_id: int, peer: BfdPeer, session: Session) -> None:
        self.id = entry_id
        self.peer = peer
        self.session = session
        self.sender: Sender | None = None
        self.send_errors = 0
        self.socket_error: str | None = None


class BfdService:
    def __init__(self, instances: tuple[BfdInstance, ...] | list[BfdInstance], *,
                 sockets: BfdSockets | None = None, loop: asyncio.AbstractEventLoop | None = None,
                 clock: Callable[[], float] | None = None, rng: Callable[[], float] = random.random,
                 discriminator: Callable[[], int] | None = None) -> None:
        self.loop = loop
        self.sockets = sockets
        self._clock = clock
        self.rng = rng
        self._discr = discriminator or (lambda: random.getrandbits(32))
        self.instances = tuple(instances)
        self.sessions: dict[str, _Entry] = {}
        self.by_discr: dict[int, _Entry] = {}
        self.drops: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.received = 0
        self._listeners: list[Listener] = []
        self._receivers: dict[tuple[int, int], Callable[[], None]] = {}
        self._wheel: Any = None                    # fastpath.TimerWheel, made at start()
        self._ids = itertools.count(1)
        self._by_id: dict[int, _Entry] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.running = False

    # -- queries ---------------------------------------------------------------------------

    def names(self) -> set[str]:
        return set(self.sessions)

    def is_up(self, name: str) -> bool | None:
        """The trackers' view of a session (None: no such session)."""
        e = self.sessions.get(name)
        return None if e is None else e.session.tracked_up

    def reported(self) -> dict[str, bool]:
        """What listeners have been told so far: the sessions that were Up at least once, with
        their tracked state (a session never Up has sent no event: keepalived's rule)."""
        return {n: e.session.tracked_up for n, e in self.sessions.items() if e.session.up_count}

    def add_listener(self, listener: Listener) -> None:
        """listener(name, up) when a session's tracked state changes."""
        self._listeners.append(listener)

    def now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return (self.loop or asyncio.get_running_loop()).time()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Open the sockets and arm the timers. With a `clock` and no loop (tests) nothing is
        scheduled: the caller drives run_due(now) itself."""
        if self.loop is None and self._clock is None:
            self.loop = asyncio.get_running_loop()
        if self.sockets is None:
            self.sockets = UdpSockets(self.loop)
        self._wheel = fastpath.TimerWheel(resolution=TICK, start=self.now())
        self.running = True
        self._configure(self.instances)

    def reload(self, instances: tuple[BfdInstance, ...] | list[BfdInstance]) -> None:
        """Sessions whose neighbour, source, port and TTL are unchanged keep their state (a new
        timing takes effect in place); the others are rebuilt, removed ones closed."""
        self.instances = tuple(instances)
        if self.running:
            self._configure(self.instances)

    def stop(self) -> None:
        self.running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for e in self.sessions.values():
            if e.sender is not None:
                e.sender.close()
        self.sessions.clear()
        self.by_discr.clear()
        for close in self._receivers.values():
            close()
        self._receivers.clear()
        self._by_id.clear()
        self._wheel = None

    def _configure(self, instances: tuple[BfdInstance, ...]) -> None:
        peers, problems = plan_sessions(instances)
        for p in problems:
            log.warning("BFD: %s", p)
        now = self.now()
        wanted = {p.name: p for p in peers}
        for name, e in list(self.sessions.items()):
            new = wanted.get(name)
            if new is not None and _same_path(e.peer, new):
                e.peer = new
                e.session.update_settings(new.session, now)
                continue
            was_up = e.session.tracked_up
            self._remove(name)
            if was_up:
                # a session replaced (new neighbour / source / port / TTL) or removed is no longer
                # known to be up: its followers hear so (the replacement reports its own Up)
                self._tell(name, False)
        for p in peers:
            if p.name in self.sessions:
                self._arm(self.sessions[p.name])
                continue
            discr = self._new_discr()
            e = _Entry(next(self._ids), p, Session(p.session, discr, now, self.rng))
            self.sessions[p.name] = e
            self.by_discr[discr] = e
            self._by_id[e.id] = e
            self._open_sender(e)
            log.info("BFD instance %s: neighbor %s%s, min_rx %g ms, min_tx %g ms, multiplier %d%s",
                     p.name, p.neighbor, f" source {p.source}" if p.source else "", p.session.min_rx / 1000,
                     p.session.min_tx / 1000, p.session.detect_mult, ", passive" if p.session.passive else "")
            self._arm(e)
        needed = {(p.family, p.port) for p in peers}
        for key in set(self._receivers) - needed:
            self._receivers.pop(key)()
        for family, port in needed - set(self._receivers):
            try:
                assert self.sockets is not None
                self._receivers[(family, port)] = self.sockets.open_receiver(family, port, self._on_datagram)
            except OSError as exc:
                log.error("BFD: cannot listen on UDP port %d (IPv%d): %s", port, family, exc)

    def _new_discr(self) -> int:
        while True:
            d = self._discr() & 0xFFFFFFFF
            if d and d not in self.by_discr:
                return d

    def _remove(self, name: str) -> None:
        e = self.sessions.pop(name)
        self.by_discr.pop(e.session.local_discr, None)
        self._by_id.pop(e.id, None)
        if self._wheel is not None:
            self._wheel.cancel(e.id * 2 + _TX)
            self._wheel.cancel(e.id * 2 + _DETECT)
        if e.sender is not None:
            e.sender.close()

    def _open_sender(self, e: _Entry) -> bool:
        assert self.sockets is not None
        p = e.peer
        try:
            e.sender = self.sockets.open_sender(p.family, p.source, p.neighbor, p.port, p.ttl)
        except OSError as exc:
            # e.g. the source address is not (yet) on an interface: retried at every send
            if e.socket_error != str(exc):
                log.error("(%s) BFD socket: %s", p.name, exc)
            e.socket_error = str(exc)
            return False
        e.socket_error = None
        return True

    # -- timers ----------------------------------------------------------------------------

    def _arm(self, e: _Entry) -> None:
        s = e.session
        if self._wheel is None:
            return
        for kind, at in ((_TX, s.tx_deadline), (_DETECT, s.detect_deadline)):
            if at is None:
                self._wheel.cancel(e.id * 2 + kind)
            else:
                self._wheel.schedule(e.id * 2 + kind, at)
        self._schedule()

    def _schedule(self) -> None:
        if self._wheel is None or not self.running or self.loop is None:
            return
        at = self._wheel.next_deadline()
        if at is not None and self._timer is not None and self._timer_at == at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = None
        if at is None:
            return
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._fire) if self._clock is None else \
            self.loop.call_later(max(0.0, at - self.now()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        self.run_due(self.now())
        self._schedule()

    def next_deadline(self) -> float | None:
        return None if self._wheel is None else self._wheel.next_deadline()

    def run_due(self, now: float) -> None:
        """Everything due at `now` (public so tests can drive the service with a fake clock)."""
        if self._wheel is None:
            return
        touched: dict[int, _Entry] = {}
        for key in self._wheel.advance(now):
            e = self._by_id.get(key >> 1)
            if e is None:
                continue
            s = e.session
            if key & 1 == _TX:
                if s.tx_deadline is not None:
                    self._send(e, now, periodic=True)
            elif s.detect_deadline is not None:
                if s.state == UP and s.last_rx is not None:
                    # keepalived's "Expired after N ms": how long the silence really lasted
                    log.warning("(%s) BFD expired after %.0f ms without a packet (Detection Time %.0f ms)",
                                e.peer.name, (now - s.last_rx) * 1000, s.detection_time / 1000)
                self._outcome(e, s.expire(now))
            touched[e.id] = e
        for e in touched.values():
            self._arm(e)

    # -- packets ---------------------------------------------------------------------------

    def _send(self, e: _Entry, now: float, periodic: bool) -> None:
        if e.sender is None and not self._open_sender(e):
            e.send_errors += 1
        if e.sender is not None:
            before = getattr(e.sender, "errors", 0)
            e.sender.send(e.session.packet().encode())
            if getattr(e.sender, "errors", 0) != before:
                e.send_errors += 1
        e.session.transmitted(now, periodic=periodic)

    def _drop(self, reason: str, dg: Datagram) -> None:
        self.drops[reason] += 1
        log.debug("BFD: dropped a packet from %s:%d: %s", dg.src, dg.src_port, reason)

    def _on_datagram(self, dg: Datagram) -> None:
        self.received += 1
        pkt = decode(dg.payload)
        if isinstance(pkt, Drop):
            self._drop(pkt.reason, dg)
            return
        e = self._find(pkt, dg)
        if isinstance(e, str):
            self._drop(e, dg)
            return
        if dg.port != e.peer.port:
            self._drop("wrong_port", dg)
            return
        if not e.peer.ttl_ok(dg.ttl):
            self._drop("ttl", dg)
            return
        now = self.now()
        out = e.session.receive(pkt, now)
        if out.drop:
            self._drop(out.drop, dg)
            return
        self._outcome(e, out)
        if out.send_now:
            self._send(e, now, periodic=False)
        self._arm(e)

    def _find(self, pkt: Control, dg: Datagram) -> _Entry | str:
        if pkt.your_discr:
            e = self.by_discr.get(pkt.your_discr)
            if e is None:
                return "unknown_discriminator"
            if e.peer.neighbor != dg.src:
                return "wrong_source"
            return e
        for e in self.sessions.values():
            if e.peer.neighbor == dg.src and (e.peer.source is None or dg.dst is None or e.peer.source == dg.dst):
                return e
        return "unknown_session"

    def _outcome(self, e: _Entry, out: Outcome) -> None:
        name = e.peer.name
        for ch in out.changes:
            diag = DIAG_NAMES[ch.diag]
            remote = DIAG_NAMES[e.session.remote_diag] if e.session.remote_diag < len(DIAG_NAMES) else "?"
            level = logging.WARNING if ch.old == UP else logging.INFO
            log.log(level, "(%s) BFD %s -> %s (local diagnostic: %s, remote diagnostic: %s)", name,
                    STATE_NAMES[ch.old], STATE_NAMES[ch.new], diag, remote)
            if ch.tracked_changed:
                self._tell(name, e.session.tracked_up)

    def _tell(self, name: str, up: bool) -> None:
        for cb in list(self._listeners):
            try:
                cb(name, up)
            except Exception:  # noqa: BLE001 - one listener must not stop the others
                log.exception("BFD listener failed for %s", name)

    # -- observability ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {"received": self.received, "drops": dict(self.drops), "sessions": {}}
        for name, e in sorted(self.sessions.items()):
            s = e.session
            out["sessions"][name] = {
                "neighbor": e.peer.neighbor, "source": e.peer.source, "state": STATE_NAMES[s.state],
                "remote_state": STATE_NAMES[s.remote_state], "up": s.tracked_up,
                "local_discriminator": s.local_discr, "remote_discriminator": s.remote_discr,
                "local_diagnostic": DIAG_NAMES[s.local_diag], "tx_interval_us": s.tx_interval,
                "detection_time_us": s.detection_time, "sent": s.sent, "received": s.received,
                "send_errors": e.send_errors, "times_up": s.up_count,
            }
        return out


def _same_path(a: BfdPeer, b: BfdPeer) -> bool:
    return (a.neighbor, a.source, a.port, a.ttl, a.family) == (b.neighbor, b.source, b.port, b.ttl, b.family)
