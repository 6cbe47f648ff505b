"""The lab rewrite of seed configs (no root needed): only lab addresses survive, the rest of the
seed is untouched, and the same seed address maps to the same lab address on both nodes."""
from __future__ import annotations

import glob
import ipaddress
import os
import re

import pytest

from kvrrp.config import parse_text

from rewrite import SeedRewriter
from seedlab import SEEDS, seed_text

ALL = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SEEDS, "*.conf")))
IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")


@pytest.mark.parametrize("name", ALL)
def test_every_seed_rewrites_into_the_lab(name):
    out = SeedRewriter().rewrite(seed_text(name), "/tmp/scripts")
    for text in IPV4.findall(out):
        ip = ipaddress.IPv4Address(text)
        assert ip in ipaddress.IPv4Network("198.18.0.0/15") or ip.is_multicast or ip.is_loopback \
            or ip.is_reserved, (name, text)
    for word in ("ens33", "p5p1", "enp2s0", "eth1", "/etc/keepalived", "/container/", "smtp.163.com"):
        assert all(word not in line.split("#")[0] for line in out.splitlines()), (name, word)
    # the same configuration otherwise: instances, priorities, states, timers, auth
    before = parse_text(seed_text(name), filename="a.conf", config_id="seed").config
    after = parse_text(out, filename="b.conf", config_id="seed").config
    assert [(i.name, i.state, i.priority, i.vrid, i.advert_int, i.nopreempt, i.authentication)
            for i in before.instances] == \
           [(i.name, i.state, i.priority, i.vrid, i.advert_int, i.nopreempt, i.authentication)
            for i in after.instances]
    assert {i.interface for i in after.instances} <= {"eth0", None}   # None: the fragment has none


def test_pair_shares_the_mapping_and_node_addresses():
    rw = SeedRewriter({"192.168.1.148": "198.18.0.11", "192.168.1.99": "198.18.0.12"})
    a = rw.rewrite(seed_text("seed000_master_unicast.conf"), "/s/a")
    b = rw.rewrite(seed_text("seed000_backup_unicast.conf"), "/s/b")
    for text in (a, b):
        assert "198.18.0.11\n    198.18.0.12" in text and "198.18.0.200" in text
        assert "interface eth0" in text and "default_interface eth0" in text
    assert 'notify "/s/a/notify.sh"' in a and 'notify "/s/b/notify.sh"' in b


def test_vips_others_netmasks_groups_labels_pidof_smtp():
    rw = SeedRewriter(process_names={"haproxy": "haproxy-kvs0001"})
    out = rw.rewrite(seed_text("seed001_k8s_sync_group_lvs.conf"), "/s")
    assert "198.18.0.200 dev eth0 label eth0:vip" in out and "198.18.0.201 dev eth0 label eth0:vip" in out
    assert "virtual_server 198.18.0.200 8080" in out                 # the VIP, same mapping
    assert "real_server 198.19.0.1 8080" in out and "real_server 198.19.0.2 8080" in out
    assert "nat_mask 255.255.255.0" in out
    assert 'script "pidof haproxy-kvs0001"' in out
    group = SeedRewriter().rewrite(seed_text("seed002_global_defs_email.conf"), "/s")
    assert "vrrp_mcast_group4        224.24.24.18" in group and "smtp_server              127.0.0.1" in group
    lvs = SeedRewriter().rewrite(seed_text("seed000_lvs_dr.conf"), "/s")
    assert "smtp_server 127.0.0.1" in lvs and 'notify_master "/s/start_haproxy.sh start"' in lvs


def test_refuses_node_addresses_outside_the_lab():
    with pytest.raises(ValueError):
        SeedRewriter({"192.168.1.148": "192.168.1.148"})
