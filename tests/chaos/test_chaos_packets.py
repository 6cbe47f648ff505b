"""Packet fuzz through real sockets: malformed, truncated, wrong TTL / version / type /
checksum / auth / count / interval / addresses, IP options, random bytes and broken IP
headers, sent as Ethernet frames to a running master. Every frame is accounted for: the
kernel's, the socket's and the daemon's counters add up to what was sent, and each targeted
case lands under its named drop reason. The master keeps its VIP throughout."""
from __future__ import annotations

import os
import random

import pytest

from chaos_lab import VIP, converged_single_holder, no_bad_lines
from kvrrp.chaos import observe, packets, scenarios
from kvrrp.lab import Lab, VrrpSpec

pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]

FRAMES = int(os.environ.get("KVRRP_CHAOS_FRAMES", "6000"))


def test_fuzzed_frames_are_each_counted_once_under_the_right_reason() -> None:
    with Lab(nodes=1, prefix="kvchp") as lab:
        node = lab.nodes[0]
        target = packets.Target(src=lab.client_node.ipv4,
                                src_mac=bytes.fromhex(lab.client_node.mac.replace(":", "")))
        spec = VrrpSpec(priority=200, version=2, advert_int=1, auth_pass=target.password.decode(),
                        vips=(f"{VIP}/32",), extra=("lower_prio_no_advert",))
        member = scenarios.Member(lab, node, spec)
        member.start()
        assert converged_single_holder(lab, timeout=60) == [node], member.daemon.log()
        fds = observe.fd_count(member.daemon.pid)
        rng = random.Random(1234)
        targeted = {k: w for k, w in packets.WEIGHTS.items() if k != "random"}
        # phase 1: every case but random bytes - each reason's count must be exact. Paced: the
        # sender waits for the daemon every 500 frames, so the socket buffer never overflows
        r = scenarios.fuzz_round(lab, member, target, FRAMES, rng, targeted, paced=True)
        assert r["kernel_lost"] == 0 and r["received"] == FRAMES - r["want"]["kernel"]  # bad IP: kernel's
        assert +r["instance"] == +r["want"]["instance"] and +r["engine"] == +r["want"]["engine"], r
        assert r["accepted"] == r["want"]["accepted"] and r["bad_ip"] == 0
        assert r["counted"] == r["received"]
        # phase 2: random bytes - each counted exactly once, under whatever reason fits
        r = scenarios.fuzz_round(lab, member, target, FRAMES // 2, rng, {"random": 1}, paced=True)
        assert r["kernel_lost"] == 0 and r["counted"] == r["received"] == FRAMES // 2, r
        # the master never lost its VIP, the process is healthy
        assert lab.holders(VIP) == [node] and member.alive()
        assert member.daemon.transitions("VI_1") == ["BACKUP", "MASTER"]
        assert observe.fd_count(member.daemon.pid) <= fds
        no_bad_lines(member.daemon)
