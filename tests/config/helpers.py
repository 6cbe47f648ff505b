"""Shared helpers for the config tests."""
from __future__ import annotations

import os

from kvrrp.config import load, parse_text
from kvrrp.config.loader import LoadResult

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
SEEDS = os.path.join(DATA, "seeds")
CONFIGS = os.path.join(DATA, "configs")


def parse(text: str, **kw) -> LoadResult:
    return parse_text(text, filename="t.conf", config_id=kw.pop("config_id", "testhost"), **kw)


def codes(res: LoadResult) -> list[str]:
    return [d.code for d in res.diagnostics]


def seed(name: str) -> LoadResult:
    return load(os.path.join(SEEDS, name), config_id="testhost")


def instance(text_body: str, name: str = "VI_T", vrid: int = 10, vip: str = "198.18.0.1",
             head: str = "") -> str:
    return f"""{head}
vrrp_instance {name} {{
    interface eth0
    virtual_router_id {vrid}
{text_body}
    virtual_ipaddress {{
        {vip}
    }}
}}
"""
