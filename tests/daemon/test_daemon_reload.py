"""Daemon.reload (SIGHUP) without a kernel: parse off the loop, refuse only blocking problems,
and let the trackers resume with the running configuration when applying fails."""
from __future__ import annotations

import io
import json
import threading
import types

import pytest

import kvrrp.daemon.configuration as configuration
from kvrrp.daemon import Daemon, load_config
from kvrrp.daemon.service import Service

GOOD = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %s
    version 3
    advert_int 0.1
    virtual_ipaddress {
        198.18.0.200
    }
}
"""
BLOCKING = "vrrp_instance VI_1 {\n    interface eth0\n    priority 100\n}\n"   # no virtual_router_id


class Recorder(Service):
    """A service that records the reload steps the root calls on it."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def prepare_reload(self, new) -> None:  # noqa: ANN001
        self.calls.append(("before", new))

    async def commit_reload(self, new) -> None:  # noqa: ANN001
        self.calls.append(("after", new))

    async def abort_reload(self, old) -> None:  # noqa: ANN001
        self.calls.append(("abort", old))


class FakeEngine:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.applied: list[object] = []

    def apply_config(self, config):  # noqa: ANN001, ANN201
        if self.fail is not None:
            raise self.fail
        self.applied.append(config)
        return types.SimpleNamespace(kept=("VI_1",), restarted=(), added=(), removed=())


def _daemon(tmp_path, text: str, engine: FakeEngine) -> Daemon:  # noqa: ANN001
    path = tmp_path / "keepalived.conf"
    path.write_text(GOOD % 150)
    running = load_config(str(path), None)
    assert running is not None
    path.write_text(text)
    d = Daemon(types.SimpleNamespace(config=str(path), config_id=None), running)
    d.services = [Recorder()]
    d.engine = engine
    d.host_interfaces = lambda: {"eth0"}
    return d


async def test_reload_parses_in_a_worker_thread_and_applies_on_the_loop(tmp_path, monkeypatch) -> None:
    threads = []
    real = configuration.parse_config

    def parse(path, config_id, interfaces=None):  # noqa: ANN001, ANN202
        threads.append(threading.current_thread())
        return real(path, config_id, interfaces)

    engine = FakeEngine()
    d = _daemon(tmp_path, GOOD % 200, engine)
    monkeypatch.setattr(configuration, "parse_config", parse)
    await d.reload()
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    assert len(engine.applied) == 1 and d.config is engine.applied[0]
    assert [c for c, _ in d.services[0].calls] == ["before", "after"]
    assert d.services[0].calls[1][1] is engine.applied[0]


async def test_apply_failure_after_before_reload_resumes_trackers_with_the_old_config(tmp_path) -> None:
    for failure in (ValueError("VRID clash"), RuntimeError("adapter bug")):
        engine = FakeEngine(fail=failure)
        d = _daemon(tmp_path, GOOD % 200, engine)
        old = d.config
        await d.reload()
        kinds = [c for c, _ in d.services[0].calls]
        assert kinds == ["before", "abort"], failure   # before_reload undone, not completed
        assert d.services[0].calls[1][1] is old and d.config is old
        assert not d._reloading


async def test_blocking_problem_refuses_the_reload_before_anything_changes(tmp_path, caplog) -> None:
    engine = FakeEngine()
    d = _daemon(tmp_path, BLOCKING, engine)
    old = d.config
    await d.reload()
    assert d.services[0].calls == [] and engine.applied == [] and d.config is old
    assert "Reload refused" in caplog.text and "virtual_router_id" in caplog.text
    assert d.reloads.refused == 1 and d.reloads.last_outcome == "refused"


async def test_any_error_refuses_the_reload_unlike_keepalived(tmp_path, caplog) -> None:
    """keepalived reports a non-blocking error and applies the rest; kvrrp keeps the running
    configuration (issue 10: a half-saved file must not take a site down)."""
    engine = FakeEngine()
    d = _daemon(tmp_path, GOOD % 300, engine)
    old = d.config
    await d.reload()
    assert engine.applied == [] and d.config is old and d.services[0].calls == []
    assert "priority 300 out of range" in caplog.text and "Reload refused" in caplog.text
    assert d.reloads.as_dict()["refused"] == 1 and "priority 300" in d.reloads.last_error


@pytest.mark.parametrize("text, starts", [(GOOD % 300, True), (BLOCKING, False)])
def test_start_refuses_only_blocking_problems(tmp_path, text, starts) -> None:  # noqa: ANN001
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    out = io.StringIO()
    assert (load_config(str(path), None, out=out) is not None) is starts
    assert "error:" in out.getvalue()     # every diagnostic printed either way


async def test_status_and_json_dump_carry_tracking_and_notify_state(tmp_path, monkeypatch) -> None:
    from kvrrp.config.model import Config, TrackFile, TrackRef, VrrpInstance
    from kvrrp.daemon.services.bfd import BfdSessions
    from kvrrp.daemon.services.notifier import Notifications
    from kvrrp.daemon.services.tracking import Trackers
    from kvrrp.vrrp import dump

    class ListeningEngine:                      # what notify/track attach to
        def __init__(self) -> None:
            self.trackers: dict = {}

        def set_tracker(self, instance, key, status) -> None:  # noqa: ANN001
            self.trackers[(instance, key)] = status

        def add_transition_listener(self, cb) -> None:  # noqa: ANN001
            pass

        def add_prestart_hook(self, cb) -> None:  # noqa: ANN001
            pass

    flag = tmp_path / "flag"
    flag.write_text("0\n")
    config = Config(instances=(VrrpInstance(name="VI_1", vrid=1, track_files=(TrackRef(name="chk"),)),),
                    track_files=(TrackFile(name="chk", file=str(flag)),))
    monkeypatch.setattr(dump, "status", lambda engine: {"instances": []})
    d = Daemon(types.SimpleNamespace(config=str(tmp_path / "k.conf"), config_id=None), config)
    d.engine = ListeningEngine()
    await d.start((BfdSessions, Notifications, Trackers))
    try:
        for status in (d.status(), json.loads(d.render("json"))):
            assert status["tracking"]["files"] == {"chk": 0}
            assert status["tracking"]["bindings"] == [{"instance": "VI_1", "key": "file:chk", "status": 0}]
            assert status["notify"]["scripts_completed"] == 0
            assert status["bfd"] is not None     # the BFD sessions' part, empty but there
            assert status["instances"] == [] and status["pid"] > 0
    finally:
        await d.shutdown()
