"""Keywords kvrrp recognises (they parse, and are kept in the model) but does not act on yet.

`kvrrp -t` prints a warning naming each one it meets, so operators know that part of their
keepalived.conf has no effect under kvrrp. This is the ONE place that list lives: an area that
implements a feature deletes its entries here (and the warning disappears).

Keys are (block, keyword); block is the parser's block name ("top", "global_defs",
"vrrp_instance", "vrrp_sync_group", "virtual_server", "real_server", "checker"). A block name
of "*" matches the keyword in any block.
"""
from __future__ import annotations

NOT_IMPLEMENTED: dict[tuple[str, str], str] = {
    # process management and kernel tuning that a Python daemon does differently
    ("top", "namespace_with_ipsets"): "kvrrp uses no ipsets (its nftables sets belong to the namespace they are in on every kernel)",
    ("top", "linkbeat_use_polling"): "MII/ethtool link polling",
    ("top", "linkbeat_interfaces"): "MII/ethtool link polling",
    # the BFD process's own knobs: parsed and dumped; kvrrp runs BFD inside the VRRP process
    # (docs/bfd.md), whose vrrp_* knobs apply to it (kvrrp.process_plan)
    ("global_defs", "bfd_process_name"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_priority"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_no_swap"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_rt_priority"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_cpu_affinity"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_rlimit_rttime"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_rlimit_rtime"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("top", "garp_group"): "per-switch GARP rate groups",
    ("top", "interface_up_down_delays"): "interface up/down debounce",
    # SNMP / DBus
    # netlink buffer sizing
    ("global_defs", "vrrp_netlink_cmd_rcv_bufs"): "netlink buffer sizing",
    ("global_defs", "vrrp_netlink_cmd_rcv_bufs_force"): "netlink buffer sizing",
    ("global_defs", "vrrp_netlink_monitor_rcv_bufs"): "netlink buffer sizing",
    ("global_defs", "vrrp_netlink_monitor_rcv_bufs_force"): "netlink buffer sizing",
    ("global_defs", "lvs_netlink_cmd_rcv_bufs"): "netlink buffer sizing",
    ("global_defs", "lvs_netlink_cmd_rcv_bufs_force"): "netlink buffer sizing",
    ("global_defs", "lvs_netlink_monitor_rcv_bufs"): "netlink buffer sizing",
    ("global_defs", "lvs_netlink_monitor_rcv_bufs_force"): "netlink buffer sizing",
    ("global_defs", "process_monitor_rcv_bufs"): "netlink buffer sizing",
    ("global_defs", "process_monitor_rcv_bufs_force"): "netlink buffer sizing",
    ("global_defs", "vrrp_rx_bufs_policy"): "socket buffer sizing",
    ("global_defs", "vrrp_rx_bufs_multiplier"): "socket buffer sizing",
    # reload machinery / config copies
    ("global_defs", "reload_time_file"): "scheduled reloads",
    ("global_defs", "reload_repeat"): "scheduled reloads",
    ("global_defs", "reload_file"): "reload lock file",
    ("global_defs", "config_save_dir"): "saving config copies on reload",
    ("global_defs", "tmp_config_directory"): "config copy directory",
    ("global_defs", "iproute_usr_dir"): "iproute2 table name files",
    ("global_defs", "iproute_etc_dir"): "iproute2 table name files",
    ("global_defs", "data_use_instance"): "instance names in dump file names",
    # VRRP instance features outside kvrrp's engine today
    ("vrrp_instance", "auth_hmac"): "HMAC advert authentication",
    ("vrrp_instance", "linkbeat_use_polling"): "MII/ethtool link polling",
    ("vrrp_instance", "kernel_rx_buf_size"): "socket buffer sizing",
    ("vrrp_instance", "debug"): "per-instance debug level (keepalived ignores it too)",
}


def not_implemented(block: str, keyword: str) -> str | None:
    """Why `keyword` in `block` has no effect under kvrrp, or None if it is implemented."""
    return NOT_IMPLEMENTED.get((block, keyword)) or NOT_IMPLEMENTED.get(("*", keyword))
