"""Small builders for typed configs used across the healthcheck tests."""
from __future__ import annotations

from kvrrp.config.model import (
    Config,
    GlobalDefs,
    LvsMethod,
    RealServer,
    SorryServer,
    TcpCheck,
    VirtualServer,
)


def rs(ip: str, port: int = 80, *, weight: int = 1, checks: int = 1, alpha: bool = False,
       inhibit: bool = False, retry: int = 1, family: int = 4, **kw) -> RealServer:
    checkers = tuple(TcpCheck(alpha=alpha, retry=retry, connect_timeout=1.0, delay_loop=1.0)
                     for _ in range(checks))
    return RealServer(ip=ip, port=port, weight=weight, inhibit_on_failure=inhibit, alpha=alpha,
                      checkers=checkers, family=family, **kw)


def vs(ip: str = "198.18.0.1", port: int = 80, *servers: RealServer, **kw) -> VirtualServer:
    kw.setdefault("lvs_sched", "rr")
    kw.setdefault("lvs_method", LvsMethod(method="NAT"))
    return VirtualServer(ip=ip, port=port, real_servers=tuple(servers), **kw)


def cfg(*vss: VirtualServer, groups=(), **gd) -> Config:
    return Config(global_defs=GlobalDefs(**gd), virtual_servers=tuple(vss),
                  virtual_server_groups=tuple(groups))


__all__ = ["rs", "vs", "cfg", "SorryServer"]
