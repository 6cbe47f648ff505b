"""BFD_CHECK in the checker engine (fake kernel): a session's state takes its real servers out
and back at once, alpha and non-alpha start states as keepalived's, a reload keeps what the
sessions said; and the VRRP daemon -> checker child relay over a real pipe."""
from __future__ import annotations

import asyncio
import os

from healthcheck.engine import CheckerEngine
from healthcheck.fakekernel import FakeKernel
from kvrrp.bfd import relay
from kvrrp.config.model import BfdCheck, Config, LvsMethod, RealServer, VirtualServer

VSKEY = "[198.18.0.1]:tcp:80"


def config(alpha=False, name="b1"):
    rss = (RealServer(ip="198.18.1.1", port=80, weight=1, checkers=(BfdCheck(name=name, alpha=alpha),)),
           RealServer(ip="198.18.1.2", port=80, weight=1,
                      checkers=(BfdCheck(name="b2"), BfdCheck(name=name))),
           RealServer(ip="198.18.1.3", port=80, weight=1))
    vs = VirtualServer(ip="198.18.0.1", port=80, protocol="TCP", lvs_sched="wrr",
                       lvs_method=LvsMethod(method="NAT"), real_servers=rss)
    return Config(virtual_servers=(vs,))


async def _table(engine, kernel):
    await engine.wait_reconciled(5)
    return set(kernel.table.weights().get(VSKEY, {}))


async def test_bfd_state_takes_real_servers_out_and_back():
    kernel = FakeKernel()
    engine = CheckerEngine(config(), kernel)
    await engine.start()
    try:
        # keepalived: a non-alpha checker is up until its session says otherwise
        assert await _table(engine, kernel) == {"[198.18.1.1]:80", "[198.18.1.2]:80", "[198.18.1.3]:80"}
        assert engine.jobs == {}                                 # nothing polled
        engine.set_bfd_state("b1", True)
        engine.set_bfd_state("b1", False)
        assert await _table(engine, kernel) == {"[198.18.1.3]:80"}   # both servers checking b1 go
        engine.set_bfd_state("b2", False)
        engine.set_bfd_state("b1", True)
        assert await _table(engine, kernel) == {"[198.18.1.1]:80", "[198.18.1.3]:80"}  # .2 still needs b2
        engine.set_bfd_state("b2", True)
        assert await _table(engine, kernel) == {"[198.18.1.1]:80", "[198.18.1.2]:80", "[198.18.1.3]:80"}
        engine.set_bfd_state("unknown", False)                  # a name no checker uses: nothing
        assert engine.counters.transitions == 4
    finally:
        await engine.stop()


async def test_alpha_starts_down_and_reload_keeps_session_states():
    kernel = FakeKernel()
    engine = CheckerEngine(config(alpha=True), kernel)
    await engine.start()
    try:
        assert "[198.18.1.1]:80" not in await _table(engine, kernel)
        engine.set_bfd_state("b1", True)
        assert "[198.18.1.1]:80" in await _table(engine, kernel)
        engine.set_bfd_state("b1", False)
        assert await _table(engine, kernel) == {"[198.18.1.3]:80"}
        # an unchanged reload keeps the checkers and what b1 said
        await engine.reload(config(alpha=True))
        assert await _table(engine, kernel) == {"[198.18.1.3]:80"}
        # changed checkers (now naming b3) start fresh: b3 never reported, so alpha keeps .1
        # down, and .2 (non-alpha, b2 and b3 silent) is up
        await engine.reload(config(alpha=True, name="b3"))
        assert await _table(engine, kernel) == {"[198.18.1.2]:80", "[198.18.1.3]:80"}
        engine.set_bfd_state("b3", True)
        assert await _table(engine, kernel) == {"[198.18.1.1]:80", "[198.18.1.2]:80", "[198.18.1.3]:80"}
    finally:
        await engine.stop()


class _FakeService:
    def __init__(self, reported):
        self._reported = reported
        self.listeners = []

    def reported(self):
        return dict(self._reported)

    def add_listener(self, cb):
        self.listeners.append(cb)


async def test_relay_parent_to_child_over_a_pipe():
    loop = asyncio.get_running_loop()
    r, w = os.pipe()
    heard = []
    child = relay.ChildFeed(lambda name, up: heard.append((name, up)))
    await child.start(r)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(w, "wb", 0))
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    svc = _FakeService({"b1": True, "b2": False})
    feed = relay.ParentFeed(svc)
    feed.attach(writer)                                     # a new child hears the states so far
    svc.listeners[0]("b1", False)                           # then every change
    writer.write(b"not json\n")
    for _ in range(100):
        if len(heard) == 3 and child.bad_lines == 1:
            break
        await asyncio.sleep(0.01)
    assert heard == [("b1", True), ("b2", False), ("b1", False)]
    assert child.bad_lines == 1 and feed.sent == 3
    writer.close()
    await child.stop()


def test_relay_lines():
    assert relay.decode(relay.encode("x", True)) == ("x", True)
    for bad in (b"", b"[]", b'{"bfd": 1, "up": true}', b'{"bfd": "x", "up": 1}', b"\xff"):
        assert relay.decode(bad) is None
