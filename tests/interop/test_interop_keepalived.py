"""kvrrp and Debian's keepalived in one VRRP group on a netns LAN.

For v2 and v3, multicast and unicast, each way round (kvrrp master with keepalived backups and
keepalived master with kvrrp backups): exactly one master, the master's crash moves the VIP to
the next priority (of the other implementation), its return preempts, and no daemon flaps
(every transition is counted from the logs; keepalived and kvrrp both log "Entering X STATE").
keepalived runs inside the lab's namespaces with its own config and pid files (-p/-r/-c), VRRP
only (-P), and is stopped by the PIDs the lab started.
"""
from __future__ import annotations

import time

import pytest

from kvrrp.lab import Daemon, Lab, VrrpSpec, render_config

pytestmark = [pytest.mark.root, pytest.mark.keepalived, pytest.mark.timeout(120)]

VIP = "198.18.0.200"
WAIT = 15.0
PRIORITIES = (150, 100, 50)

CASES = [
    pytest.param(3, 0.1, False, id="v3-multicast"),
    pytest.param(3, 0.1, True, id="v3-unicast"),
    pytest.param(2, 1.0, False, id="v2-multicast"),
    pytest.param(2, 1.0, True, id="v2-unicast"),
]


def _spec(lab: Lab, index: int, version: int, advert: float, unicast: bool) -> VrrpSpec:
    node = lab.nodes[index]
    peers = tuple(n.ipv4 for n in lab.nodes if n is not node) if unicast else ()
    return VrrpSpec(priority=PRIORITIES[index], version=version, advert_int=advert,
                    unicast_src_ip=node.ipv4 if unicast else None, unicast_peers=peers)


def _start(lab: Lab, impl: str, index: int, spec: VrrpSpec, tag: str) -> Daemon:
    text = render_config([spec])
    node = lab.nodes[index]
    if impl == "kvrrp":
        return lab.start_kvrrp(node, text, tag=tag)
    return lab.start_keepalived(node, text, tag=tag)


def _logs(daemons: list[Daemon]) -> str:
    return "\n".join(f"--- {d.kind} on {d.node.name} ---\n{d.log()[-2500:]}" for d in daemons)


def _one_master(lab: Lab, master: Daemon, others: list[Daemon]) -> bool:
    return (lab.holders(VIP) == [master.node] and master.transitions()[-1:] == ["MASTER"]
            and all(d.transitions()[-1:] == ["BACKUP"] for d in others))


@pytest.mark.parametrize("version,advert,unicast", CASES)
@pytest.mark.parametrize("master_impl", ["kvrrp", "keepalived"])
def test_mixed_group(master_impl: str, version: int, advert: float, unicast: bool) -> None:
    backup_impl = "keepalived" if master_impl == "kvrrp" else "kvrrp"
    settle = 3 * advert + 1.2          # Master_Down_Interval plus the 1 s GARP repeat
    with Lab(nodes=3, prefix="kvint") as lab:
        specs = [_spec(lab, i, version, advert, unicast) for i in range(3)]
        master = _start(lab, master_impl, 0, specs[0], "m1")
        assert lab.wait_for(lambda: VIP in lab.addresses(lab.nodes[0]), WAIT), _logs([master])
        backups = [_start(lab, backup_impl, i, specs[i], f"b{i}") for i in (1, 2)]
        everyone = [master, *backups]
        assert lab.wait_for(lambda: _one_master(lab, master, backups), WAIT), _logs(everyone)

        # steady state: exactly one master, nobody flaps
        counts = [len(d.transitions()) for d in everyone]
        time.sleep(settle)
        assert _one_master(lab, master, backups), _logs(everyone)
        assert [len(d.transitions()) for d in everyone] == counts, _logs(everyone)

        # the master crashes: the priority-100 backup (other implementation) takes over alone
        master.crash()
        master.proc.wait(10)
        # a SIGKILLed daemon cannot remove its VIP; take it off as if n1 had lost power
        lab.run(lab.nodes[0], ["ip", "addr", "del", f"{VIP}/32", "dev", "eth0"], check=False)
        assert lab.wait_for(lambda: _one_master(lab, backups[0], [backups[1]]), WAIT), _logs(everyone)
        assert backups[0].transitions()[counts[1]:] == ["MASTER"], _logs(everyone)
        assert backups[1].transitions()[counts[2]:] == [], _logs(everyone)

        # the old master returns and preempts; then the group stays put
        again = _start(lab, master_impl, 0, specs[0], "m1-again")
        assert lab.wait_for(lambda: _one_master(lab, again, backups), WAIT), _logs([again, *backups])
        assert backups[0].transitions()[counts[1]:] == ["MASTER", "BACKUP"], _logs([again, *backups])
        after = [len(d.transitions()) for d in (again, *backups)]
        time.sleep(settle)
        assert [len(d.transitions()) for d in (again, *backups)] == after, _logs([again, *backups])
        assert lab.holders(VIP) == [lab.nodes[0]]


@pytest.mark.parametrize("master_impl", ["kvrrp", "keepalived"])
def test_mixed_group_ipv6_v3(master_impl: str) -> None:
    backup_impl = "keepalived" if master_impl == "kvrrp" else "kvrrp"
    vips = ("fe80::200/64", "2001:2::200/64")
    with Lab(nodes=2, prefix="kvint6") as lab:
        specs = [VrrpSpec(priority=p, version=3, advert_int=0.1, family=6, vips=vips) for p in PRIORITIES[:2]]
        master = _start(lab, master_impl, 0, specs[0], "m1")
        assert lab.wait_for(lambda: "2001:2::200" in lab.addresses(lab.nodes[0]), WAIT), _logs([master])
        backup = _start(lab, backup_impl, 1, specs[1], "b1")
        assert lab.wait_for(lambda: backup.transitions()[-1:] == ["BACKUP"], WAIT), _logs([master, backup])
        time.sleep(1.5)
        assert lab.holders("2001:2::200") == [lab.nodes[0]], _logs([master, backup])
        assert backup.transitions() == ["BACKUP"], _logs([master, backup])
        master.crash()
        assert lab.wait_for(lambda: lab.holders("2001:2::200") == [lab.nodes[1]] or
                            "2001:2::200" in lab.addresses(lab.nodes[1]), WAIT), _logs([master, backup])
        assert lab.wait_for(lambda: backup.transitions() == ["BACKUP", "MASTER"], WAIT), _logs([master, backup])


LINK_LOCAL_VIP = "fe80::5:200"
GLOBAL_VIP6 = "2001:2::5:200"


@pytest.mark.parametrize("impls", [("kvrrp", "kvrrp"), ("kvrrp", "keepalived"), ("keepalived", "kvrrp")],
                         ids=lambda impls: "-".join(impls))
def test_link_local_vip_partition_heals_to_one_master(impls: tuple[str, str]) -> None:
    """RFC 5798 5.2.9 puts the link-local VIP first. While both sides of a partition are master
    both carry it; adverts must still leave from each router's own link-local (5.1.2.1, 6.4.3),
    or after the heal each side drops the other's adverts as its own and both stay master."""
    vips = (f"{LINK_LOCAL_VIP}/64", f"{GLOBAL_VIP6}/64")
    with Lab(nodes=2, prefix="kvsplit") as lab:
        n1, n2 = lab.nodes
        specs = [VrrpSpec(priority=p, version=3, advert_int=0.1, family=6, vips=vips) for p in PRIORITIES[:2]]
        first = _start(lab, impls[0], 0, specs[0], "p150")
        assert lab.wait_for(lambda: GLOBAL_VIP6 in lab.addresses(n1), WAIT), _logs([first])
        second = _start(lab, impls[1], 1, specs[1], "p100")
        daemons = [first, second]
        assert lab.wait_for(lambda: second.transitions()[-1:] == ["BACKUP"], WAIT), _logs(daemons)

        lab.partition([n1], [n2])
        assert lab.wait_for(lambda: lab.holders(GLOBAL_VIP6) == [n1, n2], WAIT), _logs(daemons)
        # past the source-address cache (1 s): the link-local VIP now sits on both interfaces
        time.sleep(1.5)
        with lab.capture() as cap:
            healed = time.time()
            lab.heal()
            assert lab.wait_for(lambda: lab.holders(GLOBAL_VIP6) == [n1] and LINK_LOCAL_VIP not in
                                lab.addresses(n2), WAIT), _logs(daemons)
            assert lab.wait_for(lambda: second.transitions()[-1:] == ["BACKUP"], WAIT), _logs(daemons)
            time.sleep(0.5)
        sources = {info.src for _frame, info in cap.adverts(healed) if info.family == 6}
        assert LINK_LOCAL_VIP not in sources
        assert n1.link_local in sources, sources
        assert first.transitions()[-1:] == ["MASTER"] and lab.holders(GLOBAL_VIP6) == [n1], _logs(daemons)
