"""TCP_CHECK: a connect within connect_timeout is success.

Straight on the loop's socket primitives (no transport/protocol objects) because this check
runs thousands of times a second. A connection that succeeded is closed normally (a FIN, as
keepalived's check does), so a check is not a reset in the real server's application logs; the
TIME_WAIT it leaves is one per real server per delay_loop, far from the local port range. Only
an attempt that never connected (timeout, reload) is aborted with SO_LINGER 0.
"""
from __future__ import annotations

import asyncio
import errno
import _socket
import os
import select
import socket
import struct

from healthcheck.checkers.base import CheckContext, CheckResult, Target, open_bound_socket, os_reason

_LINGER0 = struct.pack("ii", 1, 0)
SUCCESS = CheckResult(True)
_EPOLLOUT_ONESHOT = select.EPOLLOUT | select.EPOLLONESHOT
_STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}


async def tcp_connect(target: Target) -> socket.socket:
    """Connected non-blocking socket, or an OSError / TimeoutError."""
    loop = asyncio.get_running_loop()
    sock = open_bound_socket(target, socket.SOCK_STREAM)
    try:
        async with asyncio.timeout(target.timeout):
            await loop.sock_connect(sock, target.sockaddr)
    except BaseException:
        _abort(sock)
        raise
    return sock


def _abort(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
    except OSError:
        pass
    sock.close()


async def check(target: Target, ctx: CheckContext) -> CheckResult:
    try:
        sock = await tcp_connect(target)
    except TimeoutError:
        return CheckResult(False, "timeout")
    except OSError as exc:
        return CheckResult(False, os_reason(exc))
    sock.close()
    return SUCCESS


class TcpProber:
    """TCP_CHECK without a coroutine, a task, a future or an asyncio timer per attempt.

    ``start`` issues a non-blocking connect and adds the socket (one-shot, for writability)
    to a private epoll set; that epoll's own descriptor is the only thing registered with the
    event loop, so thousands of in-flight connects cost no asyncio selector bookkeeping.
    Timeouts live in the scheduler's timer wheel. Outcomes go to ``finish(key, result)``.
    At thousands of checks per second the per-check asyncio machinery was most of the cost."""

    def __init__(self, scheduler, finish) -> None:
        self._loop = asyncio.get_running_loop()
        self._sched = scheduler
        self._finish = finish
        self._by_key: dict[int, _socket.socket] = {}
        self._by_fd: dict[int, int] = {}
        self._ep = select.epoll()
        self._loop.add_reader(self._ep.fileno(), self._drain)

    def start(self, key: int, target: Target) -> None:
        spec = target.spec
        try:
            if spec.bindto or spec.bind_port or spec.bind_if or spec.fwmark:
                sock = open_bound_socket(target, socket.SOCK_STREAM)
            else:
                # the C socket type directly: no Python-level wrapper to build per check
                sock = _socket.socket(_AF[target.family], _STREAM)
        except OSError as exc:
            self._finish(key, CheckResult(False, os_reason(exc)))
            return
        try:
            err = sock.connect_ex(target.sockaddr)
        except BaseException:
            sock.close()
            raise
        if err == errno.EINPROGRESS:
            fd = sock.fileno()
            self._by_key[key] = sock
            self._by_fd[fd] = key
            self._ep.register(fd, _EPOLLOUT_ONESHOT)
            self._sched.set_timeout(key, target.timeout, self._timeout)
        elif err == 0:
            sock.close()
            self._finish(key, SUCCESS)
        else:
            sock.close()
            self._finish(key, CheckResult(False, os.strerror(err)))

    def _drain(self) -> None:
        by_fd, by_key, sched, finish = self._by_fd, self._by_key, self._sched, self._finish
        for fd, _events in self._ep.poll(0, 4096):
            key = by_fd.pop(fd, None)
            if key is None:
                continue
            sock = by_key.pop(key)
            sched.clear_timeout(key)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            sock.close()             # a FIN; closing the descriptor also drops it from the epoll set
            finish(key, SUCCESS if err == 0 else CheckResult(False, os.strerror(err)))

    def _take(self, key: int) -> socket.socket | None:
        sock = self._by_key.pop(key, None)
        if sock is not None:
            self._by_fd.pop(sock.fileno(), None)
        return sock

    def _timeout(self, key: int) -> None:
        sock = self._take(key)
        if sock is None:
            return
        _abort(sock)
        self._finish(key, CheckResult(False, "timeout"))

    def abort(self, key: int) -> None:
        """Drop an in-flight attempt without a result (reload removed the check)."""
        sock = self._take(key)
        if sock is not None:
            self._sched.clear_timeout(key)
            _abort(sock)

    def close(self) -> None:
        for key in list(self._by_key):
            self.abort(key)
        self._loop.remove_reader(self._ep.fileno())
        self._ep.close()

    def __len__(self) -> int:
        return len(self._by_key)
