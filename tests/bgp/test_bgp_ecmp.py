"""Three directors announce a service address over BGP to an upstream router with ECMP
(docs/scale-out.md). Each director runs FRR bgpd (no zebra) driven by kvrrp through vtysh,
and a TCP responder on the anycast address (a local service: `kvrrp_bgp ipvs off`, this host
has no IPVS); the router runs zebra + bgpd with maximum-paths. A client connects through the
router all along.

One lab, one test, in order: three next hops; a real server failing its check on one director
(quorum lost), `kvrrpctl maintenance on --all`, SIGTERM and SIGKILL of a director (kvrrp and
bgpd and the service: the node dies, its TCP session closes), SIGKILL of kvrrp alone (bgpd
stays up: kvrrp's children withdraw), a silently dead director (link
down: only the hold timer finds it) each remove exactly that next hop, and the client keeps
being served by the others. The follow-VRRP route (a vrrp_instance with kvrrp_announce) has
the VRRP master as its one next hop and moves with it. The measured withdraw times are printed
(`-s`) and recorded in docs/scale-out.md.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
from bgp_lab import Frr, anycast_service, director_conf, director_head, next_hops, route_table, router_conf, set_sysctl, start_responder

from kvrrp.control.client import call
from kvrrp.io.netns import entered
from kvrrp.lab import Lab, Node

pytestmark = [pytest.mark.root, pytest.mark.frr, pytest.mark.timeout(180)]

ANYCAST = "198.18.100.1"
FOLLOW = "198.18.101.1"
PORT = 80
WAIT = 20.0
PRIORITY = {"n2": 150, "n3": 100, "n4": 50}
# more anycast services, each its own address, whose real server has no checker (always up):
# they are announced together with ANYCAST, and maintenance withdraws them in one vtysh call
EXTRA = [f"198.18.102.{i}" for i in range(1, 21)]


def director_kvrrp_conf(node: Node, vty_dir: str) -> str:
    return director_head(node, vty_dir, "med 10", f"community 65100:{node.index}") + f"""vrrp_instance FOLLOW {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    version 3
    priority {PRIORITY[node.name]}
    advert_int 0.1
    virtual_ipaddress {{
        {FOLLOW}/32
    }}
    kvrrp_announce
}}
""" + anycast_service(ANYCAST, PORT) + "".join(f"""
virtual_server {vip} {PORT} {{
    lvs_sched mh
    lvs_method DR
    protocol TCP
    kvrrp_announce
    real_server {vip} {PORT} {{
    }}
}}
""" for vip in EXTRA)


class Traffic:
    """A client connecting to ANYCAST:80 every 20 ms from its namespace; records who answered."""

    def __init__(self, client: Node) -> None:
        self.client = client
        self.results: list[tuple[float, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _one(self) -> str | None:
        with entered(self.client.netns):
            s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect((ANYCAST, PORT))
            return s.recv(64).decode().strip() or None
        except OSError:
            return None
        finally:
            s.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.results.append((time.time(), self._one()))
            self._stop.wait(0.02)

    def between(self, t0: float, t1: float) -> list[str | None]:
        return [who for t, who in list(self.results) if t0 <= t < t1]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_hops(lab: Lab, router: Node, prefix: str, want: set[str], timeout: float = WAIT) -> float:
    """time.time() when the router's next hops for prefix became `want` (fails after timeout)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if next_hops(lab, router, prefix) == want:
            return time.time()
        time.sleep(0.02)
    raise AssertionError(f"{prefix}: next hops {next_hops(lab, router, prefix)}, wanted {want}")


def wait_extra(lab: Lab, router: Node, want: set[str], timeout: float = WAIT) -> float:
    """time.time() when every EXTRA address has exactly the next hops `want`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        table = route_table(lab, router)
        if all(table.get(vip) == want for vip in EXTRA):
            return time.time()
        time.sleep(0.02)
    table = route_table(lab, router)
    raise AssertionError(f"extra VIPs: {[(v, table.get(v)) for v in EXTRA if table.get(v) != want]}, wanted {want}")


def test_three_directors_ecmp_announce_withdraw_and_traffic() -> None:
    times: dict[str, float] = {}
    with Lab(nodes=4, prefix="kvbgp") as lab:
        router, *directors = lab.nodes
        client = lab.client_node
        assert client is not None
        set_sysctl(lab, router, "net.ipv4.ip_forward", "1")
        set_sysctl(lab, router, "net.ipv4.fib_multipath_hash_policy", "1")   # L4 hash: flows spread
        for key in ("net.ipv4.conf.all.send_redirects", "net.ipv4.conf.eth0.send_redirects"):
            set_sysctl(lab, router, key, "0")
        for prefix in ("198.18.100.0/24", "198.18.101.0/24"):
            lab.run(client, ["ip", "route", "add", prefix, "via", router.ipv4])
        upstream = Frr(lab, router, router_conf(router, directors), with_zebra=True)
        frr: dict[str, Frr] = {}
        responders = {}
        daemons = {}
        for d in directors:
            lab.run(d, ["ip", "addr", "add", f"{ANYCAST}/32", "dev", "lo"])
            frr[d.name] = Frr(lab, d, director_conf(d, router), with_zebra=False)
            responders[d.name] = start_responder(lab, d, ANYCAST, PORT)
            daemons[d.name] = lab.start_kvrrp(d, director_kvrrp_conf(d, frr[d.name].dir), vrrp_only=False)
        ips = {d.name: d.ipv4 for d in directors}
        all_hops = set(ips.values())
        n2, n3, n4 = directors
        try:
            wait_hops(lab, router, f"{ANYCAST}/32", all_hops, timeout=40)
            wait_hops(lab, router, f"{FOLLOW}/32", {n2.ipv4})
            wait_extra(lab, router, all_hops)
            # the per-node attributes reached the router (kvrrp_bgp med / community); ECMP
            # needs equal MEDs, a community per node tells the paths apart
            detail = upstream.vtysh(f"show bgp ipv4 unicast {ANYCAST}/32")
            assert "metric 10" in detail and "65100:2" in detail and "65100:4" in detail, detail
            traffic = Traffic(client)
            time.sleep(1.5)
            answered = {w for w in traffic.between(0, time.time()) if w}
            assert answered == {"n2", "n3", "n4"}, answered   # ECMP spreads connections

            # 1. a real server fails its check on n2: quorum lost -> that next hop goes
            t0 = time.time()
            lab.kill(responders["n2"])
            t1 = wait_hops(lab, router, f"{ANYCAST}/32", all_hops - {n2.ipv4})
            times["quorum lost (check fails -> next hop gone)"] = t1 - t0
            time.sleep(0.5)
            after = traffic.between(t1 + 0.1, time.time())
            assert after and None not in after and "n2" not in after, after
            responders["n2"] = start_responder(lab, n2, ANYCAST, PORT)
            t0 = time.time()
            wait_hops(lab, router, f"{ANYCAST}/32", all_hops)
            times["quorum back (check passes -> next hop back)"] = time.time() - t0

            # 2. kvrrpctl maintenance on --all on n3: withdrawn, nobody refused meanwhile
            ctl = os.path.splitext(daemons["n3"].pid_file)[0] + ".ctl"
            t0 = time.time()
            call(ctl, "maintenance", on=True, all=True)
            t1 = wait_hops(lab, router, f"{ANYCAST}/32", all_hops - {n3.ipv4})
            times["maintenance on --all"] = t1 - t0
            times[f"maintenance on --all: all {len(EXTRA) + 1} anycast VIPs gone"] = \
                wait_extra(lab, router, all_hops - {n3.ipv4}) - t0
            time.sleep(0.5)
            assert None not in traffic.between(t0, time.time())
            assert "n3" not in traffic.between(t1 + 0.1, time.time())
            call(ctl, "maintenance", on=False, all=True)
            wait_hops(lab, router, f"{ANYCAST}/32", all_hops)
            wait_extra(lab, router, all_hops)

            # 3. SIGTERM kvrrp on n4: routes withdrawn before it stops serving
            t0 = time.time()
            daemons["n4"].signal(signal.SIGTERM)
            t1 = wait_hops(lab, router, f"{ANYCAST}/32", all_hops - {n4.ipv4})
            times["SIGTERM"] = t1 - t0
            assert daemons["n4"].proc.wait(10) == 0
            time.sleep(0.5)
            assert None not in traffic.between(t0, time.time())
            daemons["n4"] = lab.start_kvrrp(n4, director_kvrrp_conf(n4, frr["n4"].dir), vrrp_only=False,
                                            tag="kvrrp-n4-again")
            wait_hops(lab, router, f"{ANYCAST}/32", all_hops)

            # 4. kvrrp alone is SIGKILLed on n2 (bgpd and the service stay): its checker child
            # (SIGTERM on the parent's death) withdraws the anycast route, its guard child the
            # follow-VRRP route, and n3 (the new VRRP master) announces that one
            t0 = time.time()
            lab.kill(daemons["n2"].proc)
            t1 = wait_hops(lab, router, f"{ANYCAST}/32", all_hops - {n2.ipv4})
            times["SIGKILL of kvrrp alone (bgpd stays up)"] = t1 - t0
            t2 = wait_hops(lab, router, f"{FOLLOW}/32", {n3.ipv4})
            times["SIGKILL of kvrrp alone: follow-VRRP route to the new master"] = t2 - t0
            time.sleep(0.5)
            assert None not in traffic.between(t0, time.time())      # n2 kept serving meanwhile
            daemons["n2"] = lab.start_kvrrp(n2, director_kvrrp_conf(n2, frr["n2"].dir), vrrp_only=False,
                                            tag="kvrrp-n2-again")
            wait_hops(lab, router, f"{ANYCAST}/32", all_hops)
            wait_hops(lab, router, f"{FOLLOW}/32", {n2.ipv4})       # preempts back (priority 150)

            # 5. n2 dies (SIGKILL of kvrrp, bgpd and the service): its session closes, both
            # the anycast next hop and the follow-VRRP route move away
            t0 = time.time()
            lab.kill(daemons["n2"].proc)
            frr["n2"].kill()
            lab.kill(responders["n2"])
            t1 = wait_hops(lab, router, f"{ANYCAST}/32", all_hops - {n2.ipv4})
            times["SIGKILL (node dies, session closed)"] = t1 - t0
            t2 = wait_hops(lab, router, f"{FOLLOW}/32", {n3.ipv4})
            times["node dies: follow-VRRP route to the new master"] = t2 - t0
            time.sleep(0.5)
            after = traffic.between(t1 + 0.1, time.time())
            assert after and None not in after and "n2" not in after, after

            # 6. n3 goes silent (link down inside the node, nothing closes): the hold timer (3 s)
            t0 = time.time()
            lab.run(n3, ["ip", "link", "set", "eth0", "down"])
            t1 = wait_hops(lab, router, f"{ANYCAST}/32", {n4.ipv4})
            times["silent death (hold timer 3 s)"] = t1 - t0
            time.sleep(0.5)
            after = traffic.between(t1 + 0.1, time.time())
            assert after and None not in after and set(after) == {"n4"}, after
            traffic.stop()
        except BaseException:
            for d in directors:
                print(daemons[d.name].log()[-3000:])
                print(frr[d.name].log())
            print(upstream.log())
            raise
        finally:
            for name, seconds in times.items():
                print(f"BGP withdraw time: {name}: {seconds * 1000:.0f} ms")
