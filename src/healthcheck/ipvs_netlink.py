"""`IpvsKernel` on the real kernel: pyroute2 finds the IPVS family, `ipvs_wire` packs the
messages, and they travel in batches on a generic netlink socket read inside the event loop.

pyroute2 opens the generic netlink family "IPVS" and resolves its id (and its `NetlinkError`
carries kernel errors to the callers). The hot path is ours: every IPVS command is packed
with `struct` (healthcheck.ipvs_wire), up to `batch_messages` messages go out in one
`send()`, each with NLM_F_ACK, and the ACKs are read in bulk and matched to their operation
by sequence number. The kernel handles the messages of one send in order, exactly as if
they had been sent one at a time, so a failing entry fails alone: its error is returned in
its slot and the Reconciler logs it and retries. An ACK that never comes (a lost reply)
fails its operation as well, never silently succeeds. Dumps (GET_SERVICE, then GET_DEST per
service) are parsed with `struct` too.
"""
from __future__ import annotations

import asyncio
import errno
import socket
import struct
from typing import Callable, Sequence

from healthcheck import ipvs_wire as w
from healthcheck.ipvs import (
    ADD_DEST,
    ADD_SERVICE,
    DEL_DEST,
    DEL_SERVICE,
    SET_DEST,
    SET_SERVICE,
    IpvsUnavailable,
    Op,
)
from healthcheck.table import Dest, DestKey, Service, ServiceKey, Table

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10          # errors carry only the request's header, not the whole request
NETLINK_EXT_ACK = 11          # errors carry the kernel's message text
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1
SO_RCVBUFFORCE = 33
REPLY_TIMEOUT = 10.0          # seconds for the kernel's answers to one batch or one dump


def _netlink_error(code: int, text: str | None = None) -> Exception:
    from pyroute2.netlink.exceptions import NetlinkError

    return NetlinkError(code, text or None)


class PyrouteKernel:
    """The real kernel (generic netlink family "IPVS", opened through pyroute2).

    In-process API:
        k = await PyrouteKernel().open()       # IpvsUnavailable (an OSError) without IPVS
        await k.apply(ops)                     # -> [None | exception] per op, in order
        await k.dump()                         # -> Table
        await k.add_dest(key, dest)            # the single-op verbs of IpvsKernel (one batch each)
    """

    def __init__(self, *, batch_messages: int = 256, batch_bytes: int = 64 << 10,
                 netns: str | None = None, rcvbuf=None) -> None:  # noqa: ANN001
        """rcvbuf: global_defs' lvs_netlink_cmd_rcv_bufs(_force) (a kvrrp.io.sockbuf.RcvBuf) for
        this command socket; None keeps kvrrp's 4 MiB (forced), room for a batch's ACKs."""
        self.netns = netns                     # net_namespace_ipvs: None = this process's namespace
        self.rcvbuf = rcvbuf
        self.batch_messages = batch_messages
        self.batch_bytes = batch_bytes
        self.family_id: int | None = None
        self._sock: socket.socket | None = None
        self._seq = 0
        self._buf = bytearray(1 << 20)
        self.sends = 0                         # send() calls made (batches), for tests/bench
        self._lock: asyncio.Lock | None = None  # one request in flight: replies share the socket

    async def open(self) -> PyrouteKernel:
        from pyroute2.ipvs import AsyncIPVS

        resolver = AsyncIPVS()
        try:
            await resolver.setup_endpoint()     # binds the "IPVS" family: fails without IPVS
            family_id = int(resolver.prid)
        except Exception as exc:
            raise IpvsUnavailable(f"generic netlink family IPVS not available: {exc}") from exc
        finally:
            resolver.close()
        sock = self.new_socket()
        try:
            sock.bind((0, 0))
            sock.setblocking(False)
            for opt in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
                try:
                    sock.setsockopt(SOL_NETLINK, opt, 1)
                except OSError:
                    pass                        # older kernels: bigger error replies, no text
            if self.rcvbuf is not None:         # lvs_netlink_cmd_rcv_bufs(_force), as configured
                from kvrrp.io.sockbuf import apply

                apply(sock, self.rcvbuf, "IPVS netlink command socket")
            else:
                # room for a whole batch of ACKs (each queued reply costs ~1 KiB of buffer)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
                except OSError:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            sock.close()
            raise
        self._sock, self.family_id = sock, family_id
        return self

    def new_socket(self) -> socket.socket:
        """The generic netlink socket IPVS commands go through, made in the `net_namespace_ipvs`
        namespace when one is named (a socket stays in the namespace it was created in, so the
        thread switches there only for this call; generic netlink family ids are the same in
        every namespace, so the family lookup needs no switch)."""
        if self.netns is None:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_GENERIC)
        from kvrrp.io.netns import entered

        with entered(self.netns):
            return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_GENERIC)

    async def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def _ready(self) -> socket.socket:
        if self._sock is None:
            await self.open()
        assert self._sock is not None
        return self._sock

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        return self._seq

    # -----------------------------------------------------------------------------------------
    # encoding

    def encode(self, op: Op, seq: int) -> bytes:
        fam = self.family_id
        assert fam is not None
        kind = op.kind
        if kind == ADD_DEST:
            return w.dest_message(fam, w.FLAGS_CREATE, seq, w.CMD_NEW_DEST, op.service, op.dest)  # type: ignore[arg-type]
        if kind == SET_DEST:
            return w.dest_message(fam, w.FLAGS_CHANGE, seq, w.CMD_SET_DEST, op.service, op.dest)  # type: ignore[arg-type]
        if kind == DEL_DEST:
            return w.message(fam, w.FLAGS_REQ, seq, w.CMD_DEL_DEST,
                             w.service_key_nest(op.service) + w.dest_key_nest(_dest_family(op), op.dest_key))  # type: ignore[arg-type]
        if kind == ADD_SERVICE:
            return w.message(fam, w.FLAGS_CREATE, seq, w.CMD_NEW_SERVICE, w.service_nest(op.svc))  # type: ignore[arg-type]
        if kind == SET_SERVICE:
            return w.message(fam, w.FLAGS_CHANGE, seq, w.CMD_SET_SERVICE, w.service_nest(op.svc))  # type: ignore[arg-type]
        if kind == DEL_SERVICE:
            return w.message(fam, w.FLAGS_REQ, seq, w.CMD_DEL_SERVICE, w.service_key_nest(op.service))
        raise ValueError(f"unknown IPVS operation {kind!r}")

    # -----------------------------------------------------------------------------------------
    # batched requests

    async def apply(self, ops: Sequence[Op]) -> list[Exception | None]:
        """Send ``ops`` in order, in batches; one result per op: None or the error."""
        results: list[Exception | None] = [None] * len(ops)
        await self._ready()
        msgs: list[tuple[int, int, bytes]] = []
        for i, op in enumerate(ops):
            try:
                seq = self._next_seq()
                msgs.append((i, seq, self.encode(op, seq)))
            except (ValueError, OSError, KeyError, OverflowError, struct.error, AttributeError) as exc:
                results[i] = ValueError(f"cannot encode {op}: {exc}")
        await self._send_batched(msgs, results)
        return results

    async def _send_batched(self, msgs: list[tuple[int, int, bytes]], results: list[Exception | None]) -> None:
        """``msgs``: (index in results, sequence number, message)."""
        pos = 0
        while pos < len(msgs):
            batch: list[bytes] = []
            pending: dict[int, int] = {}
            size = 0
            while pos < len(msgs) and len(batch) < self.batch_messages and (
                    not batch or size + len(msgs[pos][2]) <= self.batch_bytes):
                index, seq, data = msgs[pos]
                pending[seq] = index
                batch.append(data)
                size += len(data)
                pos += 1
            await self._roundtrip(b"".join(batch), pending, results)
            if pos < len(msgs):
                await asyncio.sleep(0)          # let checks run between batches

    def _exclusive(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _roundtrip(self, data: bytes, pending: dict[int, int], results: list[Exception | None]) -> None:
        async with self._exclusive():
            await self._roundtrip_locked(data, pending, results)

    async def _roundtrip_locked(self, data: bytes, pending: dict[int, int], results: list[Exception | None]) -> None:
        sock = await self._ready()
        try:
            sock.send(data)
            self.sends += 1
        except OSError as exc:
            for index in pending.values():
                results[index] = exc
            return
        try:
            await self._read_acks(sock, pending, results)
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            # replies lost (receive buffer overrun) or never came: the outcome is unknown,
            # so those operations count as failed; the Reconciler re-reads the kernel
            if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
                lost: Exception = OSError(errno.ETIMEDOUT, f"no IPVS reply within {REPLY_TIMEOUT} s")
            elif isinstance(exc, OSError):
                lost = exc                      # e.g. ENOBUFS: replies were dropped
            else:
                lost = OSError(errno.EPROTO, f"bad IPVS reply: {exc}")
            for index in pending.values():
                results[index] = lost
            pending.clear()

    async def _read_acks(self, sock: socket.socket, pending: dict[int, int], results: list[Exception | None]) -> None:
        buf = self._buf
        while pending:
            n = await self._recv(sock)
            for kind, _flags, seq, off, length in w.iter_messages(buf, n):
                index = pending.pop(seq, None)
                if index is None or kind != w.NLMSG_ERROR:
                    continue                    # a stale reply of an earlier, timed-out batch
                code = w.error_code(buf, off)
                if code:
                    results[index] = _netlink_error(-code, _ext_ack_text(buf, off, length, _flags))

    async def _recv(self, sock: socket.socket) -> int:
        try:
            return sock.recv_into(self._buf)
        except BlockingIOError:
            pass
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recv_into(sock, self._buf), REPLY_TIMEOUT)

    async def _dump(self, cmd: int, attrs: bytes, parse: Callable) -> list:
        async with self._exclusive():
            return await self._dump_locked(cmd, attrs, parse)

    async def _dump_locked(self, cmd: int, attrs: bytes, parse: Callable) -> list:
        sock = await self._ready()
        seq = self._next_seq()
        assert self.family_id is not None
        sock.send(w.message(self.family_id, w.NLM_F_REQUEST | w.NLM_F_DUMP, seq, cmd, attrs))
        self.sends += 1
        reader = w.DumpReader(self.family_id, seq, parse)
        while not reader.feed(self._buf, await self._recv(sock)):
            pass
        if reader.errno:            # the error message is still in self._buf: nothing read since
            raise _netlink_error(reader.errno, _ext_ack_text(self._buf, *reader.error_at))
        return reader.items

    async def dump(self) -> Table:
        table = Table()
        for svc in await self._dump(w.CMD_GET_SERVICE, b"", w.parse_service):
            table.add_service(svc)
        for key in list(table.entries):
            family = key.family
            try:
                dests = await self._dump(w.CMD_GET_DEST, w.service_key_nest(key),
                                         lambda b, o, n: w.parse_dest(b, o, n, family))
            except Exception as exc:
                if getattr(exc, "code", None) in (errno.ESRCH, errno.ENOENT):
                    del table.entries[key]      # removed by someone else while we dumped
                    continue
                raise
            entry = table.entries[key]
            for d in dests:
                entry.dests[d.key] = d
        return table

    async def dump_stats(self) -> dict[ServiceKey, tuple[dict[str, int], dict[DestKey, dict[str, int]]]]:
        """The kernel's traffic counters of every service and destination (what `ipvsadm -Ln
        --stats --rate` shows): {service key: (service stats, {dest key: dest stats})}."""
        out: dict[ServiceKey, tuple[dict[str, int], dict[DestKey, dict[str, int]]]] = {}
        for svc, stats in await self._dump(w.CMD_GET_SERVICE, b"", w.parse_service_stats):
            out[svc.key] = (stats, {})
        for key in list(out):
            family = key.family
            try:
                dests = await self._dump(w.CMD_GET_DEST, w.service_key_nest(key),
                                         lambda b, o, n: w.parse_dest_stats(b, o, n, family))
            except Exception as exc:
                if getattr(exc, "code", None) in (errno.ESRCH, errno.ENOENT):
                    del out[key]        # removed by someone else while we dumped
                    continue
                raise
            out[key][1].update((d.key, st) for d, st in dests)
        return out

    # -----------------------------------------------------------------------------------------
    # the single-operation verbs of IpvsKernel (each one batch of one)

    async def _one(self, op: Op) -> None:
        (result,) = await self.apply([op])
        if result is not None:
            raise result

    async def add_service(self, svc: Service) -> None:
        await self._one(Op(ADD_SERVICE, svc.key, svc=svc))

    async def set_service(self, svc: Service) -> None:
        await self._one(Op(SET_SERVICE, svc.key, svc=svc))

    async def del_service(self, key: ServiceKey) -> None:
        await self._one(Op(DEL_SERVICE, key))

    async def add_dest(self, svc: ServiceKey, dest: Dest) -> None:
        await self._one(Op(ADD_DEST, svc, dest=dest))

    async def set_dest(self, svc: ServiceKey, dest: Dest) -> None:
        await self._one(Op(SET_DEST, svc, dest=dest))

    async def del_dest(self, svc: ServiceKey, dest: DestKey) -> None:
        await self._one(Op(DEL_DEST, svc, dest_key=dest))

    async def _command(self, cmd: int, attrs: bytes) -> None:
        await self._ready()
        assert self.family_id is not None
        results: list[Exception | None] = [None]
        seq = self._next_seq()
        await self._send_batched([(0, seq, w.message(self.family_id, w.FLAGS_REQ, seq, cmd, attrs))], results)
        if results[0] is not None:
            raise results[0]

    async def flush(self) -> None:
        await self._command(w.CMD_FLUSH, b"")

    async def set_timeouts(self, tcp: int | None, tcpfin: int | None, udp: int | None) -> None:
        """global_defs lvs_timeouts (ipvsadm --set): IPVS_CMD_SET_CONFIG; absent ones unchanged."""
        await self._command(w.CMD_SET_CONFIG, w.timeouts_attrs(tcp, tcpfin, udp))


def _dest_family(op: Op) -> int:
    """A destination's address family, from its address text (del ops carry only the key)."""
    return 6 if ":" in op.dest_key.addr else 4  # type: ignore[union-attr]


def _ext_ack_text(buf, off: int, length: int, flags: int) -> str | None:
    """The kernel's extended ACK message (NETLINK_EXT_ACK), if any."""
    if not flags & NLM_F_ACK_TLVS:
        return None
    # nlmsghdr (16) + error (4) + the request: its header only when capped (NETLINK_CAP_ACK),
    # else the whole request; then the TLVs
    if flags & NLM_F_CAPPED:
        start = off + 36
    else:
        start = off + 20 + ((struct.unpack_from("=I", buf, off + 20)[0] + 3) & ~3)
    end = off + length
    pos = start
    while pos + 4 <= end:
        alen, akind = struct.unpack_from("=HH", buf, pos)
        if alen < 4:
            break
        if akind == NLMSGERR_ATTR_MSG:
            return bytes(buf[pos + 4:pos + alen]).split(b"\0", 1)[0].decode(errors="replace")
        pos += (alen + 3) & ~3
    return None
