"""keepalived-style dumps of the VRRP engine, as text (no file I/O: the daemon writes them).

format_stats  -> what keepalived writes to /tmp/keepalived.stats on SIGUSR2 (vrrp_print_stats)
format_data   -> the VRRP part of /tmp/keepalived.data on SIGUSR1 (dump_vrrp / dump_sync_group)
keepalived_json -> the list keepalived writes to /tmp/keepalived.json (vrrp_json.c schema)
status        -> a JSON-ready dict (keepalived's json dump field names where they exist)
Monotonic engine times are shown as wall-clock times: `wall_now` and `mono_now` (defaults:
time.time() and the engine's clock) anchor the conversion, so tests can pin them.
"""
from __future__ import annotations

import time

from kvrrp import fastpath
from kvrrp.vrrp import operate
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.instance import VrrpInstanceRuntime
from kvrrp.io.ports import AddressSpec
from kvrrp.vrrp.settings import AUTH_PASS


def format_stats(engine, clear: bool = False) -> str:
    """keepalived's stats text; clear=True zeroes the counters afterwards (keepalived -S/STATS_CLEAR)."""
    lines: list[str] = []
    for inst in engine.instances.values():
        st = inst.stats
        lines += [
            f"VRRP Instance: {inst.name}",
            "  Advertisements:",
            f"    Received: {st.advert_rcvd}",
            f"    Sent: {st.advert_sent}",
            f"  Became master: {st.become_master}",
            f"  Released master: {st.release_master}",
            "  Packet Errors:",
            f"    Length: {st.packet_len_err}",
            f"    TTL: {st.ip_ttl_err}",
            f"    Invalid Type: {st.invalid_type_rcvd}",
            f"    Advertisement Interval: {st.advert_interval_err}",
            f"    Address List: {st.addr_list_err}",
            "  Authentication Errors:",
            f"    Invalid Type: {st.invalid_authtype}",
            f"    Type Mismatch: {st.authtype_mismatch}",
            f"    Failure: {st.auth_failure}",
        ]
        if inst.hmac is not None:
            # keepalived 2.4 prints these always; only with auth_hmac here, so the dump of any
            # config 2.2.7 can run stays what 2.2.7 writes
            d = st.drops
            lines += ["  Authentication Extension Errors:",
                      f"    Missing: {d.get('auth_ext_missing', 0)}",
                      f"    Malformed: {d.get('auth_ext_malformed', 0)}",
                      f"    Unknown Key: {d.get('auth_ext_unknown_key', 0)}",
                      f"    Invalid HMAC: {d.get('auth_ext_invalid_hmac', 0)}",
                      f"    Stale: {d.get('auth_ext_stale', 0)}",
                      f"    Replay: {d.get('auth_ext_replay', 0)}"]
        lines += [
            "  Priority Zero:",
            f"    Received: {st.pri_zero_rcvd}",
            f"    Sent: {st.pri_zero_sent}",
        ]
        if clear:
            st.clear()
    return "".join(line + "\n" for line in lines)


def _wall(mono: float | None, wall_now: float, mono_now: float) -> float | None:
    return None if mono is None else wall_now - (mono_now - mono)


def _timestamp(t: float | None) -> str:
    if t is None:
        return "0.000000"
    sec = int(t)
    usec = int(round((t - sec) * 1_000_000))
    if usec == 1_000_000:
        sec, usec = sec + 1, 0
    return f"{sec}.{usec:06d} ({time.strftime('%a %b %e %H:%M:%S %Y', time.localtime(sec))})"


def format_address(spec: AddressSpec) -> str:
    """keepalived format_ipaddress: ADDR/PREFIX [brd B] dev IF scope S [label L] [peer P] [-nodad]."""
    out = f"{spec.address}/{spec.prefixlen}"
    if spec.family == 4 and spec.broadcast:
        out += f" brd {spec.broadcast}"
    out += f" dev {spec.ifname} scope {spec.scope or 'global'}"
    if spec.label:
        out += f" label {spec.label}"
    if spec.peer:
        out += f" peer {spec.peer}/{spec.prefixlen}"
    if spec.nodad:
        out += " -nodad"
    return out


def _instance_lines(inst: VrrpInstanceRuntime, wall_now: float, mono_now: float) -> list[str]:
    s = inst.settings
    w = [f" VRRP Instance = {inst.name}", f"   VRRP Version = {s.version}"]
    if inst.sync is not None:
        w.append(f"   Sync group = {inst.sync.name}")
    if s.family == 6:
        w.append("   Using Native IPv6")
    w.append(f"   State = {inst.state.value}")
    if inst.state is State.BACKUP:
        w.append(f"   Master router = {inst.master_address or '(none)'}")
        w.append(f"   Master priority = {inst.master_priority or 0}")
        if s.version == 3:
            w.append(f"   Master advert interval = {round(inst.master_adver_int * 1000)} milli-sec")
    if s.is_unicast:
        w += ["   Flags:", "     Using unicast"]
    else:
        w.append("   Flags: none")
    w.append(f"   Wantstate = {'MASTER' if inst.want_master else inst.state.value}")
    w.append(f"   Number of tracker faults = {len(inst.tracker_faults)}")
    w.append(f"   Last transition = {_timestamp(_wall(inst.last_transition, wall_now, mono_now))}")
    deadline = inst.deadline()
    if deadline is None:
        w.append("   Read timeout = DISABLED")
    else:
        w.append(f"   Read timeout = {_timestamp(_wall(deadline, wall_now, mono_now))}")
    w.append(f"   Master down timer = {round(inst.master_down_interval() * 1_000_000)} usecs")
    w.append(f"   Interface = {s.ifname}")
    if s.skip_check_adv_addr:
        w.append("   Skip checking advert IP addresses")
    src = s.unicast_src_ip or inst.own_address
    w.append(f"   Using src_ip = {src or '(none)'}{' (from configuration)' if s.unicast_src_ip else ''}")
    if not s.is_unicast:
        w.append(f"   Multicast address {s.group}")
    w += [
        f"   Gratuitous ARP delay = {int(s.garp_master_delay)}",
        f"   Gratuitous ARP repeat = {s.garp_master_repeat}",
        f"   Gratuitous ARP refresh = {int(s.garp_master_refresh)}",
        f"   Gratuitous ARP refresh repeat = {s.garp_master_refresh_repeat}",
        f"   Gratuitous ARP lower priority delay = {int(s.garp_lower_prio_delay)}",
        f"   Gratuitous ARP lower priority repeat = {s.garp_lower_prio_repeat}",
        f"   Down timer adverts = {s.down_timer_adverts}",
        f"   Send advert after receive lower priority advert = {'false' if s.lower_prio_no_advert else 'true'}",
        f"   Send advert after receive higher priority advert = {'true' if s.higher_prio_send_advert else 'false'}",
        f"   Virtual Router ID = {s.vrid}",
        f"   Priority = {s.priority}",
        f"   Effective priority = {inst.effective_priority}",
        f"   Total priority = {s.priority + sum(inst.tracker_weights.values())}",
    ]
    if not s.preempt:
        w.append(f"   Highest other priority = {inst.master_priority or 0}")
    if s.version == 2:
        w.append(f"   Advert interval = {int(s.adver_int)} sec")
    else:
        w.append(f"   Advert interval = {round(s.adver_int * 1000)} milli-sec")
    sent = _wall(inst.last_advert_sent, wall_now, mono_now)
    w.append(f"   Last advert sent = {'0.000000' if sent is None else f'{sent:.6f}'}")
    w.append(f"   Preempt = {'enabled' if s.preempt else 'disabled'}")
    if s.preempt_delay:
        w.append(f"   Preempt delay = {s.preempt_delay:g} secs")
    if s.version == 2:
        if s.auth_type == AUTH_PASS:
            w += ["   Authentication type = SIMPLE_PASSWORD", "   Password = ********"]
        else:
            w.append("   Authentication type = none")
    if inst.hmac is not None:
        h = inst.hmac
        w += ["   Authentication extension = HMAC-SHA256-128",
              f"     Keys = {len(h.keys)}, active key id = {h.active_key}",
              f"     Mode = {h.mode.value}",
              f"     Anti replay = time, window = {h.time_window} sec" if h.anti_replay_time
              else "     Anti replay = monotonic"]
    if s.vips:
        w.append(f"   Virtual IP ({len(s.vips)}):")
        w += [f"     {format_address(v)}" for v in s.vips]
    if s.excluded_vips:
        w.append("   Virtual IP Excluded :")
        w += [f"     {format_address(v)}" for v in s.excluded_vips]
    if s.is_unicast:
        w.append(f"   Check unicast src : {'yes' if s.check_unicast_src else 'no'}")
        w.append("   Unicast Peer :")
        ttl = {peer: (lo, hi) for peer, lo, hi in s.unicast_peer_ttl}
        w += [f"     {p} min_ttl {ttl.get(p, (0, 255))[0]} max_ttl {ttl.get(p, (0, 255))[1]}"
              for p in s.unicast_peers]
    return w


def format_data(engine, wall_now: float | None = None, mono_now: float | None = None) -> str:
    wall_now = time.time() if wall_now is None else wall_now
    mono_now = engine.now() if mono_now is None else mono_now
    lines: list[str] = []
    if engine.instances:
        lines.append("------< VRRP Topology >------")
        for inst in engine.instances.values():
            lines += _instance_lines(inst, wall_now, mono_now)
    if engine.sync_groups:
        lines.append("------< VRRP Sync groups >------")
        for group in engine.sync_groups.values():
            faults = sum(1 for m in group.members if m.state is State.FAULT)
            lines.append(f" VRRP Sync Group = {group.name}, {group.state.value}")
            lines.append(f"   Num member fault {faults}, num member init "
                         f"{sum(1 for m in group.members if m.state is State.INIT)}")
            if group.members:
                lines.append("   VRRP member instances :")
                lines += [f"     {m.name}" for m in group.members]
    return "".join(line + "\n" for line in lines)


def instance_status(inst: VrrpInstanceRuntime) -> dict:
    s = inst.settings
    return {
        "data": {
            "iname": inst.name,
            "ifp_ifname": s.ifname,
            "vrid": s.vrid,
            "version": s.version,
            "family": s.family,
            "state": inst.state.value,
            "wantstate": "MASTER" if inst.want_master else inst.state.value,
            "base_priority": s.priority,
            "effective_priority": inst.effective_priority,
            "master_priority": inst.master_priority,
            "master_address": inst.master_address,
            "adver_int": s.adver_int,
            "master_adver_int": inst.master_adver_int,
            "nopreempt": not s.preempt,
            "preempt_delay": s.preempt_delay,
            "skip_check_adv_addr": s.skip_check_adv_addr,
            "lower_prio_no_advert": s.lower_prio_no_advert,
            "higher_prio_send_advert": s.higher_prio_send_advert,
            "garp_delay": s.garp_master_delay,
            "garp_rep": s.garp_master_repeat,
            "garp_refresh": s.garp_master_refresh,
            "garp_refresh_rep": s.garp_master_refresh_repeat,
            "garp_lower_prio_delay": s.garp_lower_prio_delay,
            "garp_lower_prio_rep": s.garp_lower_prio_repeat,
            "vipset": inst.vips_set,
            "vips": [format_address(v) for v in s.vips],
            "evips": [format_address(v) for v in s.excluded_vips],
            "unicast_peers": list(s.unicast_peers),
            "sync_group": inst.sync.name if inst.sync is not None else None,
            "tracker_faults": len(inst.tracker_faults),
            "maintenance": operate.in_maintenance(inst),
            "hand_over": operate.handing_over(inst),
            "time_in_state": None if inst.last_transition is None else round(inst.ctx.now() - inst.last_transition, 3),
            "auth_type": s.auth_type,
        },
        "stats": inst.stats.as_dict(),
        "trackers": {"faults": sorted(map(str, inst.tracker_faults)),
                     "weights": {str(k): v for k, v in inst.tracker_weights.items()}},
    }


def status(engine) -> dict:
    """JSON-ready status of the whole engine."""
    return {
        "fastpath": fastpath.IMPLEMENTATION,
        "instances": [instance_status(i) for i in engine.instances.values()],
        "sync_groups": [{"name": g.name, "state": g.state.value, "members": [m.name for m in g.members]}
                        for g in engine.sync_groups.values()],
        "drops": dict(engine.drops),
    }


# keepalived's numeric states (vrrp.h) for its JSON dump
KEEPALIVED_STATE_NUMBER = {State.INIT: 0, State.BACKUP: 1, State.MASTER: 2, State.FAULT: 3,
                           State.DELETED: 97, State.STOP: 98}
_JSON_STATS = ("advert_rcvd", "advert_sent", "become_master", "release_master", "packet_len_err",
               "advert_interval_err", "ip_ttl_err", "invalid_type_rcvd", "addr_list_err",
               "invalid_authtype", "authtype_mismatch", "auth_failure", "pri_zero_rcvd", "pri_zero_sent")


_AUTH_EXT = ("auth_ext_missing", "auth_ext_malformed", "auth_ext_unknown_key", "auth_ext_invalid_hmac",
             "auth_ext_stale", "auth_ext_replay")


def keepalived_json(engine, wall_now: float | None = None, mono_now: float | None = None) -> list[dict]:
    """The array keepalived writes to keepalived.json: one {"data": ..., "stats": ...} per instance."""
    wall_now = time.time() if wall_now is None else wall_now
    mono_now = engine.now() if mono_now is None else mono_now
    out = []
    for inst in engine.instances.values():
        s = inst.settings
        last = _wall(inst.last_transition, wall_now, mono_now)
        state = KEEPALIVED_STATE_NUMBER[inst.state]
        data = {
            "iname": inst.name,
            "dont_track_primary": 0,
            "skip_check_adv_addr": int(s.skip_check_adv_addr),
            "ifp_ifname": s.ifname,
            "master_priority": inst.master_priority or 0,
            "last_transition": last if last is not None else 0.0,
            "garp_delay": float(s.garp_master_delay),
            "garp_refresh": int(s.garp_master_refresh),
            "garp_rep": s.garp_master_repeat,
            "garp_refresh_rep": s.garp_master_refresh_repeat,
            "garp_lower_prio_delay": int(s.garp_lower_prio_delay),
            "garp_lower_prio_rep": s.garp_lower_prio_repeat,
            "lower_prio_no_advert": int(s.lower_prio_no_advert),
            "higher_prio_send_advert": int(s.higher_prio_send_advert),
            "vrid": s.vrid,
            "base_priority": s.priority,
            "effective_priority": inst.effective_priority,
            "vipset": inst.vips_set,
            "promote_secondaries": False,
            "adver_int": float(s.adver_int),
            "master_adver_int": float(inst.master_adver_int),
            "nopreempt": not s.preempt,
            "preempt_delay": int(s.preempt_delay),
            "state": state,
            "wantstate": KEEPALIVED_STATE_NUMBER[State.MASTER] if inst.want_master else state,
            "version": s.version,
            "vips": [format_address(v) for v in s.vips],
            "evips": [format_address(v) for v in s.excluded_vips],
            "auth_type": s.auth_type,
        }
        stats = {name: getattr(inst.stats, name) for name in _JSON_STATS}
        if inst.hmac is not None:        # keepalived 2.4's auth_ext_* counters
            stats.update((r, inst.stats.drops.get(r, 0)) for r in _AUTH_EXT)
        out.append({"data": data, "stats": stats})
    return out
