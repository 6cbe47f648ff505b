"""`kvrrp -T` / `kvrrp --genhash`: keepalived's genhash. Fetches a URL the way HTTP_GET /
SSL_GET do and prints the MD5 digest of the body to put in a ``digest`` line.

    kvrrp -T -s 198.18.0.5 -p 80 -u /health [-S] [-I] [-V vhost] [-P 1.1] [-t 5] [-v]
    kvrrp -T http://198.18.0.5:8080/health

The digest is computed by the same code the checker uses, so it always matches what
HTTP_GET compares. Output: "MD5SUM = <hex>" (with -v, the status and headers first).
Exit status 0 on success, 1 when the server cannot be fetched, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import ipaddress
import sys
import time
from urllib.parse import urlsplit

from kvrrp.config.model import HttpGet, RealServer, SslGet, Url, VirtualServer

from healthcheck.checkers.base import CheckContext, make_target
from healthcheck.checkers.http import HttpClients, build_request, fetch

DELIM = "-----------------------[{}]-----------------------"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kvrrp --genhash", add_help=False,
                                description="Print the MD5 digest of a URL's body for HTTP_GET/SSL_GET 'digest'.")
    p.add_argument("-h", "-H", "--help", action="help", help="show this help and exit")
    p.add_argument("-s", "--server", help="server address")
    p.add_argument("-p", "--port", type=int, help="server port (default 80, 443 with -S)")
    p.add_argument("-u", "--url", help="url path, e.g. /health")
    p.add_argument("-S", "--use-ssl", action="store_true", help="use TLS (SSL_GET)")
    p.add_argument("-I", "--use-sni", action="store_true", help="send SNI (the virtualhost, see -V)")
    p.add_argument("-V", "--use-virtualhost", dest="vhost", help="Host header to send")
    p.add_argument("-P", "--protocol", default="1.0", type=str.upper, choices=("1.0", "1.0C", "1.1"),
                   help="HTTP protocol: 1.0, 1.0c (1.0 with Connection: close), 1.1")
    p.add_argument("-t", "--timeout", type=float, default=5.0, help="timeout in seconds")
    p.add_argument("-m", "--fwmark", type=int, default=None, help="fwmark for the connection")
    p.add_argument("-v", "--verbose", action="store_true", help="print status and headers")
    p.add_argument("full_url", nargs="?", help="or a full URL: http[s]://server[:port]/path")
    return p


def _resolve(args: argparse.Namespace) -> tuple[str, int, str, bool]:
    if args.full_url:
        parts = urlsplit(args.full_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {args.full_url!r}")
        tls = parts.scheme == "https" or args.use_ssl
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return parts.hostname, parts.port or (443 if tls else 80), path, tls
    if not args.server or not args.url:
        raise ValueError("need -s SERVER and -u URL (or a full URL)")
    return args.server, args.port or (443 if args.use_ssl else 80), args.url, args.use_ssl


async def genhash(server: str, port: int, path: str, *, tls: bool = False, vhost: str | None = None,
                  sni: bool = False, protocol: str = "1.0", timeout: float = 5.0,
                  fwmark: int | None = None) -> tuple[int, dict[str, str], bytes, str]:
    """Fetch and hash: (status, headers, body, md5 hex). Raises on network errors."""
    ipaddress.ip_address(server)            # the checker connects to addresses, not names
    cls = SslGet if tls else HttpGet
    spec = cls(connect_timeout=timeout, http_protocol=protocol, virtualhost=vhost, enable_sni=sni,
               fwmark=fwmark, urls=(Url(path=path),))
    target = make_target(spec, RealServer(ip=server, port=port), VirtualServer(ip=server, port=port))
    ctx = CheckContext(http=HttpClients())
    try:
        session = ctx.http.session(None, None, protocol)
        url, kwargs = build_request(target, spec, spec.urls[0])
        tls_ctx = ctx.http.ssl_context() if tls else None
        status, body, resp = await fetch(session, url, kwargs, timeout, tls_ctx, vhost if sni else None)
        return status, dict(resp.headers), body, hashlib.md5(body).hexdigest()
    finally:
        await ctx.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        server, port, path, tls = _resolve(args)
        ipaddress.ip_address(server)
    except ValueError as exc:
        print(f"genhash: {exc}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        status, headers, body, digest = asyncio.run(genhash(
            server, port, path, tls=tls, vhost=args.vhost, sni=args.use_sni, protocol=args.protocol,
            timeout=args.timeout, fwmark=args.fwmark))
    except Exception as exc:  # noqa: BLE001 - report any fetch failure as keepalived does
        print(f"genhash: cannot fetch {'https' if tls else 'http'}://{server}:{port}{path}: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.verbose:
        print(DELIM.format(" HTTP Header Ascii Buffer "))
        print(f"HTTP status {status}")
        for k, v in headers.items():
            print(f"{k}: {v}")
        print(f"\nBody: {len(body)} bytes")
        print(DELIM.format(" HTML hash final resulting "))
    print(f"MD5SUM = {digest}")
    if args.verbose:
        print(f"\nGlobal response time for [{path}] = {int((time.monotonic() - t0) * 1e6)} usecs")
    return 0
