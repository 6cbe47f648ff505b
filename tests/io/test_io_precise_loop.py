"""The precise loop fires call_later timers without CPython's millisecond round-up."""
from __future__ import annotations

import asyncio
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
        assert (spec.tv_sec, spec.tv_nsec) == (0, 2345678)
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
