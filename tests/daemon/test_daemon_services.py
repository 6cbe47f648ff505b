"""The services around the engine with a fake engine and netlink: startup/shutdown scripts,
notifier + routes listening, VMACs and trackers back to the running configuration when a
reload is given up."""
from __future__ import annotations

import os
import sys
import types

from kvrrp.config.model import Config, GlobalDefs, ScriptCall, TrackFile, TrackRef, Vmac, VrrpInstance
from kvrrp.daemon.services.bfd import BfdSessions
from kvrrp.daemon.services.notifier import Notifications
from kvrrp.daemon.services.routes import VirtualRoutes
from kvrrp.daemon.services.scripts import GlobalScripts
from kvrrp.daemon.services.tracking import Trackers
from kvrrp.daemon.services.vmacs import VmacInterfaces
from kvrrp.io.vmac import prepare_vmacs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "vrrp"))
from vrrp_lan import around  # noqa: E402

AROUND_THE_ENGINE = (GlobalScripts, BfdSessions, Notifications, VirtualRoutes, Trackers)


class FakeEngine:
    def __init__(self, fail: Exception | None = None):
        self.trackers = {}
        self.listeners = []
        self.prestart_hooks = []
        self.fail = fail
        self.applied = []

    def set_tracker(self, instance, key, status):
        self.trackers[(instance, key)] = status

    def add_transition_listener(self, cb):
        self.listeners.append(cb)

    def add_prestart_hook(self, cb):
        self.prestart_hooks.append(cb)

    def apply_config(self, config):
        if self.fail is not None:
            raise self.fail
        self.applied.append(config)
        return types.SimpleNamespace(kept=(), updated=(), restarted=(), added=(), removed=())


async def test_startup_and_shutdown_scripts_and_snapshot(make_script, tmp_path):
    log = tmp_path / "log"
    s = make_script("g.sh", f'echo "$1" >> {log}\n')
    g = GlobalDefs(startup_script=ScriptCall(command=f"{s} up", argv=(s, "up")),
                   shutdown_script=ScriptCall(command=f"{s} down", argv=(s, "down")))
    cfg = Config(global_defs=g, instances=(VrrpInstance(name="VI_1", vrid=1),))
    engine = FakeEngine()
    d = around(engine, cfg)
    await d.start(AROUND_THE_ENGINE)
    assert log.read_text() == "up\n"
    assert len(engine.listeners) == 2             # notifier + routes
    assert len(engine.prestart_hooks) == 1        # the trackers' state before an instance runs
    snap = d.status_parts()
    assert snap["routes_installed"] == [] and snap["tracking"] is not None and snap["notify"] is not None
    await d.shutdown()
    assert log.read_text() == "up\ndown\n"


class FakeVmacs:
    """VmacManager's surface prepare_vmacs and the VMAC service use, without netlink."""

    def __init__(self):
        self.created = {}
        self.removed = []

    def ensure(self, spec):
        self.created[spec.ifname] = spec
        return len(self.created)

    def remove(self, ifname):
        self.created.pop(ifname, None)
        self.removed.append(ifname)

    def remove_all(self):
        for name in list(self.created):
            self.remove(name)


def _vmac_config(tmp_path, names):
    instances, files = [], []
    for n in names:
        path = tmp_path / f"f{n}"
        path.write_text("0\n")
        files.append(TrackFile(name=f"f{n}", file=str(path)))
        instances.append(VrrpInstance(name=f"VI_{n}", vrid=n, interface="eth0", use_vmac=Vmac(),
                                      track_files=(TrackRef(name=f"f{n}"),)))
    return Config(instances=tuple(instances), track_files=tuple(files))


async def test_a_failed_apply_returns_vmacs_notifier_and_trackers_to_the_running_config(tmp_path):
    old = _vmac_config(tmp_path, (1,))
    new = _vmac_config(tmp_path, (1, 2))
    engine = FakeEngine(fail=ValueError("apply failed"))
    d = around(engine, old)
    vmacs = VmacInterfaces(d)
    vmacs.manager = FakeVmacs()
    vmacs.names = prepare_vmacs(vmacs.manager, old)
    d.services.append(vmacs)          # as started: its interfaces exist
    await d.start(AROUND_THE_ENGINE)
    trackers = next(s for s in d.services if isinstance(s, Trackers))
    notifier = next(s for s in d.services if isinstance(s, Notifications))
    try:
        assert set(d.status_parts()["tracking"]["files"]) == {"f1"}
        try:
            await d.apply(new)
        except ValueError:
            pass
        else:
            raise AssertionError("the engine's failure must reach the caller")
        # prepared for new (vrrp.2 made, f2 tracked) and back: vrrp.2 removed, f1 only
        assert set(vmacs.manager.created) == {"vrrp.1"} and vmacs.manager.removed == ["vrrp.2"]
        assert vmacs.names == {"VI_1": "vrrp.1"} and d.config is old
        assert set(d.status_parts()["tracking"]["files"]) == {"f1"}
        assert notifier.notifier.config is old
        assert trackers.tracking._prepared is None and not trackers.tracking._holding
        # nothing is held for the abandoned configuration: a later reload to the same file
        # completes normally and keeps the running VMAC
        engine.fail = None
        await d.apply(old)
        assert set(vmacs.manager.created) == {"vrrp.1"} and engine.applied == [old]
    finally:
        await d.shutdown()
    assert vmacs.manager.created == {}
