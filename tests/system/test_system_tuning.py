"""global_defs tuning keywords on the real daemon in a namespace (kvrrp.lab): netlink socket
buffers read back with `ss -m` (joined to the daemon's own sockets through
/proc/PID/net/netlink and /proc/PID/fd), VRRP receive buffers as the kernel reports them in the
JSON dump, scheduled reloads, the reload lock file, config copies and dump file names.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest

from kvrrp.lab import Lab, VrrpSpec, render_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

WAIT = 10.0
RTMGRP_LINK = 0x1
RTMGRP_IFADDR = 0x10 | 0x100   # IPv4 and IPv6 address notifications


@pytest.fixture
def lab():
    with Lab(nodes=1, prefix="kvtun", client=False) as built:
        yield built


def logs(d) -> str:  # noqa: ANN001
    return d.log()[-3000:]


def daemon_netlink_sockets(pid: int) -> dict[int, int]:
    """portid -> multicast groups of the NETLINK_ROUTE sockets that process `pid` holds."""
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(int(target[8:-1]))
    out = {}
    with open(f"/proc/{pid}/net/netlink") as fh:
        next(fh)
        for line in fh:
            f = line.split()
            proto, portid, groups, inode = int(f[1]), int(f[2]), int(f[3], 16), int(f[9])
            if proto == 0 and inode in held:
                out[portid] = groups
    return out


def ss_receive_buffers(lab: Lab, node) -> dict[int, int]:  # noqa: ANN001
    """portid -> rb (the kernel's receive buffer: twice SO_RCVBUF) of the rtnetlink sockets
    `ss -m` lists in the node's namespace."""
    out = subprocess.run(lab.command(node, ["ss", "-f", "netlink", "-a", "-m", "-n"]), capture_output=True,
                         text=True, check=True).stdout
    found = {}
    for m in re.finditer(r"\s0:(-?\d+)\s.*?skmem:\(r\d+,rb(\d+),", out):
        found[int(m.group(1)) & 0xFFFFFFFF] = int(m.group(2))
    return found


def json_dump(lab: Lab, d) -> dict:  # noqa: ANN001
    path = os.path.join(lab.workdir, "n.json")
    if os.path.exists(path):
        os.unlink(path)
    d.signal(signal.SIGRTMIN + 2)
    assert lab.wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0, WAIT), logs(d)
    with open(path) as fh:
        return json.load(fh)


def test_netlink_and_vrrp_receive_buffers_are_sized_as_configured(lab: Lab) -> None:
    n = lab.nodes[0]
    # cmd: forced past net.core.rmem_max (4 MiB here) - only SO_RCVBUFFORCE gets that far;
    # monitor: plain SO_RCVBUF. VRRP socket on eth0: A's kernel_rx_buf_size + B's ADVERT share
    # (5 x a v2 IPv4 advert with 2 VIPs: 20 + 8 + 8 + 2 x 4 = 44 bytes)
    conf = render_config(
        [VrrpSpec(name="A", vrid=11, extra=("kernel_rx_buf_size 100000",)),
         VrrpSpec(name="B", vrid=12, vips=("198.18.0.201/32", "198.18.0.202/32"))],
        ["vrrp_netlink_cmd_rcv_bufs 5000000", "vrrp_netlink_cmd_rcv_bufs_force",
         "vrrp_netlink_monitor_rcv_bufs 300000", "vrrp_rx_bufs_policy ADVERT", "vrrp_rx_bufs_multiplier 5",
         f"json_dump_file {lab.workdir}/n.json"])
    d = lab.start_kvrrp(n, conf, args=["-a"])   # -a: the address monitor socket too
    assert lab.wait_for(lambda: d.transitions().count("BACKUP") == 2, WAIT), logs(d)

    mine = daemon_netlink_sockets(d.pid)
    sizes = ss_receive_buffers(lab, n)
    commands = [p for p, groups in mine.items() if groups == 0]
    monitors = {groups: p for p, groups in mine.items() if groups}
    assert len(commands) == 2, (mine, sizes)          # pyroute2's IPRoute, the address socket
    assert all(sizes[p] == 2 * 5000000 for p in commands), (mine, sizes)
    assert set(monitors) == {RTMGRP_LINK, RTMGRP_IFADDR}, mine
    assert all(sizes[p] == 2 * 300000 for p in monitors.values()), (mine, sizes)

    buffers = json_dump(lab, d)["socket_buffers"]["eth0/v4"]
    assert buffers == {"set": 100000 + 5 * 44, "kernel": 2 * (100000 + 5 * 44)}, buffers


def test_without_the_keywords_kvrrp_keeps_its_own_sizes(lab: Lab) -> None:
    n = lab.nodes[0]
    d = lab.start_kvrrp(n, render_config([VrrpSpec(name="A", vrid=11)], [f"json_dump_file {lab.workdir}/n.json"]))
    assert lab.wait_for(lambda: d.transitions() == ["BACKUP"], WAIT), logs(d)
    mine = daemon_netlink_sockets(d.pid)
    sizes = ss_receive_buffers(lab, n)
    default = int(subprocess.run(lab.command(n, ["cat", "/proc/sys/net/core/rmem_default"]), capture_output=True,
                                 text=True, check=True).stdout)
    # pyroute2's 1 MiB (command socket, link monitor), the kernel's default (address socket)
    assert sorted(sizes[p] for p in mine) == sorted([2 * (1 << 20), 2 * (1 << 20), default]), (mine, sizes)
    assert json_dump(lab, d)["socket_buffers"]["eth0/v4"]["set"] == 1 << 20


def test_data_use_instance_puts_the_instance_name_in_the_data_dump_name(lab: Lab) -> None:
    n = lab.nodes[0]
    conf = "instance lab7\n" + render_config([VrrpSpec(name="A", vrid=11)], [
        f"state_dump_file {lab.workdir}/n.data", f"stats_dump_file {lab.workdir}/n.stats", "data_use_instance"])
    d = lab.start_kvrrp(n, conf)
    assert lab.wait_for(lambda: d.transitions() == ["BACKUP"], WAIT), logs(d)
    d.signal(signal.SIGUSR1)
    named = os.path.join(lab.workdir, "n.lab7.data")
    assert lab.wait_for(lambda: os.path.exists(named) and os.path.getsize(named) > 0, WAIT), logs(d)
    assert "VRRP Instance = A" in open(named).read()
    assert not os.path.exists(os.path.join(lab.workdir, "n.data"))
    d.signal(signal.SIGUSR2)   # keepalived leaves the stats dump's name alone
    assert lab.wait_for(lambda: os.path.exists(os.path.join(lab.workdir, "n.stats")), WAIT), logs(d)


def test_dump_names_with_instance_follow_keepalived():
    from kvrrp.dump_paths import with_instance

    assert with_instance("/tmp/keepalived.data", "ns1", "web") == "/tmp/keepalived.ns1_web.data"
    assert with_instance("/tmp/keepalived.data", None, "web") == "/tmp/keepalived.web.data"
    assert with_instance("/tmp/keepalived.data", "ns1", None) == "/tmp/keepalived.ns1.data"
    assert with_instance("/var/dumps/state", None, "web") == "/var/dumps/state.web"
    assert with_instance("/tmp/keepalived.data", None, None) == "/tmp/keepalived.data"


# -- reloads ----------------------------------------------------------------------------------

def test_reload_time_file_schedules_a_reload_and_removes_the_file(lab: Lab) -> None:
    n = lab.nodes[0]
    when = os.path.join(lab.workdir, "reload-at")
    d = lab.start_kvrrp(n, render_config([VrrpSpec(name="A", vrid=11)], [f"reload_time_file {when}"]))
    assert lab.wait_for(lambda: d.transitions() == ["BACKUP"], WAIT), logs(d)
    assert "Reload finished" not in d.log()
    at = time.time() + 2
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    with open(when, "w") as fh:         # written and closed: the daemon sees it through inotify
        fh.write(stamp + "\n")
    assert lab.wait_for(lambda: f"Scheduling reload for {stamp}" in d.log(), WAIT), logs(d)
    assert lab.wait_for(lambda: "Reload finished" in d.log(), WAIT), logs(d)
    assert not os.path.exists(when)     # a date was given: a one-off, the file goes
    assert d.log().count("Reloading") == 1


def test_reload_time_file_with_reload_repeat_keeps_the_file_and_schedules_the_next_day(lab: Lab) -> None:
    n = lab.nodes[0]
    when = os.path.join(lab.workdir, "reload-at")
    d = lab.start_kvrrp(n, render_config([VrrpSpec(name="A", vrid=11)],
                                         [f"reload_time_file {when}", "reload_repeat"]))
    assert lab.wait_for(lambda: d.transitions() == ["BACKUP"], WAIT), logs(d)
    at = int(time.time()) + 2
    with open(when, "w") as fh:
        fh.write(time.strftime("%H:%M:%S", time.localtime(at)) + "\n")
    assert lab.wait_for(lambda: "Reload finished" in d.log(), WAIT), logs(d)
    tomorrow = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at + 86400))
    assert lab.wait_for(lambda: f"Scheduling reload for {tomorrow}" in d.log(), WAIT), logs(d)
    assert os.path.exists(when)
    os.unlink(when)                     # gone: the next one is cancelled
    assert lab.wait_for(lambda: f"Cancelling reload scheduled for {tomorrow}" in d.log(), WAIT), logs(d)


def test_reload_file_exists_while_a_reload_reads_the_configuration(lab: Lab) -> None:
    from kvrrp.track.inotify import IN_CREATE, IN_DELETE, _libc, parse_events

    n = lab.nodes[0]
    lock_dir = os.path.join(lab.workdir, "locks")
    os.mkdir(lock_dir)
    lock = os.path.join(lock_dir, "kv.reload")
    d = lab.start_kvrrp(n, render_config([VrrpSpec(name="A", vrid=11)], [f"reload_file {lock}"]))
    assert lab.wait_for(lambda: d.transitions() == ["BACKUP"], WAIT), logs(d)
    assert os.listdir(lock_dir) == []   # not at the first start (keepalived: no configuration yet)
    fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        assert _libc.inotify_add_watch(fd, lock_dir.encode(), IN_CREATE | IN_DELETE) >= 0
        d.signal(signal.SIGHUP)
        assert lab.wait_for(lambda: "Reload finished" in d.log(), WAIT), logs(d)
        events = parse_events(os.read(fd, 65536))
    finally:
        os.close(fd)
    assert [(mask & (IN_CREATE | IN_DELETE), name) for _wd, mask, name in events] == [
        (IN_CREATE, "kv.reload"), (IN_DELETE, "kv.reload")]
    assert os.listdir(lock_dir) == []


def test_config_save_dir_keeps_each_configuration_read_and_the_dumps_around_a_reload(lab: Lab) -> None:
    from kvrrp.config import parse_text

    n = lab.nodes[0]
    saved = os.path.join(lab.workdir, "saved")      # created by the daemon, as keepalived does
    d = lab.start_kvrrp(n, render_config([VrrpSpec(name="A", vrid=11)], [f"config_save_dir {saved}"]))
    assert lab.wait_for(lambda: d.transitions() == ["BACKUP"], WAIT), logs(d)
    pid = d.pid
    first = os.path.join(saved, f"keepalived.conf.{pid}.0")
    assert lab.wait_for(lambda: os.path.exists(first), WAIT), logs(d)
    copy = parse_text(open(first).read())
    assert copy.ok and [i.name for i in copy.config.instances] == ["A"]
    assert copy.config.global_defs.config_save_dir == saved
    with open(d.conf, "a") as fh:      # the reload adds an instance
        fh.write(render_config([VrrpSpec(name="B", vrid=12, vips=("198.18.0.201/32",))]).split("}\n", 1)[1])
    d.signal(signal.SIGHUP)
    assert lab.wait_for(lambda: "Reload finished" in d.log(), WAIT), logs(d)
    assert sorted(os.listdir(saved)) == sorted([f"keepalived.conf.{pid}.0", f"keepalived.conf.{pid}.1",
                                                f"keepalived_vrrp.{pid}.1.pre", f"keepalived_vrrp.{pid}.1.post"])
    pre = open(os.path.join(saved, f"keepalived_vrrp.{pid}.1.pre")).read()
    post = open(os.path.join(saved, f"keepalived_vrrp.{pid}.1.post")).read()
    assert "VRRP Instance = A" in pre and "VRRP Instance = B" not in pre
    assert "VRRP Instance = A" in post and "VRRP Instance = B" in post
    second = parse_text(open(os.path.join(saved, f"keepalived.conf.{pid}.1")).read())
    assert [i.name for i in second.config.instances] == ["A", "B"]


# -- iproute2 name files ------------------------------------------------------------------------

def test_virtual_routes_and_rules_use_table_names_from_iproute_dirs(lab: Lab) -> None:
    n = lab.nodes[0]
    etc, usr = os.path.join(lab.workdir, "etc-iproute2"), os.path.join(lab.workdir, "usr-iproute2")
    os.makedirs(os.path.join(etc, "rt_tables.d"))
    os.makedirs(usr)
    with open(os.path.join(etc, "rt_tables.d", "kv.conf"), "w") as fh:
        fh.write("123 kvweb\n")
    with open(os.path.join(usr, "rt_tables"), "w") as fh:   # etc has no rt_tables: usr's is read
        fh.write("124 kvdb\n")
    spec = VrrpSpec(name="A", vrid=11, priority=150, state="MASTER", extra=(
        "virtual_routes {", "    198.19.5.0/24 dev eth0 table kvweb", "    198.19.6.0/24 dev eth0 table kvdb", "}",
        "virtual_rules {", "    from 198.18.0.200 table kvweb priority 1000", "}"))
    d = lab.start_kvrrp(n, render_config([spec], [f"iproute_etc_dir {etc}", f"iproute_usr_dir {usr}"]))
    assert lab.wait_for(lambda: d.transitions()[-1:] == ["MASTER"], WAIT), logs(d)

    def shown(*argv: str) -> str:
        return subprocess.run(lab.command(n, list(argv)), capture_output=True, text=True).stdout

    assert lab.wait_for(lambda: "198.19.5.0/24" in shown("ip", "route", "show", "table", "123"), WAIT), logs(d)
    assert "198.19.6.0/24" in shown("ip", "route", "show", "table", "124")
    assert "1000:\tfrom 198.18.0.200 lookup 123" in shown("ip", "rule", "show"), shown("ip", "rule", "show")
    assert "unknown routing table" not in d.log()


# -- GARP pacing --------------------------------------------------------------------------------

def add_link(lab: Lab, node, name: str, address: str) -> None:  # noqa: ANN001
    """A veth pair inside the node: `name` (with `address`) and its peer `<name>p`, both up."""
    lab.run(node, ["ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p"])
    lab.run(node, ["ip", "addr", "add", address, "dev", name])
    for link in (f"{name}p", name):
        lab.run(node, ["ip", "link", "set", link, "up"])


def test_garp_group_paces_announcements_across_its_interfaces(lab: Lab) -> None:
    from kvrrp.lab import Capture

    n = lab.nodes[0]
    add_link(lab, n, "eth1", "198.18.1.1/24")
    add_link(lab, n, "eth2", "198.18.2.1/24")
    fast = dict(version=3, advert_int=0.1, state="MASTER", priority=150, extra=("garp_master_repeat 3",))
    specs = [VrrpSpec(name="A", vrid=11, interface="eth1", vips=("198.18.1.100/32",), **fast),
             VrrpSpec(name="B", vrid=12, interface="eth2", vips=("198.18.2.100/32",), **fast)]
    conf = "garp_group {\n    garp_interval 0.1\n    interfaces {\n        eth1\n        eth2\n    }\n}\n"
    with Capture(n.netns, "eth1p") as c1, Capture(n.netns, "eth2p") as c2:
        d = lab.start_kvrrp(n, conf + render_config(specs))

        def garps():
            return sorted(f.ts for f in c1.garps("198.18.1.100") + c2.garps("198.18.2.100"))

        # two bursts (vrrp_garp_master_delay 1) of 3 per instance
        assert lab.wait_for(lambda: len(garps()) == 12, WAIT), (garps(), logs(d))
    times = garps()
    gaps = [b - a for a, b in zip(times, times[1:])]
    # one switch: no two announcements on the group's interfaces closer than its interval
    # (10 ms of slack for the send path; a slower machine only makes gaps longer)
    assert min(gaps) >= 0.09, gaps


# -- link state: linkbeat polling and up/down delays ------------------------------------------

MASTER_FAST = dict(version=3, advert_int=0.1, state="MASTER", priority=150)


def test_linkbeat_polls_carrier_by_ethtool_instead_of_netlink(lab: Lab) -> None:
    n = lab.nodes[0]
    add_link(lab, n, "eth1", "198.18.1.1/24")
    spec = VrrpSpec(name="A", vrid=11, extra=("track_interface {", "    eth1", "}"), **MASTER_FAST)
    d = lab.start_kvrrp(n, "linkbeat_interfaces {\n    eth1\n}\n"
                        + render_config([spec], [f"json_dump_file {lab.workdir}/n.json"]))
    assert lab.wait_for(lambda: d.transitions()[-1:] == ["MASTER"], WAIT), logs(d)
    assert json_dump(lab, d)["tracking"]["linkbeat"] == {"eth1": "ETHTOOL"}   # veth: no MII, ETHTOOL_GLINK

    lab.run(n, ["ip", "link", "set", "eth1p", "down"])        # eth1 loses carrier
    assert lab.wait_for(lambda: d.transitions()[-1:] == ["FAULT"], WAIT), logs(d)
    text = d.log()
    # the poller saw it first: netlink's event for eth1 was ignored
    assert text.index("Linkbeat reports eth1 down") < text.index("tracked interface eth1 is now DOWN"), logs(d)
    lab.run(n, ["ip", "link", "set", "eth1p", "up"])
    assert lab.wait_for(lambda: d.transitions()[-1:] == ["MASTER"], WAIT), logs(d)
    assert "Linkbeat reports eth1 up" in d.log()


def test_interface_up_down_delays_absorb_a_short_bounce_and_delay_a_real_loss(lab: Lab) -> None:
    n = lab.nodes[0]
    add_link(lab, n, "eth1", "198.18.1.1/24")
    spec = VrrpSpec(name="A", vrid=11, extra=("track_interface {", "    eth1", "}"), **MASTER_FAST)
    d = lab.start_kvrrp(n, "interface_up_down_delays {\n    eth1 3 0\n}\n" + render_config([spec]))
    assert lab.wait_for(lambda: d.transitions()[-1:] == ["MASTER"], WAIT), logs(d)
    seen = len(d.transitions())

    lab.run(n, ["ip", "link", "set", "eth1p", "down"])        # a bounce well inside the 3 s
    assert lab.wait_for(lambda: "eth1: Adding down change delay by 3000000" in d.log(), WAIT), logs(d)
    lab.run(n, ["ip", "link", "set", "eth1p", "up"])
    assert lab.wait_for(lambda: "Delay timer for eth1 cancelled" in d.log(), WAIT), logs(d)
    assert d.transitions()[seen:] == [] and "tracked interface eth1 is now DOWN" not in d.log()

    lab.run(n, ["ip", "link", "set", "eth1p", "down"])        # this time it stays down
    assert lab.wait_for(lambda: d.transitions()[seen:] == ["FAULT"], WAIT), logs(d)
    assert d.log().count("eth1: Adding down change delay by 3000000") == 2
    lab.run(n, ["ip", "link", "set", "eth1p", "up"])         # no up delay: back at once
    assert lab.wait_for(lambda: d.transitions()[seen:] == ["FAULT", "BACKUP", "MASTER"], WAIT), logs(d)


def test_a_reload_applies_new_buffer_sizes(lab: Lab) -> None:
    n = lab.nodes[0]
    dump = f"json_dump_file {lab.workdir}/n.json"

    def conf(cmd: int, kernel_rx: int) -> str:
        return render_config([VrrpSpec(name="A", vrid=11, extra=(f"kernel_rx_buf_size {kernel_rx}",))],
                             [f"vrrp_netlink_cmd_rcv_bufs {cmd}", dump])

    d = lab.start_kvrrp(n, conf(150000, 100000))
    assert lab.wait_for(lambda: d.transitions() == ["BACKUP"], WAIT), logs(d)

    def command_sizes() -> set[int]:
        mine, sizes = daemon_netlink_sockets(d.pid), ss_receive_buffers(lab, n)
        return {sizes[p] for p, groups in mine.items() if groups == 0}

    assert command_sizes() == {2 * 150000}
    assert json_dump(lab, d)["socket_buffers"]["eth0/v4"]["set"] == 100000
    with open(d.conf, "w") as fh:
        fh.write(conf(180000, 120000))
    d.signal(signal.SIGHUP)
    assert lab.wait_for(lambda: "Reload finished" in d.log(), WAIT), logs(d)
    assert command_sizes() == {2 * 180000}
    assert json_dump(lab, d)["socket_buffers"]["eth0/v4"] == {"set": 120000, "kernel": 240000}


def test_mtu_policy_multiplies_the_interface_mtu(lab: Lab) -> None:
    n = lab.nodes[0]
    lab.run(n, ["ip", "link", "set", "eth0", "mtu", "1400"])
    d = lab.start_kvrrp(n, render_config([VrrpSpec(name="A", vrid=11), VrrpSpec(name="B", vrid=12,
                                                                               vips=("198.18.0.201/32",))],
                                         ["vrrp_rx_bufs_policy MTU", f"json_dump_file {lab.workdir}/n.json"]))
    assert lab.wait_for(lambda: d.transitions().count("BACKUP") == 2, WAIT), logs(d)
    # two instances x the default multiplier 3 x eth0's MTU
    assert json_dump(lab, d)["socket_buffers"]["eth0/v4"] == {"set": 2 * 3 * 1400, "kernel": 2 * 2 * 3 * 1400}
