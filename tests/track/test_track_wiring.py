"""DaemonExtras with a fake engine and netlink: call order, startup/shutdown scripts."""
from __future__ import annotations

from kvrrp.config.model import Config, GlobalDefs, ScriptCall, VrrpInstance
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
