"""The supervisor with a fake engine: scripts, files (inotify), processes drive set_tracker."""
from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from kvrrp.config.model import (Config, GlobalDefs, ScriptCall, TrackFile, TrackProcess, TrackRef,
                                VrrpInstance, VrrpScript)
from kvrrp.track import attach
from kvrrp.vrrp.instance import TrackerStatus


async def wait_for(pred, timeout=5.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


def script(name, path, **kw):
    return VrrpScript(name=name, script=ScriptCall(command=path, argv=(path,)), **kw)


async def test_script_weight_rise_fall(engine, make_script, tmp_path):
    flag = tmp_path / "healthy"
    flag.write_text("")
    chk = make_script("chk.sh", f"test -e {flag}\n")
    cfg = Config(vrrp_scripts=(script("chk", chk, interval=0.1, weight=-20, fall=2, rise=2),),
                 instances=(VrrpInstance(name="VI_1", vrid=1, track_scripts=(TrackRef(name="chk"),)),))
    sup = attach(engine, cfg)
    await sup.start()
    try:
        # first run happened inside start(): known healthy, no penalty
        assert engine.trackers[("VI_1", "script:chk")] == 0
        flag.unlink()
        await wait_for(lambda: engine.trackers[("VI_1", "script:chk")] == -20)
        tracker = sup.scripts["chk"].tracker
        assert tracker.failures >= 2        # fall 2: needed two failures
        flag.write_text("")
        await wait_for(lambda: engine.trackers[("VI_1", "script:chk")] == 0)
        assert [c[2] for c in engine.calls] == [0, -20, 0]
    finally:
        await sup.stop()


async def test_weight_zero_script_faults_and_hanging_counts_as_failure(engine, make_script):
    hang = make_script("hang.sh", "sleep 30\n")
    cfg = Config(vrrp_scripts=(script("h", hang, interval=0.3, timeout=0.2),),
                 instances=(VrrpInstance(name="VI_1", vrid=1, track_scripts=(TrackRef(name="h"),)),))
    sup = attach(engine, cfg)
    sup_task = asyncio.ensure_future(sup.start())
    await sup_task
    try:
        assert engine.trackers[("VI_1", "script:h")] is TrackerStatus.FAULT
        t = sup.scripts["h"].tracker
        assert t.timeouts == 1 and t.last_result.timed_out
    finally:
        await sup.stop()


async def test_refused_script_is_not_tracked(engine, make_script):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    p = make_script("open.sh", "exit 0\n")
    os.chmod(p, 0o777)
    cfg = Config(global_defs=GlobalDefs(enable_script_security=True, script_user="root"),
                 vrrp_scripts=(script("open", p, weight=0),),
                 instances=(VrrpInstance(name="VI_1", vrid=1, track_scripts=(TrackRef(name="open"),)),))
    sup = attach(engine, cfg)
    await sup.start()
    await sup.stop()
    assert "writable by everybody" in sup.refused["open"]
    assert ("VI_1", "script:open") not in engine.trackers


async def test_track_file_inotify(engine, tmp_path):
    f = tmp_path / "weight"
    cfg = Config(track_files=(TrackFile(name="tf", file=str(f), weight=2, init_file=True, init_value=3),),
                 instances=(VrrpInstance(name="VI_1", vrid=1, track_files=(TrackRef(name="tf"),)),
                            VrrpInstance(name="VI_2", vrid=2, track_files=(TrackRef(name="tf", weight=0),))))
    sup = attach(engine, cfg)
    await sup.start()
    try:
        assert f.read_text() == "3\n"                              # init_file wrote it
        assert engine.trackers[("VI_1", "file:tf")] == 6
        assert engine.trackers[("VI_2", "file:tf")] is TrackerStatus.FAULT   # non-zero, weight 0
        f.write_text("-10\n")
        await wait_for(lambda: engine.trackers[("VI_1", "file:tf")] == -20)
        tmp = tmp_path / "weight.new"
        tmp.write_text("0")
        os.rename(tmp, f)                                          # atomic replace is seen too
        await wait_for(lambda: engine.trackers[("VI_1", "file:tf")] == 0)
        assert engine.trackers[("VI_2", "file:tf")] is TrackerStatus.OK
        f.write_text("-200")                                       # -400 <= -254: FAULT
        await wait_for(lambda: engine.trackers[("VI_1", "file:tf")] is TrackerStatus.FAULT)
        f.unlink()                                                 # deleted reads as 0
        await wait_for(lambda: engine.trackers[("VI_1", "file:tf")] == 0)
        assert sup.files.events >= 4
    finally:
        await sup.stop()


async def test_track_process_quorum_and_reverse(engine, tmp_path):
    # a process whose comm we choose: a copy of sleep under a name unique to this run
    import secrets
    name = f"kvhap-{secrets.token_hex(3)}"
    exe = tmp_path / name
    exe.write_bytes(open("/bin/sleep", "rb").read())
    os.chmod(exe, 0o755)
    cfg = Config(track_processes=(TrackProcess(name="hap", process=name, weight=-30, quorum=2),),
                 instances=(VrrpInstance(name="VI_1", vrid=1, track_processes=(TrackRef(name="hap"),)),
                            VrrpInstance(name="VI_2", vrid=2, track_processes=(TrackRef(name="hap", weight=0, reverse=True),))))
    sup = attach(engine, cfg, process_scan_interval=0.1)
    procs = []
    await sup.start()
    try:
        assert engine.trackers[("VI_1", "process:hap")] == -30
        assert engine.trackers[("VI_2", "process:hap")] is TrackerStatus.OK      # reverse: absent is fine
        procs.append(subprocess.Popen([str(exe), "60"]))
        await asyncio.sleep(0.4)
        assert engine.trackers[("VI_1", "process:hap")] == -30                  # 1 < quorum 2
        procs.append(subprocess.Popen([str(exe), "60"]))
        await wait_for(lambda: engine.trackers[("VI_1", "process:hap")] == 0)
        assert engine.trackers[("VI_2", "process:hap")] is TrackerStatus.FAULT
        procs.pop().kill()
        await wait_for(lambda: engine.trackers[("VI_1", "process:hap")] == -30)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        await sup.stop()


async def test_reload_unchanged_keeps_state_without_calls(engine, make_script, tmp_path):
    chk = make_script("ok.sh", "exit 1\n")
    cfg = Config(vrrp_scripts=(script("chk", chk, interval=0.2, weight=-5),),
                 instances=(VrrpInstance(name="VI_1", vrid=1, track_scripts=(TrackRef(name="chk"),)),))
    sup = attach(engine, cfg)
    await sup.start()
    try:
        tracker = sup.scripts["chk"].tracker
        before = dict(engine.trackers)
        await sup.reload(cfg)
        # same tracker object (rise/fall state kept), same statuses re-sent for rebuilt instances
        assert sup.scripts["chk"].tracker is tracker and engine.trackers == before
        cfg2 = Config(vrrp_scripts=cfg.vrrp_scripts, instances=(VrrpInstance(name="VI_1", vrid=1),))
        await sup.reload(cfg2)
        assert engine.calls[-1] == ("VI_1", "script:chk", 0)     # binding removed: neutralised
        assert sup.scripts == {}
    finally:
        await sup.stop()


async def test_priority_listener_sees_engine_priority(make_script, tmp_path):
    from types import SimpleNamespace

    class Engine:
        def __init__(self):
            self.instances = {"VI_1": SimpleNamespace(effective_priority=100, state="MASTER", w={})}

        def set_tracker(self, name, key, status):
            rt = self.instances[name]
            if isinstance(status, int):
                rt.w[key] = status
            rt.effective_priority = 100 + sum(rt.w.values())

    flag = tmp_path / "ok"
    chk = make_script("chk.sh", f"test -e {flag}\n")
    cfg = Config(vrrp_scripts=(script("chk", chk, interval=0.1, weight=-20),),
                 instances=(VrrpInstance(name="VI_1", vrid=1, track_scripts=(TrackRef(name="chk"),)),))
    eng = Engine()
    sup = attach(eng, cfg)
    seen = []
    sup.add_priority_listener(lambda *a: seen.append(a))
    await sup.start()
    try:
        await wait_for(lambda: seen == [("VI_1", "MASTER", 80)])
        flag.write_text("")
        await wait_for(lambda: seen[-1] == ("VI_1", "MASTER", 100))
    finally:
        await sup.stop()
