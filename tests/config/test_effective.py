"""Effective settings follow keepalived's fallbacks (instance, sync group, global, rule)."""
from __future__ import annotations

from kvrrp.config import effective

from .helpers import instance, parse


def settings(text: str, name: str = "VI_T"):
    cfg = parse(text).config
    return effective.vrrp_settings(cfg, cfg.instance(name))


def test_defaults():
    s = settings(instance(""))
    assert (s.strict, s.accept, s.down_timer_adverts, s.mcast_group) == (False, True, 3, "224.0.0.18")
    assert (s.garp_master_delay, s.garp_master_repeat, s.garp_lower_prio_delay, s.garp_lower_prio_repeat) == (
        5.0, 5, 5.0, 5)
    assert (s.lower_prio_no_advert, s.smtp_alert) == (False, False)


def test_global_values_and_instance_overrides():
    g = ("global_defs {\n vrrp_garp_master_delay 2\n vrrp_garp_master_repeat 3\n vrrp_mcast_group4 224.0.0.99\n"
         " smtp_alert\n vrrp_down_timer_adverts 4\n}\n")
    s = settings(instance("    garp_master_repeat 9\n    smtp_alert false", head=g))
    assert (s.garp_master_delay, s.garp_master_repeat, s.garp_lower_prio_repeat) == (2.0, 9, 9)
    assert (s.mcast_group, s.smtp_alert, s.down_timer_adverts) == ("224.0.0.99", False, 4)
    assert settings(instance("", vip="2001:db8::1")).mcast_group == "ff02::12"


def test_strict_mode_changes_accept_and_lower_prio_rules():
    g = "global_defs {\n vrrp_strict\n}\n"
    s = settings(instance("", head=g))
    assert (s.strict, s.accept, s.lower_prio_no_advert) == (True, False, True)
    owner = settings(instance("    state MASTER", head=g))
    assert owner.accept is True                      # the address owner always accepts
    assert settings(instance("    strict_mode false", head=g)).strict is False
