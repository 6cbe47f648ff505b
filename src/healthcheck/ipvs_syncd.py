"""The kernel's IPVS connection synchronisation daemons: start, stop, list.

A small blocking generic netlink client (stdlib only) for IPVS_CMD_NEW_DAEMON, DEL_DAEMON and
GET_DAEMON; the messages are healthcheck.ipvs_wire's. It is blocking on purpose: the VRRP
process starts and stops a daemon inside a state transition, in the order keepalived does
(stop the other role's daemon, then start this one), and the kernel answers at once. Both
processes use it: the VRRP process for `lvs_sync_daemon IF INSTANCE` (the role follows the
instance), the checker for `lvs_sync_daemon IF` without an instance (master and backup both).
"""
from __future__ import annotations

import errno
import os
import socket
import struct

from healthcheck import ipvs_wire as w
from healthcheck.ipvs_wire import SYNC_BACKUP, SYNC_MASTER, SyncDaemon

__all__ = ["SyncDaemonKernel", "SyncDaemon", "SYNC_MASTER", "SYNC_BACKUP"]

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
REPLY_TIMEOUT = 5.0


class SyncDaemonKernel:
    """IPVS sync daemons of the calling process's network namespace.

        k = SyncDaemonKernel()
        k.start(SyncDaemon(SYNC_MASTER, "eth0", sync_id=7))   # OSError(EEXIST) if running
        k.stop(SYNC_BACKUP)                                    # OSError(ESRCH) if not running
        k.list()                                               # -> [SyncDaemon, ...]

    Errors are OSError with the kernel's errno; without IPVS, OSError(ENOENT) on first use.
    """

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns              # net_namespace_ipvs: the socket lives in that namespace
        self._sock: socket.socket | None = None
        self._family: int | None = None
        self._seq = 0

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._family = None

    # -- the three commands --------------------------------------------------------------------
    def start(self, daemon: SyncDaemon) -> None:
        self._request(w.CMD_NEW_DAEMON, w.daemon_nest(daemon))

    def stop(self, state: int, sync_id: int = 0) -> None:
        self._request(w.CMD_DEL_DAEMON, w.daemon_nest(SyncDaemon(state, sync_id=sync_id), stop=True))

    def list(self) -> list[SyncDaemon]:
        family = self._open()
        seq = self._next_seq()
        self._send(w.message(family, w.NLM_F_REQUEST | w.NLM_F_DUMP, seq, w.CMD_GET_DAEMON, b""))
        reader = w.DumpReader(family, seq, w.parse_daemon)
        while not reader.feed(self._recv()):
            pass
        if reader.errno:
            raise OSError(reader.errno, os.strerror(reader.errno))
        return reader.items

    # -- plumbing ------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        return self._seq

    def _open(self) -> int:
        if self._sock is not None and self._family is not None:
            return self._family
        if self.netns:
            from kvrrp.io.netns import entered

            with entered(self.netns):
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_GENERIC)
        else:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_GENERIC)
        try:
            sock.bind((0, 0))
            sock.settimeout(REPLY_TIMEOUT)
            self._sock = sock
            self._family = self._resolve(b"IPVS")
        except BaseException:
            self.close()
            sock.close()
            raise
        return self._family

    def _resolve(self, name: bytes) -> int:
        """The generic netlink family id of `name` (CTRL_CMD_GETFAMILY)."""
        seq = self._next_seq()
        attrs = w.nla(CTRL_ATTR_FAMILY_NAME, name + b"\0")
        self._send(w.message(GENL_ID_CTRL, w.NLM_F_REQUEST | w.NLM_F_ACK, seq, CTRL_CMD_GETFAMILY, attrs))
        family = None
        while True:
            data = self._recv()
            for kind, _flags, mseq, off, length in w.iter_messages(data):
                if mseq != seq:
                    continue
                if kind == w.NLMSG_ERROR:
                    code = w.error_code(data, off)
                    if code:
                        raise OSError(-code, f"generic netlink family {name.decode()} not available: "
                                             f"{os.strerror(-code)}")
                    if family is None:
                        raise OSError(errno.EPROTO, "no family id in the generic netlink reply")
                    return family
                if kind == GENL_ID_CTRL:
                    spec = w._attrs(data, off + w.HDR_LEN, off + length).get(CTRL_ATTR_FAMILY_ID)
                    if spec is not None:
                        family = struct.unpack_from("=H", data, spec[0])[0]

    def _request(self, cmd: int, attrs: bytes) -> None:
        family = self._open()
        seq = self._next_seq()
        self._send(w.message(family, w.FLAGS_REQ, seq, cmd, attrs))
        while True:
            data = self._recv()
            for kind, _flags, mseq, off, _length in w.iter_messages(data):
                if mseq == seq and kind == w.NLMSG_ERROR:
                    code = w.error_code(data, off)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return

    def _send(self, data: bytes) -> None:
        assert self._sock is not None
        self._sock.send(data)

    def _recv(self) -> bytes:
        assert self._sock is not None
        try:
            return self._sock.recv(65536)
        except socket.timeout:
            raise OSError(errno.ETIMEDOUT, f"no IPVS reply within {REPLY_TIMEOUT} s") from None

