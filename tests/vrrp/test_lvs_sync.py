"""lvs_sync_daemon on the host (no IPVS): the IPVS daemon messages byte for byte, the plan the
configuration resolves to, and the command sequences keepalived issues as the instance moves
between states. The kernel side is proven in tests/ipvs/test_lvs_sync_vm.py."""
from __future__ import annotations

import errno
import logging
import struct

import pytest

from healthcheck import ipvs_wire as w
from healthcheck.ipvs_wire import SYNC_BACKUP, SYNC_MASTER, SyncDaemon
from kvrrp.config.loader import parse_text
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.lvs_sync import LvsSync, SyncDaemonRunner, SyncPlan, sync_plan

INSTANCE = """
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 42
    priority 100
    virtual_ipaddress {{
        198.18.0.1
    }}
{extra}
}}
"""


def config(global_lines: str = "", instance_lines: str = ""):
    text = f"global_defs {{\n{global_lines}\n}}\n" + INSTANCE.format(extra=instance_lines)
    result = parse_text(text)
    assert not result.errors, result.errors
    return result


# ---- messages ---------------------------------------------------------------------------------


def _attrs(nest: bytes) -> dict[int, bytes]:
    length, kind = struct.unpack_from("=HH", nest)
    assert kind == w.CMD_ATTR_DAEMON and length == len(nest)
    out, off = {}, 4
    while off < len(nest):
        alen, akind = struct.unpack_from("=HH", nest, off)
        out[akind] = nest[off + 4:off + alen]
        off += (alen + 3) & ~3
    return out


def test_new_daemon_carries_what_is_set_and_nothing_else():
    a = _attrs(w.daemon_nest(SyncDaemon(SYNC_MASTER, "eth0", 7)))
    assert a == {w.DAEMON_STATE: struct.pack("=I", 1), w.DAEMON_MCAST_IFN: b"eth0\0",
                 w.DAEMON_SYNC_ID: struct.pack("=I", 7)}
    a = _attrs(w.daemon_nest(SyncDaemon(SYNC_BACKUP, "eth1", 255, maxlen=1400, port=9000, ttl=3,
                                        group="239.1.2.3")))
    assert a[w.DAEMON_STATE] == struct.pack("=I", 2)
    assert a[w.DAEMON_SYNC_MAXLEN] == struct.pack("=H", 1400)
    assert a[w.DAEMON_MCAST_PORT] == struct.pack("=H", 9000)        # host order (nla_get_u16)
    assert a[w.DAEMON_MCAST_TTL] == b"\x03"
    assert a[w.DAEMON_MCAST_GROUP] == bytes([239, 1, 2, 3])          # in_addr, network order
    a6 = _attrs(w.daemon_nest(SyncDaemon(SYNC_MASTER, "eth0", 1, group="ff02::81")))
    assert a6[w.DAEMON_MCAST_GROUP6] == bytes.fromhex("ff020000000000000000000000000081")


def test_del_daemon_names_the_state_and_sync_id_only():
    assert _attrs(w.daemon_nest(SyncDaemon(SYNC_BACKUP, "ignored", 9), stop=True)) == {
        w.DAEMON_STATE: struct.pack("=I", 2), w.DAEMON_SYNC_ID: struct.pack("=I", 9)}


@pytest.mark.parametrize("daemon", [SyncDaemon(1, ""), SyncDaemon(1, "x" * 16), SyncDaemon(1, "eth0", group="198.18.0.1")])
def test_bad_daemons_are_refused_before_the_kernel(daemon):
    with pytest.raises(ValueError):
        w.daemon_nest(daemon)


def test_a_get_daemon_reply_parses_back():
    d = SyncDaemon(SYNC_MASTER, "eth3", 12, maxlen=1472, port=8848, ttl=1, group="224.0.0.81")
    msg = w.message(0x20, 0, 5, w.CMD_NEW_DAEMON, w.daemon_nest(d))
    [(kind, _flags, seq, off, length)] = list(w.iter_messages(msg))
    assert (kind, seq) == (0x20, 5)
    assert w.parse_daemon(msg, off, length) == d


# ---- the plan ---------------------------------------------------------------------------------


def test_plan_from_global_defs_takes_the_vrid_as_sync_id_by_default():
    plan = sync_plan(config("lvs_sync_daemon eth1 VI_1").config)
    assert plan == SyncPlan("VI_1", SyncDaemon(0, "eth1", 42))
    plan = sync_plan(config("lvs_sync_daemon eth1 VI_1 id 5 maxlen 1000 port 9000 ttl 2 group 239.0.0.9").config)
    assert plan == SyncPlan("VI_1", SyncDaemon(0, "eth1", 5, 1000, 9000, 2, "239.0.0.9"))


def test_old_forms_still_load():
    result = config("lvs_sync_daemon eth1 VI_1 17")
    assert sync_plan(result.config).daemon.sync_id == 17
    assert any('keyword "id"' in d.message for d in result.warnings)
    # lvs_sync_daemon_interface in the instance: that instance, sync id 0 (keepalived)
    assert sync_plan(config(instance_lines="    lvs_sync_daemon_interface eth2").config) == \
        SyncPlan("VI_1", SyncDaemon(0, "eth2", 0))


def test_no_instance_means_the_checker_runs_both_and_no_plan_without_the_keyword():
    assert sync_plan(config("lvs_sync_daemon eth1 id 3").config) == SyncPlan(None, SyncDaemon(0, "eth1", 3))
    assert sync_plan(config().config) is None


def test_a_unicast_group_is_an_error_with_its_line():
    result = parse_text("global_defs {\n lvs_sync_daemon eth1 VI_1 group 198.18.0.9\n}\n" + INSTANCE.format(extra=""))
    [err] = [d for d in result.errors if "not multicast" in d.message]
    assert err.loc.line == 2


def test_the_keywords_are_no_longer_reported_as_not_implemented():
    from kvrrp.config.support import NOT_IMPLEMENTED

    assert ("global_defs", "lvs_sync_daemon") not in NOT_IMPLEMENTED
    assert ("vrrp_instance", "lvs_sync_daemon_interface") not in NOT_IMPLEMENTED


# ---- the command sequences ------------------------------------------------------------------


class FakeSyncKernel:
    def __init__(self) -> None:
        self.running: dict[int, SyncDaemon] = {}
        self.calls: list[tuple[str, int]] = []
        self.closed = False

    def start(self, daemon: SyncDaemon) -> None:
        self.calls.append(("start", daemon.state))
        if daemon.state in self.running:
            raise OSError(errno.EEXIST, "File exists")
        self.running[daemon.state] = daemon

    def stop(self, state: int, sync_id: int = 0) -> None:
        self.calls.append(("stop", state))
        if self.running.pop(state, None) is None:
            raise OSError(errno.ESRCH, "No such process")

    def close(self) -> None:
        self.closed = True


class FakeInstance:
    def __init__(self, state: State) -> None:
        self.state = state


class FakeEngine:
    def __init__(self) -> None:
        self.instances = {"VI_1": FakeInstance(State.INIT)}
        self.listeners: list = []

    def add_transition_listener(self, cb) -> None:
        self.listeners.append(cb)

    def remove_transition_listener(self, cb) -> None:
        self.listeners.remove(cb)

    def move(self, name: str, new: State) -> None:
        old = self.instances[name].state
        self.instances[name].state = new
        for cb in list(self.listeners):
            cb(name, old, new, "test", 100)


PLAN = SyncPlan("VI_1", SyncDaemon(0, "eth1", 42))


def test_the_daemon_follows_the_instance_as_keepalived_does(caplog):
    kernel, engine = FakeSyncKernel(), FakeEngine()
    sync = LvsSync(engine, kernel, PLAN)
    sync.start()
    assert set(kernel.running) == {SYNC_BACKUP}          # INIT: backup, from the start
    assert kernel.running[SYNC_BACKUP] == SyncDaemon(SYNC_BACKUP, "eth1", 42)
    kernel.calls.clear()
    engine.move("VI_1", State.BACKUP)
    assert kernel.calls == []                             # already backup: nothing sent
    engine.move("VI_1", State.MASTER)
    assert kernel.calls == [("stop", SYNC_BACKUP), ("start", SYNC_MASTER)]
    assert set(kernel.running) == {SYNC_MASTER}
    kernel.calls.clear()
    engine.move("VI_1", State.FAULT)
    assert kernel.calls == [("stop", SYNC_MASTER), ("start", SYNC_BACKUP)]
    engine.move("VI_1", State.MASTER)
    engine.move("VI_1", State.BACKUP)
    assert set(kernel.running) == {SYNC_BACKUP}
    assert sync.runner.errors == 0
    kernel.calls.clear()
    sync.stop()
    assert kernel.calls == [("stop", SYNC_BACKUP)] and kernel.running == {} and kernel.closed
    engine.move("VI_1", State.MASTER)                     # no longer listening
    assert kernel.calls == [("stop", SYNC_BACKUP)]


def test_other_instances_do_not_move_the_daemon():
    kernel, engine = FakeSyncKernel(), FakeEngine()
    engine.instances["VI_2"] = FakeInstance(State.INIT)
    LvsSync(engine, kernel, PLAN).start()
    kernel.calls.clear()
    engine.move("VI_2", State.MASTER)
    assert kernel.calls == []


def test_leftovers_of_an_earlier_run_are_cleared_at_start_and_kernel_errors_are_logged(caplog):
    kernel = FakeSyncKernel()
    kernel.running[SYNC_MASTER] = SyncDaemon(SYNC_MASTER, "eth9", 1)     # a SIGKILLed run's
    engine = FakeEngine()
    sync = LvsSync(engine, kernel, PLAN)
    sync.start()
    assert set(kernel.running) == {SYNC_BACKUP} and sync.runner.errors == 0
    kernel.running[SYNC_MASTER] = SyncDaemon(SYNC_MASTER, "eth9", 1)     # someone else's
    with caplog.at_level(logging.ERROR, logger="kvrrp.lvs_sync"):
        engine.move("VI_1", State.MASTER)
    assert sync.runner.errors == 1
    assert "starting the master sync daemon on eth1 (sync id 42) failed: Daemon has already run" in caplog.text


def test_reload_restarts_only_on_changed_settings():
    kernel, engine = FakeSyncKernel(), FakeEngine()
    sync = LvsSync(engine, kernel, PLAN)
    sync.start()
    engine.move("VI_1", State.MASTER)
    kernel.calls.clear()
    sync.reload(PLAN)
    assert [c for c in kernel.calls if c[0] == "start"] == []            # unchanged: master stays
    assert kernel.running[SYNC_MASTER].sync_id == 42
    kernel.calls.clear()
    sync.reload(SyncPlan("VI_1", SyncDaemon(0, "eth1", 43, ttl=4)))
    assert kernel.calls[:2] == [("stop", SYNC_MASTER), ("start", SYNC_MASTER)]
    assert kernel.running == {SYNC_MASTER: SyncDaemon(SYNC_MASTER, "eth1", 43, ttl=4)}


def test_the_checker_runs_master_and_backup_without_an_instance():
    kernel = FakeSyncKernel()
    runner = SyncDaemonRunner(kernel, SyncPlan(None, SyncDaemon(0, "eth1", 0)))
    runner.start_both()
    assert set(kernel.running) == {SYNC_MASTER, SYNC_BACKUP} and runner.errors == 0
    runner.stop_both()
    assert kernel.running == {}
