"""A throw-away LAN of network namespaces for tests, the demo and benchmarks (needs root).

    from kvrrp.lab import Lab, VrrpSpec, render_config

    with Lab(nodes=3, prefix="kvsys") as lab:          # + one "client" namespace: lab.client_node
        n1, n2, n3 = lab.nodes                          # Node(name, netns, ifname, ipv4, mac, ...)
        proc = lab.spawn(n1, ["python3", "-m", "kvrrp", "-n", "-l", "-f", conf])
        lab.run(n2, ["ip", "addr"])                     # CompletedProcess, text output
        lab.addresses(n1)                               # ["198.18.0.11", "fe80::...", ...] on eth0
        lab.addresses(n1, "vrrp.51", missing_ok=True)   # [] while that link does not exist
        lab.link(n1, "vrrp.51")                         # `ip -d -j link show` as a dict, or None
        lab.wait_for(lambda: "198.18.0.200" in lab.addresses(n1), timeout=5)
        with lab.capture() as cap:                      # every frame crossing the bridge
            ...
        cap.frames                                      # [Frame(ts, data)], .arp() / .vrrp() decode
        cap.garps("198.18.0.200", since=t)              # keepalived-style GARPs (kernel timestamps)
        cap.adverts()                                   # [(Frame, VrrpInfo(src, dst, ttl, payload))]
        lab.holders("198.18.0.200")                     # nodes whose eth0 carries the address
        with lab.watch_addresses(n2) as watch:          # netlink address events, timestamped
            ...
        watch.first_added("198.18.0.200")               # time.time() of RTM_NEWADDR, or None
        lab.kill(proc, signal.SIGKILL)                  # only processes this lab spawned

        # VRRP daemons with their own config, pid and log files in lab.workdir:
        conf = render_config([VrrpSpec(priority=150, version=3, advert_int=0.1)])
        d = lab.start_kvrrp(n1, conf)                   # python3 -m kvrrp -n -l -D -P -f .. -p ..
        k = lab.start_keepalived(n2, conf)              # keepalived -n -l -D -P -f .. -p/-r/-c ..
        d.transitions()                                 # ["BACKUP", "MASTER"], from its log
        d.crash(); k.signal(signal.SIGHUP); d.stop()    # SIGKILL / any signal / SIGTERM+wait
    # on exit (also on exceptions): spawned processes killed by PID (keepalived's VRRP child by
    # the pid it wrote), namespaces deleted, lab.workdir removed (kept if KVRRP_LAB_KEEP is set)

Layout: a "switch" namespace holds bridge br0 (multicast snooping off, so VRRP groups are
flooded like on a dumb switch); each node (and the client) is a namespace whose `eth0` is a veth
into the switch. Node i (1-based) gets 198.18.0.(10+i)/24 and MAC 02:00:c6:12:00:(10+i), so its
IPv6 link-local is fe80::c6ff:fe12:(10+i hex) as in the keepalived capture vectors; the client gets
198.18.0.100. DAD is off in every namespace so link-local addresses are usable at once.
Names are `<prefix>-<pid>-<random>-<role>`, unique across concurrent test runs.
To open a socket inside a node from the test process: `with kvrrp.io.netns.entered(node.netns):`
(the socket stays in that namespace afterwards).

Modules: network (the namespaces, Lab, Node), capture (Capture, Frame, AddressWatch),
daemons (VrrpSpec, render_config, Daemon and the kvrrp / keepalived starters), frr (FrrDaemons:
FRR's zebra / vrrpd / bfdd / bgpd in a node, the base of the FRR peers in tests/interop and
tests/bgp; import it as kvrrp.lab.frr).
"""
from kvrrp.lab.capture import AddressEvent, AddressWatch, Capture, Frame, VrrpInfo
from kvrrp.lab.daemons import (STATE_LINE, Daemon, VrrpSpec, pid_exited, python_env, render_config, start_keepalived,
                               start_kvrrp)
from kvrrp.lab.network import CLIENT_HOST, LAN_PREFIX, LAN_PREFIXLEN, Lab, Node
from kvrrp.wire import ArpInfo

__all__ = ["AddressEvent", "AddressWatch", "ArpInfo", "CLIENT_HOST", "Capture", "Daemon", "Frame", "LAN_PREFIX",
           "LAN_PREFIXLEN", "Lab", "Node", "STATE_LINE", "VrrpInfo", "VrrpSpec", "pid_exited", "python_env", "render_config",
           "start_keepalived", "start_kvrrp"]
