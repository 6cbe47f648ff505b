"""Packet fuzz through real sockets: malformed, truncated, wrong TTL / version / type /
checksum / auth / count / interval / addresses, IP options, random bytes and broken IP
headers, sent as Ethernet frames to a running master. Every frame is accounted for: the
kernel's, the socket's and the daemon's counters add up to what was sent, and each targeted
case lands under its named drop reason. The master keeps its VIP throughout."""
from __future__ import annotations

import os
import random
from collections import Counter

import pytest

from chaos_lab import VIP, converged_single_holder, no_bad_lines, start
from kvrrp.chaos import observe, packets
from kvrrp.io.netns import entered
from kvrrp.lab import Lab, VrrpSpec

pytestmark = [pytest.mark.root, pytest.mark.timeout(180)]

FRAMES = int(os.environ.get("KVRRP_CHAOS_FRAMES", "6000"))
BATCH = 200


def send_fuzz(lab: Lab, n: int, seed: int, target: packets.Target, weights: dict) -> Counter:
    sent: Counter = Counter()
    with entered(lab.client_node.netns):
        sender = packets.Sender(lab.client_node.ifname)
    try:
        rng = random.Random(seed)
        for i, case in enumerate(packets.plan(n, rng, weights)):
            sender.send(packets.make_case(case, target, rng))
            sent[case] += 1
            if i % BATCH == BATCH - 1:
                lab.wait_for(lambda: False, 0.01)     # pace: stay under the socket buffer
    finally:
        sender.close()
    return sent


def test_fuzzed_frames_are_each_counted_once_under_the_right_reason() -> None:
    with Lab(nodes=1, prefix="kvchp") as lab:
        node = lab.nodes[0]
        target = packets.Target(src=lab.client_node.ipv4,
                                src_mac=bytes.fromhex(lab.client_node.mac.replace(":", "")))
        spec = VrrpSpec(priority=200, version=2, advert_int=1, auth_pass=target.password.decode(),
                        vips=(f"{VIP}/32",), extra=("lower_prio_no_advert",))
        run = start(lab, node, [spec])
        assert converged_single_holder(lab) == [node]
        fds = observe.fd_count(run.daemon.pid)
        targeted = {k: w for k, w in packets.WEIGHTS.items() if k != "random"}
        # phase 1: every case but random bytes - each reason's count must be exact
        inst, eng, accepted, bad_ip, want = fuzz_round(lab, run, target, FRAMES, 1234, targeted)
        assert +inst == +want["instance"] and +eng == +want["engine"], (inst, eng, want)
        assert accepted == want["accepted"] and bad_ip == 0
        # phase 2: random bytes - each counted exactly once, under whatever reason fits
        inst, eng, accepted, bad_ip, want = fuzz_round(lab, run, target, FRAMES // 2, 99, {"random": 1})
        assert sum(inst.values()) + sum(eng.values()) + accepted + bad_ip == want["random"]
        # the master never lost its VIP, the process is healthy
        assert lab.holders(VIP) == [node] and run.daemon.alive()
        assert run.daemon.transitions("VI_1") == ["BACKUP", "MASTER"]
        assert observe.fd_count(run.daemon.pid) <= fds
        no_bad_lines(run.daemon)


def fuzz_round(lab: Lab, run, target, n: int, seed: int, weights: dict):  # noqa: ANN001, ANN201
    before = run.counters()
    kernel_before = observe.raw_socket_drops(run.daemon.pid)
    sent = send_fuzz(lab, n, seed, target, weights)
    want = packets.expected(sent)

    def arrived() -> int:
        return run.counters()["socket_received"] - before["socket_received"]

    def counted() -> int:
        c = run.counters()
        return (sum(c["instance"].values()) + sum(c["engine"].values()) + c["accepted"] + c["socket_bad_ip"]
                - sum(before["instance"].values()) - sum(before["engine"].values()) - before["accepted"]
                - before["socket_bad_ip"])

    expected_arrivals = n - want["kernel"]
    assert lab.wait_for(lambda: counted() >= expected_arrivals, 30), (run.counters(), sent)
    kernel_lost = observe.raw_socket_drops(run.daemon.pid) - kernel_before
    assert kernel_lost == 0, f"{kernel_lost} frames overflowed the socket buffer: pace the sender"
    assert arrived() == expected_arrivals                # broken IP headers never reach the socket
    after = run.counters()

    def delta(level: str) -> Counter:
        return Counter({k: after[level].get(k, 0) - before[level].get(k, 0)
                        for k in set(after[level]) | set(before[level])})

    return (delta("instance"), delta("engine"), after["accepted"] - before["accepted"],
            after["socket_bad_ip"] - before["socket_bad_ip"], want)
