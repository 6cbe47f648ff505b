"""Real adapters in network namespaces: raw VRRP sockets, netlink addresses, GARP/NA on the wire."""
from __future__ import annotations

import asyncio
import time

import pytest

from kvrrp.io.addresses import NetlinkAddressManager, remove_leftovers
from kvrrp.io.announce import PacketAnnouncer
from kvrrp.io.ports import AddressSpec, Received
from kvrrp.io.transport import RawTransportFactory, TransportError
from kvrrp.lab import Lab
from kvio_vectors import KEEPALIVED_GARP, KEEPALIVED_NA

pytestmark = pytest.mark.root

PAYLOAD = bytes.fromhex("21339601000181efc61200c80000000000000000")  # keepalived v2 advert


@pytest.fixture
def lab():
    with Lab(nodes=2, prefix="kvio") as built:
        yield built


async def _collect(got: list[Received], count: int = 1, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def test_ipv4_multicast_ttl_255_and_no_loopback(lab: Lab) -> None:
    n1, n2 = lab.nodes
    f1 = RawTransportFactory(netns=n1.netns)
    f2 = RawTransportFactory(netns=n2.netns)
    got1: list[Received] = []
    got2: list[Received] = []
    try:
        t1 = f1.open("eth0", 4, got1.append, None)
        f2.open("eth0", 4, got2.append, None)
        assert t1.local_address() == n1.ipv4
        with lab.capture() as cap:
            t1.send(PAYLOAD, "224.0.0.18")
            await _collect(got2)
            time.sleep(0.1)
        assert got2 == [Received("eth0", 4, n1.ipv4, "224.0.0.18", 255, PAYLOAD)]
        # the kernel's receive time, on the monotonic clock, a moment ago
        assert got2[0].rx_time is not None and 0 <= time.monotonic() - got2[0].rx_time < 5
        assert got1 == []  # IP_MULTICAST_LOOP off: a node never hears itself
        wire = [info for _f, info in cap.adverts()]
        assert [(i.src, i.dst, i.ttl, i.payload) for i in wire] == [(n1.ipv4, "224.0.0.18", 255, PAYLOAD)]
        assert t1.stats()["sent"] == 1
    finally:
        f1.close()
        f2.close()


async def test_ipv4_custom_group_and_unicast_with_source(lab: Lab) -> None:
    n1, n2 = lab.nodes
    lab.run(n1, ["ip", "addr", "add", "198.18.0.21/24", "dev", "eth0"])
    f1 = RawTransportFactory(netns=n1.netns)
    f2 = RawTransportFactory(netns=n2.netns)
    got: list[Received] = []
    try:
        t1 = f1.open("eth0", 4, lambda r: None, "224.0.0.19")
        f2.open("eth0", 4, got.append, "224.0.0.19")
        t1.send(PAYLOAD, "224.0.0.19")
        await _collect(got)
        assert [(r.dst, r.ttl) for r in got] == [("224.0.0.19", 255)]
        got.clear()
        t1.send(PAYLOAD, n2.ipv4, src="198.18.0.21")  # unicast_peer with unicast_src_ip
        await _collect(got)
        assert [(r.src, r.dst, r.ttl, r.payload) for r in got] == [("198.18.0.21", n2.ipv4, 255, PAYLOAD)]
        got.clear()
        t1.send(PAYLOAD, n2.ipv4, ttl=7)  # unicast_ttl: this message only
        t1.send(PAYLOAD, n2.ipv4)
        await _collect(got, 2)
        assert [r.ttl for r in got] == [7, 255]
        with pytest.raises(ValueError, match="TTL"):
            t1.send(PAYLOAD, n2.ipv4, ttl=0)
    finally:
        f1.close()
        f2.close()


async def test_group_not_joined_is_not_heard(lab: Lab) -> None:
    n1, n2 = lab.nodes
    f1 = RawTransportFactory(netns=n1.netns)
    f2 = RawTransportFactory(netns=n2.netns)
    got: list[Received] = []
    try:
        t1 = f1.open("eth0", 4, lambda r: None, None)
        f2.open("eth0", 4, got.append, None)  # joined 224.0.0.18 only
        t1.send(PAYLOAD, "224.0.0.20")
        t1.send(PAYLOAD, "224.0.0.18")
        await _collect(got, 2, timeout=0.5)
        assert [r.dst for r in got] == ["224.0.0.18"]
    finally:
        f1.close()
        f2.close()


async def test_one_socket_per_interface_and_family_shared(lab: Lab) -> None:
    n1, n2 = lab.nodes
    f1 = RawTransportFactory(netns=n1.netns)
    f2 = RawTransportFactory(netns=n2.netns)
    a: list[Received] = []
    b: list[Received] = []
    try:
        t1 = f1.open("eth0", 4, lambda r: None, None)
        h1 = f2.open("eth0", 4, a.append, None)
        h2 = f2.open("eth0", 4, b.append, None)
        assert len(f2.stats()) == 1
        t1.send(PAYLOAD, "224.0.0.18")
        await _collect(b)
        await _collect(a)
        assert len(a) == len(b) == 1
        h1.close()
        t1.send(PAYLOAD, "224.0.0.18")
        await _collect(b, 2)
        assert len(a) == 1 and len(b) == 2  # the closed handle hears nothing, the socket stays
        h2.close()
        assert f2.stats() == {}
        with pytest.raises(TransportError):
            h2.send(PAYLOAD, "224.0.0.18")
    finally:
        f1.close()
        f2.close()


async def test_ipv6_multicast_from_link_local_hop_limit_255(lab: Lab) -> None:
    n1, n2 = lab.nodes
    f1 = RawTransportFactory(netns=n1.netns)
    f2 = RawTransportFactory(netns=n2.netns)
    got: list[Received] = []
    v6 = bytes.fromhex("31339601006474aafe800000000000000000000000000200")
    try:
        t1 = f1.open("eth0", 6, lambda r: None, None)
        f2.open("eth0", 6, got.append, None)
        assert t1.local_address() == n1.link_local
        t1.send(v6, "ff02::12")
        await _collect(got)
        assert got == [Received("eth0", 6, n1.link_local, "ff02::12", 255, v6)]
        assert got[0].rx_time is not None and 0 <= time.monotonic() - got[0].rx_time < 5
        got.clear()
        t1.send(v6, n2.link_local)  # unicast peer on the link
        t1.send(v6, n2.link_local, ttl=9)
        await _collect(got, 2)
        assert [(r.src, r.dst, r.ttl) for r in got] == [(n1.link_local, n2.link_local, 255),
                                                        (n1.link_local, n2.link_local, 9)]
    finally:
        f1.close()
        f2.close()


async def test_missing_interface_is_a_clear_error(lab: Lab) -> None:
    f1 = RawTransportFactory(netns=lab.nodes[0].netns)
    try:
        with pytest.raises(TransportError, match="nosuch0"):
            f1.open("nosuch0", 4, lambda r: None, None)
    finally:
        f1.close()


def test_addresses_every_option_idempotent(lab: Lab) -> None:
    n1, _ = lab.nodes
    mgr = NetlinkAddressManager(netns=n1.netns)
    specs = [
        AddressSpec("198.18.0.200", 32, "eth0", 4),
        AddressSpec("198.18.1.10", 24, "eth0", 4, broadcast="198.18.1.255", label="eth0:vip", scope="global"),
        AddressSpec("198.18.2.1", 32, "eth0", 4, peer="198.18.2.2", scope="link"),
        AddressSpec("198.18.3.3", 32, "eth0", 4, scope="host"),
        AddressSpec("2001:2::200", 64, "eth0", 6, nodad=True),
    ]
    try:
        for spec in specs:
            assert not mgr.present(spec)
            mgr.add(spec)
            mgr.add(spec)  # idempotent
            assert mgr.present(spec)
        shown = lab.run(n1, ["ip", "addr", "show", "dev", "eth0"]).stdout
        assert "inet 198.18.0.200/32 scope global eth0" in shown
        assert "inet 198.18.1.10/24 brd 198.18.1.255 scope global eth0:vip" in shown
        assert "inet 198.18.2.1 peer 198.18.2.2/32 scope link eth0" in shown
        assert "inet 198.18.3.3/32 scope host eth0" in shown
        assert "2001:2::200/64 scope global nodad" in shown
        for spec in specs:
            mgr.remove(spec)
            mgr.remove(spec)  # idempotent
            assert not mgr.present(spec)
        assert lab.addresses(n1) == [n1.ipv4, n1.link_local]
    finally:
        mgr.close()


def test_address_on_missing_interface_is_a_clear_error(lab: Lab) -> None:
    mgr = NetlinkAddressManager(netns=lab.nodes[0].netns)
    try:
        with pytest.raises(OSError, match="nosuch0"):
            mgr.add(AddressSpec("198.18.0.200", 32, "nosuch0", 4))
        mgr.remove(AddressSpec("198.18.0.200", 32, "nosuch0", 4))  # gone already: fine
    finally:
        mgr.close()


def test_remove_leftovers_sweeps_only_present_vips(lab: Lab) -> None:
    n1, _ = lab.nodes
    lab.run(n1, ["ip", "addr", "add", "198.18.0.200/32", "dev", "eth0"])
    mgr = NetlinkAddressManager(netns=n1.netns)
    try:
        specs = [AddressSpec("198.18.0.200", 32, "eth0", 4), AddressSpec("198.18.0.201", 32, "eth0", 4)]
        removed = remove_leftovers(mgr, specs)
        assert removed == specs[:1]
        assert lab.addresses(n1) == [n1.ipv4, n1.link_local]
    finally:
        mgr.close()


def test_remove_leftovers_dumps_once_per_interface_and_family(lab: Lab) -> None:
    n1, _ = lab.nodes
    for host in (200, 202):
        lab.run(n1, ["ip", "addr", "add", f"198.18.0.{host}/32", "dev", "eth0"])
    lab.run(n1, ["ip", "addr", "add", "198.18.0.203/24", "dev", "eth0"])  # other prefix length
    mgr = NetlinkAddressManager(netns=n1.netns)
    dumps = []
    real = mgr._netlink.addresses

    def counted(ifname, family=None):  # noqa: ANN001, ANN202
        dumps.append((ifname, family))
        return real(ifname, family)

    mgr._netlink.addresses = counted
    try:
        specs = [AddressSpec(f"198.18.0.{h}", 32, "eth0", 4) for h in range(200, 210)]
        specs += [AddressSpec("198.18.0.203", 32, "eth0", 4), AddressSpec("fd00::1", 128, "eth0", 6),
                  AddressSpec("198.18.0.200", 32, "nosuch0", 4)]
        removed = remove_leftovers(mgr, specs)
        assert removed == [specs[0], specs[2]]
        assert sorted(dumps, key=str) == [("eth0", 4), ("eth0", 6), ("nosuch0", 4)]
        assert "198.18.0.203" in lab.addresses(n1) and "198.18.0.200" not in lab.addresses(n1)
    finally:
        mgr.close()


def test_gratuitous_arp_and_na_on_the_wire_match_keepalived(lab: Lab) -> None:
    n1, _ = lab.nodes
    assert n1.mac == "02:00:c6:12:00:0b"  # the MAC keepalived had in the capture
    announcer = PacketAnnouncer(netns=n1.netns)
    try:
        with lab.capture(lab.client_node) as cap:
            announcer.gratuitous_arp("eth0", "198.18.0.200")
            announcer.unsolicited_na("eth0", "fe80::200")
            assert lab.wait_for(lambda: len([f for f in cap.snapshot() if f.ethertype in (0x806, 0x86dd)
                                             and (f.arp() or f.ipv6_na_target())]) >= 2, timeout=2)
        frames = [f.data for f in cap.snapshot()]
        assert KEEPALIVED_GARP in frames
        assert KEEPALIVED_NA in frames
        assert announcer.stats["garp_sent"] == 1 and announcer.stats["na_sent"] == 1
    finally:
        announcer.close()


def test_announce_on_noarp_interface_is_skipped_and_counted(lab: Lab) -> None:
    n1, _ = lab.nodes
    lab.run(n1, ["ip", "link", "set", "eth0", "arp", "off"])
    announcer = PacketAnnouncer(netns=n1.netns)
    try:
        announcer.gratuitous_arp("eth0", "198.18.0.200")
        announcer.gratuitous_arp("nosuch0", "198.18.0.200")
        assert announcer.stats["skipped_noarp"] == 1
        assert announcer.stats["skipped_no_interface"] == 1
        assert announcer.stats["garp_sent"] == 0
    finally:
        announcer.close()


async def test_local_address_for_an_interface_without_a_vrrp_socket(lab: Lab) -> None:
    n1, _ = lab.nodes
    factory = RawTransportFactory(netns=n1.netns)
    try:
        # nothing opened: the answer comes from netlink (a VMAC's base interface, a peer's link)
        assert factory.local_address("eth0", 4) == n1.ipv4
        assert factory.local_address("eth0", 6) == n1.link_local
        assert factory.local_address("nosuch0", 4) is None
        assert factory.local_address("lo", 4) == "127.0.0.1"
        # a secondary address in the same subnet is not the primary
        lab.run(n1, ["ip", "addr", "add", "198.18.0.99/24", "dev", "eth0"])
        factory._local_cache.clear()
        assert factory.local_address("eth0", 4) == n1.ipv4
        assert factory.lookup_errors == 0
    finally:
        factory.close()


def test_cached_ifindex_dropped_when_the_interface_is_recreated(lab: Lab) -> None:
    n1, _ = lab.nodes
    lab.run(n1, ["ip", "link", "add", "kvx0", "link", "eth0", "type", "macvlan", "mode", "private"])
    mgr = NetlinkAddressManager(netns=n1.netns)
    spec = AddressSpec("198.18.5.1", 32, "kvx0", 4)
    try:
        mgr.prepare([spec])
        mgr.add(spec)
        first = mgr._indexes["kvx0"]
        mgr.remove(spec)
        # a VMAC removed and re-created with the same name gets a new index
        lab.run(n1, ["ip", "link", "del", "kvx0"])
        lab.run(n1, ["ip", "link", "add", "kvx0", "link", "eth0", "type", "macvlan", "mode", "private"])
        mgr.add(spec)
        assert mgr._indexes["kvx0"] != first
        assert mgr.present(spec)
        assert "198.18.5.1/32" in lab.run(n1, ["ip", "addr", "show", "dev", "kvx0"]).stdout
        mgr.remove(spec)
        assert not mgr.present(spec)
        # and gone for good: a clear error for add, quiet for remove
        lab.run(n1, ["ip", "link", "del", "kvx0"])
        with pytest.raises(OSError, match="kvx0"):
            mgr.add(spec)
        mgr.remove(spec)
    finally:
        mgr.close()
        lab.run(n1, ["ip", "link", "del", "kvx0"], check=False)


def test_prepared_requests_are_sent_with_fresh_sequence_numbers(lab: Lab) -> None:
    n1, _ = lab.nodes
    mgr = NetlinkAddressManager(netns=n1.netns)
    spec = AddressSpec("198.18.0.200", 32, "eth0", 4, label="eth0:vip")
    try:
        mgr.prepare([spec, AddressSpec("198.18.0.201", 32, "nosuch0", 4)])   # a missing one is skipped
        for _ in range(3):      # the same cached messages again and again
            mgr.add(spec)
            assert mgr.present(spec)
            mgr.remove(spec)
            assert not mgr.present(spec)
    finally:
        mgr.close()


def test_announcer_prepared_frames_and_cached_interface_facts(lab: Lab) -> None:
    n1, _ = lab.nodes
    announcer = PacketAnnouncer(netns=n1.netns)
    try:
        announcer.prepare("eth0", "198.18.0.200", 4)
        with lab.capture(lab.client_node) as cap:
            for _ in range(3):
                announcer.gratuitous_arp("eth0", "198.18.0.200")
            assert lab.wait_for(lambda: sum(1 for f in cap.snapshot() if f.data == KEEPALIVED_GARP) >= 3, timeout=2)
        assert announcer.stats["garp_sent"] == 3
        lab.run(n1, ["ip", "link", "set", "eth0", "arp", "off"])
        time.sleep(1.1)                      # past INTERFACE_INFO_TTL: NOARP is seen
        announcer.gratuitous_arp("eth0", "198.18.0.200")
        announcer.gratuitous_arp("eth0", "198.18.0.200")
        assert announcer.stats["skipped_noarp"] == 2 and announcer.stats["garp_sent"] == 3
    finally:
        announcer.close()


async def test_source_address_never_a_configured_vip(lab: Lab) -> None:
    """With VIPs on the interface (a master), adverts still leave from the node's own
    addresses: its link-local for IPv6 even when a link-local VIP was added, and its own IPv4
    even when a VIP became the interface's primary address."""
    n1, _ = lab.nodes
    lab.run(n1, ["ip", "addr", "flush", "dev", "eth0", "scope", "global"])
    for address in ("198.18.0.200/24", f"{n1.ipv4}/24", "fe80::5:200/64"):
        lab.run(n1, ["ip", "addr", "add", address, "dev", "eth0"])
    factory = RawTransportFactory(netns=n1.netns)
    try:
        handle6 = factory.open("eth0", 6, lambda _r: None)
        handle4 = factory.open("eth0", 4, lambda _r: None)
        # without the VIPs known, the newest link-local (the VIP) and the primary (the VIP) win
        assert handle6.local_address() == "fe80::5:200"
        assert handle4.local_address() == "198.18.0.200"
        factory.set_virtual_addresses(["198.18.0.200", "FE80:0::5:200"])
        assert handle6.local_address() == n1.link_local
        assert handle4.local_address() == n1.ipv4
        assert factory.local_address("eth0", 6) == n1.link_local
        factory.set_virtual_addresses([])
        assert handle6.local_address() == "fe80::5:200"
    finally:
        factory.close()
