"""Effective per-instance settings: an instance's own value, else its sync group's, else the
global_defs value, else keepalived's rule (vrrp.c vrrp_complete_instance). The model keeps
`None` for "not written" so dumps stay faithful; engines call these helpers instead of
re-implementing the fallbacks."""
from __future__ import annotations

from dataclasses import dataclass

from kvrrp.config import model as m


@dataclass(frozen=True, slots=True)
class VrrpSettings:
    strict: bool
    accept: bool
    skip_check_adv_addr: bool
    check_unicast_src: bool
    owner_ignore_adverts: bool
    lower_prio_no_advert: bool
    higher_prio_send_advert: bool
    v3_checksum_as_v2: bool
    down_timer_adverts: int
    mcast_group: str
    garp_master_delay: float
    garp_master_repeat: int
    garp_lower_prio_delay: float
    garp_lower_prio_repeat: int
    garp_master_refresh: float
    garp_master_refresh_repeat: int
    garp_interval: float
    gna_interval: float
    smtp_alert: bool
    notify_priority_changes: bool


def _pick(*values):
    for v in values:
        if v is not None:
            return v
    return None


def sync_group_of(cfg: m.Config, inst: m.VrrpInstance) -> m.SyncGroup | None:
    for sg in cfg.sync_groups:
        if inst.name in sg.group:
            return sg
    return None


def vrrp_settings(cfg: m.Config, inst: m.VrrpInstance) -> VrrpSettings:
    g = cfg.global_defs
    sg = sync_group_of(cfg, inst)
    strict = _pick(inst.strict_mode, g.vrrp_strict)
    owner = inst.priority == 255
    accept = inst.accept if inst.accept is not None else (True if owner else not strict)
    g_delay, g_repeat = g.vrrp_garp_master_delay, g.vrrp_garp_master_repeat
    g_refresh, g_refresh_repeat = g.vrrp_garp_master_refresh, g.vrrp_garp_master_refresh_repeat
    if g.vrrp_min_garp:
        # keepalived: one GARP, no second burst, no refresh - for values still at their defaults
        g_repeat = 1 if g_repeat == 5 else g_repeat
        g_delay = 0.0 if g_delay == 5.0 else g_delay
        g_refresh_repeat = 0 if g_refresh_repeat == 1 else g_refresh_repeat
    master_delay = _pick(inst.garp_master_delay, g_delay)
    master_repeat = _pick(inst.garp_master_repeat, g_repeat)
    family = inst.family or 4
    return VrrpSettings(
        strict=strict,
        accept=accept,
        skip_check_adv_addr=_pick(inst.skip_check_adv_addr, g.vrrp_skip_check_adv_addr),
        check_unicast_src=inst.check_unicast_src or g.vrrp_check_unicast_src,
        owner_ignore_adverts=inst.owner_ignore_adverts or g.vrrp_owner_ignore_adverts,
        lower_prio_no_advert=bool(_pick(inst.lower_prio_no_advert, True if strict else None,
                                        g.vrrp_lower_prio_no_advert, False)),
        higher_prio_send_advert=_pick(inst.higher_prio_send_advert, False if strict else None,
                                      g.vrrp_higher_prio_send_advert),
        v3_checksum_as_v2=_pick(inst.v3_checksum_as_v2, g.v3_checksum_as_v2),
        down_timer_adverts=_pick(inst.down_timer_adverts, g.vrrp_down_timer_adverts),
        mcast_group=inst.mcast_dst_ip or (g.vrrp_mcast_group6 if family == 6 else g.vrrp_mcast_group4),
        garp_master_delay=master_delay,
        garp_master_repeat=master_repeat,
        # strict mode: no repeated lower-priority GARPs unless the instance says so (vrrp.c)
        garp_lower_prio_delay=_pick(inst.garp_lower_prio_delay, 0.0 if strict else None,
                                    g.vrrp_garp_lower_prio_delay, master_delay),
        garp_lower_prio_repeat=_pick(inst.garp_lower_prio_repeat, 0 if strict else None,
                                     g.vrrp_garp_lower_prio_repeat, master_repeat),
        garp_master_refresh=_pick(inst.garp_master_refresh, g_refresh),
        garp_master_refresh_repeat=_pick(inst.garp_master_refresh_repeat, g_refresh_repeat),
        garp_interval=g.vrrp_garp_interval,
        gna_interval=g.vrrp_gna_interval,
        smtp_alert=bool(_pick(inst.smtp_alert, g.smtp_alert_vrrp, g.smtp_alert, False)),
        notify_priority_changes=bool(_pick(inst.notify_priority_changes,
                                           sg.notify_priority_changes if sg and sg.notify_priority_changes else None,
                                           g.vrrp_notify_priority_changes)),
    )


def lvs_method(vs: m.VirtualServer, rs: m.RealServer) -> m.LvsMethod:
    """A real server's forwarding method: its own, else the virtual server's."""
    return rs.lvs_method if rs.lvs_method is not None else vs.lvs_method


def checker_smtp_alert(cfg: m.Config, vs: m.VirtualServer, rs: m.RealServer) -> bool:
    g = cfg.global_defs
    return bool(_pick(rs.smtp_alert, vs.smtp_alert, g.smtp_alert_checker, g.smtp_alert, False))
