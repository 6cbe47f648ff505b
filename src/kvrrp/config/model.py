"""The typed configuration model: frozen dataclasses with keepalived's documented defaults.

Everything the rest of kvrrp reads from a keepalived.conf lives here. Values are already
resolved and normalised by the parser:

* times are float seconds (advert_int 1 -> 1.0, delay_loop 60 -> 60.0);
* addresses are strings in canonical ``ipaddress`` form, prefix lengths separate ints;
* lists are tuples (the model is immutable and hashable);
* a checker's timing options (connect_timeout, retry, delay_before_retry, delay_loop, warmup)
  are already inherited from its real_server / virtual_server when not given on the checker,
  so consumers never re-implement keepalived's inheritance rules;
* enumerations keep keepalived's spelling in upper or lower case as keepalived prints them
  (state "MASTER"/"BACKUP", lvs_method "NAT"/"DR"/"TUN", protocol "TCP"/"UDP"/"SCTP",
  lvs_sched "wlc").

Every node carries ``loc`` (file, line, column of the keyword that opened it). ``loc`` does
not take part in equality, so a config dumped and re-parsed compares equal to the original.

Keywords kvrrp recognises but does not model with their own field are kept, in order, in the
``extra`` tuple of their block as ``(keyword, (arg, ...))`` so that nothing an operator wrote
is silently lost (and the keepalived-format dump can print it back).
"""
from __future__ import annotations

from dataclasses import dataclass, field

_FROZEN = dict(frozen=True, slots=True, kw_only=True)

# ---------------------------------------------------------------------------------------------
# shared small types


@dataclass(**_FROZEN)
class Location:
    """Where something came from: file path (as opened), 1-based line and column."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def _loc() -> Location | None:
    return field(default=None, compare=False, repr=False)  # type: ignore[return-value]


ExtraKeywords = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(**_FROZEN)
class ScriptCall:
    """A script to run: `notify_master "/path arg" [user [:][group]]`.

    ``command`` is the text as written (quotes removed); ``argv`` is it split shell-like,
    the way keepalived splits it (no shell is involved)."""

    command: str
    argv: tuple[str, ...] = ()
    user: str | None = None
    group: str | None = None
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class TrackRef:
    """One entry of a track_interface / track_script / track_file / track_process / track_bfd
    block: the tracked object's name and an optional weight override.

    ``weight`` None means "use the tracked object's own weight" (scripts/files/processes) or,
    for interfaces, "no weight: go FAULT when down"."""

    name: str
    weight: int | None = None
    reverse: bool = False
    loc: Location | None = _loc()


# ---------------------------------------------------------------------------------------------
# global_defs


@dataclass(**_FROZEN)
class LvsSyncDaemon:
    interface: str
    instance: str | None = None      # VRRP instance whose state drives master/backup
    sync_id: int | None = None       # default: that instance's VRID
    maxlen: int | None = None        # None: the kernel's defaults (keepalived sends only what is set):
    port: int | None = None          # 8848
    ttl: int | None = None           # 1
    group: str | None = None         # 224.0.0.81
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class LvsTimeouts:
    tcp: int | None = None
    tcpfin: int | None = None
    udp: int | None = None


@dataclass(**_FROZEN)
class NotifyFifo:
    path: str
    user: str | None = None
    group: str | None = None
    script: ScriptCall | None = None


@dataclass(**_FROZEN)
class ProcessTuning:
    """One process's scheduling knobs (keepalived's vrrp_*, checker_*, bfd_* keywords)."""

    nice: int | None = None                          # *_priority: -20..19 (setpriority)
    no_swap: bool = False                            # *_no_swap: mlockall
    rt_priority: int | None = None                   # *_rt_priority: SCHED_RR 1..99
    cpu_affinity: tuple[int, ...] = ()               # *_cpu_affinity: CPU ids; () = not pinned
    rlimit_rttime: int = 10000                       # *_rlimit_rttime: usecs (RLIMIT_RTTIME)


@dataclass(**_FROZEN)
class ProcessDefs:
    """global_defs keywords about the daemon processes themselves (process names, priorities,
    the umask, how scripts are started); kvrrp.process_plan turns them into what each process
    applies."""

    process_name: str | None = None                  # the parent's comm (process_name)
    vrrp_process_name: str | None = None             # process_names / vrrp_process_name
    checker_process_name: str | None = None          # process_names / checker_process_name
    bfd_process_name: str | None = None
    vrrp: ProcessTuning = ProcessTuning()
    checker: ProcessTuning = ProcessTuning()
    bfd: ProcessTuning = ProcessTuning()
    max_auto_priority: int = 0                       # 0 = no automatic escalation; -1 = off too
    min_auto_priority_delay: int = 1000000           # usecs a timer may be overdue before escalation
    umask: int | None = None                         # None = keepalived's default (022 / -u)
    use_symlink_paths: bool = False                  # keep a script's symlinked path for exec
    set_supplementary_groups: bool = False           # scripts get their user's supplementary groups


@dataclass(**_FROZEN)
class GlobalDefs:
    router_id: str | None = None                     # None = hostname at run time
    notification_email: tuple[str, ...] = ()
    notification_email_from: str | None = None       # None = keepalived@<hostname>
    smtp_server: str | None = None
    smtp_server_port: int = 25
    smtp_helo_name: str | None = None                # None = hostname
    smtp_connect_timeout: float = 30.0
    smtp_alert: bool | None = None                   # None = not set (per-object defaults apply)
    smtp_alert_vrrp: bool | None = None
    smtp_alert_checker: bool | None = None
    no_email_faults: bool = False
    checker_log_all_failures: bool = False
    default_interface: str = "eth0"
    vrrp_mcast_group4: str = "224.0.0.18"
    vrrp_mcast_group6: str = "ff02::12"
    vrrp_garp_master_delay: float = 5.0
    vrrp_garp_master_repeat: int = 5
    vrrp_garp_lower_prio_delay: float | None = None  # None = vrrp_garp_master_delay
    vrrp_garp_lower_prio_repeat: int | None = None   # None = vrrp_garp_master_repeat
    vrrp_garp_master_refresh: float = 0.0            # 0 = no periodic refresh
    vrrp_garp_master_refresh_repeat: int = 1
    vrrp_garp_interval: float = 0.0
    vrrp_gna_interval: float = 0.0
    vrrp_min_garp: bool = False
    vrrp_garp_extra_if: float | None = None
    vrrp_garp_extra_if_all: bool = False
    vrrp_down_timer_adverts: int = 3
    vrrp_lower_prio_no_advert: bool | None = None    # None = off, or on under vrrp_strict
    vrrp_higher_prio_send_advert: bool = False
    vrrp_version: int = 2
    v3_checksum_as_v2: bool = False
    vrrp_strict: bool = False
    vrrp_check_unicast_src: bool = False
    vrrp_skip_check_adv_addr: bool = False
    vrrp_owner_ignore_adverts: bool = False
    vrrp_notify_priority_changes: bool = False
    vrrp_startup_delay: float = 0.0
    vrrp_delay_after_boot: float = 0.0
    log_unknown_vrids: bool = False
    dynamic_interfaces: bool = False
    dynamic_interfaces_allow_if_changes: bool = False
    # no_accept VIPs are dropped by keepalived's nftables tables (vrrp_iptables/vrrp_ipsets
    # fall back to them, as in keepalived builds without iptables)
    nftables: str | None = None                      # table name; None = "keepalived" when needed
    nftables_priority: int = -1
    nftables_counters: bool = False
    nftables_ifindex: bool | None = None             # None: ifindex unless dynamic_interfaces
    # nftables_ipvs: virtual_server_group address ranges as one fwmark service (healthcheck.ipvs_nftables)
    nftables_ipvs: str | None = None                 # table name (keyword alone: keepalived_ipvs)
    nftables_ipvs_priority: int = -1
    nftables_ipvs_start_fwmark: int = 1000
    vmac_prefix: str = "vrrp"
    # keepalived: igmp_link_local_mcast_reports=0 while running instead of the VMAC IGMP rules
    disable_local_igmp: bool = False
    vmac_addr_prefix: str | None = None
    script_user: str | None = None                   # None = keepalived_script if it exists, else root
    script_group: str | None = None
    enable_script_security: bool = False
    notify_fifo: NotifyFifo | None = None
    vrrp_notify_fifo: NotifyFifo | None = None
    lvs_notify_fifo: NotifyFifo | None = None
    fifo_write_vrrp_states_on_reload: bool = False
    lvs_sync_daemon: LvsSyncDaemon | None = None
    lvs_timeouts: LvsTimeouts | None = None
    lvs_flush: bool = False
    lvs_flush_on_stop: bool = False
    lvs_flush_on_stop_vs_only: bool = False
    rs_init_notifies: bool = False
    no_checker_emails: bool = False
    startup_script: ScriptCall | None = None
    startup_script_timeout: float = 10.0
    shutdown_script: ScriptCall | None = None
    shutdown_script_timeout: float = 10.0
    random_seed: int | None = None
    state_dump_file: str = "/tmp/keepalived.data"
    stats_dump_file: str = "/tmp/keepalived.stats"
    json_dump_file: str = "/tmp/keepalived.json"
    json_version: int = 1
    reload_check_config: str | None = None           # "" = enabled without a log file
    # netlink socket receive buffers (0 = keepalived's 64 KiB default); _force: SO_RCVBUFFORCE
    vrrp_netlink_cmd_rcv_bufs: int = 0
    vrrp_netlink_cmd_rcv_bufs_force: bool = False
    vrrp_netlink_monitor_rcv_bufs: int = 0
    vrrp_netlink_monitor_rcv_bufs_force: bool = False
    lvs_netlink_cmd_rcv_bufs: int = 0
    lvs_netlink_cmd_rcv_bufs_force: bool = False
    lvs_netlink_monitor_rcv_bufs: int = 0
    lvs_netlink_monitor_rcv_bufs_force: bool = False
    process_monitor_rcv_bufs: int = 0
    process_monitor_rcv_bufs_force: bool = False
    # VRRP receive sockets: each instance's share (kernel_rx_buf_size wins), summed per socket
    vrrp_rx_bufs_policy: str | None = None           # None | "MTU" | "ADVERT" | "SIZE"
    vrrp_rx_bufs_size: int = 0                       # with policy SIZE
    vrrp_rx_bufs_multiplier: int = 3
    reload_time_file: str | None = None              # a file holding the time of the next reload
    reload_repeat: bool = False                      # keep the file: reload daily at that time
    reload_file: str | None = None                   # "" = the default next to the pid file
    config_save_dir: str | None = None               # copies of each configuration loaded
    tmp_config_directory: str | None = None          # where the copy read by a reload is kept
    iproute_etc_dir: str | None = None               # None = /etc/iproute2
    iproute_usr_dir: str | None = None               # None = /usr/share/iproute2 (Debian's)
    data_use_instance: bool = False                  # namespace/instance name in dump file names
    enable_snmp_vrrp: bool = False
    enable_snmp_checker: bool = False
    enable_snmp_rfc: bool = False
    enable_snmp_rfcv2: bool = False
    enable_snmp_rfcv3: bool = False
    enable_traps: bool = False
    snmp_socket: str | None = None                   # None: unix:/var/agentx/master (or -A)
    snmp_vs_stats_update_interval: float = 5.0       # seconds the IPVS counters served may be old
    snmp_rs_stats_update_interval: float | None = None   # None: the vs interval
    enable_dbus: bool = False
    process: ProcessDefs = ProcessDefs()             # process names, priorities, umask, scripts
    dbus_service_name: str | None = None             # None: org.keepalived.Vrrp1
    dbus_no_interface_name: str | None = None        # None: "none"
    extra: ExtraKeywords = ()
    loc: Location | None = _loc()


# ---------------------------------------------------------------------------------------------
# trackers


@dataclass(**_FROZEN)
class VrrpScript:
    name: str
    script: ScriptCall | None = None                 # required; validation reports it missing
    interval: float = 1.0
    timeout: float | None = None                     # None = interval
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: str | None = None
    group: str | None = None
    init_fail: bool = False
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class TrackFile:
    name: str
    file: str | None = None
    weight: int = 1
    weight_reverse: bool = False
    init_file: bool = False
    init_value: int = 0
    init_overwrite: bool = False
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class TrackProcess:
    name: str
    process: str | None = None
    params: tuple[str, ...] = ()
    # none | exact | initial | partial: parameters imply exact (keepalived's PARAM_MATCH_*);
    # parameters or param_match also imply full_command, set by the parser in file order
    param_match: str = "none"
    weight: int = 0
    weight_reverse: bool = False
    quorum: int = 1
    quorum_max: int | None = None                    # None = unlimited
    fork_delay: float = 0.0
    terminate_delay: float = 0.0
    full_command: bool = False
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class BfdInstance:
    name: str
    neighbor_ip: str | None = None
    source_ip: str | None = None
    min_rx: float = 10.0                             # milliseconds, as keepalived writes them
    min_tx: float = 10.0
    idle_tx: float = 1000.0
    multiplier: int = 5
    passive: bool = False
    ttl: int | None = None                           # None = 255 (v4) / 64 (v6)
    max_hops: int = 0
    multihop: bool = False
    weight: int = 0
    weight_reverse: bool = False
    vrrp: bool = True
    checker: bool = True
    loc: Location | None = _loc()


# ---------------------------------------------------------------------------------------------
# addresses, routes, rules


@dataclass(**_FROZEN)
class VirtualAddress:
    """One virtual_ipaddress / virtual_ipaddress_excluded / static_ipaddress entry."""

    address: str
    prefixlen: int                                   # /32 or /128 when not written
    family: int                                      # 4 or 6
    dev: str | None = None                           # None = the instance's interface
    brd: str | None = None                           # an address, "-" or "+"
    scope: str | None = None                         # global site link host nowhere (or number)
    label: str | None = None
    peer: str | None = None
    peer_prefixlen: int | None = None
    use_vmac: bool = False
    home: bool = False
    nodad: bool = False
    mngtmpaddr: bool = False
    noprefixroute: bool = False
    autojoin: bool = False
    no_track: bool = False
    preferred_lft: int | None = None                 # None = kernel default; 0xFFFFFFFF = forever
    track_group: str | None = None                   # static_ipaddress only
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class Nexthop:
    via: str | None = None
    dev: str | None = None
    weight: int | None = None
    onlink: bool = False
    realms: str | None = None


@dataclass(**_FROZEN)
class VirtualRoute:
    """One virtual_routes / static_routes entry, `ip route` vocabulary."""

    to: str                                          # destination prefix ("default" allowed), canonical
    family: int
    type: str = "unicast"                            # unicast blackhole unreachable prohibit throw
    src: str | None = None                           # preferred source address (RTA_PREFSRC)
    from_: str | None = None                         # source prefix, IPv6 only (RTA_SRC, `from`)
    via: str | None = None
    dev: str | None = None
    scope: str | None = None
    table: str | None = None
    protocol: str | None = None                      # None = keepalived's own (18), which tracking needs
    metric: int | None = None
    tos: int | None = None
    onlink: bool = False
    nexthops: tuple[Nexthop, ...] = ()
    options: tuple[tuple[str, str], ...] = ()        # the other ip-route attributes, in order
    no_track: bool = False
    track_group: str | None = None
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class VirtualRule:
    """One virtual_rules / static_rules entry, `ip rule` vocabulary."""

    family: int
    from_: str | None = None
    to: str | None = None
    table: str | None = None
    action: str = "table"                            # table goto nop blackhole unreachable prohibit
    goto: int | None = None
    preference: int | None = None
    iif: str | None = None
    oif: str | None = None
    tos: int | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    options: tuple[tuple[str, str], ...] = ()
    no_track: bool = False
    track_group: str | None = None
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class BgpAnnounce:
    """kvrrp_bgp { }: kvrrp-only (keepalived rejects it). VIP routes are announced through the
    BGP daemon this node runs (FRR bgpd, driven with vtysh); docs/scale-out.md."""

    daemon: str = "frr"
    vtysh: str = "/usr/bin/vtysh"
    vty_socket: str | None = None                    # vtysh --vty_socket DIR (FRR in a namespace)
    asn: int | None = None                           # `router bgp ASN` of that bgpd (required)
    med: int | None = None                           # per node: MULTI_EXIT_DISC
    local_preference: int | None = None              # per node: LOCAL_PREF (iBGP peers)
    communities: tuple[str, ...] = ()                # per node: AA:NN / well-known names
    ipvs: bool = True                                # False: checks and quorum only, no kernel IPVS
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class GarpGroup:
    """garp_group { }: interfaces sharing one switch, with their own GARP/NA pacing."""

    garp_interval: float | None = None               # None = global vrrp_garp_interval
    gna_interval: float | None = None                # None = global vrrp_gna_interval
    interfaces: tuple[str, ...] = ()
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class TrackGroup:
    name: str
    group: tuple[str, ...] = ()
    loc: Location | None = _loc()


# ---------------------------------------------------------------------------------------------
# VRRP


@dataclass(**_FROZEN)
class Authentication:
    auth_type: str                                   # PASS | AH
    auth_pass: str = ""                              # truncated to 8 chars like keepalived
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class AuthHmac:
    """auth_hmac { ... }: keepalived 2.4's HMAC-SHA256 advert trailer (kvrrp.vrrp.auth_hmac)."""
    keys: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)  # (id 1..255, 32..64 bytes); secret
    active_key: int | None = None                    # the id that signs; must be one of keys
    anti_replay: str = "time"                        # time | monotonic
    time_window: int | None = None                   # 1..300 s; None: max(3 x advert_int, 5), <= 300
    mode: str = "enforce"                            # enforce | permissive | receive-only
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class UnicastPeer:
    address: str
    family: int
    min_ttl: int | None = None
    max_ttl: int | None = None
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class Vmac:
    """use_vmac [[name] IF] [MAC] [netlink_notify_msg] [group G]."""

    name: str | None = None                          # None = vrrp.<VRID>
    mac: str | None = None                           # None = 00:00:5e:00:01:<VRID>
    netlink_notify_msg: bool = False
    group: str | None = None
    xmit_base: bool = False


IPVLAN_MODES = ("bridge", "private", "vepa")        # keepalived's ipvlan_type: IPVLAN_F_* flags 0, 1, 2


@dataclass(**_FROZEN)
class Ipvlan:
    """use_ipvlan [[name] IF] [ADDRESS[/PREFIX]] [bridge|private|vepa] [group G]: an L2 ipvlan."""

    name: str | None = None                          # None = vrrp.<VRID> (vmac_prefix)
    address: str | None = None                       # the ipvlan's own address, the adverts' source
    prefixlen: int | None = None
    mode: str = "bridge"
    group: str | None = None


@dataclass(**_FROZEN)
class SyncGroup:
    name: str
    group: tuple[str, ...] = ()
    track_interfaces: tuple[TrackRef, ...] = ()
    track_scripts: tuple[TrackRef, ...] = ()
    track_files: tuple[TrackRef, ...] = ()
    track_processes: tuple[TrackRef, ...] = ()
    track_bfds: tuple[TrackRef, ...] = ()
    notify_master: ScriptCall | None = None
    notify_backup: ScriptCall | None = None
    notify_fault: ScriptCall | None = None
    notify_stop: ScriptCall | None = None
    notify_deleted: ScriptCall | None = None
    notify_deleted_enabled: bool = False
    notify: ScriptCall | None = None
    notify_priority_changes: bool = False
    smtp_alert: bool | None = None
    global_tracking: bool = False
    sync_group_tracking_weight: bool = False
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class VrrpInstance:
    name: str
    state: str = "BACKUP"                            # initial state wish: MASTER | BACKUP
    interface: str | None = None
    vrid: int | None = None                          # virtual_router_id (required)
    priority: int = 100
    advert_int: float = 1.0
    version: int | None = None                       # resolved by load(): explicit, else 3 for IPv6,
                                                     # else global vrrp_version
    family: int | None = None                        # resolved by load(): 4/6 from the first VIP, else 4
    nopreempt: bool = False
    preempt_delay: float = 0.0
    authentication: Authentication | None = None
    auth_hmac: AuthHmac | None = None
    virtual_ipaddress: tuple[VirtualAddress, ...] = ()
    virtual_ipaddress_excluded: tuple[VirtualAddress, ...] = ()
    no_virtual_ipaddress: bool = False
    virtual_routes: tuple[VirtualRoute, ...] = ()
    virtual_rules: tuple[VirtualRule, ...] = ()
    unicast_src_ip: str | None = None
    unicast_peers: tuple[UnicastPeer, ...] = ()
    unicast_ttl: int | None = None
    unicast_fault_no_peer: bool = False
    check_unicast_src: bool = False
    mcast_src_ip: str | None = None
    mcast_dst_ip: str | None = None
    track_src_ip: bool = False
    track_interfaces: tuple[TrackRef, ...] = ()
    track_scripts: tuple[TrackRef, ...] = ()
    track_files: tuple[TrackRef, ...] = ()
    track_processes: tuple[TrackRef, ...] = ()
    track_bfds: tuple[TrackRef, ...] = ()
    dont_track_primary: bool = False
    notify_master: ScriptCall | None = None
    notify_backup: ScriptCall | None = None
    notify_fault: ScriptCall | None = None
    notify_stop: ScriptCall | None = None
    notify_deleted: ScriptCall | None = None
    notify_deleted_enabled: bool = False
    notify: ScriptCall | None = None
    notify_master_rx_lower_pri: ScriptCall | None = None
    notify_priority_changes: bool | None = None      # None = global vrrp_notify_priority_changes
    smtp_alert: bool | None = None                   # None = global smtp_alert_vrrp / smtp_alert
    garp_master_delay: float | None = None           # None = global vrrp_garp_master_delay
    garp_master_repeat: int | None = None
    garp_lower_prio_delay: float | None = None
    garp_lower_prio_repeat: int | None = None
    garp_master_refresh: float | None = None
    garp_master_refresh_repeat: int | None = None
    garp_extra_if: float | None = None
    garp_extra_if_all: bool = False
    down_timer_adverts: int | None = None            # None = global vrrp_down_timer_adverts (3)
    lower_prio_no_advert: bool | None = None
    higher_prio_send_advert: bool | None = None
    owner_ignore_adverts: bool = False
    timer_expired_backup: bool = False
    use_vmac: Vmac | None = None
    use_vmac_addr: bool = False
    use_ipvlan: Ipvlan | None = None
    vrf: str | None = None
    native_ipv6: bool = False
    skip_check_adv_addr: bool | None = None          # None = global vrrp_skip_check_adv_addr
    strict_mode: bool | None = None                  # None = global vrrp_strict
    accept: bool | None = None                       # None = accept unless strict mode
    promote_secondaries: bool = False
    v3_checksum_as_v2: bool | None = None
    # keepalived's three modes: None = auto-detect (absent), True = always the old form (bare
    # keyword), "never" = never accept or send the old form
    old_unicast_checksum: bool | str | None = None
    kernel_rx_buf_size: int | None = None
    debug: int = 0                                   # stored and dumped, acted on by neither daemon
    linkbeat_use_polling: bool = False               # deprecated form of linkbeat_interfaces
    lvs_sync_daemon_interface: str | None = None
    kvrrp_announce: bool = False                     # kvrrp only: BGP-announce the VIPs while MASTER
    extra: ExtraKeywords = ()
    loc: Location | None = _loc()


# ---------------------------------------------------------------------------------------------
# LVS: checkers


@dataclass(**_FROZEN)
class Checker:
    """Options common to the network checkers (keepalived's install_checker_common_keywords).

    Timing fields hold effective values: checker's own, else real_server's, else
    virtual_server's, else the checker type's default."""

    kind: str = ""                                   # "TCP_CHECK", "HTTP_GET", ...
    connect_ip: str | None = None                    # None = real server address
    connect_port: int | None = None                  # None = real server port
    bindto: str | None = None
    bind_if: str | None = None
    bind_port: int | None = None
    fwmark: int | None = None
    alpha: bool = False
    connect_timeout: float = 5.0
    retry: int = 1
    delay_before_retry: float = 1.0
    delay_loop: float = 60.0
    warmup: float | None = None                      # None = delay_loop
    log_all_failures: bool = False
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class TcpCheck(Checker):
    kind: str = "TCP_CHECK"


@dataclass(**_FROZEN)
class Url:
    path: str | None = None
    digest: str | None = None                        # lower-case hex MD5
    status_codes: tuple[tuple[int, int], ...] = ((200, 299),)
    virtualhost: str | None = None
    regex: str | None = None
    regex_no_match: bool = False
    regex_options: tuple[str, ...] = ()
    regex_min_offset: int | None = None
    regex_max_offset: int | None = None
    tls_compliant: bool = False
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class HttpGet(Checker):
    kind: str = "HTTP_GET"
    delay_before_retry: float = 3.0
    http_protocol: str = "1.0"                       # 1.0 | 1.0C | 1.1
    virtualhost: str | None = None                   # effective: checker, else RS, else VS
    fast_recovery: bool = False
    urls: tuple[Url, ...] = ()
    enable_sni: bool = False
    sni_name: str | None = None
    tls_compliant: bool = False


@dataclass(**_FROZEN)
class SslGet(HttpGet):
    kind: str = "SSL_GET"


@dataclass(**_FROZEN)
class MiscCheck(Checker):
    kind: str = "MISC_CHECK"
    retry: int = 0
    misc_path: ScriptCall | None = None
    misc_timeout: float | None = None                # None = delay_loop
    misc_dynamic: bool = False
    user: str | None = None
    group: str | None = None


@dataclass(**_FROZEN)
class SmtpCheck(Checker):
    kind: str = "SMTP_CHECK"
    helo_name: str | None = None                     # None = hostname


@dataclass(**_FROZEN)
class DnsCheck(Checker):
    kind: str = "DNS_CHECK"
    retry: int = 3
    type: str = "SOA"
    name: str = "."


@dataclass(**_FROZEN)
class UdpCheck(Checker):
    kind: str = "UDP_CHECK"
    payload: str | None = None                       # hex; None = random payload
    require_reply: bool = False
    reply_pattern: str | None = None                 # hex with X wildcard nibbles
    min_reply_length: int = 0
    max_reply_length: int = 255


@dataclass(**_FROZEN)
class PingCheck(Checker):
    kind: str = "PING_CHECK"


@dataclass(**_FROZEN)
class FileCheck(Checker):
    kind: str = "FILE_CHECK"
    track_file: str | None = None
    dynamic: bool = False
    weight: int = 1
    weight_reverse: bool = False


@dataclass(**_FROZEN)
class BfdCheck(Checker):
    kind: str = "BFD_CHECK"
    name: str | None = None


AnyChecker = TcpCheck | HttpGet | SslGet | MiscCheck | SmtpCheck | DnsCheck | UdpCheck | PingCheck | FileCheck | BfdCheck


# ---------------------------------------------------------------------------------------------
# LVS: servers


@dataclass(**_FROZEN)
class LvsMethod:
    """lvs_method / lb_kind: NAT | DR | TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]."""

    method: str = "NAT"
    tunnel_type: str | None = None
    tunnel_port: int | None = None
    tunnel_csum: str | None = None


@dataclass(**_FROZEN)
class RealServer:
    ip: str
    port: int = 0
    family: int = 4
    weight: int = 1
    lvs_method: LvsMethod | None = None              # None = virtual server's
    inhibit_on_failure: bool = False                 # effective: RS, else VS
    notify_up: ScriptCall | None = None
    notify_down: ScriptCall | None = None
    uthreshold: int = 0
    lthreshold: int = 0
    smtp_alert: bool | None = None
    virtualhost: str | None = None
    alpha: bool = False                              # effective: RS, else VS
    connect_timeout: float | None = None             # explicit RS values (None = inherited)
    retry: int | None = None
    delay_before_retry: float | None = None
    delay_loop: float | None = None
    warmup: float | None = None
    checkers: tuple[AnyChecker, ...] = ()
    extra: ExtraKeywords = ()
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class SorryServer:
    ip: str
    port: int = 0
    family: int = 4
    inhibit: bool = False
    lvs_method: LvsMethod | None = None


@dataclass(**_FROZEN)
class VirtualServer:
    """virtual_server IP PORT | fwmark N | group NAME.  Exactly one of (ip), fwmark, group."""

    ip: str | None = None
    port: int = 0
    fwmark: int | None = None
    group: str | None = None
    family: int = 4                                  # from ip, or ip_family for fwmark/group
    protocol: str = "TCP"
    lvs_sched: str = "wlc"
    hashed: bool = False
    flag_1: bool = False
    flag_2: bool = False
    flag_3: bool = False
    sh_port: bool = False
    sh_fallback: bool = False
    mh_port: bool = False
    mh_fallback: bool = False
    ops: bool = False
    lvs_method: LvsMethod = LvsMethod()
    persistence_engine: str | None = None
    persistence_timeout: int | None = None           # None = not persistent
    persistence_granularity: str | None = None
    ha_suspend: bool = False
    smtp_alert: bool | None = None
    virtualhost: str | None = None
    snmp_name: str | None = None
    alpha: bool = False
    omega: bool = False
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: ScriptCall | None = None
    quorum_down: ScriptCall | None = None
    weight: int = 1                                  # default real server weight
    sorry_server: SorryServer | None = None
    connect_timeout: float = 5.0
    retry: int | None = None                         # None = each checker type's default
    delay_before_retry: float | None = None          # None = each checker type's default
    delay_loop: float = 60.0
    warmup: float | None = None
    inhibit_on_failure: bool = False
    real_servers: tuple[RealServer, ...] = ()
    kvrrp_announce: bool = False                     # kvrrp only: BGP-announce ip while in quorum
    extra: ExtraKeywords = ()
    loc: Location | None = _loc()

    @property
    def key(self) -> str:
        """keepalived's display name: [ip]:port, FWM n, or group name."""
        if self.fwmark is not None:
            return f"FWM {self.fwmark}"
        if self.group is not None:
            return f"group {self.group}"
        host = f"[{self.ip}]" if self.family == 6 else self.ip
        return f"{host}:{self.port}"


@dataclass(**_FROZEN)
class VsgEntry:
    """virtual_server_group member: an address range with port, or a fwmark."""

    ip: str | None = None                            # first address
    ip_end: str | None = None                        # last address of a range (None = single)
    prefixlen: int | None = None                     # when written as a/nn
    port: int = 0
    fwmark: int | None = None
    family: int = 4
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class VirtualServerGroup:
    name: str
    entries: tuple[VsgEntry, ...] = ()
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class SslContext:
    """The top-level SSL { } block used by SSL_GET checkers."""

    password: str | None = None
    ca: str | None = None
    certificate: str | None = None
    key: str | None = None
    loc: Location | None = _loc()


# ---------------------------------------------------------------------------------------------
# top level


@dataclass(**_FROZEN)
class InterfaceDelays:
    """One line of interface_up_down_delays: how long a link change must last before the
    instances see it (keepalived's down/up debounce timers)."""

    interface: str
    down: float = 0.0
    up: float = 0.0
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class LinkbeatInterface:
    """One line of linkbeat_interfaces: poll this link's state instead of trusting netlink."""

    interface: str
    type: str | None = None                          # MII | ETHTOOL | IOCTL; None = probe in that order
    loc: Location | None = _loc()


@dataclass(**_FROZEN)
class Config:
    global_defs: GlobalDefs = GlobalDefs()
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    track_files: tuple[TrackFile, ...] = ()
    track_processes: tuple[TrackProcess, ...] = ()
    bfd_instances: tuple[BfdInstance, ...] = ()
    sync_groups: tuple[SyncGroup, ...] = ()
    instances: tuple[VrrpInstance, ...] = ()
    track_groups: tuple[TrackGroup, ...] = ()
    garp_groups: tuple[GarpGroup, ...] = ()
    static_addresses: tuple[VirtualAddress, ...] = ()
    static_routes: tuple[VirtualRoute, ...] = ()
    static_rules: tuple[VirtualRule, ...] = ()
    ssl: SslContext | None = None
    virtual_server_groups: tuple[VirtualServerGroup, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    net_namespace: str | None = None
    net_namespace_ipvs: str | None = None            # "" = the default (init) namespace
    namespace_with_ipsets: bool = False
    use_pid_dir: bool = False
    child_wait_time: int | None = None               # seconds; None = kvrrp's default
    instance_name: str | None = None                 # top-level `instance NAME`
    linkbeat_use_polling: bool = False               # poll every instance's interface
    linkbeat_interfaces: tuple[LinkbeatInterface, ...] = ()
    interface_up_down_delays: tuple[InterfaceDelays, ...] = ()
    bgp: BgpAnnounce | None = None                   # kvrrp_bgp { } (kvrrp only)
    extra: ExtraKeywords = ()                        # recognised top-level keywords without a field

    def instance(self, name: str) -> VrrpInstance | None:
        for inst in self.instances:
            if inst.name == name:
                return inst
        return None

    def script(self, name: str) -> VrrpScript | None:
        for s in self.vrrp_scripts:
            if s.name == name:
                return s
        return None
