"""--dump-conf: JSON for tools and keepalived text that parses back to the same model."""
from __future__ import annotations

import glob
import io
import json
import os

import pytest

from kvrrp.config import load, parse_text
from kvrrp.config.cli import run_dump_conf
from kvrrp.config.dump import to_data, to_json, to_keepalived

from .helpers import CONFIGS, SEEDS

FILES = sorted(glob.glob(os.path.join(CONFIGS, "ok_*.conf")) + glob.glob(os.path.join(SEEDS, "*.conf"))
               + glob.glob(os.path.join(CONFIGS, "bad_*.conf")))


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_keepalived_dump_round_trips(path):
    cfg = load(path, config_id="lbtest").config
    text = to_keepalived(cfg)
    again = parse_text(text, filename="dump.conf", config_id="lbtest")
    assert again.config == cfg, text
    # and dumping is stable
    assert to_keepalived(again.config) == text


@pytest.mark.parametrize("path", FILES[:20], ids=os.path.basename)
def test_json_dump_is_plain_json(path):
    cfg = load(path, config_id="lbtest").config
    data = json.loads(to_json(cfg))
    assert data == json.loads(json.dumps(to_data(cfg)))
    assert set(data) >= {"global_defs", "instances", "virtual_servers", "vrrp_scripts"}
    assert '"loc":' not in json.dumps(data)        # no source locations (keys), e.g. "disable_local_igmp" is fine


def test_json_fields_of_a_full_config():
    cfg = load(os.path.join(CONFIGS, "ok_lvs_full.conf")).config
    data = to_data(cfg)
    vs = data["virtual_servers"][0]
    assert (vs["ip"], vs["port"], vs["lvs_sched"], vs["lvs_method"]["method"]) == ("198.18.3.1", 80, "wrr", "DR")
    http = vs["real_servers"][0]["checkers"][0]
    assert http["kind"] == "HTTP_GET" and http["urls"][1]["status_codes"] == [[200, 299], [302, 302]]
    assert http["delay_loop"] == 6.0                     # inherited from the virtual_server


def test_run_dump_conf_formats(tmp_path):
    p = os.path.join(CONFIGS, "ok_minimal.conf")
    out = io.StringIO()
    assert run_dump_conf(p, fmt="json", out=out) == 0
    assert json.loads(out.getvalue())["instances"][0]["vrid"] == 10
    out = io.StringIO()
    assert run_dump_conf(p, fmt="keepalived", out=out) == 0
    assert "virtual_router_id 10" in out.getvalue()
    assert run_dump_conf(str(tmp_path / "missing.conf"), out=io.StringIO()) == 4


def test_kitchen_sink_round_trip():
    path = os.path.join(CONFIGS, "roundtrip", "kitchen_sink.conf")
    res = load(path, config_id="lbtest")
    unexpected = [str(d) for d in res.diagnostics
                  if d.code not in ("ignored", "script-missing", "security", "family-mismatch",
                                    "skip-check-false", "vmac")]   # vmac: keepalived 2.2.7 warns about its VIP use_vmac too
    assert unexpected == []
    cfg = res.config
    text = to_keepalived(cfg)
    again = parse_text(text, filename="dump.conf", config_id="lbtest")
    assert again.config == cfg, text
    # spot checks that the rich values really made it through
    vi1, vi2 = cfg.instances
    assert cfg.garp_groups[0].interfaces == ("eth0", "eth1", "ens33") and cfg.garp_groups[0].gna_interval == 0.003
    assert vi1.use_vmac.name == "vrrp.1" and vi1.use_vmac.xmit_base and vi1.accept is False
    assert vi1.virtual_routes[1].nexthops[1].weight == 3
    assert vi1.virtual_rules[0].fwmark == 16 and vi1.virtual_rules[0].fwmask == 255
    assert vi2.advert_int == 0.05 and vi2.unicast_peers[0].min_ttl == 200
    assert vi2.notify.argv == ("/bin/true", "a b", "c") and vi2.notify.user == "root"
    vs = cfg.virtual_servers[0]
    assert vs.lvs_method.tunnel_type == "gue" and vs.persistence_timeout == 360
    kinds = [c.kind for c in vs.real_servers[0].checkers]
    assert kinds == ["HTTP_GET", "SSL_GET", "UDP_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK", "MISC_CHECK"]
    http = vs.real_servers[0].checkers[0]
    assert http.retry == 7 and http.warmup == 9.0 and http.virtualhost == "rs.example.com"


@pytest.mark.parametrize("line, value", [("", None), ("old_unicast_checksum", True),
                                         ("old_unicast_checksum never", "never")])
def test_old_unicast_checksum_keeps_its_three_modes_through_a_dump(line, value):
    text = ("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n version 3\n"
            f" unicast_peer {{\n  198.18.0.2\n }}\n {line}\n}}\n")
    cfg = parse_text(text).config
    assert cfg.instances[0].old_unicast_checksum == value
    dumped = to_keepalived(cfg)
    if line:
        assert line + "\n" in dumped
    else:
        assert "old_unicast_checksum" not in dumped
    assert parse_text(dumped).config == cfg


def test_unknown_old_unicast_checksum_mode_is_reported_and_ignored():
    res = parse_text("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n"
                     " old_unicast_checksum sometimes\n}\n")
    assert res.config.instances[0].old_unicast_checksum is None
    assert any("Unknown old_unicast_checksum mode sometimes" in str(d) for d in res.warnings)
