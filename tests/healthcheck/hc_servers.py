"""Loopback servers the checker tests point at, switchable between healthy / slow /
wrong-status / wrong-body / dead on demand. Everything binds 127.0.0.1 port 0."""
from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import subprocess

from aiohttp import web

BODY = b"<html>kvrrp healthy</html>\n"


def free_port() -> int:
    """A port with nothing listening (bound then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class HttpServer:
    """aiohttp server; ``mode`` in healthy | slow | status | body | dead."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.mode = "healthy"
        self.delay = 3.0
        self.tls = tls
        self.port = 0
        self.hosts: list[str | None] = []
        self.versions: list[str] = []
        self.sni: list[str | None] = []
        self.requests: list[tuple[float, str]] = []      # (loop time, path) of every request
        self.failing_paths: set[str] = set()             # these paths answer 503
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hosts.append(request.headers.get("Host"))
        self.versions.append(f"{request.version.major}.{request.version.minor}")
        self.requests.append((asyncio.get_running_loop().time(), request.path))
        if request.path in self.failing_paths:
            return web.Response(status=503, body=BODY)
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "status":
            return web.Response(status=503, body=BODY)
        if self.mode == "body":
            return web.Response(body=b"something else entirely")
        if request.path == "/redirect":
            return web.Response(status=302, headers={"Location": "/"})
        return web.Response(body=BODY)

    async def start(self) -> HttpServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.tls)
        await self._site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def make_tls(tmp_path) -> tuple[ssl.SSLContext, list[str | None]]:
    """A self-signed server context that records the SNI names clients send."""
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=kvrrp-test"],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))
    seen: list[str | None] = []
    ctx.sni_callback = lambda sslobj, name, c: seen.append(name)
    return ctx, seen


class TcpServer:
    """A plain listener; ``pause()`` makes connects hang (backlog full), ``stop()`` refuses."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.port = 0
        self._fillers: list[socket.socket] = []
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> TcpServer:
        self._server = await asyncio.start_server(self._conn, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _conn(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for s in self._fillers:
            s.close()
        self._fillers.clear()
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    async def hang(self) -> None:
        """Listen without accepting and fill the backlog so further SYNs are dropped."""
        await self.stop()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(0)
        for _ in range(3):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", self.port))
            self._fillers.append(f)
        await asyncio.sleep(0.05)


class DnsServer(asyncio.DatagramProtocol):
    """Answers any query: ``rcode`` 0 by default; ``silent`` drops queries."""

    def __init__(self) -> None:
        self.rcode = 0
        self.silent = False
        self.queries: list[bytes] = []
        self.transport = None
        self.port = 0

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    def datagram_received(self, data: bytes, addr) -> None:
        self.queries.append(data)
        if self.silent or len(data) < 12:
            return
        qid, flags = struct.unpack_from("!HH", data)
        reply = struct.pack("!HHHHHH", qid, 0x8000 | 0x0100 | 0x0080 | self.rcode, 1, 0, 0, 0) + data[12:]
        self.transport.sendto(reply, addr)

    async def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()


class UdpEcho(asyncio.DatagramProtocol):
    def __init__(self, reply: bytes | None = None) -> None:
        self.reply = reply
        self.transport = None
        self.port = 0

    async def start(self) -> UdpEcho:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    def datagram_received(self, data: bytes, addr) -> None:
        if self.reply is not None:
            self.transport.sendto(self.reply, addr)

    async def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()


class SmtpServer:
    """Tiny SMTP responder: 220 banner, 250 to HELO (``helo_code`` to change), 221 to QUIT."""

    def __init__(self) -> None:
        self.banner = b"220 kvrrp.test ESMTP\r\n"
        self.helo_code = 250
        self.helos: list[str] = []
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> SmtpServer:
        self._server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _conn(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            w.write(self.banner)
            line = await r.readline()
            self.helos.append(line.decode().strip())
            w.write(f"{self.helo_code}-kvrrp.test hello\r\n{self.helo_code} ok\r\n".encode())
            await r.readline()
            w.write(b"221 bye\r\n")
            await w.drain()
        except ConnectionError:
            pass
        finally:
            w.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
