"""genhash against a local aiohttp server: the digest it prints is the one HTTP_GET accepts."""
from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import os

from hc_servers import BODY, HttpServer

from healthcheck import genhash
from healthcheck.checkers import CHECKERS, CheckContext, make_target
from kvrrp.config.model import HttpGet, RealServer, Url, VirtualServer

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


async def test_genhash_function_matches_checker():
    srv = await HttpServer().start()
    try:
        status, headers, body, digest = await genhash.genhash("127.0.0.1", srv.port, "/index.html",
                                                              vhost="www.kvrrp.test")
        assert status == 200 and body == BODY and digest == hashlib.md5(BODY).hexdigest()
        assert srv.hosts[-1] == "www.kvrrp.test"
        spec = HttpGet(connect_timeout=1, urls=(Url(path="/index.html", digest=digest),))
        target = make_target(spec, RealServer(ip="127.0.0.1", port=srv.port), VirtualServer(ip="127.0.0.1", port=80))
        ctx = CheckContext()
        assert (await CHECKERS["HTTP_GET"](target, ctx)).ok
        await ctx.close()
    finally:
        await srv.stop()


def _serve_in_thread():
    """An aiohttp server in its own loop/thread so a subprocess can fetch from it."""
    import threading

    ready = threading.Event()
    box = {}

    def run():
        loop = asyncio.new_event_loop()
        srv = HttpServer()
        loop.run_until_complete(srv.start())
        box.update(loop=loop, srv=srv)
        ready.set()
        loop.run_forever()
        loop.run_until_complete(srv.stop())
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait(10)
    return box, t


def test_genhash_cli_both_forms():
    box, thread = _serve_in_thread()
    try:
        port = box["srv"].port
        env = dict(os.environ, PYTHONPATH=SRC)
        want = f"MD5SUM = {hashlib.md5(BODY).hexdigest()}"
        out = subprocess.run([sys.executable, "-m", "kvrrp", "-T", "-s", "127.0.0.1", "-p", str(port), "-u", "/x"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == want
        out = subprocess.run([sys.executable, "-m", "kvrrp", "--genhash", "-v", f"http://127.0.0.1:{port}/x"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0 and want in out.stdout and "HTTP status 200" in out.stdout
    finally:
        box["loop"].call_soon_threadsafe(box["loop"].stop)
        thread.join(10)


def test_genhash_errors(capsys):
    assert genhash.main(["-s", "127.0.0.1"]) == 2
    assert genhash.main(["ftp://127.0.0.1/x"]) == 2
    assert genhash.main(["-s", "not-an-ip", "-u", "/"]) == 2
    s = __import__("socket").socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert genhash.main(["-s", "127.0.0.1", "-p", str(port), "-u", "/", "-t", "1"]) == 1
    assert "cannot fetch" in capsys.readouterr().err


async def test_genhash_over_tls_with_sni(tmp_path):
    from hc_servers import make_tls

    tls, seen = make_tls(tmp_path)
    srv = await HttpServer(tls=tls).start()
    try:
        status, _, body, digest = await genhash.genhash("127.0.0.1", srv.port, "/", tls=True, sni=True,
                                                        vhost="sni.kvrrp.test", protocol="1.1")
        assert status == 200 and digest == hashlib.md5(BODY).hexdigest()
        assert seen[-1] == "sni.kvrrp.test" and srv.versions[-1] == "1.1"
    finally:
        await srv.stop()
