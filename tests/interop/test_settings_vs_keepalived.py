"""The settings resolver against keepalived itself: seeded random configurations of the
settings keywords (global_defs defaults, instance values, sync groups, strict mode, min_garp,
smtp_alert) are loaded by the real keepalived, whose `-d` start-up dump prints every instance's
effective values; kvrrp's resolver must give the same value for every instance and field.

One keepalived run per configuration (VRRP only, in a lab namespace, stopped by its PID once the
dump is written); each configuration holds many instances, so a few runs cover hundreds of
combinations."""
from __future__ import annotations

import os
import random
import re
import time

import pytest

from kvrrp.config import effective, parse_text
from kvrrp.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.keepalived, pytest.mark.timeout(120)]

GLOBAL_OPTS = ["vrrp_strict", "vrrp_min_garp", "vrrp_garp_master_delay {d}", "vrrp_garp_master_repeat {r}",
               "vrrp_garp_master_refresh {d}", "vrrp_garp_master_refresh_repeat {r}",
               "vrrp_garp_lower_prio_delay {d}", "vrrp_garp_lower_prio_repeat {r}",
               "vrrp_lower_prio_no_advert {b}", "vrrp_higher_prio_send_advert {b}", "smtp_alert {b}",
               "smtp_alert_vrrp {b}", "vrrp_notify_priority_changes {b}", "vrrp_skip_check_adv_addr",
               "vrrp_down_timer_adverts {t}"]
INST_OPTS = ["strict_mode {b}", "garp_master_delay {d}", "garp_master_repeat {r}", "garp_master_refresh {d}",
             "garp_master_refresh_repeat {r}", "garp_lower_prio_delay {d}", "garp_lower_prio_repeat {r}",
             "lower_prio_no_advert {b}", "higher_prio_send_advert {b}", "smtp_alert {b}", "accept", "no_accept",
             "notify_priority_changes {b}", "skip_check_adv_addr {b}", "down_timer_adverts {t}", "version 3",
             "priority 255\n state MASTER"]
VALUES = dict(d=["0", "1", "3", "5"], r=["0", "1", "2", "5"], b=["true", "false"], t=["3", "4"])
RUNS = 4
INSTANCES = 30


def _fill(rng: random.Random, template: str) -> str:
    return template.format(**{k: rng.choice(v) for k, v in VALUES.items()})


def _config(seed: int) -> str:
    rng = random.Random(seed)
    glob = [_fill(rng, rng.choice(GLOBAL_OPTS)) for _ in range(rng.randint(0, 4))]
    out = ["global_defs {", " router_id settings", *[" " + g for g in glob], "}"]
    names = []
    for n in range(1, INSTANCES + 1):
        body = [_fill(rng, rng.choice(INST_OPTS)) for _ in range(rng.randint(0, 4))]
        out += [f"vrrp_instance VI_{n} {{", " interface eth0", f" virtual_router_id {n}",
                *[" " + line for line in body], " virtual_ipaddress {", f"  198.18.1.{n}", " }", "}"]
        names.append(f"VI_{n}")
    for g in range(3):
        members = rng.sample(names, 2)
        names = [n for n in names if n not in members]
        extra = [" notify_priority_changes"] if rng.random() < 0.5 else []
        out += [f"vrrp_sync_group G{g} {{", " group {", *[f"  {m}" for m in members], " }", *extra, "}"]
    return "\n".join(out) + "\n"


FIELDS = {   # keepalived's dump line -> (resolver key, conversion of kvrrp's value to the dump's text)
    "Gratuitous ARP delay": ("garp_master_delay", lambda v: str(int(v))),
    "Gratuitous ARP repeat": ("garp_master_repeat", str),
    "Gratuitous ARP refresh": ("garp_master_refresh", lambda v: str(int(v))),
    "Gratuitous ARP refresh repeat": ("garp_master_refresh_repeat", str),
    "Gratuitous ARP lower priority delay": ("garp_lower_prio_delay", lambda v: str(int(v))),
    "Gratuitous ARP lower priority repeat": ("garp_lower_prio_repeat", str),
    "Down timer adverts": ("down_timer_adverts", str),
    "Send advert after receive lower priority advert": ("lower_prio_no_advert", lambda v: str(not v).lower()),
    "Send advert after receive higher priority advert": ("higher_prio_send_advert", lambda v: str(v).lower()),
    "Accept": ("accept", lambda v: "enabled" if v else "disabled"),
    "Using smtp notification": ("smtp_alert", lambda v: "yes" if v else "no"),
    "Notify priority changes": ("notify_priority_changes", lambda v: str(v).lower()),
}
FLAGS = {"Enforcing strict VRRP compliance": "strict", "Skip checking advert IP addresses": "skip_check_adv_addr"}


def _keepalived_dump(lab: Lab, conf_text: str, tag: str) -> dict[str, dict[str, str]]:
    node = lab.nodes[0]
    conf = os.path.join(lab.workdir, f"{tag}.conf")
    out = os.path.join(lab.workdir, f"{tag}.out")
    with open(conf, "w") as fh:
        fh.write(conf_text)
    with open(out, "w") as log:
        proc = lab.spawn(node, ["keepalived", "-n", "-l", "-D", "-d", "-P", "-f", conf,
                                "-p", os.path.join(lab.workdir, f"{tag}.pid"),
                                "-r", os.path.join(lab.workdir, f"{tag}.vrrp.pid")],
                         stdout=log, stderr=log)
    try:
        assert lab.wait_for(lambda: "< Interfaces >" in open(out).read(), 20.0), open(out).read()[-3000:]
    finally:
        lab.stop(proc)
    text = open(out).read()
    topology = text.split("< VRRP Topology >", 1)[1].split("< Interfaces >", 1)[0]
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in topology.splitlines():
        body = re.sub(r"^.*?: {1,}", "", line, count=1).strip() if ": " in line else line.strip()
        m = re.match(r"VRRP Instance = (\S+)", body)
        if m:
            current = found.setdefault(m.group(1), {})
            continue
        if current is None:
            continue
        if body in FLAGS:
            current[FLAGS[body]] = "true"
        elif " = " in body:
            key, value = body.split(" = ", 1)
            current.setdefault(key, value)
    return found


def test_resolver_matches_keepalived_dump() -> None:
    mismatches = []
    compared = 0
    with Lab(nodes=1, client=False, prefix="kvset") as lab:
        for seed in range(RUNS):
            text = _config(1000 + seed)
            theirs = _keepalived_dump(lab, text, f"s{seed}")
            cfg = parse_text(text, filename="t.conf", config_id="settings").config
            gv = effective.global_values(cfg.global_defs)
            assert len(theirs) == INSTANCES, sorted(theirs)
            for inst in cfg.instances:
                ours = effective.resolve(inst, cfg.global_defs, effective.sync_group_of(cfg, inst), gv)
                dump = theirs[inst.name]
                for label, (key, show) in FIELDS.items():
                    compared += 1
                    if show(ours[key]) != dump.get(label):
                        mismatches.append((seed, inst.name, label, show(ours[key]), dump.get(label)))
                for key in FLAGS.values():
                    compared += 1
                    if bool(ours[key]) != (dump.get(key) == "true"):
                        mismatches.append((seed, inst.name, key, ours[key], dump.get(key)))
            time.sleep(0.1)
    assert compared >= RUNS * INSTANCES * len(FIELDS)
    assert not mismatches, "\n".join(map(str, mismatches[:40]))
