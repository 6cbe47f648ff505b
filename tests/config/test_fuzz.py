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
