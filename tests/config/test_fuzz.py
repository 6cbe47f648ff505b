"""No input text crashes the configuration layer: arbitrary text, and mutations of real
configs, produce a LoadResult with located diagnostics - never an exception."""
from __future__ import annotations

import glob
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvrrp.config import parse_text
from kvrrp.config.cli import exit_code
from kvrrp.config.dump import to_json, to_keepalived

from .helpers import CONFIGS

SAMPLES = [open(p, encoding="utf-8").read() for p in sorted(glob.glob(os.path.join(CONFIGS, "ok_*.conf")))]
WORDS = ["{", "}", "vrrp_instance", "virtual_server", "real_server", "HTTP_GET", "url", "path", "global_defs",
         "virtual_ipaddress", "198.18.0.1/24", "dev", "eth0", "include", "$X=", "$X", "${X}", "${_RANDOM 1 x}",
         "~SEQ(i,1,3)", "~LST({a,b},{1,2})", "@h", "@^h", "#", "!", '"', "\\", "priority", "300", "-1", "0.5",
         "virtual_router_id", "track_script", "weight", "authentication", "auth_type", "PASS", "version",
         "3", "fwmark", "group", "status_code", "200-299", "2001:db8::1", "unicast_peer", "\n", " ", "\t"]

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> None:
    res = parse_text(text, filename="fuzz.conf", config_id="h", seed=1)
    for d in res.diagnostics:
        assert d.severity in ("error", "warning", "fatal")
        d.format()
    exit_code(res.diagnostics)
    to_json(res.config)
    to_keepalived(res.config)


@SETTINGS
@given(st.text(max_size=400))
def test_random_text_never_crashes(text):
    check(text)


@SETTINGS
@given(st.lists(st.sampled_from(WORDS), max_size=80))
def test_keyword_soup_never_crashes(words):
    check(" ".join(words))


@SETTINGS
@given(st.sampled_from(SAMPLES), st.data())
def test_mutated_real_configs_never_crash(sample, data):
    n = len(sample)
    cut = data.draw(st.integers(0, n))
    insert = data.draw(st.text(max_size=20) | st.sampled_from(WORDS))
    drop = data.draw(st.integers(0, 30))
    check(sample[:cut] + insert + sample[cut + drop:])


EDITS = ["priority 7", "weight 3", "alpha", "nopreempt", "version 3", "advert_int 0.3", "dev eth9", "label x:1",
         "no_track", "inhibit_on_failure", "retry 9", "delay_loop 3", "virtualhost h", "smtp_alert", "accept",
         "no_accept", "preempt_delay 3", "track_script {\n chk_a weight 3\n}", "status_code 201 300-302",
         "lvs_method DR", "persistence_timeout 5", "quorum 4", "warmup 2", "connect_port 99", "notify /bin/true",
         "garp_master_delay 2", "unicast_peer {\n 198.18.0.99\n}"]
RICH = SAMPLES + [open(os.path.join(CONFIGS, "roundtrip", "kitchen_sink.conf"), encoding="utf-8").read()]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(RICH), st.data())
def test_dump_round_trip_survives_edits(sample, data):
    """Whatever a (possibly odd) config parses to, its keepalived dump parses to the same model."""
    lines = sample.split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        lines.insert(data.draw(st.integers(0, len(lines))), data.draw(st.sampled_from(EDITS)))
    res = parse_text("\n".join(lines), filename="edit.conf", config_id="lbtest")
    again = parse_text(to_keepalived(res.config), filename="dump.conf", config_id="lbtest")
    assert again.config == res.config
