"""kvrrp's BFD against FRR's bfdd (Debian's frr 8.4) in lab namespaces: sessions come up with
either side active (the other passive), a cut link takes the instance that tracks the session
to FAULT and back when it heals - with the loss seen by kvrrp (FRR's packets stop reaching it:
Control Detection Time Expired) and by FRR (kvrrp's packets stop reaching FRR, which then tells
kvrrp: Neighbor Signaled Session Down) - and a weighted track_bfd hands mastership to a peer.

Timers: 100 ms x 3, so the Detection Time is 300 ms. The measured times are printed (-s);
the assertions are on states and on the diagnostics that say who detected what.
"""
from __future__ import annotations

import subprocess
import time

import pytest
from frr_bfd_peer import FrrBfd

from kvrrp.lab import Lab, Node, VrrpSpec, render_config

pytestmark = [pytest.mark.root, pytest.mark.frr, pytest.mark.timeout(120)]

WAIT = 15.0
DETECT = 0.3


def _bfd_block(name: str, neighbor: str, source: str, *lines: str) -> str:
    body = [f"    neighbor_ip {neighbor}", f"    source_ip {source}", "    min_rx 100", "    min_tx 100",
            "    multiplier 3", *[f"    {x}" for x in lines]]
    return "\n".join([f"bfd_instance {name} {{", *body, "}", ""])


def _tracking_config(node: Node, frr_node: Node, *, priority: int = 100, track_line: str = "to_frr",
                     bfd_lines: tuple[str, ...] = (), global_lines: tuple[str, ...] = ()) -> str:
    spec = VrrpSpec(priority=priority, version=3, advert_int=0.1,
                    extra=("dont_track_primary", "track_bfd {", f"    {track_line}", "}"))
    return _bfd_block("to_frr", frr_node.ipv4, node.ipv4, *bfd_lines) + render_config([spec], global_lines)


def _port(node: Node) -> str:
    return f"p{node.ipv4.rsplit('.', 1)[1]}"


def _drop_one_way(lab: Lab, src: Node, dst: Node) -> None:
    """Frames from src to dst die in the switch; dst to src still pass (a one-way failure)."""
    script = ("table bridge kvbfd_oneway {\n chain forward {\n  type filter hook forward priority 0; "
              f"policy accept;\n  iifname {_port(src)} oifname {_port(dst)} drop\n }}\n}}\n")
    subprocess.run(["ip", "netns", "exec", lab.switch, "nft", "-f", "-"], input=script, check=True,
                   capture_output=True, text=True)


def _undrop(lab: Lab) -> None:
    subprocess.run(["ip", "netns", "exec", lab.switch, "nft", "delete", "table", "bridge", "kvbfd_oneway"],
                   capture_output=True, text=True)


def _state(daemon) -> str:  # noqa: ANN001
    t = daemon.transitions("VI_1")
    return t[-1] if t else ""


def _logs(daemon, frr: FrrBfd) -> str:  # noqa: ANN001
    return f"--- kvrrp {daemon.node.name} ---\n{daemon.log()[-3000:]}\n{frr.log()}"


def _timed(lab: Lab, predicate, timeout: float = WAIT) -> float | None:  # noqa: ANN001
    t0 = time.monotonic()
    if lab.wait_for(predicate, timeout, interval=0.01):
        return time.monotonic() - t0
    return None


@pytest.mark.parametrize("active", ["kvrrp", "frr"])
def test_session_up_link_cut_fault_and_back(active: str) -> None:
    with Lab(nodes=2, prefix="kvbfd", client=False) as lab:
        n1, n2 = lab.nodes
        frr = FrrBfd(lab, n2, n1.ipv4, passive=active == "kvrrp")
        kv = lab.start_kvrrp(n1, _tracking_config(n1, n2, bfd_lines=("passive",) if active == "frr" else ()))
        assert lab.wait_for(lambda: frr.status() == "up", WAIT), _logs(kv, frr)
        assert lab.wait_for(lambda: _state(kv) == "MASTER", WAIT), _logs(kv, frr)
        # keepalived's behaviour: the instance waits in FAULT until the session is first Up
        assert kv.transitions("VI_1")[0] == "FAULT"
        peer = frr.peer()
        assert (peer["remote-receive-interval"], peer["remote-transmit-interval"],
                peer["remote-detect-multiplier"]) == (100, 100, 3), peer

        lab.partition([n1], [n2])
        took = _timed(lab, lambda: _state(kv) == "FAULT")
        assert took is not None, _logs(kv, frr)
        assert "BFD Up -> Down (local diagnostic: Control Detection Time Expired" in kv.log()
        assert lab.wait_for(lambda: frr.status() == "down", WAIT), _logs(kv, frr)
        print(f"\n{active} active: cut -> kvrrp FAULT in {took * 1000:.0f} ms (Detection Time {DETECT * 1000:.0f} ms)")

        lab.heal()
        back = _timed(lab, lambda: _state(kv) == "MASTER")
        assert back is not None, _logs(kv, frr)
        assert lab.wait_for(lambda: frr.status() == "up", WAIT), _logs(kv, frr)
        print(f"{active} active: heal -> MASTER again in {back * 1000:.0f} ms")


@pytest.mark.parametrize("lost", ["frr_to_kvrrp", "kvrrp_to_frr"])
def test_one_way_loss_is_detected_by_the_side_that_stops_hearing(lost: str) -> None:
    with Lab(nodes=2, prefix="kvbfd", client=False) as lab:
        n1, n2 = lab.nodes
        frr = FrrBfd(lab, n2, n1.ipv4)
        kv = lab.start_kvrrp(n1, _tracking_config(n1, n2))
        assert lab.wait_for(lambda: _state(kv) == "MASTER" and frr.status() == "up", WAIT), _logs(kv, frr)
        if lost == "frr_to_kvrrp":
            _drop_one_way(lab, n2, n1)           # kvrrp stops hearing FRR: kvrrp detects
            expected = "BFD Up -> Down (local diagnostic: Control Detection Time Expired"
        else:
            _drop_one_way(lab, n1, n2)           # FRR stops hearing kvrrp: FRR detects, tells kvrrp
            expected = "BFD Up -> Down (local diagnostic: Neighbor Signaled Session Down, " \
                       "remote diagnostic: Control Detection Time Expired"
        took = _timed(lab, lambda: _state(kv) == "FAULT")
        assert took is not None, _logs(kv, frr)
        assert expected in kv.log(), _logs(kv, frr)
        assert lab.wait_for(lambda: frr.status() != "up", WAIT), _logs(kv, frr)
        if lost == "kvrrp_to_frr":
            assert frr.peer().get("diagnostic") == "control detection time expired", frr.peer()
        print(f"\n{lost} lost: -> kvrrp FAULT in {took * 1000:.0f} ms")
        _undrop(lab)
        assert lab.wait_for(lambda: _state(kv) == "MASTER" and frr.status() == "up", WAIT), _logs(kv, frr)


def test_weighted_track_bfd_hands_mastership_over_and_back() -> None:
    """n1 (priority 150) tracks its BFD session to FRR on n2 with weight -100; n3 (100) is its
    VRRP peer. Cutting n1 from n2 only (n3 reaches both) drops n1 to 50: n3 takes over; healing
    gives n1 its 150 back and it preempts."""
    with Lab(nodes=3, prefix="kvbfd", client=False) as lab:
        n1, n2, n3 = lab.nodes
        frr = FrrBfd(lab, n2, n1.ipv4)
        kv1 = lab.start_kvrrp(n1, _tracking_config(n1, n2, priority=150, track_line="to_frr weight -100"))
        kv3 = lab.start_kvrrp(n3, render_config([VrrpSpec(priority=100, version=3, advert_int=0.1)]), tag="kvrrp-n3")
        # n1 starts at 50 (session not yet Up) and may be master for a moment before n3 runs:
        # wait for the session, then for n1 at 150 holding mastership
        assert lab.wait_for(lambda: frr.status() == "up" and ("BFD Init -> Up" in kv1.log()
                                                              or "BFD Down -> Up" in kv1.log()), WAIT), _logs(kv1, frr)
        assert lab.wait_for(lambda: _state(kv1) == "MASTER" and _state(kv3) == "BACKUP", WAIT), _logs(kv1, frr)
        time.sleep(0.5)
        assert _state(kv1) == "MASTER" and _state(kv3) == "BACKUP", _logs(kv1, frr)
        lab.partition([n1], [n2])
        took = _timed(lab, lambda: _state(kv3) == "MASTER" and _state(kv1) == "BACKUP")
        assert took is not None, _logs(kv1, frr) + kv3.log()[-2000:]
        assert "FAULT" not in kv1.transitions("VI_1")[1:]           # weighted: never FAULT
        print(f"\nweighted: cut -> n3 MASTER in {took * 1000:.0f} ms")
        lab.heal()
        assert lab.wait_for(lambda: _state(kv1) == "MASTER" and _state(kv3) == "BACKUP", WAIT), _logs(kv1, frr)


def test_reload_with_new_timers_keeps_the_session_up() -> None:
    """SIGHUP with min_rx / min_tx changed from 100 to 200 ms: the session stays Up (a Poll
    Sequence carries the new intervals, RFC 5880 6.8.3), FRR sees them, the instance does not
    move; a reload that drops the track_bfd leaves the instance alone when the session fails."""
    import os
    import signal

    with Lab(nodes=2, prefix="kvbfd", client=False) as lab:
        n1, n2 = lab.nodes
        frr = FrrBfd(lab, n2, n1.ipv4)
        data = os.path.join(lab.workdir, "kvrrp.data")
        kv = lab.start_kvrrp(n1, _tracking_config(n1, n2, global_lines=(f"state_dump_file {data}",)))
        assert lab.wait_for(lambda: _state(kv) == "MASTER" and frr.status() == "up", WAIT), _logs(kv, frr)
        # the data dump (SIGUSR1) carries the session, in keepalived's dump_bfd words
        kv.signal(signal.SIGUSR1)
        assert lab.wait_for(lambda: os.path.exists(data), WAIT), _logs(kv, frr)
        with open(data) as fh:
            dumped = fh.read()
        assert " BFD Instance = to_frr" in dumped and "   local state = Up" in dumped, dumped[-2000:]
        before = kv.transitions("VI_1")
        text = _tracking_config(n1, n2, global_lines=(f"state_dump_file {data}",)).replace("min_rx 100", "min_rx 200").replace("min_tx 100", "min_tx 200")
        with open(kv.conf, "w") as fh:
            fh.write(text)
        kv.signal(signal.SIGHUP)
        assert lab.wait_for(lambda: frr.peer().get("remote-transmit-interval") == 200
                            and frr.peer().get("remote-receive-interval") == 200, WAIT), _logs(kv, frr)
        assert "Reload finished" in kv.log(), _logs(kv, frr)
        assert frr.status() == "up" and kv.transitions("VI_1") == before
        assert "BFD Up -> Down" not in kv.log()
        # the same session, no longer tracked: a cut leaves the instance MASTER
        with open(kv.conf, "w") as fh:
            fh.write(text.replace("track_bfd {\n        to_frr\n    }", ""))
        reloads = kv.log().count("Reload finished")
        kv.signal(signal.SIGHUP)
        assert lab.wait_for(lambda: kv.log().count("Reload finished") > reloads, WAIT), _logs(kv, frr)
        assert lab.wait_for(lambda: frr.status() == "up", WAIT)
        lab.partition([n1], [n2])
        assert lab.wait_for(lambda: "BFD Up -> Down" in kv.log(), WAIT), _logs(kv, frr)
        time.sleep(0.5)
        assert _state(kv) == "MASTER", _logs(kv, frr)


def test_ipv6_session_with_frr() -> None:
    """IPv6 (2001:2::/48, the benchmarking range): up with hop limit 255 both ways (RFC 5881
    section 5; FRR drops anything else), a cut -> FAULT, back when healed."""
    with Lab(nodes=2, prefix="kvbfd", client=False) as lab:
        n1, n2 = lab.nodes
        a1, a2 = "2001:2::bfd:11", "2001:2::bfd:12"
        lab.run(n1, ["ip", "-6", "addr", "add", f"{a1}/64", "dev", "eth0", "nodad"])
        lab.run(n2, ["ip", "-6", "addr", "add", f"{a2}/64", "dev", "eth0", "nodad"])
        frr = FrrBfd(lab, n2, a1, local=a2)
        spec = VrrpSpec(priority=100, version=3, advert_int=0.1,
                        extra=("dont_track_primary", "track_bfd {", "    to_frr6", "}"))
        kv = lab.start_kvrrp(n1, _bfd_block("to_frr6", a2, a1) + render_config([spec]))
        assert lab.wait_for(lambda: frr.status() == "up" and _state(kv) == "MASTER", WAIT), _logs(kv, frr)
        lab.partition([n1], [n2])
        assert lab.wait_for(lambda: _state(kv) == "FAULT", WAIT, interval=0.01), _logs(kv, frr)
        lab.heal()
        assert lab.wait_for(lambda: _state(kv) == "MASTER" and frr.status() == "up", WAIT), _logs(kv, frr)
