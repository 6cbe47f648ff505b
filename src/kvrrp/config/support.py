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
    ("top", "namespace_with_ipsets"): "kvrrp uses no ipsets (its nftables sets belong to the namespace they are in on every kernel)",
    # the BFD process's own knobs: parsed and dumped; kvrrp runs BFD inside the VRRP process
    # (docs/bfd.md), whose vrrp_* knobs apply to it (kvrrp.process_plan)
    ("global_defs", "bfd_process_name"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_priority"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_no_swap"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_rt_priority"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_cpu_affinity"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_rlimit_rttime"): "BFD runs in the VRRP process (vrrp_* knobs)",
    ("global_defs", "bfd_rlimit_rtime"): "BFD runs in the VRRP process (vrrp_* knobs)",
    # SNMP / DBus
    # netlink buffer sizing
    ("global_defs", "lvs_netlink_monitor_rcv_bufs"): "kvrrp's checker watches no links: no monitor socket",
    ("global_defs", "lvs_netlink_monitor_rcv_bufs_force"): "kvrrp's checker watches no links: no monitor socket",
    ("global_defs", "process_monitor_rcv_bufs"): "vrrp_track_process scans /proc, no process connector socket",
    ("global_defs", "process_monitor_rcv_bufs_force"): "vrrp_track_process scans /proc, no process connector socket",
    # reload machinery / config copies
    ("global_defs", "tmp_config_directory"):
        "where keepalived's parent keeps the copy its children read; kvrrp's checker reads the file itself",
}


def ignored_message(keyword: str, why: str) -> str:
    """The warning `kvrrp -t` prints for a listed keyword (keepalived's "... - ignoring" form)."""
    return f"'{keyword}' is ignored by kvrrp ({why}) - ignoring"


def not_implemented(block: str, keyword: str) -> str | None:
    """Why `keyword` in `block` has no effect under kvrrp, or None if it is implemented."""
    return NOT_IMPLEMENTED.get((block, keyword)) or NOT_IMPLEMENTED.get(("*", keyword))
