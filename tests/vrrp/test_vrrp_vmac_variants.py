"""The VMAC variants without a kernel: parsing (use_ipvlan, vmac_xmit_base, a VIP's use_vmac,
use_vmac_addr, disable_local_igmp), keepalived's placement and naming (plan_vmacs), the
settings the engine gets, and the IGMP/MLD nftables text. The kernel side is in
tests/system_vmac/test_system_vmac_variants.py and tests/ipvs/test_ipvlan_vm.py."""
from __future__ import annotations

import pytest

from kvrrp.config.loader import parse_text
from kvrrp.config.support import not_implemented
from kvrrp.io.vmac import IPVLAN, MACVLAN, _auto_name, plan_vmacs
from kvrrp.io.vmac_igmp import LocalIgmpReports, VmacIgmp, element_script, igmp_script
from kvrrp.vrrp import engine_settings


def parsed(text: str):
    res = parse_text(text)
    return res


def inst(body: str, vips: str = "198.18.0.100/24", excluded: str = "", name: str = "VI_1", vrid: int = 51,
         interface: str = "eth0") -> str:
    exc = f"    virtual_ipaddress_excluded {{\n        {excluded}\n    }}\n" if excluded else ""
    return (f"vrrp_instance {name} {{\n    interface {interface}\n    virtual_router_id {vrid}\n"
            f"    {body}\n    virtual_ipaddress {{\n        {vips}\n    }}\n{exc}}}\n")


def messages(res) -> list[str]:
    return [d.message for d in res.diagnostics]


# ------------------------------------------------------------------------------------ parsing
def test_use_ipvlan_options_and_keepalived_diagnostics():
    res = parsed(inst("use_ipvlan name bridge 198.18.0.77/24 vepa private group 4"))
    ipv = res.config.instances[0].use_ipvlan
    assert (ipv.name, ipv.address, ipv.prefixlen, ipv.mode, ipv.group) == ("bridge", "198.18.0.77", 24, "vepa", "4")
    assert "(VI_1) ipvlan type already specified - ignoring 'private'" in messages(res) and any(d.fails_test for d in res.diagnostics)
    ipv = parsed(inst("use_ipvlan")).config.instances[0].use_ipvlan
    assert (ipv.name, ipv.address, ipv.mode) == (None, None, "bridge")
    res = parsed(inst("use_ipvlan ipv1"))
    assert ("(VI_1) IPv4 ipvlan requires a source ip address to be configured. setting instance to fault state"
            in messages(res))
    # the address comes first: it fixes the family, the IPv4 VIP is then the one refused
    res = parsed(inst("use_ipvlan ipv1 2001:2::7/64"))
    assert any("address family of 198.18.0.100 must match the instance (IPv6)" in m for m in messages(res))
    res = parsed("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n"
                 " 198.18.0.1/24\n }\n use_ipvlan ipv1 2001:2::7/64\n}\n")
    assert "(VI_1) ipvlan address [2001:2::7/64] MUST match vrrp instance family" in messages(res)
    assert parsed(inst("use_ipvlan ipv1 2001:2::7/64", vips="2001:2::100/64")).ok


def test_use_vmac_words():
    vm = parsed(inst("use_vmac name group netlink_notify_msg 02:00:5E:00:01:33 group 7")).config.instances[0].use_vmac
    assert (vm.name, vm.mac, vm.netlink_notify_msg, vm.group) == ("group", "02:00:5e:00:01:33", True, "7")
    vm = parsed(inst("use_vmac vm1")).config.instances[0].use_vmac
    assert (vm.name, vm.mac, vm.netlink_notify_msg, vm.group) == ("vm1", None, False, None)
    vm = parsed(inst("use_vmac")).config.instances[0].use_vmac
    assert (vm.name, vm.mac) == (None, None)
    res = parsed(inst("use_vmac vm1 vm2"))
    assert "unexpected use_vmac option 'vm2'" in messages(res) and not res.ok
    assert res.config.instances[0].use_vmac.name == "vm1"
    # a last `group` with nothing after it is read as the interface name
    assert parsed(inst("use_vmac group")).config.instances[0].use_vmac.name == "group"


def test_vmac_xmit_base_is_a_flag_that_needs_use_vmac_in_either_order():
    for body in ("use_vmac\n    vmac_xmit_base", "vmac_xmit_base\n    use_vmac vm1"):
        res = parsed(inst(body))
        assert res.ok and res.config.instances[0].use_vmac.xmit_base
    res = parsed(inst("vmac_xmit_base"))
    assert res.config.instances[0].use_vmac is None                # it does not turn use_vmac on
    assert "(VI_1) vmac_xmit_base is only valid with a vmac" in messages(res) and any(d.fails_test for d in res.diagnostics)


def test_vip_use_vmac_conflicts_get_keepalived_warnings():
    res = parsed(inst("use_vmac", vips="198.18.0.100/24 use_vmac"))
    assert "(VI_1) use_vmac specified for VIP/eVIP 198.18.0.100 and vrrp instance" in messages(res)
    res = parsed(inst("use_vmac_addr", vips="198.18.0.100/24\n        198.18.1.1/24 dev eth1 use_vmac"))
    assert "(VI_1) use_vmac_addr specified and use_vmac specified for VIP/eVIP 198.18.1.1" in messages(res)
    assert parsed(inst("", vips="198.18.0.100/24 dev eth1 use_vmac")).ok


def test_disable_local_igmp_and_use_ipvlan_are_implemented():
    res = parsed("global_defs {\n    disable_local_igmp\n}\n" + inst("use_ipvlan ipv 198.18.0.7/24"))
    assert res.ok and res.config.global_defs.disable_local_igmp
    assert not_implemented("global_defs", "disable_local_igmp") is None
    assert not_implemented("vrrp_instance", "use_ipvlan") is None
    assert not any("not implemented" in m for m in messages(res))


# ----------------------------------------------------------------------- placement and names
def test_create_vmac_name_sequence():
    taken: set[str] = set()
    assert [_auto_name("vrrp", 51, 6, taken) for _ in range(8)] == [
        "vrrp.51", "vrrp6.51", "vrrp1.51", "vrrp2.51", "vrrp3.51", "vrrp4.51", "vrrp5.51", "vrrp7.51"]
    taken = set()
    assert [_auto_name("vrrp", 51, 4, taken) for _ in range(3)] == ["vrrp.51", "vrrp1.51", "vrrp2.51"]
    assert _auto_name("averyverylongprefix", 251, 4, set()) == "averyverylo.251"


def test_plan_places_addresses_like_keepalived():
    text = (inst("use_vmac\n    use_vmac_addr", vips="198.18.0.100/24\n        198.18.1.1/24 dev eth1",
                 excluded="2001:2::5/64")
            + inst("", name="VI_2", vrid=52, vips="198.18.0.102/24\n        198.18.0.103/24 dev eth0 use_vmac")
            + inst("use_ipvlan 198.18.0.9/24 private", name="VI_3", vrid=53, vips="198.18.0.104/24"))
    cfg = parsed(text).config
    plan = plan_vmacs(cfg)
    p1, p2, p3 = plan["VI_1"], plan["VI_2"], plan["VI_3"]
    assert (p1.ifname, p1.kind, p1.vips, p1.evips) == ("vrrp.51", MACVLAN, ("vrrp.51", "vrrp1.51"), ("vrrp6.51",))
    assert [(s.ifname, s.base, s.mac, s.family, s.ipv6) for s in p1.specs] == [
        ("vrrp.51", "eth0", "00:00:5e:00:01:33", 4, True),        # an IPv6 eVIP keeps IPv6 on it
        ("vrrp1.51", "eth1", "00:00:5e:00:01:33", 4, False),
        ("vrrp6.51", "eth0", "00:00:5e:00:02:33", 6, True)]
    assert (p2.ifname, p2.vips) == (None, (None, "vrrp.52"))        # only the VIP with use_vmac
    assert [(s.ifname, s.base, s.mac) for s in p2.specs] == [("vrrp.52", "eth0", "00:00:5e:00:01:34")]
    assert (p3.ifname, p3.kind, p3.vips) == ("vrrp.53", IPVLAN, (None,))
    (spec,) = p3.specs
    assert (spec.mac, spec.ipvlan_mode, spec.address, spec.prefixlen) == (None, "private", "198.18.0.9", 24)
    s1, s2, s3 = engine_settings(cfg).instances
    assert [(v.address, v.ifname) for v in s1.vips + s1.excluded_vips] == [
        ("198.18.0.100", "vrrp.51"), ("198.18.1.1", "vrrp1.51"), ("2001:2::5", "vrrp6.51")]
    assert (s2.vrrp_ifname, [v.ifname for v in s2.vips]) == ("eth0", ["eth0", "vrrp.52"])
    # ipvlan: adverts on it from its address, the VIP on the interface (keepalived >= 2.2)
    assert (s3.vrrp_ifname, s3.unicast_src_ip, s3.vips[0].ifname, s3.config_fault) == (
        "vrrp.53", "198.18.0.9", "eth0", None)


def test_settings_xmit_base_strict_and_ipvlan_fault():
    cfg = parsed("global_defs {\n    vrrp_strict\n}\n"
                 + inst("use_vmac\n    vmac_xmit_base\n    priority 100")).config
    assert engine_settings(cfg).instances[0].vmac_xmit_base is False    # strict mode clears it
    cfg = parsed(inst("use_ipvlan ipv1")).config
    s = engine_settings(cfg).instances[0]
    assert s.config_fault == "ipvlan_without_address"


def test_ipvlan_without_address_starts_in_fault():
    from vrrp_lan import FakeLan

    cfg = parsed(inst("use_ipvlan ipv1\n    priority 150")).config
    lan = FakeLan()
    lan.add_node("n1", engine_settings(cfg), v4="198.18.0.1", links={"ipv1": "eth0"})
    lan.run_for(5)
    assert lan.nodes["n1"].state("VI_1") == "FAULT" and not lan.masters()


# ---------------------------------------------------------------------------- IGMP / MLD
def test_igmp_rules_text_is_keepaliveds():
    assert igmp_script(4, "keepalived_vmac", -1).splitlines()[-1] == (
        'add rule ip keepalived_vmac out ip protocol igmp meta oifkind "macvlan" '
        "dup to ip daddr device oif map @vmac_map counter drop")
    six = igmp_script(6, "keepalived_vmac", -1)
    assert "elements = { mld-listener-report, mld2-listener-report }" in six
    assert 'icmpv6 type nd-router-solicit meta oifkind "macvlan" oif @vmac_set counter drop' in six
    assert element_script("add", 6, "t", "vrrp.5", "eth0") == (
        'add element ip6 t vmac_map { "vrrp.5" : "eth0" }\nadd element ip6 t vmac_set { "vrrp.5" }\n')
    with pytest.raises(ValueError):
        element_script("add", 4, "t", 'x" }; flush ruleset', "eth0")


class FakeNft:
    def __init__(self) -> None:
        self.commands: list[str] = []

    def run(self, text: str, json_output: bool = False) -> str:
        self.commands.append(text)
        return ""

    def close(self) -> None:
        pass


def test_vmac_igmp_families_and_disable_local_igmp():
    nft = FakeNft()
    igmp = VmacIgmp("keepalived", -1, disable_local_igmp=False, nft=nft)
    igmp.add("vrrp.5", "eth0", 4, other_family=True)
    assert sorted(igmp.members) == [(4, "vrrp.5"), (6, "vrrp.5")]
    igmp.remove("vrrp.5")
    assert not igmp.members and nft.commands[-1].startswith("delete element ip6 keepalived_vmac vmac_map")
    nft = FakeNft()
    igmp = VmacIgmp("keepalived", -1, disable_local_igmp=True, nft=nft)
    igmp.add("vrrp.5", "eth0", 4)                       # IPv4 VMAC: nothing with disable_local_igmp
    igmp.add("vrrp6.5", "eth0", 6)                      # IPv6 VMAC: the MLD rules all the same
    assert list(igmp.members) == [(6, "vrrp6.5")] and not any(" ip " in c.split("\n")[0] for c in nft.commands)


def test_local_igmp_reports_saved_and_restored(tmp_path):
    path = tmp_path / "igmp_link_local_mcast_reports"
    path.write_text("1\n")
    rep = LocalIgmpReports(str(path))
    assert rep.disable() and path.read_text().strip() == "0"
    rep.restore()
    assert path.read_text().strip() == "1"
    path.write_text("0\n")                              # already off: left as it is
    rep = LocalIgmpReports(str(path))
    assert rep.disable() and rep.saved is None
    rep.restore()
    assert path.read_text().strip() == "0"
    assert LocalIgmpReports(str(tmp_path / "missing")).disable() is False
