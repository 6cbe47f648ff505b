"""Reload safety (issue 10, failures 1, 2 and 5) at the Daemon level, without a kernel: a bad,
truncated or empty configuration is refused and counted, requests during a reload coalesce
into exactly one more reload of the newest file, a missing interface is refused clearly."""
from __future__ import annotations

import asyncio
import threading
import time
import types

import pytest

import kvrrp.daemon.configuration as configuration
from kvrrp.daemon import Daemon, load_config

TWO = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %(prio)d
    virtual_ipaddress {
        198.18.0.200
    }
}
vrrp_instance VI_2 {
    interface %(if2)s
    virtual_router_id 52
    priority 100
    virtual_ipaddress {
        198.18.0.201
    }
}
"""


def text(prio: int = 150, if2: str = "eth0") -> str:
    return TWO % {"prio": prio, "if2": if2}


class FakeEngine:
    def __init__(self) -> None:
        self.applied: list[object] = []

    def apply_config(self, config):  # noqa: ANN001, ANN201
        self.applied.append(config)
        return types.SimpleNamespace(kept=(), updated=(), restarted=(), added=(), removed=())


def make(tmp_path, first: str, *, allow_remove_all: bool = False) -> Daemon:  # noqa: ANN001
    path = tmp_path / "keepalived.conf"
    path.write_text(first)
    running = load_config(str(path), None)
    assert running is not None
    args = types.SimpleNamespace(config=str(path), config_id=None, allow_reload_removing_all=allow_remove_all)
    d = Daemon(args, running)
    d.engine = FakeEngine()
    d.host_interfaces = lambda: {"eth0", "eth1"}
    return d


def priorities(config) -> list[int]:  # noqa: ANN001
    return [i.priority for i in config.instances]


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.45, 0.55, 0.75, 0.9, 0.97])
async def test_truncated_or_empty_file_is_refused_and_counted(tmp_path, caplog, fraction) -> None:
    d = make(tmp_path, text())
    old = d.config
    full = text(prio=160)
    (tmp_path / "keepalived.conf").write_text(full[:int(len(full) * fraction)])
    await d.reload()
    assert d.engine.applied == [] and d.config is old
    assert d.reloads.refused == 1 and d.reloads.applied == 0
    assert d.status_reload()["last_outcome"] == "refused"
    assert "Reload refused" in caplog.text


async def test_removing_every_instance_needs_the_opt_in(tmp_path) -> None:
    empty_but_valid = "global_defs {\n    router_id x\n}\n"
    d = make(tmp_path, text())
    (tmp_path / "keepalived.conf").write_text(empty_but_valid)
    await d.reload()
    assert d.engine.applied == [] and "--allow-reload-removing-all" in d.reloads.last_error
    d = make(tmp_path, text(), allow_remove_all=True)
    (tmp_path / "keepalived.conf").write_text(empty_but_valid)
    await d.reload()
    assert len(d.engine.applied) == 1 and d.config.instances == ()


async def test_missing_interface_is_refused_with_a_clear_message(tmp_path) -> None:
    d = make(tmp_path, text())
    (tmp_path / "keepalived.conf").write_text(text(if2="eth9"))
    await d.reload()
    assert d.engine.applied == []
    assert "interface eth9 for vrrp_instance VI_2 does not exist" in d.reloads.last_error
    assert "None" not in d.reloads.last_error and "Errno" not in d.reloads.last_error


async def test_missing_interface_with_dynamic_interfaces_is_applied(tmp_path) -> None:
    d = make(tmp_path, text())
    (tmp_path / "keepalived.conf").write_text("global_defs {\n    dynamic_interfaces\n}\n" + text(if2="eth9"))
    await d.reload()
    assert len(d.engine.applied) == 1


async def test_requests_during_a_reload_coalesce_into_one_more_of_the_newest_file(tmp_path, monkeypatch) -> None:
    """Issue 10 failure 2: A + RELOAD, then during the (slow) parse B + RELOAD (and more
    requests): A is applied, then exactly one more reload, which applies B."""
    d = make(tmp_path, text(prio=150))
    path = tmp_path / "keepalived.conf"
    real = configuration.parse_config
    parsing = threading.Event()
    release = threading.Event()
    parses = []

    def slow_parse(p, config_id, interfaces=None):  # noqa: ANN001, ANN202
        parses.append(time.monotonic())
        parsing.set()
        release.wait(10)
        return real(p, config_id, interfaces)

    monkeypatch.setattr(configuration, "parse_config", slow_parse)
    path.write_text(text(prio=170))             # file A
    d.request_reload()
    await asyncio.to_thread(parsing.wait, 10)
    path.write_text(text(prio=180))             # file B, while A is still being parsed
    for _ in range(5):
        d.request_reload()
    release.set()          # the first parse reads the file only now: it may see B already;
    await d._reload_task   # what counts: one extra reload for the five requests, newest applied
    assert len(parses) == 2
    assert priorities(d.config) == [180, 100]
    assert d.reloads.requested == 6 and d.reloads.coalesced == 5 and d.reloads.started == 2


async def test_request_after_the_file_was_read_still_gets_the_newest(tmp_path, monkeypatch) -> None:
    d = make(tmp_path, text(prio=150))
    path = tmp_path / "keepalived.conf"
    real = configuration.parse_config
    gate = threading.Event()

    def parse_then_wait(p, config_id, interfaces=None):  # noqa: ANN001, ANN202
        result = real(p, config_id, interfaces)  # file read first
        gate.wait(10)
        return result

    monkeypatch.setattr(configuration, "parse_config", parse_then_wait)
    path.write_text(text(prio=170))
    d.request_reload()
    await asyncio.sleep(0.2)                    # A has been read
    path.write_text(text(prio=180))
    d.request_reload()
    gate.set()
    await d._reload_task
    assert [priorities(c)[0] for c in d.engine.applied] == [170, 180]
    assert priorities(d.config) == [180, 100]
