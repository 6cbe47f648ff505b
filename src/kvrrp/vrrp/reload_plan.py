"""What a reload does to an instance whose settings changed: update it in place, or restart it.

A restart is a stop (a master sends priority 0 and drops its VIPs) and a start from INIT: on a
master, a full failover and failback. Only what changes the instance's identity on the wire or
its socket needs one; everything else is applied to the running instance, keeping its state,
timers and counters (kvrrp.vrrp.instance.VrrpInstanceRuntime.update_settings).

Restart (RESTART_FIELDS, or a change of unicast vs multicast, or into or out of being the
address owner, priority 255): interface, VRID, address family, VRRP version, use_vmac
interface and vmac_xmit_base, multicast group, sync group, advert_int, unicast_fault_no_peer,
the old-unicast-checksum mode.

In place: priority (a master sends its next advert with the new priority at once; a lower
one may then lose the election to a backup - the protocol's doing, not the reload's),
preempt / nopreempt / preempt_delay, virtual and excluded addresses (a master adds the new ones
with gratuitous ARP / NA and removes the dropped ones), unicast peers, unicast_src_ip,
authentication, TTL checks, the GARP/NA timings, down_timer_adverts, lower_prio_no_advert,
higher_prio_send_advert, skip_check_adv_addr, owner_ignore_adverts. Trackers and their
weights, and notify scripts, are not instance settings at all: the tracking and notify
layers re-read them on every reload (kvrrp.track, kvrrp.notify) and push only changes.
"""
from __future__ import annotations

from dataclasses import fields

from kvrrp.vrrp.settings import InstanceSettings

KEPT = "kept"
IN_PLACE = "in_place"
RESTART = "restart"

RESTART_FIELDS = frozenset({
    "name", "ifname", "vrid", "family", "version", "vmac_ifname", "vmac_xmit_base", "mcast_group",
    "sync_group", "adver_int", "fault_no_peer", "unicast_checksum_compat", "compat_group",
    "config_fault",
})


def changed_fields(old: InstanceSettings, new: InstanceSettings) -> list[str]:
    return [f.name for f in fields(InstanceSettings) if getattr(old, f.name) != getattr(new, f.name)]


def classify(old: InstanceSettings, new: InstanceSettings) -> str:
    if old == new:
        return KEPT
    if old.is_unicast != new.is_unicast or old.is_owner != new.is_owner:
        return RESTART
    if RESTART_FIELDS.intersection(changed_fields(old, new)):
        return RESTART
    return IN_PLACE
