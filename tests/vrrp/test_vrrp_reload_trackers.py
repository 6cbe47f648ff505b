"""A reload that adds a tracked instance: with the daemon's services (the trackers prepared
before apply_config, the engine's prestart hook) it starts straight in FAULT when its
vrrp_script fails, instead of passing through BACKUP first."""
from __future__ import annotations

import os

import pytest

from kvrrp.config.loader import parse_text
from kvrrp.daemon.services.tracking import Trackers
from vrrp_lan import AROUND, FakeLan, around


INSTANCE = """
vrrp_instance %(name)s {
    interface eth0
    dont_track_primary
    virtual_router_id %(vrid)d
    priority 100
    advert_int 1
    %(track)s
    virtual_ipaddress {
        198.18.0.%(vrid)d/24
    }
}
"""


def config(tmp_path, *instances, check=True):
    fail = tmp_path / "fail.sh"
    fail.write_text("#!/bin/sh\nexit 1\n")
    os.chmod(fail, 0o755)
    os.chmod(tmp_path, 0o755)
    text = f"vrrp_script chk_fail {{\n    script {fail}\n    interval 1\n}}\n"
    for name, vrid, tracked in instances:
        track = "track_script {\n        chk_fail\n    }" if tracked else ""
        text += INSTANCE % {"name": name, "vrid": vrid, "track": track}
    res = parse_text(text)
    assert res.ok or not check, [str(d) for d in res.errors]
    return res.config


async def test_reload_adds_a_failing_tracked_instance_straight_into_fault(tmp_path):
    first = config(tmp_path, ("VI_1", 51, False))
    second = config(tmp_path, ("VI_1", 51, False), ("VI_2", 52, True), ("VI_3", 53, False))
    lan = FakeLan()
    node = lan.add_node("a", first, v4="198.18.0.1", start=False)
    extras = around(node.engine, first)
    await extras.start(AROUND)
    node.engine.start()
    lan.run_for(5)
    assert lan.masters("VI_1") == ["a"]

    result = await extras.apply(second)
    assert result.added == ("VI_2", "VI_3")
    lan.run_for(5)
    states = {name: [(t[3], t[4]) for t in node.transitions if t[2] == name] for name in ("VI_2", "VI_3")}
    assert states["VI_2"] == [("INIT", "FAULT")]
    assert states["VI_3"] == [("INIT", "BACKUP"), ("BACKUP", "MASTER")]
    assert [(t[3], t[4]) for t in node.transitions if t[2] == "VI_1"] == [("INIT", "BACKUP"), ("BACKUP", "MASTER")]
    await extras.shutdown()
    node.engine.stop()


async def test_a_reload_the_engine_refuses_leaves_no_tracker_held(tmp_path):
    first = config(tmp_path, ("VI_1", 51, False))
    lan = FakeLan()
    node = lan.add_node("a", first, v4="198.18.0.1", start=False)
    extras = around(node.engine, first)
    await extras.start(AROUND)
    node.engine.start()
    # one VRID twice on eth0 (the config layer reports it too; a daemon must not rely on that):
    # the engine refuses it and the trackers, prepared for it, return to the running one
    bad = config(tmp_path, ("VI_1", 51, False), ("VI_2", 51, True), check=False)
    with pytest.raises(ValueError, match="VRID 51"):
        await extras.apply(bad)
    tracking = next(s for s in extras.services if isinstance(s, Trackers)).tracking
    assert tracking._prepared is None and not tracking._holding and extras.config is first
    await extras.shutdown()
    node.engine.stop()
