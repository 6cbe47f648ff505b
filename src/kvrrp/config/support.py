"""Keywords kvrrp recognises (they parse, and are kept in the model) but ignores.

keepalived reports what it understands but will not do as a located message ending in
"- ignoring"; `kvrrp -t` does the same for each keyword listed here: a warning with file:line
naming the keyword and why kvrrp ignores it (code "ignored"), and the summary line counts them
instead of a bare "configuration OK". The warning does not change the exit code: keepalived
accepts these configurations, and `tests/config/test_corpus.py` holds kvrrp's accept/reject
to keepalived's.

This is the ONE place that list lives: an area that implements a feature deletes its entries
here (and the warning disappears). What truly cannot apply to kvrrp stays, with its reason
here and in docs/config.md.

Keys are (block, keyword); block is the parser's block name ("top", "global_defs",
"vrrp_instance", "vrrp_sync_group", "virtual_server", "real_server", "checker"). A block name
of "*" matches the keyword in any block.
"""
from __future__ import annotations

IGNORED = "ignored"  # the Diagnostic code of these warnings

NOT_IMPLEMENTED: dict[tuple[str, str], str] = {
    # process management and kernel tuning that a Python daemon does differently
    ("top", "net_namespace"): "running inside another network namespace",
    ("top", "net_namespace_ipvs"): "IPVS in another network namespace",
    ("top", "namespace_with_ipsets"): "ipsets in namespaces",
    ("top", "use_pid_dir"): "pid directory layout",
    ("top", "child_wait_time"): "separate child processes",
    ("top", "bfd_instance"): "BFD sessions",
    ("global_defs", "process_names"): "process renaming",
    ("global_defs", "process_name"): "process renaming",
    ("global_defs", "vrrp_process_name"): "process renaming",
    ("global_defs", "checker_process_name"): "process renaming",
    ("global_defs", "lvs_process_name"): "process renaming",
    ("global_defs", "bfd_process_name"): "process renaming",
    ("global_defs", "max_auto_priority"): "real-time priority escalation",
    ("global_defs", "min_auto_priority_delay"): "real-time priority escalation",
    ("global_defs", "vrrp_priority"): "process nice values",
    ("global_defs", "checker_priority"): "process nice values",
    ("global_defs", "bfd_priority"): "process nice values",
    ("global_defs", "vrrp_no_swap"): "mlockall",
    ("global_defs", "checker_no_swap"): "mlockall",
    ("global_defs", "bfd_no_swap"): "mlockall",
    ("global_defs", "vrrp_rt_priority"): "SCHED_RR priorities",
    ("global_defs", "checker_rt_priority"): "SCHED_RR priorities",
    ("global_defs", "bfd_rt_priority"): "SCHED_RR priorities",
    ("global_defs", "vrrp_cpu_affinity"): "CPU pinning",
    ("global_defs", "checker_cpu_affinity"): "CPU pinning",
    ("global_defs", "bfd_cpu_affinity"): "CPU pinning",
    ("global_defs", "vrrp_rlimit_rttime"): "RLIMIT_RTTIME",
    ("global_defs", "checker_rlimit_rttime"): "RLIMIT_RTTIME",
    ("global_defs", "bfd_rlimit_rttime"): "RLIMIT_RTTIME",
    ("global_defs", "vrrp_rlimit_rtime"): "RLIMIT_RTTIME",
    ("global_defs", "checker_rlimit_rtime"): "RLIMIT_RTTIME",
    ("global_defs", "bfd_rlimit_rtime"): "RLIMIT_RTTIME",
    # SNMP / DBus
    ("global_defs", "snmp_socket"): "SNMP",
    ("global_defs", "enable_snmp_vrrp"): "SNMP",
    ("global_defs", "enable_snmp_keepalived"): "SNMP",
    ("global_defs", "enable_snmp_checker"): "SNMP",
    ("global_defs", "enable_snmp_rfc"): "SNMP",
    ("global_defs", "enable_snmp_rfcv2"): "SNMP",
    ("global_defs", "enable_snmp_rfcv3"): "SNMP",
    ("global_defs", "enable_traps"): "SNMP traps",
    ("global_defs", "snmp_vs_stats_update_interval"): "SNMP",
    ("global_defs", "snmp_rs_stats_update_interval"): "SNMP",
    ("global_defs", "enable_dbus"): "DBus",
    ("global_defs", "dbus_service_name"): "DBus",
    ("global_defs", "dbus_no_interface_name"): "DBus",
    ("global_defs", "nftables_ipvs"): "nftables fwmarks for virtual_server_group",
    ("global_defs", "nftables_ipvs_priority"): "nftables fwmarks for virtual_server_group",
    ("global_defs", "nftables_ipvs_start_fwmark"): "nftables fwmarks for virtual_server_group",
    ("global_defs", "disable_local_igmp"): "IGMP sysctl handling",
    # netlink buffer sizing
    ("global_defs", "lvs_netlink_monitor_rcv_bufs"): "kvrrp's checker watches no links: no monitor socket",
    ("global_defs", "lvs_netlink_monitor_rcv_bufs_force"): "kvrrp's checker watches no links: no monitor socket",
    ("global_defs", "process_monitor_rcv_bufs"): "vrrp_track_process scans /proc, no process connector socket",
    ("global_defs", "process_monitor_rcv_bufs_force"): "vrrp_track_process scans /proc, no process connector socket",
    # reload machinery / config copies
    ("global_defs", "tmp_config_directory"):
        "where keepalived's parent keeps the copy its children read; kvrrp's checker reads the file itself",
    ("global_defs", "include_check"): "include permission checks",
    ("global_defs", "use_symlink_paths"): "script path symlink handling",
    ("global_defs", "set_supplementary_groups"): "supplementary groups for scripts",
    ("global_defs", "umask"): "umask for created files",
    ("global_defs", "lvs_sync_daemon"): "IPVS connection sync daemon",
    # VRRP instance features outside kvrrp's engine today
    ("vrrp_instance", "use_ipvlan"): "ipvlan interfaces",
    ("vrrp_instance", "track_bfd"): "BFD tracking",
    ("vrrp_instance", "auth_hmac"): "HMAC advert authentication",
    ("vrrp_instance", "lvs_sync_daemon_interface"): "IPVS connection sync daemon",
    ("vrrp_sync_group", "track_bfd"): "BFD tracking",
    ("real_server", "BFD_CHECK"): "BFD checker",
}


def ignored_message(keyword: str, why: str) -> str:
    """The warning `kvrrp -t` prints for a listed keyword (keepalived's "... - ignoring" form)."""
    return f"'{keyword}' is ignored by kvrrp ({why}) - ignoring"


def not_implemented(block: str, keyword: str) -> str | None:
    """Why `keyword` in `block` has no effect under kvrrp, or None if it is implemented."""
    return NOT_IMPLEMENTED.get((block, keyword)) or NOT_IMPLEMENTED.get(("*", keyword))
