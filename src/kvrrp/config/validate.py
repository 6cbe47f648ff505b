"""Cross-object rules, keepalived's (vrrp.c vrrp_complete_instance, vrrp_sync.c, vrrp_track.c,
check_data.c), applied after parsing. Also resolves what keepalived resolves at that point:
the effective VRRP version, the address family, and advert_int rounding, so the model holds
the values the daemon will really use.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Container

from kvrrp.config import effective
from kvrrp.config import model as m
from kvrrp.config.diagnostics import Diagnostics
from kvrrp.config.kw_bgp import validate_bgp
from kvrrp.vrrp import auth_hmac

Where = Callable[[object, str], "m.Location | None"]

V2_MAX_ADVERT = 255.0
V3_MAX_ADVERT = 40.95


def validate(cfg: m.Config, diags: Diagnostics, where: Where, kwloc: Where | None = None) -> m.Config:
    g = cfg.global_defs
    # name -> weight; keepalived's lookups find the first definition of a name
    scripts: dict[str, int] = {}
    files: dict[str, int] = {}
    for s in cfg.vrrp_scripts:
        scripts.setdefault(s.name, s.weight)
    for t in cfg.track_files:
        # a weight left at its default (1) is marked None: an address owner takes it as 0
        explicit = kwloc is None or kwloc(t, "weight") is not None
        files.setdefault(t.name, t.weight if explicit else None)
    procs = {t.name for t in cfg.track_processes}
    # keepalived: a bfd_instance with only 'checker' is unknown to the VRRP process, and one with
    # only 'vrrp' to the checker process
    bfds = {b.name for b in cfg.bfd_instances if b.vrrp}
    checker_bfds = {b.name for b in cfg.bfd_instances if b.checker}

    # keepalived accepts these silently and its lookups find the first definition
    _duplicates(diags, "vrrp_script", cfg.vrrp_scripts, fatal=False)
    _duplicates(diags, "track_file", cfg.track_files, fatal=False)
    _duplicates(diags, "vrrp_track_process", cfg.track_processes, fatal=False)
    _duplicates(diags, "vrrp_sync_group", cfg.sync_groups)
    _duplicates(diags, "virtual_server_group", cfg.virtual_server_groups)

    for s in cfg.vrrp_scripts:
        if s.script is None:
            diags.error(s.loc, f"vrrp_script {s.name} has no 'script' - it will never run", "missing-parameter")
        if s.timeout is not None and s.timeout > s.interval:
            pass  # keepalived allows a timeout longer than the interval
    for t in cfg.track_files:
        if t.file is None:
            diags.error(t.loc, f"track_file {t.name} has no 'file'", "missing-parameter")
    for t in cfg.track_processes:
        if t.process is None:
            diags.error(t.loc, f"vrrp_track_process {t.name} has no 'process'", "missing-parameter")
        if t.quorum_max is not None and t.quorum_max < t.quorum:
            diags.error(where(t, "quorum_max"), f"vrrp_track_process {t.name}: quorum_max {t.quorum_max} "
                        f"is less than quorum {t.quorum}", "out-of-range")

    _bfd_instances(cfg, diags)
    instances = [_instance(i, g, diags, where, kwloc, scripts, files, procs, bfds) for i in cfg.instances]
    _duplicates(diags, "vrrp_instance", instances)
    _duplicate_vrids(instances, g, diags)
    _sync_groups(cfg, instances, diags, where, scripts, files, procs, bfds)

    if g.lvs_sync_daemon is not None and g.lvs_sync_daemon.instance is not None:
        if not any(i.name == g.lvs_sync_daemon.instance for i in instances):
            diags.error(g.lvs_sync_daemon.loc, f"lvs_sync_daemon: vrrp_instance "
                        f"'{g.lvs_sync_daemon.instance}' is not defined", "undefined-reference")

    groups = {vg.name for vg in cfg.virtual_server_groups}
    for vg in cfg.virtual_server_groups:
        if not vg.entries:
            diags.error(vg.loc, f"virtual server group {vg.name} has no entries - removing", "vsg-empty")
        fams = {e.family for e in vg.entries if e.fwmark is None}
        if len(fams) > 1:
            diags.error(vg.loc, f"virtual server group {vg.name} cannot have both IPv4 and IPv6 addresses",
                        "family-mismatch")
    vss = []
    group_has_addr = {vg.name: any(e.fwmark is None for e in vg.entries) for vg in cfg.virtual_server_groups}
    for vs in cfg.virtual_servers:
        _virtual_server(vs, groups, files, diags, where, checker_bfds)
        if (vs.group is not None and group_has_addr.get(vs.group) and kwloc is not None
                and kwloc(vs, "protocol") is None):
            diags.error(vs.loc, f"virtual server group {vs.group}: no protocol set - defaulting to UDP "
                        "(write 'protocol TCP')", "vs-protocol")
            vs = dataclasses.replace(vs, protocol="UDP")
        vss.append(vs)

    cfg = dataclasses.replace(cfg, instances=tuple(instances), virtual_servers=tuple(vss))
    validate_bgp(cfg, diags, where)
    check_scripts(cfg, diags, where)
    from kvrrp.config.rtnames import check_route_names

    check_route_names(cfg, diags)
    return cfg


def _duplicates(diags: Diagnostics, what: str, items, fatal: bool = True) -> None:
    seen: dict[str, object] = {}
    for it in items:
        if it.name in seen:
            first = seen[it.name]
            if fatal:
                diags.error(it.loc, f"{what} '{it.name}' defined twice (first at {first.loc})", "duplicate")
            else:
                diags.warning(it.loc, f"{what} '{it.name}' defined twice - the first definition (at {first.loc}) "
                              "is used", "duplicate", fails_test=False)
        else:
            seen[it.name] = it


def _bfd_instances(cfg: m.Config, diags: Diagnostics) -> None:
    """keepalived's bfd_parser.c end-of-block checks (kvrrp.bfd.settings applies the same rules
    at run time, so what -t reports is what the daemon skips)."""
    from kvrrp.bfd.settings import plan_sessions

    for b in cfg.bfd_instances:
        _, problems = plan_sessions([b])            # this block's own problems
        for p in problems:
            if "max_hops exceeds" in p:
                diags.warning(b.loc, p, "out-of-range", fails_test=False)
            else:
                diags.error(b.loc, p, "bfd-instance")
    _, problems = plan_sessions(cfg.bfd_instances)
    for p in problems:
        if "duplicate" in p or "defined twice" in p:
            name = p.split()[1]
            loc = next((b.loc for b in reversed(cfg.bfd_instances) if b.name == name), None)
            diags.error(loc, p, "duplicate")


def _refs(owner: str, refs, known: Container[str], what: str, diags: Diagnostics) -> None:
    seen = set()
    for r in refs:
        if r.name not in known:
            diags.error(r.loc, f"({owner}) {what} '{r.name}' is not defined", "undefined-reference")
        if r.name in seen:
            diags.warning(r.loc, f"({owner}) duplicate {what} '{r.name}' - ignoring", "duplicate",
                          fails_test=True)
        seen.add(r.name)


def _instance(i: m.VrrpInstance, g: m.GlobalDefs, diags: Diagnostics, where: Where, kwloc: Where | None,
              scripts: dict[str, int], files: dict[str, int | None], procs: set[str],
              bfds: set[str]) -> m.VrrpInstance:
    name = i.name
    changes: dict = {}
    strict = g.vrrp_strict if i.strict_mode is None else i.strict_mode

    if i.vrid is None:
        diags.error(i.loc, f"({name}) the virtual router id (virtual_router_id) must be set",
                    "missing-parameter-vrid")

    fams = {a.family for a in i.virtual_ipaddress}
    family = i.family or 4
    if fams - {family}:
        # keepalived ignores VIPs of the other family ("address family must match VRRP instance")
        for a in i.virtual_ipaddress:
            if a.family != family:
                diags.error(a.loc, f"({name}) address family of {a.address} must match the instance "
                            f"(IPv{family}) - ignoring; use virtual_ipaddress_excluded for mixed families",
                            "family-mismatch")
        changes["virtual_ipaddress"] = tuple(a for a in i.virtual_ipaddress if a.family == family)
    if i.native_ipv6 and not fams:
        family = 6
    changes["family"] = family

    explicit_version = kwloc is None or kwloc(i, "version") is not None
    version = i.version if explicit_version else None
    if family == 6:
        if version == 2:
            diags.error(where(i, "version"), f"({name}) IPv6 needs VRRP version 3 - version 2 cannot carry "
                        "IPv6 addresses; using 3", "v2-ipv6")
        version = 3
    if version is None:
        version = g.vrrp_version
    changes["version"] = version

    if not i.interface and not i.unicast_peers:
        diags.error(i.loc, f"({name}) no interface given - multicast instances need 'interface'",
                    "no-interface")
    if i.unicast_peers and not i.interface and not i.unicast_src_ip:
        diags.error(i.loc, f"({name}) unicast instances must have unicast_src_ip or interface",
                    "unicast-no-src")

    # advert_int: keepalived range-checks per version and rounds
    adv = i.advert_int
    aloc = where(i, "advert_int")
    if version == 2:
        if adv >= 256:
            diags.error(aloc, f"({name}) VRRPv2 advert_int {adv:g}s is out of range, must be less than 256s; "
                        "using 255", "out-of-range")
            adv = 255.0
        elif adv != int(adv):
            rounded = float(max(1, int(adv + 0.5)))
            diags.warning(aloc, f"({name}) VRRPv2 advert_int {adv:g}s must be whole seconds; rounding to "
                          f"{rounded:g}", "rounded", fails_test=True)
            adv = rounded
    else:
        if adv > V3_MAX_ADVERT:
            diags.error(aloc, f"({name}) VRRPv3 advert_int {adv:g}s is out of range 0.01..40.95; "
                        "using 40.95", "out-of-range")
            adv = V3_MAX_ADVERT
        else:
            centis = adv * 100
            if abs(centis - round(centis)) > 1e-6:
                rounded = min(max(1, int(centis + 0.5)), 4095) / 100
                diags.warning(aloc, f"({name}) VRRPv3 advert_int {adv:g}s must be in units of 10ms; "
                              f"rounding to {rounded:g}", "rounded", fails_test=True)
                adv = rounded
    changes["advert_int"] = adv

    if i.authentication is not None:
        aloc = where(i, "authentication")
        if version == 3:
            diags.error(aloc, f"({name}) VRRP version 3 does not support authentication - ignoring it",
                        "auth-v3")
        elif strict:
            diags.error(aloc, f"({name}) strict mode does not support authentication - ignoring it",
                        "auth-strict")
        elif i.authentication.auth_type == "AH" and family == 6:
            diags.error(aloc, f"({name}) cannot use AH authentication with IPv6", "auth-ah-ipv6")
        elif i.authentication.auth_type == "PASS" and not i.authentication.auth_pass:
            diags.error(aloc, f"({name}) authentication PASS specified but no auth_pass given", "auth-nopass")
        elif i.authentication.auth_type == "AH" and i.state == "MASTER" and i.priority != 255:
            diags.error(where(i, "state"), f"({name}) initial state MASTER is incompatible with AH "
                        "authentication - clearing", "auth-ah-master")
            changes["state"] = "BACKUP"

    if i.auth_hmac is not None:
        _check_auth_hmac(i, name, strict, adv, diags, changes, where(i, "auth_hmac"))

    if i.skip_check_adv_addr is False:
        diags.warning(where(i, "skip_check_adv_addr"), f"({name}) skip_check_adv_addr false still skips the "
                      "advert address check, as keepalived does - remove the line to check addresses",
                      "skip-check-false")
    if strict:
        if (i.state == "MASTER") != (i.priority == 255):
            diags.error(where(i, "state"), f"({name}) strict mode: state MASTER must match being address owner "
                        "(priority 255)", "strict-state")
        if i.unicast_peers:
            diags.error(where(i, "unicast_peer"), f"({name}) unicast peers are not supported in strict mode",
                        "strict-unicast")
        if i.accept is True and i.priority != 255 and version == 2:
            diags.warning(where(i, "accept"), f"({name}) accept mode for VRRP version 2 does not comply with "
                          "RFC 3768 in strict mode - resetting", "strict-accept", fails_test=True)
            changes["accept"] = False
        # keepalived resets what strict mode forbids (vrrp.c vrrp_complete_instance)
        # (the values strict mode imposes are the resolver's: kvrrp.config.effective.RULES)
        for field, what in (
                ("garp_lower_prio_repeat", "no repeat garps"),
                ("garp_lower_prio_delay", "no repeat garp delay"),
                ("lower_prio_no_advert", "no lower priority advert"),
                ("higher_prio_send_advert", "higher_prio_send_advert to be clear"),
                ("down_timer_adverts", "down_timer_adverts 3")):
            value = getattr(i, field)
            if field == "down_timer_adverts" and value is None:
                value = g.vrrp_down_timer_adverts        # the inherited value is checked too
            required = effective.strict_required(field)
            if value is not None and value != required:
                diags.warning(where(i, field), f"({name}) strict mode requires {what} - resetting",
                              "strict-reset", fails_test=True)
                changes[field] = required if field != "down_timer_adverts" else None
    nopreempt = i.nopreempt
    preempt_delay = i.preempt_delay
    if i.priority == 255 and nopreempt:
        diags.error(where(i, "nopreempt"), f"({name}) nopreempt is incompatible with priority 255 "
                    "(address owner) - resetting", "nopreempt-owner")
        nopreempt = False
    if i.state == "MASTER":
        if nopreempt:
            diags.warning(where(i, "nopreempt"), f"({name}) nopreempt will not work with initial state MASTER - "
                          "clearing (use state BACKUP)", "nopreempt-master", fails_test=True)
            nopreempt = False
        if preempt_delay:
            diags.warning(where(i, "preempt_delay"), f"({name}) preempt_delay will not work with initial state "
                          "MASTER - clearing", "preempt-delay", fails_test=True)
            preempt_delay = 0.0
    if preempt_delay and strict:
        diags.warning(where(i, "preempt_delay"), f"({name}) preempt_delay is incompatible with strict mode - "
                      "resetting", "preempt-delay", fails_test=True)
        preempt_delay = 0.0
    if preempt_delay and nopreempt:
        diags.warning(where(i, "preempt_delay"), f"({name}) preempt_delay is incompatible with nopreempt mode - "
                      "resetting", "preempt-delay", fails_test=True)
        preempt_delay = 0.0
    changes["nopreempt"] = nopreempt
    changes["preempt_delay"] = preempt_delay
    if not i.unicast_peers and (i.unicast_src_ip is not None or i.unicast_ttl is not None
                                or i.unicast_fault_no_peer or i.check_unicast_src):
        if not i.unicast_fault_no_peer:
            diags.warning(i.loc, f"({name}) a unicast keyword has been specified without any unicast peers - "
                          "defaulting to multicast (deprecated usage)", "unicast-no-peers", fails_test=True)
    if i.owner_ignore_adverts and i.priority != 255:
        diags.warning(where(i, "owner_ignore_adverts"), f"({name}) owner_ignore_adverts is ignored since "
                      "priority is not 255", "ignored", fails_test=True)
    if i.timer_expired_backup and not i.nopreempt:
        diags.warning(where(i, "timer_expired_backup"), f"({name}) timer_expired_backup requires nopreempt",
                      "ignored", fails_test=True)
    if i.vrf is not None and i.interface is not None:
        diags.error(where(i, "vrf"), f"({name}) cannot specify VRF interface and interface - ignoring vrf",
                    "conflict")
        changes["vrf"] = None
    if (family == 6 and strict and not i.unicast_peers and i.virtual_ipaddress
            and not i.virtual_ipaddress[0].address.lower().startswith("fe80:")):
        diags.error(i.virtual_ipaddress[0].loc, f"({name}) the first IPv6 VIP address must be link local in "
                    "strict mode", "ipv6-link-local")
    if i.mcast_dst_ip is not None and i.unicast_peers:
        diags.warning(where(i, "mcast_dst_ip"), f"({name}) mcast_dst_ip given with unicast peers - ignoring",
                      "ignored", fails_test=True)

    if len(i.virtual_ipaddress) > 255:
        diags.error(where(i, "virtual_ipaddress"), f"({name}) {len(i.virtual_ipaddress)} VIPs exceed the 255 an "
                    "advert can carry - move some to virtual_ipaddress_excluded", "too-many-vips")
    # keepalived 2.4 vip_is_duplicate(): a VIP equal to an earlier VIP (any device), or an excluded
    # VIP equal to a VIP or excluded VIP on the same device, is reported and dropped
    vips: list[m.VirtualAddress] = []
    evips: list[m.VirtualAddress] = []
    for a in changes.get("virtual_ipaddress", i.virtual_ipaddress):
        if any(v.address == a.address for v in vips):
            diags.warning(a.loc, f"({name}) VIP {a.address} duplicates a VIP - ignoring", "duplicate",
                          fails_test=True)
        else:
            vips.append(a)
    for a in i.virtual_ipaddress_excluded:
        if any(v.address == a.address and v.dev == a.dev for v in (*vips, *evips)):
            diags.warning(a.loc, f"({name}) excluded VIP {a.address} duplicates a VIP - ignoring", "duplicate",
                          fails_test=True)
        else:
            evips.append(a)
    if len(vips) != len(changes.get("virtual_ipaddress", i.virtual_ipaddress)):
        changes["virtual_ipaddress"] = tuple(vips)
    if len(evips) != len(i.virtual_ipaddress_excluded):
        changes["virtual_ipaddress_excluded"] = tuple(evips)
    if not vips and not i.no_virtual_ipaddress:
        # keepalived counts only usable virtual_ipaddress entries here (excluded VIPs do not help)
        if version == 3 or strict:
            diags.error(i.loc, f"({name}) no VIP specified; at least one is required with VRRPv3 or strict "
                        "mode (or add no_virtual_ipaddress)", "no-vips")
        else:
            diags.warning(i.loc, f"({name}) no VIP specified; at least one is sensible (add "
                          "no_virtual_ipaddress if that is intended)", "no-vips", fails_test=True)
    for p in i.unicast_peers:
        if p.family != family:
            diags.error(p.loc, f"({name}) unicast peer {p.address} is not IPv{family} like the instance",
                        "family-mismatch")
        if p.min_ttl is not None and p.max_ttl is not None and p.min_ttl > p.max_ttl:
            diags.error(p.loc, f"({name}) unicast peer {p.address}: min_ttl {p.min_ttl} > max_ttl {p.max_ttl} - "
                        "all packets will be discarded", "out-of-range")
    if len({p.address for p in i.unicast_peers}) != len(i.unicast_peers):
        diags.warning(where(i, "unicast_peer"), f"({name}) duplicate unicast_peer", "duplicate", fails_test=True)
    for key, fam in (("unicast_src_ip", i.unicast_src_ip), ("mcast_src_ip", i.mcast_src_ip)):
        if fam is not None and (":" in fam) != (family == 6):
            diags.error(where(i, key), f"({name}) {key} {fam} does not match the instance's address family "
                        f"IPv{family}", "family-mismatch")

    _refs(name, i.track_scripts, scripts, "track_script", diags)
    _refs(name, i.track_files, files, "track_file", diags)
    _refs(name, i.track_processes, procs, "track_process", diags)
    _refs(name, i.track_bfds, bfds, "track_bfd", diags)
    seen_if: set[str] = set()
    tracked_if = []
    for r in i.track_interfaces:
        if r.name in seen_if:
            diags.warning(r.loc, f"({name}) duplicate track_interface {r.name} - ignoring", "duplicate",
                          fails_test=True)
        seen_if.add(r.name)
        if r.weight is not None and abs(r.weight) == 254:
            diags.error(r.loc, f"({name}) weight for {r.name} cannot be +/-254", "out-of-range")
        if i.interface is not None and r.name == i.interface:
            # the instance already follows its own interface (FAULT when it goes down)
            diags.warning(r.loc, f"({name}) Ignoring track_interface {r.name} since own interface", "ignored",
                          fails_test=True)
        elif i.priority == 255 and r.weight:
            diags.warning(r.loc, f"({name}) ignoring {r.name} tracked interface due to address owner",
                          "owner-weight", fails_test=True)
        else:
            tracked_if.append(r)
    if len(tracked_if) != len(i.track_interfaces):
        changes["track_interfaces"] = tuple(tracked_if)
    if i.priority == 255:
        # an address owner's priority cannot move: keepalived drops weighted trackers
        for field, what, weights in (("track_scripts", "script", scripts), ("track_files", "file", files)):
            kept = []
            first: dict[str, m.TrackRef] = {}
            for r in getattr(i, field):
                r0 = first.setdefault(r.name, r)     # a repeat counts as its first (reported apart)
                weight = r0.weight if r0.weight is not None else weights.get(r.name, 0)
                if weight is None:
                    diags.warning(r.loc, f"({name}) ignoring weight from tracked {what} {r.name} due to "
                                  "address_owner. specify weight 0", "owner-weight", fails_test=True)
                    kept.append(dataclasses.replace(r, weight=0))
                    continue
                if weight and r is not r0:
                    continue
                if weight:
                    text = "with weights" if what == "script" else f"with weight {weight}"
                    diags.warning(r.loc, f"({name}) ignoring tracked {what} {r.name} {text} due to "
                                  "address_owner", "owner-weight", fails_test=True)
                else:
                    kept.append(r)
            if tuple(kept) != getattr(i, field):
                changes[field] = tuple(kept)
    changed = {k: v for k, v in changes.items() if getattr(i, k) != v}
    # dataclasses.replace() is slow on an 80-field class: only pay for it when needed
    return dataclasses.replace(i, **changed) if changed else i


def _duplicate_vrids(instances: list[m.VrrpInstance], g: m.GlobalDefs, diags: Diagnostics) -> None:
    mcast: dict[tuple, m.VrrpInstance] = {}
    unicast: list[m.VrrpInstance] = []
    for i in instances:
        if i.vrid is None:
            continue
        if i.unicast_peers:
            for other in unicast:
                if other.vrid != i.vrid or other.family != i.family:
                    continue
                if i.interface and other.interface and i.interface != other.interface:
                    continue
                if i.unicast_src_ip and other.unicast_src_ip and i.unicast_src_ip != other.unicast_src_ip:
                    continue
                if {p.address for p in i.unicast_peers} & {p.address for p in other.unicast_peers}:
                    diags.error(i.loc, f"({i.name}) duplicate VRID conflict with {other.name} VRID {i.vrid}",
                                "duplicate-vrid")
            unicast.append(i)
            continue
        group = i.mcast_dst_ip or (g.vrrp_mcast_group6 if i.family == 6 else g.vrrp_mcast_group4)
        key = (i.interface, i.family, i.vrid, group)
        other = mcast.get(key)
        if other is not None:
            diags.error(i.loc, f"{other.name} and {i.name} both use VRID {i.vrid} with IPv{i.family} on "
                        f"interface {i.interface}", "duplicate-vrid")
        else:
            mcast[key] = i


def _sync_groups(cfg: m.Config, instances: list[m.VrrpInstance], diags: Diagnostics, where: Where,
                 scripts: dict[str, int], files: dict[str, int | None], procs: set[str], bfds: set[str]) -> None:
    by_name = {i.name: i for i in instances}
    member_of: dict[str, str] = {}
    for sg in cfg.sync_groups:
        found = []
        for member in sg.group:
            if member not in by_name:
                diags.error(where(sg, "group"), f"virtual router {member} specified in sync group {sg.name} "
                            "doesn't exist - ignoring", "undefined-reference")
                continue
            if member in member_of:
                diags.error(where(sg, "group"), f"virtual router {member} cannot exist in more than one sync "
                            f"group (already in {member_of[member]}); ignoring {sg.name}", "duplicate")
                continue
            member_of[member] = sg.name
            found.append(by_name[member])
        if not sg.group:
            diags.error(sg.loc, f"sync group {sg.name} has no 'group' members", "missing-parameter")
        elif not found:
            diags.error(sg.loc, f"sync group {sg.name}: no matching virtual router found", "undefined-reference")
        elif len(found) == 1:
            diags.warning(sg.loc, f"sync group {sg.name} has only 1 virtual router - this probably isn't what "
                          "you want", "sync-one", fails_test=True)
        owners = {i.priority == 255 for i in found}
        if len(owners) > 1:
            diags.error(sg.loc, f"sync group {sg.name} has some members as address owner and some not - this "
                        "won't work", "sync-owner")
        _refs(sg.name, sg.track_scripts, scripts, "track_script", diags)
        _refs(sg.name, sg.track_files, files, "track_file", diags)
        _refs(sg.name, sg.track_processes, procs, "track_process", diags)
        _refs(sg.name, sg.track_bfds, bfds, "track_bfd", diags)


def _virtual_server(vs: m.VirtualServer, groups: set[str], files: Container[str], diags: Diagnostics,
                    where: Where, bfds: Container[str] = ()) -> None:
    key = vs.key
    if vs.group is not None and vs.group not in groups:
        diags.error(vs.loc, f"virtual_server group '{vs.group}' is not defined (virtual_server_group)",
                    "undefined-reference")
    if vs.ip is not None and vs.port == 0 and vs.persistence_timeout is None:
        diags.error(vs.loc, f"virtual_server {vs.ip}: port 0 is only valid for persistent services "
                    "(persistence_timeout)", "out-of-range")
    seen: dict[tuple[str, int], m.RealServer] = {}
    for rs in vs.real_servers:
        k = (rs.ip, rs.port)
        if k in seen:
            diags.error(rs.loc, f"virtual_server {key}: real_server {rs.ip} {rs.port} defined twice",
                        "duplicate")
        seen[k] = rs
        if vs.lvs_method.method == "NAT" and vs.ip is not None and rs.port == 0 and vs.port != 0:
            pass
        for c in rs.checkers:
            if isinstance(c, m.FileCheck):
                if c.track_file is None:
                    diags.error(c.loc, "FILE_CHECK needs track_file", "missing-parameter")
                elif c.track_file not in files:
                    diags.error(c.loc, f"FILE_CHECK track_file '{c.track_file}' is not defined",
                                "undefined-reference")
            elif isinstance(c, m.HttpGet):
                if not c.urls:
                    diags.error(c.loc, f"{c.kind} has no url {{ }} block - nothing to check", "missing-parameter")
                for u in c.urls:
                    if u.path is None:
                        diags.error(u.loc, f"{c.kind} url has no path", "missing-parameter")
            elif isinstance(c, m.MiscCheck):
                if c.misc_path is None:
                    diags.error(c.loc, "MISC_CHECK has no misc_path", "missing-parameter")
            elif isinstance(c, m.BfdCheck):
                if c.name is None:
                    diags.error(c.loc, "BFD_CHECK needs a name", "missing-parameter")
                elif c.name not in bfds:
                    diags.error(c.loc, f"BFD_CHECK - BFD {c.name} not configured", "undefined-reference")
            elif isinstance(c, m.UdpCheck):
                if c.min_reply_length > c.max_reply_length:
                    diags.error(c.loc, "UDP_CHECK min_reply_length exceeds max_reply_length", "out-of-range")


def all_scripts(cfg: m.Config) -> list[m.ScriptCall]:
    """Every script the configuration would run (notify, vrrp_script, checker, quorum...)."""
    out: list[m.ScriptCall] = []

    def add(*items) -> None:
        out.extend(x for x in items if x is not None)

    g = cfg.global_defs
    add(g.startup_script, g.shutdown_script)
    for fifo in (g.notify_fifo, g.vrrp_notify_fifo, g.lvs_notify_fifo):
        if fifo is not None:
            add(fifo.script)
    for s in cfg.vrrp_scripts:
        add(s.script)
    for sg in cfg.sync_groups:
        add(sg.notify_master, sg.notify_backup, sg.notify_fault, sg.notify_stop, sg.notify_deleted, sg.notify)
    for i in cfg.instances:
        add(i.notify_master, i.notify_backup, i.notify_fault, i.notify_stop, i.notify_deleted, i.notify,
            i.notify_master_rx_lower_pri)
    for vs in cfg.virtual_servers:
        add(vs.quorum_up, vs.quorum_down)
        for rs in vs.real_servers:
            add(rs.notify_up, rs.notify_down)
            for c in rs.checkers:
                if isinstance(c, m.MiscCheck):
                    add(c.misc_path)
    return out


def _user_exists(user: str) -> bool:
    import pwd
    try:
        if user.isdigit():
            pwd.getpwuid(int(user))
        else:
            pwd.getpwnam(user)
    except (KeyError, OverflowError):
        return False
    return True


def _program_found(s: m.ScriptCall) -> bool:
    import os
    import shutil
    prog = s.argv[0] if s.argv else s.command
    if not prog:
        return False
    if prog[0] in "<>":
        return True         # a redirection "script" (</dev/tcp/...): nothing to look up
    return os.access(prog, os.X_OK) if "/" in prog else shutil.which(prog) is not None


def check_scripts(cfg: m.Config, diags: Diagnostics, where: Where | None = None) -> None:
    """keepalived's script checks as `keepalived -t` shows them (main.c, vrrp.c, check_data.c):

    * a script user that does not exist is an error ("Unable to set uid/gid");
    * a vrrp_script that some instance or sync group tracks, whose program cannot be found,
      is disabled ("Disabling track script ... since not found/accessible"); vrrp_scripts are
      only looked at when the configuration has vrrp_instances;
    * notify and other scripts that cannot be found are dropped silently by keepalived; kvrrp
      says so in a warning that does not fail the test;
    * if any script that can run remains and enable_script_security is off, keepalived reports
      a SECURITY VIOLATION and `-t` exits 6.
    """
    g = cfg.global_defs
    if g.script_user is not None and not _user_exists(g.script_user):
        diags.error(g.loc, f"script_user '{g.script_user}' does not exist - cannot set the global script "
                    "uid/gid", "script-user")
    if g.enable_script_security and g.script_user is None and not _user_exists("keepalived_script"):
        # with script security, scripts (and fifos) without their own user run as keepalived_script
        # keepalived reads in order: a fifo only needs the default user if script security was on
        # when the fifo line was read
        sec = where(g, "enable_script_security") if where else None

        def after_security(kw: str) -> bool:
            loc = where(g, kw) if where else None
            return sec is None or loc is None or (loc.file, loc.line) > (sec.file, sec.line)

        fifos = [f for kw, f in (("notify_fifo", g.notify_fifo), ("vrrp_notify_fifo", g.vrrp_notify_fifo),
                                 ("lvs_notify_fifo", g.lvs_notify_fifo))
                 if f is not None and after_security(kw)]
        userless = [s for s in all_scripts(cfg) if s.user is None
                    and not any(vs.script is s and vs.user for vs in cfg.vrrp_scripts)]
        if userless or any(f.user is None for f in fifos):
            diags.error(userless[0].loc if userless else g.loc, "unable to set default user keepalived_script for "
                        "scripts (no such user): set script_user in global_defs", "script-user")
    tracked = {r.name for i in cfg.instances for r in i.track_scripts}
    tracked |= {r.name for sg in cfg.sync_groups for r in sg.track_scripts}
    runnable = 0
    first_runnable: m.ScriptCall | None = None
    for vs in cfg.vrrp_scripts:
        if vs.user is not None and not _user_exists(vs.user):
            diags.error(vs.loc, f"vrrp_script {vs.name}: user '{vs.user}' does not exist - unable to set "
                        "uid/gid for the script", "script-user")
            continue
        if vs.script is None or not cfg.instances:
            continue            # keepalived -t only looks at vrrp_scripts when VRRP will run
        if _program_found(vs.script):
            runnable += 1
            first_runnable = first_runnable or vs.script
        elif vs.name in tracked:
            prog = vs.script.argv[0] if vs.script.argv else vs.script.command
            diags.warning(vs.script.loc, f"disabling track script {vs.name} since '{prog}' is not found or not "
                          "executable", "script-missing", fails_test=True)
    script_ids = {id(s.script) for s in cfg.vrrp_scripts}
    for s in all_scripts(cfg):
        if id(s) in script_ids:
            continue
        if _program_found(s):
            runnable += 1
            first_runnable = first_runnable or s
        else:
            prog = s.argv[0] if s.argv else s.command
            diags.warning(s.loc, f"script '{prog}' not found or not executable - it will not be run",
                          "script-missing", fails_test=False)
    if runnable and not g.enable_script_security:
        diags.warning(first_runnable.loc if first_runnable else None,
                      "SECURITY VIOLATION - scripts are being executed but script_security not enabled "
                      "(add enable_script_security to global_defs)", "security", fails_test=True)


def _check_auth_hmac(i: m.VrrpInstance, name: str, strict: bool, adv: float, diags: Diagnostics,
                     changes: dict, hloc: m.Location | None) -> None:
    """keepalived's vrrp.c checks for auth_hmac, in its order and with its messages."""
    ah = i.auth_hmac
    assert ah is not None
    if i.authentication is not None:
        diags.error(hloc, f"({name}) auth_hmac cannot be combined with authentication, dropping legacy auth",
                    "auth-hmac-legacy")
        changes["authentication"] = None
    if ah.active_key is None or all(k != ah.active_key for k, _ in ah.keys):
        shown = 0 if ah.active_key is None else ah.active_key
        diags.error(hloc, f"({name}) auth_hmac active_key {shown} is not defined, disabling extension",
                    "auth-hmac-active-key")
        changes["auth_hmac"] = None
        return
    fixed: dict = {}
    if strict and ah.mode != "enforce":
        diags.error(hloc, f"({name}) strict mode requires auth_hmac mode enforce", "auth-hmac-strict")
        fixed["mode"] = "enforce"
    if ah.anti_replay == "time" and ah.time_window is None:
        fixed["time_window"] = auth_hmac.default_window(adv)
    if fixed:
        changes["auth_hmac"] = dataclasses.replace(ah, **fixed)
