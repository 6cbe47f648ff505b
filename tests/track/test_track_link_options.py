"""Which tracked interfaces are polled (linkbeat) and debounced (interface_up_down_delays)."""
from __future__ import annotations

import logging

from kvrrp.config import parse_text
from kvrrp.track.interfaces import link_options

INSTANCE = """vrrp_instance {name} {{
    interface {ifname}
    virtual_router_id {vrid}
    {extra}
    virtual_ipaddress {{
        198.18.0.{vrid}
    }}
}}
"""


def conf(top: str, *instances: tuple[str, str, int, str]) -> object:
    text = top + "".join(INSTANCE.format(name=n, ifname=i, vrid=v, extra=e) for n, i, v, e in instances)
    return parse_text(text).config


def test_linkbeat_interfaces_polled_only_when_tracked(caplog):
    caplog.set_level(logging.INFO, logger="kvrrp.track")
    logger = logging.getLogger("kvrrp.track")
    logger.addHandler(caplog.handler)      # whatever another test did to propagation
    cfg = conf("linkbeat_interfaces {\n eth0 MII\n eth9\n}\ninterface_up_down_delays {\n eth0 2 1\n}\n",
               ("A", "eth0", 1, ""))
    try:
        delays, polled = link_options(cfg, {"eth0"})
    finally:
        logger.removeHandler(caplog.handler)
    assert delays == {"eth0": (2.0, 1.0)} and polled == {"eth0": "MII"}
    assert "Turning off linkbeat for eth9 since not used for tracking" in caplog.text


def test_linkbeat_use_polling_top_level_and_per_instance():
    cfg = conf("linkbeat_use_polling\n", ("A", "eth0", 1, ""), ("B", "eth1", 2, ""))
    assert link_options(cfg, {"eth0", "eth1"})[1] == {"eth0": None, "eth1": None}
    cfg = conf("", ("A", "eth0", 1, "linkbeat_use_polling"), ("B", "eth1", 2, ""))
    assert link_options(cfg, {"eth0", "eth1"})[1] == {"eth0": None}
