"""The one resolver of effective VRRP instance settings.

The config model keeps what was written (`None` for "not written", so dumps stay faithful);
the engine, the notifier and `kvrrp -t` need what keepalived would run. Every fallback lives in
the RULES table below: the instance's own value, else its sync group's, else global_defs (after
keepalived's global adjustments), else a default - and, in strict mode, the value strict mode
imposes whatever was written (keepalived resets a forbidden value with a warning, which
config/validate.py reports from this same table).

Checked against keepalived 2.2.7's vrrp_complete_instance / vrrp_complete_init (vrrp.c),
alloc_vrrp (vrrp_data.c) and vrrp_min_garp_handler (global_parser.c), and pinned by
tests/interop/test_settings_vs_keepalived.py, which compares these values with keepalived's own
`-d` dump of the same configurations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kvrrp.config import model as m

UNSET: Any = object()     # a rule without a strict-mode value, or a flag never written


@dataclass(frozen=True, slots=True)
class Rule:
    """How one effective setting is found.

    name: the VrrpInstance attribute and the key of the result (InstanceSettings' field name).
    global_name: the global_defs value used when neither the instance nor its group set one
    (a key of `global_values`, which has keepalived's global adjustments applied).
    group_name: the vrrp_sync_group attribute consulted between instance and global_defs.
    strict: the value strict mode imposes (UNSET: strict mode does not touch it).
    unset: the model value meaning "not written" (False for bare flag keywords).
    """
    name: str
    global_name: str | None
    default: Any = None
    strict: Any = UNSET
    group_name: str | None = None
    unset: Any = None


RULES: tuple[Rule, ...] = (
    Rule("skip_check_adv_addr", "vrrp_skip_check_adv_addr", False),
    Rule("check_unicast_src", "vrrp_check_unicast_src", False, unset=False),
    Rule("owner_ignore_adverts", "vrrp_owner_ignore_adverts", False, unset=False),
    Rule("lower_prio_no_advert", "vrrp_lower_prio_no_advert", False, strict=True),
    Rule("higher_prio_send_advert", "vrrp_higher_prio_send_advert", False, strict=False),
    Rule("down_timer_adverts", "vrrp_down_timer_adverts", 3, strict=3),
    Rule("garp_master_delay", "vrrp_garp_master_delay", 5.0),
    Rule("garp_master_repeat", "vrrp_garp_master_repeat", 5),
    Rule("garp_master_refresh", "vrrp_garp_master_refresh", 0.0),
    Rule("garp_master_refresh_repeat", "vrrp_garp_master_refresh_repeat", 1),
    # strict mode: "no repeat garps" (keepalived's lower-priority GARP burst is off)
    Rule("garp_lower_prio_delay", "vrrp_garp_lower_prio_delay", 5.0, strict=0.0),
    Rule("garp_lower_prio_repeat", "vrrp_garp_lower_prio_repeat", 5, strict=0),
    Rule("garp_interval", "vrrp_garp_interval", 0.0),
    Rule("gna_interval", "vrrp_gna_interval", 0.0),
    Rule("smtp_alert", "smtp_alert_vrrp", False),
    Rule("notify_priority_changes", "vrrp_notify_priority_changes", False, group_name="notify_priority_changes"),
)
RULE_BY_NAME = {r.name: r for r in RULES}


def global_values(g: m.GlobalDefs) -> dict[str, Any]:
    """global_defs as keepalived completes it before any instance (vrrp_complete_init)."""
    delay, repeat = g.vrrp_garp_master_delay, g.vrrp_garp_master_repeat
    refresh, refresh_repeat = g.vrrp_garp_master_refresh, g.vrrp_garp_master_refresh_repeat
    if g.vrrp_min_garp:
        # one GARP, no second burst, no refresh - but only for values still at their defaults
        repeat = 1 if repeat == 5 else repeat
        delay = 0.0 if delay == 5.0 else delay
        refresh = 0.0 if refresh == 0.0 else refresh
        refresh_repeat = 0 if refresh_repeat == 1 else refresh_repeat
    values = {r.global_name: getattr(g, r.global_name, None) for r in RULES if r.global_name}
    values.update(
        vrrp_garp_master_delay=delay, vrrp_garp_master_repeat=repeat,
        vrrp_garp_master_refresh=refresh, vrrp_garp_master_refresh_repeat=refresh_repeat,
        # the lower-priority burst defaults to the GLOBAL master burst, not the instance's
        vrrp_garp_lower_prio_delay=_first(g.vrrp_garp_lower_prio_delay, delay),
        vrrp_garp_lower_prio_repeat=_first(g.vrrp_garp_lower_prio_repeat, repeat),
        # smtp_alert_vrrp, else smtp_alert, else off
        smtp_alert_vrrp=_first(g.smtp_alert_vrrp, g.smtp_alert),
    )
    return values


def is_strict(inst: m.VrrpInstance, g: m.GlobalDefs) -> bool:
    return bool(_first(inst.strict_mode, g.vrrp_strict))


def strict_required(name: str) -> Any:
    """The value strict mode imposes on `name` (UNSET if it imposes none)."""
    rule = RULE_BY_NAME.get(name)
    return rule.strict if rule is not None else UNSET


def resolve(inst: m.VrrpInstance, g: m.GlobalDefs, sync_group: m.SyncGroup | None = None,
            globals_: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every RULES setting of `inst`, plus `strict` and `accept`, as keepalived runs them.

    `globals_` lets a caller resolving many instances compute global_values(g) once."""
    gv = global_values(g) if globals_ is None else globals_
    strict = is_strict(inst, g)
    out: dict[str, Any] = {"strict": strict}
    for rule in RULES:
        if strict and rule.strict is not UNSET:
            out[rule.name] = rule.strict
            continue
        value = getattr(inst, rule.name, None)
        if _is_unset(value, rule.unset) and rule.group_name and sync_group is not None:
            # the model keeps a group flag as False when not written
            value = getattr(sync_group, rule.group_name, None) or None
        if _is_unset(value, rule.unset) and rule.global_name:
            value = gv.get(rule.global_name)
        out[rule.name] = rule.default if _is_unset(value, rule.unset) else value
    if inst.skip_check_adv_addr is not None:
        # keepalived (2.2.7 to 2.3): any written skip_check_adv_addr sets the flag, even "false"
        # (vrrp_parser.c); config/validate.py warns about it
        out["skip_check_adv_addr"] = True
    out["accept"] = _accept(inst, g, strict)
    return out


def _accept(inst: m.VrrpInstance, g: m.GlobalDefs, strict: bool) -> bool:
    """Accept_Mode: the address owner always accepts; unset means "unless strict"; a strict
    VRRPv2 instance never accepts (RFC 3768 has no Accept_Mode)."""
    if inst.priority == 255:
        return True
    accept = inst.accept if inst.accept is not None else not strict
    version = 3 if (inst.family or 4) == 6 else (inst.version or g.vrrp_version)
    if accept and strict and version == 2:
        return False
    return accept


def vrrp_smtp_alert(own: bool | None, g: m.GlobalDefs) -> bool:
    """smtp_alert of a vrrp_instance or vrrp_sync_group: its own, else smtp_alert_vrrp, else
    smtp_alert, else off (the same rule for both, as in keepalived's vrrp.c and vrrp_sync.c)."""
    return bool(_first(own, global_values(g)["smtp_alert_vrrp"], False))


def sync_group_of(cfg: m.Config, inst: m.VrrpInstance) -> m.SyncGroup | None:
    for sg in cfg.sync_groups:
        if inst.name in sg.group:
            return sg
    return None


def lvs_method(vs: m.VirtualServer, rs: m.RealServer | m.SorryServer) -> m.LvsMethod:
    """A real (or sorry) server's forwarding method: its own, else the virtual server's."""
    return rs.lvs_method if rs.lvs_method is not None else vs.lvs_method


def _is_unset(value: Any, unset: Any) -> bool:
    return value is None or (unset is not None and value == unset)


def _first(*values):
    for v in values:
        if v is not None:
            return v
    return None
