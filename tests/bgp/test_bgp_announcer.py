"""The pure announcer, the FRR seam's parsing and command lists, the reconciler against a fake
speaker, and the kvrrp_bgp / kvrrp_announce configuration with its file:line errors."""
from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from kvrrp.bgp.announcer import AnnouncePlan, Announcer, RouteAttrs, anycast_plan, follow_plan, host_prefix
from kvrrp.bgp.reconcile import Reconciler
from kvrrp.config import load
from kvrrp.io.bgp_frr import change_commands, parse_running_config

ATTRS = RouteAttrs(med=10, communities=("65000:1",))


def plan() -> AnnouncePlan:
    return AnnouncePlan(follow={"VI_1": ("198.18.5.1/32", "2001:db8::5/128")},
                        anycast={"TCP [198.18.9.1]:80": "198.18.9.1/32", "TCP [198.18.9.1]:443": "198.18.9.1/32",
                                 "UDP [198.18.9.2]:53": "198.18.9.2/32"}, attrs=ATTRS)


def test_follow_vrrp_announces_only_while_master() -> None:
    a = Announcer(plan())
    assert a.desired() == {}
    assert a.set_state("VI_1", "BACKUP") is False          # not master before or after
    assert a.set_state("VI_1", "MASTER") is True
    assert set(a.desired()) == {"198.18.5.1/32", "2001:db8::5/128"}
    for state in ("FAULT", "BACKUP", "STOP", "INIT"):
        a.set_state("VI_1", "MASTER")
        assert a.set_state("VI_1", state) is True
        assert a.desired() == {}
    assert a.set_state("OTHER", "MASTER") is False         # not announced: no change


def test_anycast_needs_quorum_on_every_service_of_the_address() -> None:
    a = Announcer(plan())
    assert a.desired() == {}                                # unknown quorum counts as down
    a.set_quorums({"TCP [198.18.9.1]:80": True, "UDP [198.18.9.2]:53": True})
    assert set(a.desired()) == {"198.18.9.2/32"}            # :443 not known yet
    assert a.set_quorum("TCP [198.18.9.1]:443", True) is True
    assert set(a.desired()) == {"198.18.9.1/32", "198.18.9.2/32"}
    assert a.set_quorum("TCP [198.18.9.1]:443", True) is False
    a.set_quorum("TCP [198.18.9.1]:80", False)
    assert set(a.desired()) == {"198.18.9.2/32"}
    assert a.desired()["198.18.9.2/32"] == ATTRS


def test_maintenance_and_shutdown_withdraw_everything() -> None:
    a = Announcer(plan())
    a.set_state("VI_1", "MASTER")
    a.set_quorums({k: True for k in plan().anycast})
    assert len(a.desired()) == 4
    assert a.set_maintenance(True) is True and a.desired() == {}
    assert a.set_maintenance(True) is False
    a.set_maintenance(False)
    assert len(a.desired()) == 4
    assert a.shutdown() is True and a.desired() == {}
    assert a.shutdown() is False


def test_reload_keeps_facts_of_names_still_configured() -> None:
    a = Announcer(plan())
    a.set_state("VI_1", "MASTER")
    a.set_quorums({k: True for k in plan().anycast})
    a.set_plan(AnnouncePlan(follow={"VI_1": ("198.18.5.7/32",)}, attrs=ATTRS))
    assert set(a.desired()) == {"198.18.5.7/32"}
    assert a.quorum == {}


def test_route_tags_separate_owners_and_attributes() -> None:
    assert ATTRS.tag("vrrp") != ATTRS.tag("vs")
    assert ATTRS.tag("vs") != RouteAttrs(med=11, communities=("65000:1",)).tag("vs")
    assert ATTRS.tag("vs").startswith("kvrrp-vs-")
    assert host_prefix("2001:DB8::1") == "2001:db8::1/128" and host_prefix("198.18.0.1") == "198.18.0.1/32"


RUNNING = """\
frr version 8.4.4
router bgp 65101
 bgp router-id 198.18.0.12
 address-family ipv4 unicast
  network 198.18.5.1/32 route-map kvrrp-vrrp-0123abcd
  network 198.18.77.0/24
  network 198.18.78.0/24 route-map OPERATOR
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8::5/128 route-map kvrrp-vs-89abcdef
 exit-address-family
exit
router bgp 65102 vrf red
 address-family ipv4 unicast
  network 198.18.6.1/32 route-map kvrrp-vs-89abcdef
 exit-address-family
exit
route-map kvrrp-vs-89abcdef permit 10
 set metric 10
exit
route-map OPERATOR permit 10
exit
"""


def test_running_config_parsing_sees_only_kvrrp_statements_of_its_router() -> None:
    nets, maps, found = parse_running_config(RUNNING, 65101)
    assert found
    assert nets == {"198.18.5.1/32": "kvrrp-vrrp-0123abcd", "2001:db8::5/128": "kvrrp-vs-89abcdef"}
    assert maps == {"kvrrp-vs-89abcdef"}
    assert parse_running_config(RUNNING, 65199)[2] is False


def test_change_commands() -> None:
    tag = ATTRS.tag("vs")
    cmds = change_commands(65101, {"198.18.9.1/32": (tag, ATTRS), "2001:db8::9/128": (tag, ATTRS)},
                           ["198.18.5.1/32"], {"kvrrp-old-00000000"}, {tag})
    assert cmds == [
        "configure terminal", f"route-map {tag} permit 10", "set metric 10", "set community 65000:1", "exit",
        "router bgp 65101",
        "address-family ipv4 unicast", "no network 198.18.5.1/32", f"network 198.18.9.1/32 route-map {tag}",
        "exit-address-family",
        "address-family ipv6 unicast", f"network 2001:db8::9/128 route-map {tag}", "exit-address-family",
        "exit", "no route-map kvrrp-old-00000000", "end"]


class FakeSpeaker:
    def __init__(self, fail: int = 0) -> None:
        self.routes_now: dict[str, str] = {"198.18.250.1/32": "kvrrp-vrrp-deadbeef"}   # left by a crash
        self.foreign = {"198.18.77.0/24": "OPERATOR"}
        self.fail = fail
        self.applies = 0

    async def routes(self, owner: str) -> dict[str, str]:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("vtysh: bgpd is not running")
        return {p: t for p, t in self.routes_now.items() if t.startswith(f"kvrrp-{owner}-")}

    async def apply(self, add, remove) -> None:  # noqa: ANN001
        self.applies += 1
        for p in remove:
            del self.routes_now[p]
        self.routes_now.update((p, t) for p, (t, _a) in add.items())


def test_reconciler_converges_removes_leftovers_retries_and_withdraws_on_stop() -> None:
    async def run() -> None:
        a = Announcer(plan())
        speaker = FakeSpeaker(fail=1)
        r = Reconciler(a, speaker, "vrrp", resync=None)
        a.set_state("VI_1", "MASTER")
        r.start()
        assert await r.settle(5)
        assert r.errors == 1 and "bgpd is not running" in r.last_error
        assert set(speaker.routes_now) == {"198.18.5.1/32", "2001:db8::5/128"}   # leftover withdrawn
        before = speaker.applies
        r.poke()
        assert await r.settle(5) and speaker.applies == before                 # no change, no write
        a.set_state("VI_1", "BACKUP")
        r.poke()
        assert await r.settle(5) and speaker.routes_now == {}
        a.set_state("VI_1", "MASTER")
        r.poke()
        assert await r.withdraw_and_stop(5) is True
        assert speaker.routes_now == {}
        assert r.snapshot()["withdrawn_total"] >= 3
    asyncio.run(run())


CONF = """\
kvrrp_bgp {
    asn 65101
    vty_socket /run/frr-x
    med 10
    local_preference 200
    community 65000:1 no-export
    ipvs off
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.18.5.1
    }
    kvrrp_announce
}
virtual_server 198.18.9.1 80 {
    lvs_sched mh
    lvs_method DR
    protocol TCP
    kvrrp_announce
    real_server 198.18.10.1 80 {
        TCP_CHECK {
        }
    }
}
"""


def _load(tmp_path, text: str):  # noqa: ANN001, ANN202
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    return load(str(path)), str(path)


def test_config_model(tmp_path) -> None:  # noqa: ANN001
    result, _ = _load(tmp_path, CONF)
    assert not [d for d in result.diagnostics if d.severity == "error"], [str(d) for d in result.diagnostics]
    cfg = result.config
    b = cfg.bgp
    assert (b.asn, b.vty_socket, b.med, b.local_preference, b.communities, b.ipvs) == \
        (65101, "/run/frr-x", 10, 200, ("65000:1", "no-export"), False)
    assert follow_plan(cfg).follow == {"VI_1": ("198.18.5.1/32",)}
    assert anycast_plan(cfg).anycast == {"TCP 198.18.9.1:80": "198.18.9.1/32"}


@pytest.mark.parametrize("change, line, words", [
    (("    asn 65101\n", ""), 1, "needs 'asn'"),
    (("asn 65101", "asn 0"), 2, "out of range"),
    (("med 10", "med ten"), 4, "not an integer"),
    (("65000:1 no-export", "65000:1 99999:1"), 6, "99999:1"),
    (("    ipvs off\n", "    ipvs off\n    daemon bird\n"), 8, "kvrrp drives frr"),
])
def test_bad_values_are_errors_with_file_and_line(tmp_path, change, line, words) -> None:  # noqa: ANN001
    result, path = _load(tmp_path, CONF.replace(*change))
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert any(d.loc.line == line and words in d.message for d in errors), [str(d) for d in errors]


def test_announce_without_block_and_on_fwmark_are_errors(tmp_path) -> None:  # noqa: ANN001
    text = CONF.split("vrrp_instance", 1)[1]
    text = "vrrp_instance" + text.replace("virtual_server 198.18.9.1 80", "virtual_server fwmark 7")
    result, _ = _load(tmp_path, text)
    msgs = [(d.loc.line, d.message) for d in result.diagnostics if d.severity == "error"]
    assert any(line == 7 and "needs a kvrrp_bgp block" in m for line, m in msgs), msgs
    assert any(line == 13 and "not a fwmark" in m for line, m in msgs), msgs


def test_an_address_announced_both_ways_is_an_error(tmp_path) -> None:  # noqa: ANN001
    result, _ = _load(tmp_path, CONF.replace("virtual_server 198.18.9.1 80", "virtual_server 198.18.5.1 80"))
    msgs = [(d.loc.line, d.message) for d in result.diagnostics if d.severity == "error"]
    assert any(line == 21 and "announce it one way only" in m for line, m in msgs), msgs


def test_kvrrp_t_accepts_and_keepalived_rejects(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "keepalived.conf"
    path.write_text(CONF)
    ok = subprocess.run([sys.executable, "-m", "kvrrp", "-t", "-f", str(path)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    import shutil
    if shutil.which("keepalived") is None:
        pytest.skip("keepalived not installed")
    ka = subprocess.run(["keepalived", "-t", "-f", str(path), "-l", "-n"], capture_output=True, text=True)
    assert ka.returncode != 0
    assert "Unknown keyword 'kvrrp_bgp'" in ka.stdout + ka.stderr
    assert "Unknown keyword 'kvrrp_announce'" in ka.stdout + ka.stderr


def test_shutdown_with_a_dead_bgpd_gives_up_and_says_so() -> None:
    async def run() -> None:
        a = Announcer(plan())
        speaker = FakeSpeaker(fail=10**6)
        r = Reconciler(a, speaker, "vrrp", resync=None)
        a.set_state("VI_1", "MASTER")
        r.start()
        while r.errors == 0:
            await asyncio.sleep(0.01)
        assert await r.withdraw_and_stop(5) is False         # bounded to 1 s once failing
        assert r.errors >= 1 and r._task is None
    asyncio.run(run())


def test_shutdown_with_nothing_announced_needs_no_round_trip() -> None:
    async def run() -> None:
        a = Announcer(plan())
        speaker = FakeSpeaker()
        speaker.routes_now = {}
        r = Reconciler(a, speaker, "vrrp", resync=None)
        r.start()
        assert await r.settle(5)
        passes = r.passes
        assert await r.withdraw_and_stop(5) is True and r.passes == passes
    asyncio.run(run())


def test_metrics_families_from_the_snapshot() -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from kvrrp.bgp.metrics import families

    snap = {"owner": "vs", "announced": ["198.18.9.1/32"], "announced_total": 3, "withdrawn_total": 2,
            "passes": 7, "errors": 1, "maintenance": True}

    class One:
        def __init__(self, prefix: str) -> None:
            self.prefix = prefix

        def collect(self):  # noqa: ANN202
            return families(snap, self.prefix)

    text = b""
    for prefix in ("kvrrp_bgp", "kvrrp_checker_bgp"):     # the parent concatenates both registries
        reg = CollectorRegistry()
        reg.register(One(prefix))
        text += generate_latest(reg)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text.decode()) for s in f.samples}
    assert samples[("kvrrp_bgp_route_announced", (("owner", "vs"), ("prefix", "198.18.9.1/32")))] == 1
    assert samples[("kvrrp_checker_bgp_route_changes_total", (("change", "withdraw"), ("owner", "vs")))] == 2
    assert samples[("kvrrp_bgp_reconcile_errors_total", (("owner", "vs"),))] == 1
    assert samples[("kvrrp_checker_bgp_maintenance", (("owner", "vs"),))] == 1
    assert list(families(None)) == []
