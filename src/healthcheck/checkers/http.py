"""HTTP_GET / SSL_GET through aiohttp: one request asks one url (the daemon walks the urls
one attempt at a time, see health.step_url_checker); every url must answer with an accepted status code,
and, when given, a body whose MD5 is ``digest`` (keepalived hashes the body only) and which
matches ``regex`` (or does not, with regex_no_match).

keepalived opens a fresh connection per check, so the connector does too (force_close).
Certificates are not verified (keepalived's SSL_GET does not verify unless told to; the SSL
block's ca/certificate/key are used when configured). SNI: ``enable_sni`` sends ``sni_name``,
else the virtualhost, else nothing.
"""
from __future__ import annotations

import asyncio
import hashlib
import re
import ssl as ssl_mod
from typing import Any

import aiohttp

from kvrrp.config.model import HttpGet, SslContext, Url

from healthcheck.checkers.base import CheckContext, CheckResult, Target

_VERSIONS = {"1.0": aiohttp.HttpVersion10, "1.0C": aiohttp.HttpVersion10, "1.1": aiohttp.HttpVersion11}


def make_ssl_context(conf: SslContext | None) -> ssl_mod.SSLContext:
    ctx = ssl_mod.SSLContext(ssl_mod.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl_mod.CERT_NONE
    if conf is not None:
        if conf.ca:
            ctx.load_verify_locations(conf.ca)
            ctx.verify_mode = ssl_mod.CERT_REQUIRED
        if conf.certificate:
            ctx.load_cert_chain(conf.certificate, conf.key, conf.password)
    return ctx


class HttpClients:
    """One aiohttp session per (local bind address, HTTP version), shared by all checks."""

    def __init__(self, ssl_conf: SslContext | None = None) -> None:
        self._sessions: dict[tuple, aiohttp.ClientSession] = {}
        self._ssl_conf = ssl_conf
        self._ssl_ctx: ssl_mod.SSLContext | None = None

    def ssl_context(self) -> ssl_mod.SSLContext:
        if self._ssl_ctx is None:
            self._ssl_ctx = make_ssl_context(self._ssl_conf)
        return self._ssl_ctx

    def session(self, bindto: str | None, bind_port: int | None, http_protocol: str = "1.0") -> aiohttp.ClientSession:
        version = _VERSIONS.get(http_protocol, aiohttp.HttpVersion10)
        key = (bindto, bind_port, version)
        s = self._sessions.get(key)
        if s is None or s.closed:
            local = (bindto or "0.0.0.0", bind_port or 0) if (bindto or bind_port) else None
            connector = aiohttp.TCPConnector(force_close=True, limit=0, local_addr=local,
                                             ttl_dns_cache=None, use_dns_cache=False)
            s = aiohttp.ClientSession(connector=connector, auto_decompress=False, version=version,
                                      skip_auto_headers=("User-Agent",))
            self._sessions[key] = s
        return s

    async def close(self) -> None:
        for s in self._sessions.values():
            await s.close()
        self._sessions.clear()


def status_ok(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= code <= hi for lo, hi in ranges)


def body_problem(url: Url, body: bytes) -> str | None:
    if url.digest and hashlib.md5(body).hexdigest() != url.digest.lower():
        return f"MD5 digest error to {url.path}"
    if url.regex:
        lo = url.regex_min_offset or 0
        hi = url.regex_max_offset if url.regex_max_offset is not None else len(body)
        flags = re.IGNORECASE if "caseless" in url.regex_options else 0
        found = re.search(url.regex.encode(), body[lo:hi], flags) is not None
        if found == url.regex_no_match:
            return f"regex {'matched' if found else 'did not match'} on {url.path}"
    return None


def build_request(target: Target, spec: HttpGet, url: Url) -> tuple[str, dict[str, Any]]:
    scheme = "https" if spec.kind == "SSL_GET" else "http"
    host = f"[{target.host}]" if target.family == 6 else target.host
    path = url.path or "/"
    if not path.startswith("/"):
        path = "/" + path
    vhost = url.virtualhost or spec.virtualhost or target.rs.virtualhost or target.vs.virtualhost
    headers = {"Host": vhost or (f"{host}:{target.port}" if target.port not in (80, 443) else host),
               "Connection": "close", "User-Agent": "KeepAliveClient"}
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    return f"{scheme}://{host}:{target.port}{path}", kwargs


async def fetch(session: aiohttp.ClientSession, url: str, kwargs: dict, timeout: float,
                ssl: Any = None, server_hostname: str | None = None) -> tuple[int, bytes, Any]:
    extra: dict[str, Any] = {}
    if ssl is not None:
        extra["ssl"] = ssl
        if server_hostname:
            extra["server_hostname"] = server_hostname
    # keepalived bounds each step (connect, each read) by connect_timeout, not the whole exchange
    steps = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout)
    async with session.get(url, timeout=steps, **kwargs, **extra) as resp:
        body = await resp.read()
        return resp.status, body, resp


def urls_of(spec: HttpGet) -> tuple[Url, ...]:
    return spec.urls or (Url(path="/"),)


async def _check_one(target: Target, ctx: CheckContext, url: Url) -> CheckResult:
    spec = target.spec
    assert isinstance(spec, HttpGet)
    if ctx.http is None:
        ctx.http = HttpClients()
    session = ctx.http.session(spec.bindto, spec.bind_port, spec.http_protocol)
    tls = ctx.http.ssl_context() if spec.kind == "SSL_GET" else None
    sni = None
    if tls is not None and spec.enable_sni:
        sni = spec.sni_name or spec.virtualhost or target.rs.virtualhost or target.vs.virtualhost
    address, kwargs = build_request(target, spec, url)
    try:
        status, body, _ = await fetch(session, address, kwargs, target.timeout, tls, sni)
    except asyncio.TimeoutError:
        return CheckResult(False, f"timeout on {url.path or '/'}")
    except (aiohttp.ClientError, OSError, ssl_mod.SSLError) as exc:
        return CheckResult(False, f"{type(exc).__name__}: {exc}")
    if not status_ok(status, url.status_codes):
        return CheckResult(False, f"HTTP status code error to {address} (status {status})")
    problem = body_problem(url, body)
    if problem:
        return CheckResult(False, problem)
    return CheckResult(True)


async def check_url(target: Target, ctx: CheckContext, index: int) -> CheckResult:
    """One request for url ``index`` (the daemon asks one url per attempt, like keepalived)."""
    assert isinstance(target.spec, HttpGet)
    urls = urls_of(target.spec)
    return await _check_one(target, ctx, urls[min(index, len(urls) - 1)])


async def check(target: Target, ctx: CheckContext) -> CheckResult:
    """Every url in turn, stopping at the first that fails: a one-shot verdict on the whole
    checker (the daemon instead asks one url per attempt through check_url)."""
    assert isinstance(target.spec, HttpGet)
    for url in urls_of(target.spec):
        result = await _check_one(target, ctx, url)
        if not result.ok:
            return result
    return CheckResult(True)
