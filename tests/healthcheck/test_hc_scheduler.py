"""The timer-wheel scheduler: one asyncio timer, bounded concurrency, timeouts in the wheel."""
from __future__ import annotations

import asyncio

from healthcheck.scheduler import CheckScheduler


async def test_bounded_concurrency_and_queue_drain():
    started, running, peak = [], set(), [0]
    sched = None

    def start(key):
        started.append(key)
        running.add(key)
        peak[0] = max(peak[0], len(running))
        asyncio.get_running_loop().call_later(0.02, finish, key)

    def finish(key):
        running.discard(key)
        sched.done(key)

    sched = CheckScheduler(start, concurrency=5)
    for k in range(1, 51):
        sched.schedule(k, 0.01)
    for _ in range(100):
        if len(started) == 50 and not running:
            break
        await asyncio.sleep(0.01)
    assert sorted(started) == list(range(1, 51))
    assert peak[0] == 5 and sched.max_running == 5
    sched.close()


async def test_only_one_loop_timer_armed():
    loop = asyncio.get_running_loop()
    sched = CheckScheduler(lambda k: None, concurrency=10)
    before = len(loop._scheduled)             # noqa: SLF001 - counting asyncio timer handles
    for k in range(1, 1001):
        sched.schedule(k, 5 + k * 0.001)
    assert len(loop._scheduled) - before <= 1
    assert len(sched) == 1000
    sched.close()


async def test_timeout_fires_and_clear_prevents_it():
    fired = []
    sched = CheckScheduler(lambda k: None)
    sched.set_timeout(1, 0.02, fired.append)
    sched.set_timeout(2, 0.02, fired.append)
    sched.clear_timeout(2)
    await asyncio.sleep(0.1)
    assert fired == [1]
    sched.close()


async def test_busy_check_skips_its_beat_and_cancel_frees_slot():
    starts = []
    sched = CheckScheduler(starts.append, concurrency=1)
    sched.schedule(1, 0)
    await asyncio.sleep(0.01)
    sched.schedule(1, 0)                      # still running: this beat is skipped
    sched.schedule(2, 0)                      # no free slot: queued
    await asyncio.sleep(0.01)
    assert starts == [1]
    sched.cancel(1)                           # frees the slot, 2 starts
    assert starts == [1, 2] and sched.is_running(2)
    sched.close()
