"""The one settings resolver follows keepalived 2.2.7 (vrrp.c vrrp_complete_instance /
vrrp_complete_init, vrrp_data.c alloc_vrrp, global_parser.c vrrp_min_garp_handler); the engine's
InstanceSettings get exactly the resolver's values. tests/interop/test_settings_vs_keepalived.py
checks the same values against keepalived's own dump."""
from __future__ import annotations

from kvrrp.config import effective
from kvrrp.vrrp.settings import engine_settings

from .helpers import codes, instance, parse


def resolved(text: str, name: str = "VI_T") -> dict:
    cfg = parse(text).config
    inst = cfg.instance(name)
    values = effective.resolve(inst, cfg.global_defs, effective.sync_group_of(cfg, inst))
    engine = next(s for s in engine_settings(cfg).instances if s.name == name)
    for key, value in values.items():
        if hasattr(engine, key):
            assert getattr(engine, key) == value, key      # the engine runs what the resolver says
    return values


def garps(v: dict) -> tuple:
    return (v["garp_master_delay"], v["garp_master_repeat"], v["garp_lower_prio_delay"],
            v["garp_lower_prio_repeat"], v["garp_master_refresh"], v["garp_master_refresh_repeat"])


def test_defaults():
    v = resolved(instance(""))
    assert (v["strict"], v["accept"], v["down_timer_adverts"]) == (False, True, 3)
    assert garps(v) == (5.0, 5, 5.0, 5, 0.0, 1)
    assert (v["lower_prio_no_advert"], v["higher_prio_send_advert"], v["smtp_alert"]) == (False, False, False)


def test_lower_priority_burst_defaults_to_the_global_burst_not_the_instance_one():
    # keepalived: vrrp_garp_lower_prio_* default to the GLOBAL vrrp_garp_master_* (vrrp_complete_init)
    g = "global_defs {\n vrrp_garp_master_delay 2\n vrrp_garp_master_repeat 3\n smtp_alert\n}\n"
    v = resolved(instance("    garp_master_repeat 9\n    garp_master_delay 7\n    smtp_alert false", head=g))
    assert garps(v)[:4] == (7.0, 9, 2.0, 3)
    assert v["smtp_alert"] is False
    g2 = "global_defs {\n vrrp_garp_lower_prio_repeat 1\n vrrp_garp_lower_prio_delay 4\n}\n"
    assert garps(resolved(instance("", head=g2)))[2:4] == (4.0, 1)
    assert garps(resolved(instance("    garp_lower_prio_repeat 2", head=g2)))[3] == 2


def test_strict_mode_imposes_its_values_when_unset():
    v = resolved(instance("", head="global_defs {\n vrrp_strict\n}\n"))
    assert (v["strict"], v["accept"], v["lower_prio_no_advert"], v["higher_prio_send_advert"]) == (
        True, False, True, False)
    assert garps(v)[:4] == (5.0, 5, 0.0, 0)           # no lower-priority GARP burst in strict mode
    owner = resolved(instance("    state MASTER\n    priority 255", head="global_defs {\n vrrp_strict\n}\n"))
    assert owner["accept"] is True                     # the address owner always accepts
    assert resolved(instance("    strict_mode false", head="global_defs {\n vrrp_strict\n}\n"))["strict"] is False


def test_strict_mode_resets_forbidden_values_with_a_warning():
    g = "global_defs {\n vrrp_strict\n vrrp_down_timer_adverts 5\n vrrp_garp_lower_prio_repeat 4\n}\n"
    text = instance("    garp_lower_prio_delay 3\n    lower_prio_no_advert false\n    higher_prio_send_advert", head=g)
    v = resolved(text)
    assert garps(v)[2:4] == (0.0, 0)
    assert (v["lower_prio_no_advert"], v["higher_prio_send_advert"], v["down_timer_adverts"]) == (True, False, 3)
    assert codes(parse(text)).count("strict-reset") == 4   # the three written values and the inherited timer


def test_min_garp_changes_only_values_left_at_their_defaults():
    v = resolved(instance("", head="global_defs {\n vrrp_min_garp\n}\n"))
    assert garps(v) == (0.0, 1, 0.0, 1, 0.0, 0)
    v = resolved(instance("    garp_master_repeat 3", head="global_defs {\n vrrp_min_garp\n vrrp_garp_master_delay 2\n}\n"))
    assert garps(v)[:4] == (2.0, 3, 2.0, 1)


def test_smtp_alert_falls_back_to_smtp_alert_vrrp_then_smtp_alert():
    assert resolved(instance("", head="global_defs {\n smtp_alert\n}\n"))["smtp_alert"] is True
    head = "global_defs {\n smtp_alert\n smtp_alert_vrrp false\n}\n"
    assert resolved(instance("", head=head))["smtp_alert"] is False
    assert resolved(instance("    smtp_alert", head=head))["smtp_alert"] is True


def test_notify_priority_changes_comes_from_the_sync_group_before_global_defs():
    text = instance("") + "vrrp_sync_group G {\n group {\n  VI_T\n }\n notify_priority_changes\n}\n"
    assert resolved(text)["notify_priority_changes"] is True
    assert resolved(instance(""))["notify_priority_changes"] is False
    head = "global_defs {\n vrrp_notify_priority_changes\n}\n"
    assert resolved(instance("    notify_priority_changes false", head=head))["notify_priority_changes"] is False
    grouped = head + instance("") + "vrrp_sync_group G {\n group {\n  VI_T\n }\n}\n"
    assert resolved(grouped)["notify_priority_changes"] is True


def test_flags_and_accept_mode():
    head = "global_defs {\n vrrp_skip_check_adv_addr\n vrrp_check_unicast_src\n}\n"
    v = resolved(instance("", head=head))
    assert (v["skip_check_adv_addr"], v["check_unicast_src"]) == (True, True)
    # keepalived sets the flag for any written skip_check_adv_addr, "false" included; kvrrp warns
    text = instance("    skip_check_adv_addr false")
    assert resolved(text)["skip_check_adv_addr"] is True
    assert "skip-check-false" in codes(parse(text))
    assert resolved(instance("    no_accept"))["accept"] is False
    assert resolved(instance("    accept\n    version 3", head="global_defs {\n vrrp_strict\n}\n"))["accept"] is True
