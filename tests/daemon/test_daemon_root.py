"""The composition root (kvrrp.daemon.root): every service module imports (a broken import
fails here, not on the first SIGHUP), optional ones stay unimported, and the life cycle is
called in SERVICES' order - start in order, withdraw then stop in reverse, a refused prepare
or a failed apply undone in reverse, an optional service a reload first asks for started in
its place."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import types

import pytest

import kvrrp.daemon.services
from kvrrp.config.model import Config
from kvrrp.daemon import SERVICES, Daemon
from kvrrp.daemon.optional import Optional
from kvrrp.daemon.service import Service

LOG: list[tuple[str, str]] = []


def test_every_service_module_imports_and_every_entry_is_a_service() -> None:
    names = [m.name for m in pkgutil.iter_modules(kvrrp.daemon.services.__path__, "kvrrp.daemon.services.")]
    assert len(names) >= 15
    for name in names:
        importlib.import_module(name)
    classes = [entry.load() if isinstance(entry, Optional) else entry for entry in SERVICES]
    assert all(inspect.isclass(c) and issubclass(c, Service) for c in classes)
    assert len(set(classes)) == len(classes)
    # every module of the package is in the order (none forgotten, none run twice)
    assert {c.__module__ for c in classes} == set(names)


def test_importing_the_daemon_leaves_the_optional_services_unimported() -> None:
    optional = [entry.factory.partition(":")[0] for entry in SERVICES if isinstance(entry, Optional)]
    assert optional
    code = ("import sys, kvrrp.daemon; print(' '.join(m for m in sys.modules if m.startswith("
            "('aiohttp', 'dbus_next', 'healthcheck', 'kvrrp.snmp', 'kvrrp.bgp', 'kvrrp.metrics', 'kvrrp.status_http'"
            f", {', '.join(repr(m) for m in optional)}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


def test_the_base_service_takes_part_in_nothing() -> None:
    """Each step is an explicit method of the base (no probing for what a service has)."""
    for step in ("start", "prepare_reload", "commit_reload", "abort_reload", "withdraw", "stop", "snapshot"):
        assert callable(getattr(Service, step))
    assert Service().snapshot() == {}


class Step(Service):
    tag = "?"
    refuse = False

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.name = self.tag

    async def start(self) -> None:
        LOG.append(("start", self.tag))

    async def prepare_reload(self, new: Config) -> None:
        LOG.append(("prepare", self.tag))
        if self.refuse:
            raise ValueError(f"{self.tag} refuses")

    async def commit_reload(self, new: Config) -> None:
        LOG.append(("commit", self.tag))

    async def abort_reload(self, old: Config) -> None:
        LOG.append(("abort", self.tag))

    async def withdraw(self) -> None:
        LOG.append(("withdraw", self.tag))

    async def stop(self) -> None:
        LOG.append(("stop", self.tag))


class A(Step):
    tag = "a"


class B(Step):
    tag = "b"


class C(Step):
    tag = "c"


class Late(Step):
    tag = "late"


class Broken(Step):
    tag = "broken"
    critical = False

    async def start(self) -> None:
        raise RuntimeError("cannot start")


NEW = Config()
LATE = Optional(f"{__name__}:Late", lambda args, config: config is NEW)


class Engine:
    def __init__(self) -> None:
        self.fail: Exception | None = None
        self.applied: list[Config] = []

    def apply_config(self, config: Config):  # noqa: ANN201
        LOG.append(("apply", "engine"))
        if self.fail is not None:
            raise self.fail
        self.applied.append(config)
        return types.SimpleNamespace(kept=(), updated=(), restarted=(), added=(), removed=())


def daemon() -> Daemon:
    LOG.clear()
    d = Daemon(types.SimpleNamespace(config="k.conf", config_id=None), Config())
    d.engine = Engine()
    return d


async def test_start_in_order_stop_in_reverse_withdraw_first() -> None:
    d = daemon()
    await d.start((A, Broken, LATE, B, C))     # LATE not wanted; Broken logged, the rest runs
    assert LOG == [("start", "a"), ("start", "b"), ("start", "c")]
    LOG.clear()
    await d.shutdown()
    assert LOG == [("withdraw", "c"), ("withdraw", "b"), ("withdraw", "broken"), ("withdraw", "a"),
                   ("stop", "c"), ("stop", "b"), ("stop", "broken"), ("stop", "a")]


async def test_a_critical_service_that_cannot_start_stops_the_start() -> None:
    class Fatal(Step):
        tag = "fatal"

        async def start(self) -> None:
            raise RuntimeError("no sockets")

    d = daemon()
    with pytest.raises(RuntimeError):
        await d.start((A, Fatal, B))
    assert LOG == [("start", "a")]
    LOG.clear()
    await d.shutdown()                      # what started (and the half-started one) stops
    assert LOG == [("withdraw", "fatal"), ("withdraw", "a"), ("stop", "fatal"), ("stop", "a")]


async def test_reload_prepares_in_order_applies_then_commits_and_starts_a_new_optional_service() -> None:
    d = daemon()
    await d.start((A, LATE, B))
    LOG.clear()
    await d.apply(NEW)
    assert LOG == [("prepare", "a"), ("prepare", "b"), ("apply", "engine"),
                   ("commit", "a"), ("start", "late"), ("commit", "b")]
    assert d.config is NEW and [s.tag for s in d.services] == ["a", "late", "b"]
    LOG.clear()
    await d.shutdown()
    assert LOG[:3] == [("withdraw", "b"), ("withdraw", "late"), ("withdraw", "a")]


async def test_a_refused_prepare_is_undone_in_reverse_and_the_engine_untouched() -> None:
    d = daemon()
    await d.start((A, B, C))
    d.services[1].refuse = True
    old = d.config
    LOG.clear()
    with pytest.raises(ValueError, match="b refuses"):
        await d.apply(NEW)
    assert LOG == [("prepare", "a"), ("prepare", "b"), ("abort", "b"), ("abort", "a")]
    assert d.engine.applied == [] and d.config is old


async def test_a_failed_apply_is_undone_by_every_service_in_reverse() -> None:
    d = daemon()
    await d.start((A, B))
    d.engine.fail = RuntimeError("adapter bug")
    LOG.clear()
    with pytest.raises(RuntimeError):
        await d.apply(NEW)
    assert LOG == [("prepare", "a"), ("prepare", "b"), ("apply", "engine"), ("abort", "b"), ("abort", "a")]


async def test_a_stop_during_the_start_stops_what_started_and_a_reload_waits_for_the_start(monkeypatch) -> None:
    """SIGTERM while services start (e.g. right after the VMACs exist): nothing more starts,
    what started stops; a SIGHUP then is held until the start has finished."""
    import kvrrp.daemon.root as root

    class Signalled(Step):
        tag = "signalled"

        async def start(self) -> None:
            LOG.append(("start", self.tag))
            self.daemon.request_reload()           # SIGHUP: not while starting
            assert self.daemon._reload_task is None
            self.daemon.on_stop("SIGTERM")

    monkeypatch.setattr(root, "SERVICES", (A, Signalled, B))
    d = daemon()
    assert await d.run() == 0
    assert LOG == [("start", "a"), ("start", "signalled"),
                   ("withdraw", "signalled"), ("withdraw", "a"), ("stop", "signalled"), ("stop", "a")]
    assert d._reload_task is None                  # the stop won: no reload after all
