"""Fast-path benchmarks: the Cython module and its pure-Python twin side by side, and the timer
wheel against asyncio's loop.call_later / TimerHandle.cancel doing the same work.

    python3 -m pytest bench/bench_fastpath.py --benchmark-only [--benchmark-json out.json]
    python3 bench/bench_fastpath_report.py out.json      # markdown table with ratios

Data is seeded, every benchmark asserts its output, and extra_info records the implementation,
item count and the Python/Cython/kvrrp versions. Targets (reported, never asserted): Cython
decode+validate of a 1-address v3 advert and encode <= 300 ns and >= 20x the twin; timer wheel
schedule+cancel >= 10x asyncio at 100k timers.
"""
from __future__ import annotations

import asyncio
import random
import socket

import pytest


pytestmark = pytest.mark.timeout(1800)


def load_impl(name: str):
    """The module itself (for reference outputs); the `impl` fixture fails if Cython is missing."""
    import importlib
    return importlib.import_module({"python": "kvrrp._fastpath_py", "cython": "kvrrp._fastpath"}[name])

SEED = 20240613
SRC = {4: socket.inet_pton(socket.AF_INET, "198.18.0.11"), 6: socket.inet_pton(socket.AF_INET6, "fe80::c6ff:fe12:b")}
DST = {4: socket.inet_pton(socket.AF_INET, "224.0.0.18"), 6: socket.inet_pton(socket.AF_INET6, "ff02::12")}
# VRRPv2 is IPv4 only (RFC 3768), so the version/family grid is v2/IPv4, v3/IPv4, v3/IPv6.
MODES = [(2, 4), (3, 4), (3, 6)]
COUNTS = [1, 3, 20]
TIMER_COUNTS = [1_000, 10_000, 100_000]


def addresses(family: int, count: int, rnd: random.Random) -> list[bytes]:
    size = 4 if family == 4 else 16
    return [bytes(rnd.randrange(256) for _ in range(size)) for _ in range(count)]


def encode_args(version: int, family: int, count: int):
    rnd = random.Random(SEED + version * 100 + family * 10 + count)
    addrs = addresses(family, count, rnd)
    if version == 2:
        return (2, 51, 150, addrs, 1), dict(auth_type=1, auth_data=b"kvpass12")
    return (3, 51, 150, addrs, 100), dict(family=family, src=SRC[family], dst=DST[family])


# -- checksum ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [20, 64, 256, 576, 1500])
def test_checksum(benchmark, record, impl, size):
    data = random.Random(SEED + size).randbytes(size)
    record(f"checksum {size} B", impl.IMPLEMENTATION, bytes=size)
    result = benchmark(impl.inet_checksum, data)
    assert impl.inet_checksum(data[:6] + result.to_bytes(2, "big") + data[6:]) in (0, 0xFFFF) or size % 2
    assert result == load_impl("python").inet_checksum(data)


# -- encode / decode --------------------------------------------------------------------------

@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("version, family", MODES, ids=["v2-ipv4", "v3-ipv4", "v3-ipv6"])
def test_encode(benchmark, record, impl, version, family, count):
    args, kwargs = encode_args(version, family, count)
    record(f"encode v{version} IPv{family} {count} addr", impl.IMPLEMENTATION)
    msg = benchmark(impl.encode_advert, *args, **kwargs)
    assert msg == load_impl("python").encode_advert(*args, **kwargs)
    assert len(msg) == 8 + count * (4 if family == 4 else 16) + (8 if version == 2 else 0)


@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("version, family", MODES, ids=["v2-ipv4", "v3-ipv4", "v3-ipv6"])
def test_decode(benchmark, record, impl, version, family, count):
    args, kwargs = encode_args(version, family, count)
    msg = load_impl("python").encode_advert(*args, **kwargs)
    record(f"decode+validate v{version} IPv{family} {count} addr", impl.IMPLEMENTATION)
    adv = benchmark(impl.decode_advert, msg, family, SRC[family], DST[family])
    assert isinstance(adv, impl.Advert) and adv.checksum_ok is True
    assert adv.addresses == tuple(args[3]) and adv.priority == 150


BATCH = 1000


def test_receive_steady_state(benchmark, record, impl):
    """ReceiveTable.accept: one advert from the current master, Master_Down_Timer restarted."""
    wheel = impl.TimerWheel(resolution=0.0001, start=0.0)
    slot = impl.InstanceSlot(wheel, 8)
    vip = addresses(4, 1, random.Random(SEED))
    slot.configure(3, 4, False, 0, b"", 0, b"".join(vip))
    slot.update(True, SRC[4], 150, 100, 100, False, 0.0, 3.6, False)
    table = impl.ReceiveTable(4)
    table.set(51, slot)
    msg = load_impl("python").encode_advert(3, 51, 150, vip, 100, src=SRC[4], dst=DST[4])

    def run():
        for i in range(BATCH):
            table.accept(SRC[4], DST[4], 255, msg, None, 1000.0 + i * 0.001)

    record(f"receive steady state {BATCH} x v3 IPv4 1 addr", impl.IMPLEMENTATION, items=BATCH)
    benchmark(run)
    assert slot.fast_rcvd >= BATCH


# -- timer wheel vs asyncio -------------------------------------------------------------------

TIMER_IMPLS = ["python", "cython", "asyncio"]
SPAN = 10.0          # deadlines spread over 10 s
STEPS = 1000         # advance() in 10 ms steps
RESOLUTION = 0.001


def rounds_for(n: int, which: str) -> int:
    if which == "cython":
        return {1_000: 200, 10_000: 40, 100_000: 10}[n]
    return {1_000: 40, 10_000: 8, 100_000: 3}[n]


def timer_data(n: int):
    rnd = random.Random(SEED + n)
    keys = list(range(n))
    rnd.shuffle(keys)
    return keys, [rnd.uniform(0.0, SPAN) for _ in range(n)]


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock the benchmark sets, so expiry costs what asyncio's own
    _run_once does (heap pops, ready queue, callbacks) without sleeping in real time."""

    def __init__(self):
        super().__init__()
        self.virtual_now = 0.0

    def time(self):
        return self.virtual_now

    def run_until(self, t: float) -> None:
        self.virtual_now = t
        self.call_soon(_noop)   # makes the select() timeout 0 instead of waiting for the next timer
        self._run_once()


def _noop():
    pass


class AsyncioTimers:
    """The baseline: one loop.call_later handle per key, kept in a dict so it can be cancelled."""

    def __init__(self):
        self.loop = VirtualTimeLoop()
        self.handles = {}
        self.fired = []

    def close(self):
        self.loop.close()


@pytest.fixture
def loops():
    made = []
    yield made
    for t in made:
        t.close()


def make_timers(which: str, loops: list):
    if which == "asyncio":
        t = AsyncioTimers()
        loops.append(t)
        return t
    return load_impl(which).TimerWheel(RESOLUTION)


def schedule_all(timers, keys, deadlines):
    if isinstance(timers, AsyncioTimers):
        call_later, handles, fire = timers.loop.call_later, timers.handles, timers.fired.append
        for k, d in zip(keys, deadlines):
            handles[k] = call_later(d, fire, k)
    else:
        schedule = timers.schedule
        for k, d in zip(keys, deadlines):
            schedule(k, d)


def cancel_all(timers, keys):
    if isinstance(timers, AsyncioTimers):
        pop = timers.handles.pop
        for k in keys:
            pop(k).cancel()
    else:
        cancel = timers.cancel
        for k in keys:
            cancel(k)


def expire_all(timers) -> list:
    if isinstance(timers, AsyncioTimers):
        for step in range(1, STEPS + 1):
            timers.loop.run_until(step * SPAN / STEPS)
        return timers.fired
    out = []
    advance = timers.advance
    for step in range(1, STEPS + 1):
        out += advance(step * SPAN / STEPS)
    return out


def pending(timers) -> int:
    if isinstance(timers, AsyncioTimers):
        return sum(not h.cancelled() for h in timers.loop._scheduled)
    return len(timers)


@pytest.mark.parametrize("n", TIMER_COUNTS)
@pytest.mark.parametrize("which", TIMER_IMPLS)
def test_timer_schedule(benchmark, record, loops, which, n):
    keys, deadlines = timer_data(n)
    record(f"timers schedule n={n}", which, items=n)
    last = []

    def setup():
        timers = make_timers(which, loops)
        last[:] = [timers]
        return (timers, keys, deadlines), {}

    benchmark.pedantic(schedule_all, setup=setup, rounds=rounds_for(n, which), iterations=1)
    assert pending(last[0]) == n


@pytest.mark.parametrize("n", TIMER_COUNTS)
@pytest.mark.parametrize("which", TIMER_IMPLS)
def test_timer_cancel(benchmark, record, loops, which, n):
    keys, deadlines = timer_data(n)
    record(f"timers cancel n={n}", which, items=n)
    last = []

    def setup():
        timers = make_timers(which, loops)
        schedule_all(timers, keys, deadlines)
        last[:] = [timers]
        return (timers, keys), {}

    benchmark.pedantic(cancel_all, setup=setup, rounds=rounds_for(n, which), iterations=1)
    assert pending(last[0]) == 0


def schedule_then_cancel(timers, keys, deadlines):
    schedule_all(timers, keys, deadlines)
    cancel_all(timers, keys)


@pytest.mark.parametrize("n", TIMER_COUNTS)
@pytest.mark.parametrize("which", TIMER_IMPLS)
def test_timer_schedule_cancel(benchmark, record, loops, which, n):
    keys, deadlines = timer_data(n)
    record(f"timers schedule+cancel n={n}", which, items=n)
    last = []

    def setup():
        timers = make_timers(which, loops)
        last[:] = [timers]
        return (timers, keys, deadlines), {}

    benchmark.pedantic(schedule_then_cancel, setup=setup, rounds=rounds_for(n, which), iterations=1)
    assert pending(last[0]) == 0


@pytest.mark.parametrize("n", TIMER_COUNTS)
@pytest.mark.parametrize("which", TIMER_IMPLS)
def test_timer_advance(benchmark, record, loops, which, n):
    """Expire n timers spread over 10 s by advancing in 1000 steps of 10 ms."""
    keys, deadlines = timer_data(n)
    record(f"timers expire n={n} (1000 advances)", which, items=n)
    results = []

    def setup():
        timers = make_timers(which, loops)
        schedule_all(timers, keys, deadlines)
        return (timers,), {}

    def run(timers):
        results.append(expire_all(timers))

    benchmark.pedantic(run, setup=setup, rounds=rounds_for(n, which), iterations=1)
    for fired in results:
        assert sorted(fired) == list(range(n))
    if which != "asyncio":
        # The wheel's order is the documented one: deadline tick, then scheduling order.
        w = load_impl(which).TimerWheel(RESOLUTION)
        schedule_all(w, keys, deadlines)
        tick_time = {k: w.deadline(k) for k in keys}
        order = {k: i for i, k in enumerate(keys)}
        assert results[0] == sorted(keys, key=lambda k: (tick_time[k], order[k]))
