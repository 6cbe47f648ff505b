"""What every checker gets: the resolved target, shared resources, and the result type.

A checker is an ``async def check(target, ctx) -> CheckResult`` that performs one attempt
and never raises for a network failure (it returns CheckResult(False, reason)).
"""
from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from kvrrp.config.model import AnyChecker, RealServer, VirtualServer

from healthcheck.health import CheckResult

__all__ = ["CheckResult", "Target", "CheckContext", "make_target", "fmt_addr", "open_bound_socket", "os_reason"]


@dataclass(frozen=True, slots=True)
class Target:
    """One checker of one real server, with keepalived's defaults resolved."""

    spec: AnyChecker
    rs: RealServer
    vs: VirtualServer
    host: str                   # connect_ip, else the real server's address
    port: int                   # connect_port, else the real server's port, else the VS port
    family: int
    timeout: float              # connect_timeout

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def label(self) -> str:
        """keepalived's FMT_CHK: [ip]:proto:port."""
        proto = self.vs.protocol.lower() if self.kind not in ("UDP_CHECK", "DNS_CHECK") else "udp"
        return f"[{self.host}]:{proto}:{self.port}"

    @property
    def sockaddr(self) -> tuple:
        return (self.host, self.port) if self.family == 4 else (self.host, self.port, 0, 0)


@dataclass(slots=True)
class CheckContext:
    """Resources shared by all checks of one daemon (HTTP sessions, script user...)."""

    script_security: bool = False
    default_run_as: Any = None
    hostname: str = field(default_factory=socket.gethostname)
    http: Any = None            # healthcheck.checkers.http.HttpClients, created on first use
    track_files: dict[str, str] = field(default_factory=dict)   # track_file name -> path

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None


def make_target(spec: AnyChecker, rs: RealServer, vs: VirtualServer) -> Target:
    host = spec.connect_ip or rs.ip
    port = spec.connect_port if spec.connect_port is not None else (rs.port or vs.port)
    family = ipaddress.ip_address(host).version
    return Target(spec=spec, rs=rs, vs=vs, host=host, port=port, family=family,
                  timeout=spec.connect_timeout)


def os_reason(exc: OSError) -> str:
    """"Connection refused" rather than asyncio's "Connect call failed (...)"."""
    if exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def fmt_addr(host: str, port: int) -> str:
    return f"[{host}]:{port}"


def open_bound_socket(target: Target, kind: int, proto: int = 0) -> socket.socket:
    """A non-blocking socket bound as the checker asks (bindto, bind_port, bind_if)."""
    af = socket.AF_INET if target.family == 4 else socket.AF_INET6
    sock = socket.socket(af, kind | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, proto)
    try:
        spec = target.spec
        if spec.bind_if:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, spec.bind_if.encode())
        if spec.bindto or spec.bind_port:
            if spec.bind_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((spec.bindto or ("0.0.0.0" if target.family == 4 else "::"), spec.bind_port or 0))
        if spec.fwmark:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, spec.fwmark)
    except BaseException:
        sock.close()
        raise
    return sock
