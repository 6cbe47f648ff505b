"""Issue 10 failure 4: a reload that changes priority, VIPs, tracker weights or notify scripts
applies in place (no transition on master or backup); interface, VRID and family changes (the
instance's identity) restart. On the fake LAN (tests/vrrp/vrrp_lan.py), with real config text."""
from __future__ import annotations

import os
import sys

import pytest

from kvrrp.config.loader import parse_text
from kvrrp.vrrp.reload_plan import IN_PLACE, KEPT, RESTART, classify
from kvrrp.vrrp.settings import engine_settings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "vrrp"))
from vrrp_lan import AROUND, FakeLan, around  # noqa: E402

TEXT = """
vrrp_script chk {
    script "%(script)s"
    interval 1
    weight %(weight)d
}
vrrp_instance VI_1 {
    interface %(ifname)s
    dont_track_primary
    virtual_router_id %(vrid)d
    priority %(prio)d
    advert_int 1
    %(notify)s
    track_script {
        chk
    }
    virtual_ipaddress {
%(vips)s
    }
}
"""


def config(tmp_path, prio=200, weight=-10, vips=("198.18.0.100/24",), notify="", ifname="eth0", vrid=51,
           script_ok=True):
    script = tmp_path / ("ok.sh" if script_ok else "fail.sh")
    script.write_text("#!/bin/sh\nexit %d\n" % (0 if script_ok else 1))
    os.chmod(script, 0o755)
    os.chmod(tmp_path, 0o755)
    res = parse_text(TEXT % {"script": script, "weight": weight, "prio": prio, "notify": notify,
                             "ifname": ifname, "vrid": vrid,
                             "vips": "\n".join("        " + v for v in vips)})
    assert res.ok, [str(d) for d in res.errors]
    return res.config


async def lan_with(tmp_path, master_conf, backup_conf):  # noqa: ANN001, ANN201
    lan = FakeLan()
    a = lan.add_node("a", master_conf, v4="198.18.0.1", start=False)
    b = lan.add_node("b", backup_conf, v4="198.18.0.2", start=False)
    extras = around(a.engine, master_conf)
    await extras.start(AROUND)
    a.engine.start()
    b.engine.start()
    lan.run_for(10)
    assert lan.masters() == ["a"]
    return lan, a, b, extras


async def reload(extras, node, new):  # noqa: ANN001, ANN201
    assert extras.engine is node.engine
    return await extras.apply(new)


async def test_fifty_priority_edits_on_a_master_cause_no_transition(tmp_path) -> None:
    lan, a, b, extras = await lan_with(tmp_path, config(tmp_path, prio=200), config(tmp_path, prio=100))
    before = len(lan.transitions())
    for n in range(50):
        result = await reload(extras, a, config(tmp_path, prio=150 + n))
        assert result.updated == ("VI_1",) and result.restarted == ()
        lan.run_for(0.3)
        assert a.engine.instance("VI_1").effective_priority == 150 + n
    lan.run_for(5)
    assert len(lan.transitions()) == before            # backup: 0 transitions (was 100)
    assert lan.masters() == ["a"] and a.addresses.holds("198.18.0.100")
    await extras.shutdown()


async def test_lowering_below_the_backup_hands_over_by_the_protocol_not_a_restart(tmp_path) -> None:
    lan, a, b, extras = await lan_with(tmp_path, config(tmp_path, prio=200), config(tmp_path, prio=100))
    await reload(extras, a, config(tmp_path, prio=50))
    lan.run_for(5)
    assert lan.masters() == ["b"]
    trans = [(t[3], t[4]) for t in a.transitions if t[2] == "VI_1"]
    assert ("MASTER", "STOP") not in trans and trans[-1] == ("MASTER", "BACKUP")
    await extras.shutdown()


async def test_vip_added_and_removed_in_place_on_the_master(tmp_path) -> None:
    lan, a, b, extras = await lan_with(tmp_path, config(tmp_path), config(tmp_path, prio=100))
    before = len(lan.transitions())
    new_vips = ("198.18.0.100/24", "198.18.0.101/24")
    # both nodes get the new list (adverts carry it: a mismatch is an address_list drop)
    await reload(extras, a, config(tmp_path, vips=new_vips))
    b.engine.apply_config(config(tmp_path, prio=100, vips=new_vips))
    lan.run_for(3)
    assert a.addresses.holds("198.18.0.101") and a.addresses.holds("198.18.0.100")
    await reload(extras, a, config(tmp_path, vips=("198.18.0.101/24",)))
    b.engine.apply_config(config(tmp_path, prio=100, vips=("198.18.0.101/24",)))
    lan.run_for(3)
    assert a.addresses.holds("198.18.0.101") and not a.addresses.holds("198.18.0.100")
    assert not b.addresses.holds("198.18.0.101")
    assert len(lan.transitions()) == before
    await extras.shutdown()


async def test_tracker_weight_and_notify_changes_keep_the_instance(tmp_path) -> None:
    lan, a, b, extras = await lan_with(tmp_path, config(tmp_path, script_ok=False, weight=-10),
                                       config(tmp_path, prio=100))
    assert a.engine.instance("VI_1").effective_priority == 190
    before = len(lan.transitions())
    notify = tmp_path / "notify.sh"
    notify.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(notify, 0o755)
    result = await reload(extras, a, config(tmp_path, script_ok=False, weight=-30,
                                            notify=f"notify_master {notify}"))
    assert result.kept == ("VI_1",) and result.restarted == ()
    lan.run_for(3)
    assert a.engine.instance("VI_1").effective_priority == 170
    assert len(lan.transitions()) == before and lan.masters() == ["a"]
    await extras.shutdown()


@pytest.mark.parametrize("change, expected", [
    (dict(prio=150), IN_PLACE),
    (dict(vips=("198.18.0.100/24", "198.18.0.7/24")), IN_PLACE),
    (dict(weight=-50), KEPT),
    (dict(ifname="eth1"), RESTART),
    (dict(vrid=52), RESTART),
    (dict(vips=("2001:db8::1/64",)), RESTART),      # the family follows the first VIP
    (dict(prio=255), RESTART),                       # becoming the address owner
])
def test_classification(tmp_path, change, expected) -> None:
    old = engine_settings(config(tmp_path)).instances[0]
    new_cfg = config(tmp_path, **change)
    new = engine_settings(new_cfg).instances[0]
    assert classify(old, new) == expected
