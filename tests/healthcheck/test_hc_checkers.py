"""Each checker against real loopback servers made healthy, slow, wrong and dead on demand."""
from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import time

import pytest
from hc_servers import BODY, DnsServer, HttpServer, SmtpServer, TcpServer, UdpEcho, free_port, make_tls

from healthcheck.checkers import CHECKERS, CheckContext, make_target
from healthcheck.checkers.dns import build_query, encode_name, parse_reply
from healthcheck.checkers.file import value_result
from healthcheck.checkers.misc import exit_code_result
from healthcheck.checkers.udp import pattern_matches
from kvrrp.config.model import (
    DnsCheck,
    FileCheck,
    HttpGet,
    MiscCheck,
    PingCheck,
    RealServer,
    ScriptCall,
    SmtpCheck,
    SslGet,
    TcpCheck,
    UdpCheck,
    Url,
    VirtualServer,
)

VS = VirtualServer(ip="198.18.0.1", port=80, lvs_sched="rr")


async def run(spec, port, ip="127.0.0.1", ctx=None):
    target = make_target(spec, RealServer(ip=ip, port=port), VS)
    own = ctx is None
    ctx = ctx or CheckContext()
    try:
        return await CHECKERS[spec.kind](target, ctx)
    finally:
        if own:
            await ctx.close()


# -- TCP ------------------------------------------------------------------------------------------


async def test_tcp_healthy_dead_and_hanging():
    srv = await TcpServer().start()
    try:
        assert (await run(TcpCheck(connect_timeout=1), srv.port)).ok
        await srv.hang()
        t0 = time.monotonic()
        res = await run(TcpCheck(connect_timeout=0.3), srv.port)
        assert not res.ok and res.reason == "timeout" and time.monotonic() - t0 < 2
        await srv.stop()
        res = await run(TcpCheck(connect_timeout=1), srv.port)
        assert not res.ok and "refused" in res.reason.lower()
    finally:
        await srv.stop()


async def test_tcp_connect_port_and_bindto():
    srv = await TcpServer().start()
    try:
        spec = TcpCheck(connect_timeout=1, connect_port=srv.port, bindto="127.0.0.2")
        assert (await run(spec, 1)).ok       # the real server's own port is not the one checked
    finally:
        await srv.stop()


async def _connection_endings(count: int):
    """A loopback server that records how each accepted connection ended: 'fin' or 'reset'."""
    endings: list[str] = []
    done = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            endings.append("fin" if await reader.read() == b"" else "data")
        except ConnectionResetError:
            endings.append("reset")
        writer.close()
        if len(endings) >= count:
            done.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], endings, done


async def test_tcp_check_closes_with_fin_not_reset():
    """keepalived closes a successful TCP_CHECK normally; a RST per check would show in the
    real server's logs as an aborted connection. Both the coroutine checker and the prober."""
    from healthcheck.checkers.tcp import TcpProber

    server, port, endings, done = await _connection_endings(2)
    try:
        assert (await run(TcpCheck(connect_timeout=1), port)).ok

        class Scheduler:
            def set_timeout(self, key, delay, callback):
                pass

            def clear_timeout(self, key):
                pass

        results = []
        prober = TcpProber(Scheduler(), lambda key, result: results.append(result))
        try:
            prober.start(1, make_target(TcpCheck(connect_timeout=1), RealServer(ip="127.0.0.1", port=port), VS))
            async with asyncio.timeout(5):
                while not results:
                    await asyncio.sleep(0.01)
        finally:
            prober.close()
        assert results[0].ok
        async with asyncio.timeout(5):
            await done.wait()
        assert endings == ["fin", "fin"]
    finally:
        server.close()
        await server.wait_closed()


# -- HTTP / SSL -----------------------------------------------------------------------------------


async def test_http_get_modes():
    srv = await HttpServer().start()
    digest = hashlib.md5(BODY).hexdigest()
    spec = HttpGet(connect_timeout=0.5, urls=(Url(path="/health", digest=digest),), virtualhost="www.kvrrp.test")
    try:
        assert (await run(spec, srv.port)).ok
        assert srv.hosts[-1] == "www.kvrrp.test" and srv.versions[-1] == "1.0"
        srv.mode = "status"
        r = await run(spec, srv.port)
        assert not r.ok and "503" in r.reason
        srv.mode = "body"
        r = await run(spec, srv.port)
        assert not r.ok and "digest" in r.reason.lower()
        srv.mode = "slow"
        srv.delay = 2.0
        t0 = time.monotonic()
        r = await run(spec, srv.port)
        assert not r.ok and "timeout" in r.reason and time.monotonic() - t0 < 1.8
        srv.mode = "healthy"
        await srv.stop()
        r = await run(spec, srv.port)
        assert not r.ok
    finally:
        await srv.stop()


async def test_http_status_code_ranges_regex_and_protocol():
    srv = await HttpServer().start()
    try:
        spec = HttpGet(connect_timeout=1, http_protocol="1.1",
                       urls=(Url(path="/redirect", status_codes=((301, 302),)), Url(path="/", regex="healthy")))
        assert (await run(spec, srv.port)).ok
        assert srv.versions[-1] == "1.1"
        spec = HttpGet(connect_timeout=1, urls=(Url(path="/", regex="healthy", regex_no_match=True),))
        assert not (await run(spec, srv.port)).ok
        spec = HttpGet(connect_timeout=1, urls=(Url(path="/redirect"),))     # default 200-299
        assert not (await run(spec, srv.port)).ok
    finally:
        await srv.stop()


async def test_ssl_get_with_sni(tmp_path):
    tls, seen = make_tls(tmp_path)
    srv = await HttpServer(tls=tls).start()
    try:
        spec = SslGet(connect_timeout=2, urls=(Url(path="/", digest=hashlib.md5(BODY).hexdigest()),),
                      enable_sni=True, sni_name="sni.kvrrp.test")
        assert (await run(spec, srv.port)).ok
        assert seen[-1] == "sni.kvrrp.test"
        spec = SslGet(connect_timeout=2, urls=(Url(path="/"),))
        assert (await run(spec, srv.port)).ok and seen[-1] is None
        # a plain HTTP_GET against the TLS port fails
        assert not (await run(HttpGet(connect_timeout=1, urls=(Url(path="/"),)), srv.port)).ok
    finally:
        await srv.stop()


# -- SMTP -----------------------------------------------------------------------------------------


async def test_smtp_check():
    srv = await SmtpServer().start()
    try:
        assert (await run(SmtpCheck(connect_timeout=1, helo_name="checker.kvrrp"), srv.port)).ok
        assert srv.helos[-1] == "HELO checker.kvrrp"
        srv.helo_code = 554
        assert not (await run(SmtpCheck(connect_timeout=1), srv.port)).ok
        srv.helo_code = 250
        srv.banner = b"554 go away\r\n"
        assert not (await run(SmtpCheck(connect_timeout=1), srv.port)).ok
    finally:
        await srv.stop()
    assert not (await run(SmtpCheck(connect_timeout=1), free_port())).ok


# -- DNS ------------------------------------------------------------------------------------------


def test_dns_query_encoding():
    q = build_query(0x1234, "www.example.org.", "A")
    assert q[:12] == bytes.fromhex("123401000001000000000000")
    assert q[12:] == b"\x03www\x07example\x03org\x00\x00\x01\x00\x01"
    assert encode_name(".") == b"\x00"
    with pytest.raises(ValueError):
        build_query(1, "x", "BOGUS")
    with pytest.raises(ValueError):
        encode_name("a" * 64 + ".org")
    assert parse_reply(1, b"\x00\x01\x80\x00" + b"\x00" * 8) is None
    assert parse_reply(1, b"\x00\x02\x80\x00" + b"\x00" * 8) == "id mismatch"
    assert parse_reply(1, b"\x00\x01\x00\x00" + b"\x00" * 8) == "not a response"
    assert parse_reply(1, b"\x00\x01\x80\x03" + b"\x00" * 8) == "rcode 3"
    assert parse_reply(1, b"\x00") == "short reply"


async def test_dns_check():
    srv = await DnsServer().start()
    try:
        assert (await run(DnsCheck(connect_timeout=1, type="SOA", name="kvrrp.test"), srv.port)).ok
        assert b"\x05kvrrp\x04test\x00\x00\x06" in srv.queries[-1]
        srv.rcode = 2
        r = await run(DnsCheck(connect_timeout=1), srv.port)
        assert not r.ok and r.reason == "rcode 2"
        srv.rcode, srv.silent = 0, True
        r = await run(DnsCheck(connect_timeout=0.3), srv.port)
        assert not r.ok and r.reason == "timeout"
    finally:
        await srv.stop()
    r = await run(DnsCheck(connect_timeout=1), free_port())
    assert not r.ok


# -- UDP ------------------------------------------------------------------------------------------


def test_udp_pattern():
    assert pattern_matches("01XX03", b"\x01\x99\x03\x04")
    assert not pattern_matches("01XX04", b"\x01\x99\x03")
    assert pattern_matches("0", b"\x01")


async def test_udp_check_reply_and_refused():
    srv = await UdpEcho(reply=b"\xca\xfe\x00\x01").start()
    try:
        spec = UdpCheck(connect_timeout=0.5, payload="0102", require_reply=True, reply_pattern="CAFEXX",
                        min_reply_length=2, max_reply_length=10)
        assert (await run(spec, srv.port)).ok
        spec = UdpCheck(connect_timeout=0.5, payload="0102", require_reply=True, reply_pattern="BEEF")
        assert not (await run(spec, srv.port)).ok
        spec = UdpCheck(connect_timeout=0.5, require_reply=True, min_reply_length=5)
        assert not (await run(spec, srv.port)).ok
    finally:
        await srv.stop()
    silent = await UdpEcho(reply=None).start()
    try:
        assert (await run(UdpCheck(connect_timeout=0.2), silent.port)).ok      # no ICMP error: up
        assert not (await run(UdpCheck(connect_timeout=0.2, require_reply=True), silent.port)).ok
    finally:
        await silent.stop()
    r = await run(UdpCheck(connect_timeout=0.5), free_port())
    assert not r.ok and "refused" in r.reason.lower()


# -- PING -----------------------------------------------------------------------------------------


async def test_ping_loopback():
    r = await run(PingCheck(connect_timeout=1), 0)
    if not r.ok and "cannot open ICMP socket" in r.reason:
        pytest.skip(r.reason)
    assert r.ok


# -- MISC -----------------------------------------------------------------------------------------


def _script(tmp_path, name, body):
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(p)


def test_misc_exit_codes():
    assert exit_code_result(0, False, 3).ok
    assert not exit_code_result(1, True, 3).ok
    assert not exit_code_result(7, False, 3).ok
    r = exit_code_result(7, True, 3)
    assert r.ok and r.weight_delta == 2          # weight 7 - 2 = 5 = 3 + 2


async def test_misc_check_scripts(tmp_path):
    ok = _script(tmp_path, "ok.sh", "exit 0")
    bad = _script(tmp_path, "bad.sh", "exit 1")
    dyn = _script(tmp_path, "dyn.sh", "exit 12")
    hang = _script(tmp_path, "hang.sh", "sleep 30")

    def spec(path, **kw):
        return MiscCheck(misc_path=ScriptCall(command=path, argv=(path,)), **kw)

    assert (await run(spec(ok, misc_timeout=5), 0)).ok
    assert not (await run(spec(bad, misc_timeout=5), 0)).ok
    r = await run(spec(dyn, misc_timeout=5, misc_dynamic=True), 0)
    assert r.ok and r.weight_delta == 10 - 1
    t0 = time.monotonic()
    r = await run(spec(hang, misc_timeout=0.3), 0)
    assert not r.ok and "timed out" in r.reason and time.monotonic() - t0 < 5
    r = await run(spec(str(tmp_path / "missing.sh"), misc_timeout=1), 0)
    assert not r.ok


# -- FILE -----------------------------------------------------------------------------------------


def test_file_value_semantics():
    assert value_result(0, 0, False).ok and not value_result(1, 0, False).ok
    assert not value_result(0, 0, True).ok and value_result(3, 0, True).ok
    r = value_result(5, 2, True)
    assert r.ok and r.weight_delta == -10


async def test_file_check(tmp_path):
    f = tmp_path / "state"
    f.write_text("0\n")
    spec = FileCheck(track_file="tf", weight=0)
    ctx = CheckContext(track_files={"tf": str(f)})
    assert (await run(spec, 0, ctx=ctx)).ok
    f.write_text("1\n")
    assert not (await run(spec, 0, ctx=ctx)).ok
    f.write_text("4\n")
    r = await run(FileCheck(track_file="tf", weight=3, dynamic=True), 0, ctx=ctx)
    assert r.ok and r.weight_delta == 12
    os.unlink(f)
    assert (await run(FileCheck(track_file="tf", weight=0), 0, ctx=ctx)).ok     # missing reads 0


async def test_many_concurrent_tcp_checks_share_nothing():
    srv = await TcpServer().start()
    try:
        results = await asyncio.gather(*(run(TcpCheck(connect_timeout=2), srv.port) for _ in range(200)))
        assert all(r.ok for r in results)
    finally:
        await srv.stop()


async def test_ipv6_loopback_tcp_and_http():
    import socket as _s

    from aiohttp import web

    async def handler(request):
        return web.Response(body=BODY)

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "::1", 0)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        pytest.skip(f"no IPv6 loopback: {exc}")
    port = runner.addresses[0][1]
    try:
        assert (await run(TcpCheck(connect_timeout=1), port, ip="::1")).ok
        spec = HttpGet(connect_timeout=1, urls=(Url(path="/", digest=hashlib.md5(BODY).hexdigest()),))
        assert (await run(spec, port, ip="::1")).ok
        assert (await run(PingCheck(connect_timeout=1), 0, ip="::1")).ok
    finally:
        await runner.cleanup()
    assert not (await run(TcpCheck(connect_timeout=1), port, ip="::1")).ok
    del _s
