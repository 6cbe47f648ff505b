"""global_defs keywords (keepalived's global_parser.c)."""
from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from kvrrp.config import model as m
from kvrrp.config.kw_handlers import (Fields, Handler, _deprecated, _extra, _set_flag, _set_int, _set_repeat,
                                      _set_script, _set_seconds, _set_str, _set_timer)
from kvrrp.config.tree import Node

if TYPE_CHECKING:
    from kvrrp.config.parser import Parser


# ---- global_defs -------------------------------------------------------------------------------

def _g_email(p: Parser, node: Node, g: Fields) -> None:
    words = p.value_words(node)
    if not words:
        p.diags.warning(node.kw.loc, "Warning - empty notification_email block", "empty-block", fails_test=True)
    g.setdefault("notification_email", []).extend(t.text for t in words)


def _g_smtp_server(p: Parser, node: Node, g: Fields) -> None:
    if p.r.need(node.kw, node.args):
        g["smtp_server"] = node.args[0].text
        if len(node.args) > 1:
            port = p.r.int(node.args[1], 1, 65535, "smtp port")
            if port is not None:
                g["smtp_server_port"] = port


def _g_script_user(p: Parser, node: Node, g: Fields) -> None:
    if p.r.need(node.kw, node.args):
        user = node.args[0].text
        group = node.args[1].text.lstrip(":") if len(node.args) > 1 else None
        if ":" in user and group is None:
            user, _, group = user.partition(":")
        g["script_user"] = user
        g["script_group"] = group or None


def _g_fifo(field: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        if g.get(field) is not None and g[field].path:
            p.diags.warning(node.kw.loc, f"{node.kw.text} already specified - ignoring", "conflict", fails_test=True)
            return
        if p.r.need(node.kw, node.args):
            a = node.args
            old = g.get(field)
            g[field] = m.NotifyFifo(path=a[0].text, user=a[1].text if len(a) > 1 else None,
                                    group=a[2].text if len(a) > 2 else None,
                                    script=old.script if old else None)
    return h


def _g_fifo_script(field: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        s = p.script(node)
        if s is None:
            return
        old = g.get(field)
        if old is None:
            p.diags.warning(node.kw.loc, f"'{node.kw.text}' given before its fifo - the fifo must be "
                            "defined first", "order", fails_test=False)
            old = m.NotifyFifo(path="")
        g[field] = m.NotifyFifo(path=old.path, user=old.user, group=old.group, script=s)
    return h


def _g_lvs_sync_daemon(p: Parser, node: Node, g: Fields) -> None:
    a = node.args
    if not p.r.need(node.kw, a):
        return
    v: Fields = {"interface": a[0].text, "loc": node.kw.loc}
    i = 1
    if i < len(a) and a[i].text not in ("id", "maxlen", "port", "ttl", "group", "inst"):
        v["instance"] = a[i].text
        i += 1
        if i < len(a) and a[i].text.isdigit():
            # the old form `lvs_sync_daemon IF INSTANCE SYNCID`, still accepted by keepalived
            p.diags.warning(a[i].loc, 'Please use keyword "id" before lvs_sync_daemon SYNCID',
                            "deprecated", fails_test=False)
            v["sync_id"] = p.r.int(a[i], 0, 255, "sync id")
            i += 1
    while i < len(a):
        w = a[i].text
        if i + 1 >= len(a):
            p.diags.error(a[i].loc, f"lvs_sync_daemon '{w}' needs a value", "missing-parameter")
            break
        t = a[i + 1]
        if w == "inst":
            v["instance"] = t.text
        elif w == "id":
            v["sync_id"] = p.r.int(t, 0, 255, "sync id")
        elif w == "maxlen":
            v["maxlen"] = p.r.int(t, 1, 65535 - 20 - 8, "maxlen")
        elif w == "port":
            v["port"] = p.r.port(t)
        elif w == "ttl":
            v["ttl"] = p.r.int(t, 1, 255, "ttl")
        elif w == "group":
            ip = p.r.ip(t, "sync group")
            if ip and not ipaddress.ip_address(ip[0]).is_multicast:
                p.diags.error(t.loc, f"lvs_sync_daemon group address {t.text} is not multicast - ignoring",
                              "bad-value")
            elif ip:
                v["group"] = ip[0]
        else:
            p.diags.error(a[i].loc, f"unknown lvs_sync_daemon option '{w}'", "bad-option")
        i += 2
    g["lvs_sync_daemon"] = m.LvsSyncDaemon(**v)
    p.extra(node, g)


def _g_lvs_timeouts(p: Parser, node: Node, g: Fields) -> None:
    a = node.args
    v: Fields = {}
    for i in range(0, len(a) - 1, 2):
        k = a[i].text
        if k in ("tcp", "tcpfin", "udp"):
            v[k] = p.r.int(a[i + 1], 0, 86400 * 31, f"lvs_timeouts {k}")
        else:
            p.diags.error(a[i].loc, f"unknown lvs_timeouts option '{k}'", "bad-option")
    if len(a) % 2:
        p.diags.error(a[-1].loc, "lvs_timeouts takes pairs: tcp N tcpfin N udp N", "missing-parameter")
    g["lvs_timeouts"] = m.LvsTimeouts(**v)
    p.extra(node, g)


def _g_flush_on_stop(p: Parser, node: Node, g: Fields) -> None:
    g["lvs_flush_on_stop"] = True
    if node.args:
        if node.args[0].text == "VS":
            g["lvs_flush_on_stop_vs_only"] = True
        else:
            p.diags.error(node.args[0].loc, f"unexpected '{node.args[0].text}' (expected VS)", "bad-option")


def _g_extra_if(p: Parser, node: Node, g: Fields, prefix: str = "vrrp_") -> None:
    a = list(node.args)
    if a and a[0].text == "all":
        g[prefix + "garp_extra_if_all"] = True
        a = a[1:]
    if a:
        v = p.r.int(a[0], 1, 86400, node.kw.text)          # whole seconds, as keepalived reads them
        if v is not None:
            g[prefix + "garp_extra_if"] = float(v)
    else:
        p.diags.error(node.kw.loc, f"'{node.kw.text}' needs an interval", "missing-parameter")


def _g_smtp_timeout(p: Parser, node: Node, g: Fields) -> None:
    """Whole seconds 0..4294; keepalived turns 0 into 1 and says so."""
    if p.one_value(node):
        v = p.r.int(node.args[0], 0, 4294, node.kw.text)
        if v == 0:
            p.diags.warning(node.args[0].loc, "smtp_connect_timeout must be greater than 0, setting to 1",
                            "out-of-range", fails_test=True)
            v = 1
        if v is not None:
            g["smtp_connect_timeout"] = float(v)


def _g_vmac_prefix(p: Parser, node: Node, g: Fields) -> None:
    if p.one_value(node):
        if "vmac_prefix" in g.get("_kw_seen", ()):
            p.diags.warning(node.args[0].loc, f"vmac prefix has already been specified - ignoring "
                            f"{node.args[0].text}", "conflict", fails_test=True)
            return
        g.setdefault("_kw_seen", set()).add("vmac_prefix")
        g["vmac_prefix"] = node.args[0].text


def _g_nftables(p: Parser, node: Node, g: Fields) -> None:
    g["nftables"] = node.args[0].text if node.args else "keepalived"


def _g_iptables_to_nftables(p: Parser, node: Node, g: Fields) -> None:
    # what keepalived builds without iptables support (Debian's among them) say and do
    p.diags.warning(node.kw.loc, "iptables not supported, using nftables instead. Please replace "
                    "'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option", "iptables",
                    fails_test=True)
    g.setdefault("nftables", "keepalived")


def _g_dynamic_interfaces(p: Parser, node: Node, g: Fields) -> None:
    g["dynamic_interfaces"] = True
    if node.args:
        if node.args[0].text == "allow_if_changes":
            g["dynamic_interfaces_allow_if_changes"] = True
        else:
            p.diags.error(node.args[0].loc, f"unexpected '{node.args[0].text}'", "bad-option")


def _g_reload_check(p: Parser, node: Node, g: Fields) -> None:
    g["reload_check_config"] = node.args[0].text if node.args else ""


def _g_version(p: Parser, node: Node, g: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = p.r.int(node.args[0], 2, 3, "vrrp_version")
        if v is not None:
            g["vrrp_version"] = v


def _g_mcast(field: str, fam: int) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        if p.r.need(node.kw, node.args):
            ip = p.r.ip(node.args[0], node.kw.text)
            if ip is None:
                return
            import ipaddress
            if ip[1] != fam or not ipaddress.ip_address(ip[0]).is_multicast:
                p.diags.error(node.args[0].loc, f"{node.kw.text} must be an IPv{fam} multicast address",
                              "bad-ip")
                return
            g[field] = ip[0]
    return h


def _g_json_version(p: Parser, node: Node, g: Fields) -> None:
    if p.r.need(node.kw, node.args):
        v = p.r.int(node.args[0], 1, 2, "json_version")
        if v is not None:
            g["json_version"] = v


def _g_startup(field: str) -> Handler:
    return _set_script(field)


def _g_snmp(field: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        g[field] = True
        p.extra(node, g) if node.args else None
    return h


def _g_snmp_socket(p: Parser, node: Node, g: Fields) -> None:
    """keepalived's snmp_socket: one net-snmp transport string; the first one given wins."""
    p.no_block(node)
    if not node.args:
        p.diags.error(node.kw.loc, "SNMP error : snmp socket name missing", "missing-parameter")
        return
    if len(node.args) > 1:
        p.diags.error(node.kw.loc, "Too many parameters specified for snmp_socket - ignoring", "extra-parameter")
        return
    if g.get("snmp_socket") is not None:
        p.diags.warning(node.args[0].loc, f"SNMP socket already set to {g['snmp_socket']} - ignoring",
                        "conflict", fails_test=True)
        return
    g["snmp_socket"] = node.args[0].text


def _g_snmp_interval(field: str) -> Handler:
    """snmp_vs/rs_stats_update_interval: how old the IPVS counters the MIB serves may be,
    1 ms .. 30 s (keepalived's range)."""
    def h(p: Parser, node: Node, g: Fields) -> None:
        p.no_block(node)
        if p.one_value(node):
            v = p.r.timer(node.args[0], 0.001, 30.0, node.kw.text)
            if v is not None:
                g[field] = v
    return h


def _g_lower_prio(p: Parser, node: Node, g: Fields) -> None:
    v = p.r.flag(node.kw, node.args)
    if v is not None:
        g["vrrp_lower_prio_no_advert"] = v


GLOBAL: dict[str, Handler] = {
    "router_id": _set_str("router_id"),
    "notification_email": _g_email,
    "notification_email_from": _set_str("notification_email_from"),
    "smtp_server": _g_smtp_server,
    "smtp_helo_name": _set_str("smtp_helo_name"),
    "smtp_connect_timeout": _g_smtp_timeout,
    "smtp_alert": _set_flag("smtp_alert"),
    "smtp_alert_vrrp": _set_flag("smtp_alert_vrrp"),
    "smtp_alert_checker": _set_flag("smtp_alert_checker"),
    "no_email_faults": _set_flag("no_email_faults"),
    "checker_log_all_failures": _set_flag("checker_log_all_failures"),
    "default_interface": _set_str("default_interface"),
    "vrrp_mcast_group4": _g_mcast("vrrp_mcast_group4", 4),
    "vrrp_mcast_group6": _g_mcast("vrrp_mcast_group6", 6),
    "vrrp_garp_master_delay": _set_seconds("vrrp_garp_master_delay", 4294),
    "vrrp_garp_master_repeat": _set_repeat("vrrp_garp_master_repeat"),
    "vrrp_garp_lower_prio_delay": _set_seconds("vrrp_garp_lower_prio_delay", 4294),
    "vrrp_garp_lower_prio_repeat": _set_int("vrrp_garp_lower_prio_repeat", 0, 2147483647),
    "vrrp_garp_master_refresh": _set_seconds("vrrp_garp_master_refresh", 4294967295),
    "vrrp_garp_master_refresh_repeat": _set_repeat("vrrp_garp_master_refresh_repeat"),
    # keepalived requires at least 1us here (0 is rejected, even though 0 is the default)
    "vrrp_garp_interval": _set_timer("vrrp_garp_interval", 0.000001, 4294.967295),
    "vrrp_gna_interval": _set_timer("vrrp_gna_interval", 0.000001, 4294.967295),
    "vrrp_min_garp": _set_flag("vrrp_min_garp"),
    "vrrp_garp_extra_if": _g_extra_if,
    "vrrp_vmac_garp_intvl": _deprecated("vrrp_garp_extra_if", _g_extra_if),
    "vrrp_down_timer_adverts": _set_int("vrrp_down_timer_adverts", 1, 100),
    "vrrp_lower_prio_no_advert": _g_lower_prio,
    "vrrp_higher_prio_send_advert": _set_flag("vrrp_higher_prio_send_advert"),
    "vrrp_version": _g_version,
    "v3_checksum_as_v2": _set_flag("v3_checksum_as_v2"),
    "vrrp_strict": _set_flag("vrrp_strict"),
    "vrrp_check_unicast_src": _set_flag("vrrp_check_unicast_src"),
    "vrrp_skip_check_adv_addr": _set_flag("vrrp_skip_check_adv_addr"),
    "vrrp_owner_ignore_adverts": _set_flag("vrrp_owner_ignore_adverts"),
    "vrrp_notify_priority_changes": _set_flag("vrrp_notify_priority_changes"),
    "vrrp_startup_delay": _set_timer("vrrp_startup_delay", 0.001, 4294.967295),
    "vrrp_delay_after_boot": _set_timer("vrrp_delay_after_boot", 0, 3600),
    "log_unknown_vrids": _set_flag("log_unknown_vrids"),
    "dynamic_interfaces": _g_dynamic_interfaces,
    "nftables": _g_nftables,
    "nftables_priority": _set_int("nftables_priority", -2147483648, 2147483647),
    "nftables_counters": _set_flag("nftables_counters"),
    "nftables_ifindex": _set_flag("nftables_ifindex"),
    "vrrp_iptables": _g_iptables_to_nftables,
    "vrrp_ipsets": _g_iptables_to_nftables,
    "vmac_prefix": _g_vmac_prefix,
    "disable_local_igmp": _set_flag("disable_local_igmp"),
    "vmac_addr_prefix": _set_str("vmac_addr_prefix"),
    "script_user": _g_script_user,
    "enable_script_security": _set_flag("enable_script_security"),
    "notify_fifo": _g_fifo("notify_fifo"),
    "notify_fifo_script": _g_fifo_script("notify_fifo"),
    "vrrp_notify_fifo": _g_fifo("vrrp_notify_fifo"),
    "vrrp_notify_fifo_script": _g_fifo_script("vrrp_notify_fifo"),
    "lvs_notify_fifo": _g_fifo("lvs_notify_fifo"),
    "lvs_notify_fifo_script": _g_fifo_script("lvs_notify_fifo"),
    "fifo_write_vrrp_states_on_reload": _set_flag("fifo_write_vrrp_states_on_reload"),
    "lvs_sync_daemon": _g_lvs_sync_daemon,
    "lvs_timeouts": _g_lvs_timeouts,
    "lvs_flush": _set_flag("lvs_flush"),
    "lvs_flush_on_stop": _g_flush_on_stop,
    "lvs_flush_onstop": _g_flush_on_stop,
    "rs_init_notifies": _set_flag("rs_init_notifies"),
    "no_checker_emails": _set_flag("no_checker_emails"),
    "startup_script": _g_startup("startup_script"),
    "startup_script_timeout": _set_timer("startup_script_timeout", 1, 1000),
    "shutdown_script": _g_startup("shutdown_script"),
    "shutdown_script_timeout": _set_timer("shutdown_script_timeout", 1, 1000),
    "random_seed": _set_int("random_seed", 0, 2**32 - 1),
    "state_dump_file": _set_str("state_dump_file"),
    "stats_dump_file": _set_str("stats_dump_file"),
    "json_dump_file": _set_str("json_dump_file"),
    "state_file_location": _set_str("state_dump_file"),
    "stats_file_location": _set_str("stats_dump_file"),
    "json_file_location": _set_str("json_dump_file"),
    "json_version": _g_json_version,
    "reload_check_config": _g_reload_check,
    "enable_snmp_vrrp": _g_snmp("enable_snmp_vrrp"),
    "enable_snmp_keepalived": _g_snmp("enable_snmp_vrrp"),
    "enable_snmp_checker": _g_snmp("enable_snmp_checker"),
    "enable_snmp_rfc": _g_snmp("enable_snmp_rfc"),
    "enable_snmp_rfcv2": _g_snmp("enable_snmp_rfcv2"),
    "enable_snmp_rfcv3": _g_snmp("enable_snmp_rfcv3"),
    "enable_traps": _g_snmp("enable_traps"),
    "snmp_socket": _g_snmp_socket,
    "snmp_vs_stats_update_interval": _g_snmp_interval("snmp_vs_stats_update_interval"),
    "snmp_rs_stats_update_interval": _g_snmp_interval("snmp_rs_stats_update_interval"),
    "enable_dbus": _g_snmp("enable_dbus"),
    "dbus_service_name": _set_str("dbus_service_name"),
    "dbus_no_interface_name": _set_str("dbus_no_interface_name"),
}
def _extra_int(lo: int, hi: int, clamp: bool = False) -> Handler:
    """A keyword kvrrp keeps raw (not implemented) but whose value keepalived range-checks, so
    `-t` still agrees: out of range is an error, or (clamp) a reported adjustment."""
    def h(p: Parser, node: Node, g: Fields) -> None:
        if node.args:
            tok = node.args[0]
            if clamp:
                v = p.r.int(tok, None, None, node.kw.text)
                if v is not None and not lo <= v <= hi:
                    p.diags.warning(tok.loc, f"{node.kw.text} {v} outside [{lo}..{hi}] - clamped", "out-of-range",
                                    fails_test=True)
            else:
                p.r.int(tok, lo, hi, node.kw.text)
        p.extra(node, g)
    return h


for _kw in ("tmp_config_directory", "config_save_dir", "process_names", "process_name", "vrrp_process_name",
            "checker_process_name", "lvs_process_name", "bfd_process_name", "use_symlink_paths",
            "set_supplementary_groups", "max_auto_priority", "min_auto_priority_delay",
            "vrrp_priority", "vrrp_no_swap", "vrrp_rt_priority", "vrrp_cpu_affinity", "vrrp_rlimit_rttime",
            "vrrp_rlimit_rtime", "checker_priority", "checker_no_swap", "checker_rt_priority",
            "checker_cpu_affinity", "checker_rlimit_rttime", "checker_rlimit_rtime", "bfd_priority",
            "bfd_no_swap", "bfd_rt_priority", "bfd_cpu_affinity", "bfd_rlimit_rttime", "bfd_rlimit_rtime",
            "vrrp_netlink_cmd_rcv_bufs",
            "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
            "vrrp_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force",
            "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs",
            "lvs_netlink_monitor_rcv_bufs_force", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "umask",
            "reload_time_file", "reload_repeat", "reload_file", "include_check", "data_use_instance",
            "iproute_usr_dir", "iproute_etc_dir"):
    GLOBAL[_kw] = _extra
for _kw in ("vrrp_priority", "checker_priority", "bfd_priority"):
    GLOBAL[_kw] = _extra_int(-20, 19)
for _kw in ("vrrp_rt_priority", "checker_rt_priority", "bfd_rt_priority"):
    GLOBAL[_kw] = _extra_int(1, 99, clamp=True)
GLOBAL["max_auto_priority"] = _extra_int(-1, 99)
GLOBAL["vrrp_rx_bufs_multiplier"] = _extra_int(1, 4294967295)


_NFT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def _g_nftables_ipvs(p: Parser, node: Node, g: Fields) -> None:
    """nftables_ipvs [TABLE]: keepalived's fwmarks for virtual_server_group ranges."""
    name = node.args[0].text if node.args else "keepalived_ipvs"
    if not _NFT_NAME.fullmatch(name):
        p.diags.error(node.args[0].loc, f"invalid ipvs nftables table name '{name}'", "bad-value")
        return
    g["nftables_ipvs"] = name


GLOBAL["nftables_ipvs"] = _g_nftables_ipvs
GLOBAL["nftables_ipvs_priority"] = _set_int("nftables_ipvs_priority", -2147483648, 2147483647)
GLOBAL["nftables_ipvs_start_fwmark"] = _set_int("nftables_ipvs_start_fwmark", 1, 4294967295)

# process names, priorities, umask, script start-up (kvrrp.config.kw_process)
from kvrrp.config.kw_process import GLOBAL_PROCESS  # noqa: E402

GLOBAL.update(GLOBAL_PROCESS)

# socket buffers, scheduled reloads, config copies, iproute2 name files, dump names
from kvrrp.config.kw_tuning import TUNING  # noqa: E402 - replaces the raw entries above

GLOBAL.update(TUNING)
