"""The precise loop fires call_later timers without CPython's millisecond round-up."""
from __future__ import annotations

import asyncio
import selectors
import socket
import time

from kvrrp.io.precise_loop import PreciseEpollSelector, new_event_loop


def _lateness(loop: asyncio.AbstractEventLoop, delay: float, rounds: int) -> list[float]:
    async def measure() -> list[float]:
        late = []
        for _ in range(rounds):
            fut = loop.create_future()
            start = time.monotonic()
            loop.call_later(delay, lambda: fut.set_result(time.monotonic()))
            fired = await fut
            late.append(fired - start - delay)
        return late

    return loop.run_until_complete(measure())


def test_timers_never_fire_early() -> None:
    loop = new_event_loop()
    try:
        assert isinstance(loop._selector, PreciseEpollSelector)  # type: ignore[attr-defined]
        late = _lateness(loop, 0.0023, 10)
    finally:
        loop.close()
    assert min(late) >= 0


def test_sleep_is_armed_to_the_nanosecond_not_rounded_to_milliseconds() -> None:
    # the stock epoll selector would sleep ceil(2.3456789 ms) = 3 ms
    selector = PreciseEpollSelector()
    try:
        start = time.monotonic()
        assert selector.select(0.0023456789) == []
        assert time.monotonic() - start >= 0.0023
        spec = selector._spec.it_value
        armed = spec.tv_sec + spec.tv_nsec * 1e-9     # absolute CLOCK_MONOTONIC deadline
        assert start + 0.0023456 <= armed <= start + 0.0023456789 + 0.001
        assert armed * 1e9 % 1_000_000 != 0          # not rounded to milliseconds
    finally:
        selector.close()


def test_the_same_deadline_is_not_armed_again(monkeypatch) -> None:
    import kvrrp.io.precise_loop as precise

    calls = []
    real = precise._libc

    class Counting:
        def timerfd_settime(self, *args):
            calls.append(args[1])
            return real.timerfd_settime(*args)

    selector = PreciseEpollSelector()
    try:
        monkeypatch.setattr(precise, "_libc", Counting())
        a, b = socket.socketpair()
        selector.register(a, selectors.EVENT_READ)
        deadline = time.monotonic() + 0.5
        for _ in range(5):      # woken by a socket again and again before the timer is due
            b.send(b"x")
            assert len(selector.select(deadline - time.monotonic())) == 1
            a.recv(1)
        assert calls == [precise.TFD_TIMER_ABSTIME]
        selector.select(0.001)      # another deadline: armed again
        assert len(calls) == 2
        selector.unregister(a)
        a.close()
        b.close()
    finally:
        selector.close()


def test_sockets_still_work() -> None:
    loop = new_event_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    try:
        async def roundtrip() -> bytes:
            await loop.sock_sendall(a, b"ping")
            return await asyncio.wait_for(loop.sock_recv(b, 10), 2)

        assert loop.run_until_complete(roundtrip()) == b"ping"
    finally:
        a.close()
        b.close()
        loop.close()
