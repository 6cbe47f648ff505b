"""DaemonExtras with a fake engine and netlink: call order, startup/shutdown scripts."""
from __future__ import annotations

from kvrrp.config.model import Config, GlobalDefs, ScriptCall, TrackFile, TrackRef, Vmac, VrrpInstance
from kvrrp.track.wiring import DaemonExtras


class NoNetlink:
    def call(self, fn):
        raise AssertionError("no netlink use expected without vmacs/routes")


async def test_startup_and_shutdown_scripts_and_snapshot(engine, make_script, tmp_path):
    log = tmp_path / "log"
    s = make_script("g.sh", f'echo "$1" >> {log}\n')
    g = GlobalDefs(startup_script=ScriptCall(command=f"{s} up", argv=(s, "up")),
                   shutdown_script=ScriptCall(command=f"{s} down", argv=(s, "down")))
    cfg = Config(global_defs=g, instances=(VrrpInstance(name="VI_1", vrid=1),))
    extras = DaemonExtras(cfg, None, NoNetlink())
    assert extras.prepare() == {}
    await extras.start(engine)
    assert log.read_text() == "up\n"
    assert len(engine.listeners) == 2             # notifier + routes
    snap = extras.snapshot()
    assert snap["vmacs"] == {} and snap["routes_installed"] == []
    await extras.before_stop()
    await extras.after_stop()
    assert log.read_text() == "up\ndown\n"


class FakeVmacs:
    """VmacManager's surface prepare_vmacs and DaemonExtras use, without netlink."""

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


async def test_abort_reload_undoes_before_reload(engine, tmp_path):
    from kvrrp.io.vmac import prepare_vmacs

    old = _vmac_config(tmp_path, (1,))
    new = _vmac_config(tmp_path, (1, 2))
    extras = DaemonExtras(old, None, NoNetlink())
    extras.vmacs = FakeVmacs()
    extras.vmac_names = prepare_vmacs(extras.vmacs, old)
    await extras.start(engine)
    try:
        assert set(extras.snapshot()["tracking"]["files"]) == {"f1"}
        await extras.before_reload(new)
        assert set(extras.vmacs.created) == {"vrrp.1", "vrrp.2"}
        assert set(extras.snapshot()["tracking"]["files"]) == {"f1", "f2"}
        await extras.abort_reload(old)                # engine.apply_config(new) failed
        assert set(extras.vmacs.created) == {"vrrp.1"} and extras.vmacs.removed == ["vrrp.2"]
        assert extras.vmac_names == {"VI_1": "vrrp.1"} and extras.config is old
        assert set(extras.snapshot()["tracking"]["files"]) == {"f1"}
        assert extras.notifier.config is old
        # the trackers are no longer held for the abandoned configuration: a later reload to
        # the same file completes normally and keeps the running VMAC
        await extras.before_reload(old)
        await extras.after_reload(old)
        assert set(extras.vmacs.created) == {"vrrp.1"}
    finally:
        await extras.before_stop()
        await extras.after_stop()
    assert extras.vmacs.created == {}
