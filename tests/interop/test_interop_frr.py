"""kvrrp and FRR's vrrpd (Debian's frr 8.4) in one virtual router: a second independent
implementation next to keepalived. VRRPv3 at 0.1 s, each way round: one master, the master's
crash hands over to the other implementation, its return preempts; and the IPv6 partition
with a link-local VIP first heals to exactly one master (RFC 5798 5.1.2.1 / 6.4.3: adverts
leave from each router's own link-local, never from the shared VIP)."""
from __future__ import annotations

import time

import pytest
from frr_peer import FrrVrrp

from kvrrp.lab import Lab, VrrpSpec, render_config

pytestmark = [pytest.mark.root, pytest.mark.frr, pytest.mark.timeout(120)]

WAIT = 15.0
VIP4 = "198.18.0.200"
LINK_LOCAL_VIP = "fe80::5:200"
GLOBAL_VIP6 = "2001:2::5:200"


def _start(lab: Lab, impl: str, index: int, spec: VrrpSpec):  # noqa: ANN202 - Daemon | FrrVrrp
    node = lab.nodes[index]
    if impl == "frr":
        return FrrVrrp(lab, node, spec)
    return lab.start_kvrrp(node, render_config([spec]), tag=f"kvrrp-{node.name}")


def _is_master(lab: Lab, peer, vip: str) -> bool:  # noqa: ANN001
    if isinstance(peer, FrrVrrp):
        return peer.status() == "Master"
    return peer.transitions()[-1:] == ["MASTER"] and vip in lab.addresses(peer.node)


def _is_backup(lab: Lab, peer, vip: str) -> bool:  # noqa: ANN001
    if isinstance(peer, FrrVrrp):
        return peer.status() == "Backup"
    return peer.transitions()[-1:] == ["BACKUP"] and vip not in lab.addresses(peer.node)


def _logs(peers) -> str:  # noqa: ANN001
    return "\n".join(p.log()[-2500:] if isinstance(p, FrrVrrp) else f"--- kvrrp {p.node.name} ---\n{p.log()[-2500:]}"
                     for p in peers)


def _one_master(lab: Lab, master, backup, vip: str) -> bool:  # noqa: ANN001
    return _is_master(lab, master, vip) and _is_backup(lab, backup, vip)


@pytest.mark.parametrize("master_impl", ["kvrrp", "frr"])
def test_mixed_group_ipv4_v3_failover_and_preemption(master_impl: str) -> None:
    backup_impl = "frr" if master_impl == "kvrrp" else "kvrrp"
    with Lab(nodes=2, prefix="kvfrr") as lab:
        specs = [VrrpSpec(priority=p, version=3, advert_int=0.1, vips=(f"{VIP4}/32",)) for p in (150, 100)]
        master = _start(lab, master_impl, 0, specs[0])
        backup = _start(lab, backup_impl, 1, specs[1])
        peers = [master, backup]
        assert lab.wait_for(lambda: _one_master(lab, master, backup, VIP4), WAIT), _logs(peers)
        time.sleep(1.0)                           # stays that way: nobody flaps
        assert _one_master(lab, master, backup, VIP4), _logs(peers)
        if isinstance(backup, FrrVrrp):
            transitions_before = backup.router()["stats"]["transitions"]
        master.crash()
        assert lab.wait_for(lambda: _is_master(lab, backup, VIP4), WAIT), _logs(peers)
        if isinstance(master, FrrVrrp):
            master.restart()
        else:
            master = lab.start_kvrrp(master.node, render_config([specs[0]]), tag="kvrrp-n1-again")
            peers[0] = master
        assert lab.wait_for(lambda: _one_master(lab, master, backup, VIP4), WAIT), _logs(peers)
        if isinstance(backup, FrrVrrp):   # Backup -> Master -> Backup: exactly two more
            assert backup.router()["stats"]["transitions"] == transitions_before + 2, _logs(peers)
        else:
            assert backup.transitions() == ["BACKUP", "MASTER", "BACKUP"], _logs(peers)


@pytest.mark.parametrize("impls", [("kvrrp", "frr"), ("frr", "kvrrp")], ids=lambda i: "-".join(i))
def test_link_local_vip_partition_heals_to_one_master(impls: tuple[str, str]) -> None:
    vips = (f"{LINK_LOCAL_VIP}/64", f"{GLOBAL_VIP6}/64")
    with Lab(nodes=2, prefix="kvfrr6") as lab:
        n1, n2 = lab.nodes
        specs = [VrrpSpec(priority=p, version=3, advert_int=0.1, family=6, vips=vips) for p in (150, 100)]
        first = _start(lab, impls[0], 0, specs[0])
        second = _start(lab, impls[1], 1, specs[1])
        peers = [first, second]
        assert lab.wait_for(lambda: _one_master(lab, first, second, GLOBAL_VIP6), WAIT), _logs(peers)
        lab.partition([n1], [n2])
        assert lab.wait_for(lambda: _is_master(lab, second, GLOBAL_VIP6), WAIT), _logs(peers)
        time.sleep(1.5)                 # past kvrrp's source-address cache, both masters
        assert _is_master(lab, first, GLOBAL_VIP6), _logs(peers)
        with lab.capture() as cap:
            healed = time.time()
            lab.heal()
            assert lab.wait_for(lambda: _one_master(lab, first, second, GLOBAL_VIP6), WAIT), _logs(peers)
            time.sleep(0.5)
        assert _one_master(lab, first, second, GLOBAL_VIP6), _logs(peers)
        sources = {info.src for _frame, info in cap.adverts(healed) if info.family == 6}
        assert LINK_LOCAL_VIP not in sources, sources
        kvrrp_node = n1 if impls[0] == "kvrrp" else n2
        frr = first if impls[0] == "frr" else second
        assert kvrrp_node.link_local in sources or frr.link_local() in sources, sources
