"""An AgentX subagent session over asyncio (the transport around kvrrp.snmp.agentx).

Subagent(socket_spec, subtrees, view) connects to the master agent (net-snmp's snmpd with
`master agentx`), opens a session, registers each subtree and then answers Get / GetNext /
GetBulk from view() - a callable returning the current view (kvrrp.snmp.mibview: a MibView,
SubtreeViews, or an awaitable of one: the checker refreshes its IPVS counters first) - until it
is closed. Sets go through the TestSet / CommitSet / UndoSet / CleanupSet transaction of
kvrrp.snmp.settx with the `setter` given (which says, per varbind, the error or the change);
without one every set is refused notWritable. When the master is not
there, or goes away, the subagent retries every `retry` seconds; notifications sent meanwhile
wait in a bounded queue (the oldest are dropped and counted beyond QUEUE_LIMIT) and go out
once a session is open again. A ping every `ping_interval` seconds finds a master that died
without closing the connection.

Socket specs are net-snmp's, as keepalived's snmp_socket / -A take them: "unix:/path" or a
bare "/path" (the default is /var/agentx/master), "tcp:host:port" or "host:port".
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from typing import Awaitable, Callable

from kvrrp.snmp import agentx
from kvrrp.snmp.agentx import AgentxError, Oid, VarBind
from kvrrp.snmp.mibview import View, answer_get, answer_getbulk, answer_getnext
from kvrrp.snmp.settx import Checker, SetTransactions

log = logging.getLogger("kvrrp.snmp")

DEFAULT_SOCKET = "unix:/var/agentx/master"
KEEPALIVED_OID = (1, 3, 6, 1, 4, 1, 9586, 100, 5)
QUEUE_LIMIT = 256
WRITE_BACKLOG = 64 * 1024   # bytes not yet taken by the master beyond which notifications wait in
                            # the queue (a flood of bad adverts traps per packet, as keepalived);
                            # never above the transport's high-water mark, where drain() waits
REQUEST_TIMEOUT = 5.0


class SocketSpecError(ValueError):
    pass


def parse_socket(spec: str | None) -> tuple[str, str, int]:
    """("unix", path, 0) or ("tcp", host, port) from a net-snmp transport string."""
    text = (spec or DEFAULT_SOCKET).strip()
    if text.startswith("unix:"):
        text = text[5:]
        if not text:
            raise SocketSpecError("snmp socket 'unix:' without a path")
        return ("unix", text, 0)
    if text.startswith("/"):
        return ("unix", text, 0)
    if text.startswith(("udp:", "udp6:")):
        raise SocketSpecError(f"snmp socket {spec!r}: AgentX needs a stream transport (unix: or tcp:)")
    if text.startswith(("tcp:", "tcp6:")):
        text = text.split(":", 1)[1]
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "705"
    host = host.strip("[]") or "localhost"
    try:
        number = int(port)
    except ValueError:
        raise SocketSpecError(f"snmp socket {spec!r}: bad port {port!r}") from None
    if not 0 < number < 65536:
        raise SocketSpecError(f"snmp socket {spec!r}: port out of range")
    return ("tcp", host, number)


class Subagent:
    def __init__(self, socket_spec: str | None, subtrees: list[tuple[Oid, str]],
                 view: Callable[[], View | Awaitable[View]], *,
                 setter: Checker | None = None, description: str = "kvrrp (keepalived-compatible)",
                 retry: float = 5.0, ping_interval: float = 15.0) -> None:
        self.target = parse_socket(socket_spec)
        self.subtrees = subtrees              # (OID, name) - the name is for the logs
        self.view = view
        self.sets = SetTransactions(setter if setter is not None else _read_only)
        self.description = description
        self.retry = retry
        self.ping_interval = ping_interval
        self.session_id: int | None = None
        self.started = time.monotonic()
        self.counters = {"connects": 0, "requests": 0, "notifies_sent": 0, "notifies_dropped": 0,
                         "parse_errors": 0, "sets_refused": 0, "registrations_failed": 0}
        self._queue: deque[list[VarBind]] = deque()
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._packet_id = 0
        self._task: asyncio.Task | None = None
        self._open = asyncio.Event()
        self._closing = False
        self._draining: asyncio.Task | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kvrrp-snmp-subagent")

    async def wait_open(self, timeout: float) -> bool:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._open.wait(), timeout)
        return self._open.is_set()

    async def close(self) -> None:
        self._closing = True
        writer, sid = self._writer, self.session_id
        if writer is not None and sid is not None:
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(agentx.close_pdu(sid, self._next_packet()))
                await asyncio.wait_for(writer.drain(), 1.0)
        for task in (self._task, self._draining):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._drop_connection()

    def snapshot(self) -> dict:
        return {"connected": self._open.is_set(), "session_id": self.session_id,
                "queued_notifies": len(self._queue), **self.counters, **self.sets.counters}

    # -- notifications ------------------------------------------------------------------------
    def notify(self, varbinds: list[VarBind]) -> None:
        """Send a notification (snmpTrapOID.0 first, then its objects); queued while no session."""
        self._queue.append(varbinds)
        while len(self._queue) > QUEUE_LIMIT:
            self._queue.popleft()
            self.counters["notifies_dropped"] += 1
        if self._open.is_set():
            self._flush()

    def uptime_ticks(self) -> int:
        return int((time.monotonic() - self.started) * 100) & 0xFFFFFFFF

    def _flush(self) -> None:
        if self._write_queued():
            self._drain_later()

    def _write_queued(self) -> bool:
        """Write the queue out; True when it stopped because the master is behind."""
        writer, sid = self._writer, self.session_id
        while self._queue and writer is not None and sid is not None:
            if writer.transport.get_write_buffer_size() > _backlog_limit(writer):
                return True
            varbinds = self._queue.popleft()
            body = [VarBind(agentx.SYS_UPTIME_0, agentx.TIME_TICKS, self.uptime_ticks()), *varbinds]
            try:
                writer.write(agentx.notify_pdu(sid, self._next_packet(), body))
            except AgentxError as exc:
                log.error("SNMP notification not sent: %s", exc)
                self.counters["notifies_dropped"] += 1
                continue
            self.counters["notifies_sent"] += 1
        return False

    def _drain_later(self) -> None:
        """The master is behind: write the queue on as it reads what was written."""
        if self._draining is not None and not self._draining.done():
            return
        writer = self._writer

        async def drain_then_flush() -> None:
            with contextlib.suppress(OSError, ConnectionError):
                behind = True
                while behind and writer is not None and writer is self._writer:
                    await writer.drain()          # returns once the master read below the low mark
                    await asyncio.sleep(0)
                    behind = writer is self._writer and self._write_queued()
        self._draining = asyncio.get_running_loop().create_task(drain_then_flush(), name="kvrrp-snmp-drain")

    # -- session ------------------------------------------------------------------------------
    def _next_packet(self) -> int:
        self._packet_id = (self._packet_id + 1) & 0xFFFFFFFF
        return self._packet_id

    async def _run(self) -> None:
        warned = False
        while not self._closing:
            try:
                reader, writer = await self._connect()
            except OSError as exc:
                if not warned:
                    log.warning("SNMP: cannot reach the AgentX master at %s (%s); retrying every %gs",
                                self._where(), exc, self.retry)
                    warned = True
                await asyncio.sleep(self.retry)
                continue
            warned = False
            self._writer = writer
            try:
                await self._session(reader, writer)
            except (OSError, AgentxError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                log.warning("SNMP: AgentX session with %s ended: %s", self._where(), exc or type(exc).__name__)
            finally:
                self._drop_connection()
            if not self._closing:
                await asyncio.sleep(self.retry)

    def _where(self) -> str:
        kind, host, port = self.target
        return f"unix:{host}" if kind == "unix" else f"tcp:{host}:{port}"

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        kind, host, port = self.target
        if kind == "unix":
            return await asyncio.open_unix_connection(host)
        return await asyncio.open_connection(host, port)

    def _drop_connection(self) -> None:
        self._open.clear()
        self.sets.reset()
        self.session_id = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("AgentX connection closed"))
        self._pending.clear()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None

    async def _request(self, data: bytes, packet_id: int) -> agentx.Pdu:
        fut = asyncio.get_running_loop().create_future()
        self._pending[packet_id] = fut
        assert self._writer is not None
        self._writer.write(data)
        return await asyncio.wait_for(fut, REQUEST_TIMEOUT)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reading = asyncio.get_running_loop().create_task(self._read(reader, writer))
        try:
            pid = self._next_packet()
            resp = await self._race(self._request(agentx.open_pdu(pid, KEEPALIVED_OID, self.description), pid),
                                    reading)
            if resp.error:
                raise AgentxError(f"Open refused by the master (error {resp.error})")
            self.session_id = resp.header.session_id
            for oid, name in self.subtrees:
                pid = self._next_packet()
                resp = await self._race(self._request(agentx.register_pdu(self.session_id, pid, oid), pid), reading)
                if resp.error:
                    self.counters["registrations_failed"] += 1
                    log.warning("SNMP: unable to register the %s MIB (AgentX error %d)", name, resp.error)
            self.counters["connects"] += 1
            log.info("SNMP: AgentX session %d open with %s", self.session_id, self._where())
            self._open.set()
            self._flush()
            while True:
                done, _ = await asyncio.wait({reading}, timeout=self.ping_interval)
                if done:
                    reading.result()    # raises what ended it
                    return
                pid = self._next_packet()
                await self._race(self._request(agentx.ping_pdu(self.session_id, pid), pid), reading)
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading

    @staticmethod
    async def _race(request, reading: asyncio.Task) -> agentx.Pdu:
        req = asyncio.ensure_future(request)
        done, _ = await asyncio.wait({req, reading}, return_when=asyncio.FIRST_COMPLETED)
        if req in done:
            return req.result()
        req.cancel()
        reading.result()
        raise ConnectionError("AgentX connection closed")

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readexactly(agentx.HEADER_LEN)
            header = agentx.decode_header(head)      # unreadable header: the stream is lost
            body = await reader.readexactly(header.payload_length)
            try:
                pdu = agentx.decode_pdu(head + body)
            except AgentxError as exc:
                self.counters["parse_errors"] += 1
                log.warning("SNMP: undecodable AgentX %s PDU: %s",
                            agentx.PDU_NAMES.get(header.type, header.type), exc)
                if header.type != agentx.RESPONSE:
                    writer.write(agentx.response_pdu(header, [], agentx.PARSE_ERROR,
                                                     sys_uptime=self.uptime_ticks()))
                continue
            await self._dispatch(pdu, writer)

    async def _dispatch(self, pdu: agentx.Pdu, writer: asyncio.StreamWriter) -> None:
        h = pdu.header
        if h.type == agentx.RESPONSE:
            fut = self._pending.pop(h.packet_id, None)
            if fut is not None and not fut.done():
                fut.set_result(pdu)
            return
        if h.type == agentx.CLOSE:
            raise ConnectionError(f"the master closed the session (reason {pdu.reason})")
        error, index, varbinds = agentx.NO_ERROR, 0, []
        if h.type in (agentx.GET, agentx.GETNEXT, agentx.GETBULK):
            self.counters["requests"] += 1
            if pdu.context is not None:
                error = agentx.UNSUPPORTED_CONTEXT
            else:
                try:
                    view = self.view()
                    if inspect.isawaitable(view):
                        view = await view
                    if h.type == agentx.GET:
                        varbinds = await answer_get(view, pdu.ranges)
                    elif h.type == agentx.GETNEXT:
                        varbinds = await answer_getnext(view, pdu.ranges)
                    else:
                        varbinds = await answer_getbulk(view, pdu.non_repeaters, pdu.max_repetitions, pdu.ranges)
                except Exception:  # noqa: BLE001 - a bug in a table must not end the session
                    log.exception("SNMP: building the MIB view failed")
                    error, index, varbinds = agentx.GEN_ERR, 1, []
        elif h.type == agentx.TESTSET:
            if pdu.context is not None:
                error = agentx.UNSUPPORTED_CONTEXT
            else:
                error, index = self.sets.test(h.transaction_id, pdu.varbinds)
            if error:
                self.counters["sets_refused"] += 1
        elif h.type == agentx.COMMITSET:
            error, index = self.sets.commit(h.transaction_id)
        elif h.type == agentx.UNDOSET:
            error, index = self.sets.undo(h.transaction_id)
        elif h.type == agentx.CLEANUPSET:
            self.sets.cleanup(h.transaction_id)
            return            # RFC 2741 7.2.4.4: no response to CleanupSet
        else:
            error = agentx.PROCESSING_ERROR
        try:
            data = agentx.response_pdu(h, varbinds, error, index, self.uptime_ticks())
        except AgentxError:
            log.exception("SNMP: a value in the MIB view cannot be encoded")
            data = agentx.response_pdu(h, [], agentx.GEN_ERR, 1, self.uptime_ticks())
        writer.write(data)



def _backlog_limit(writer: asyncio.StreamWriter) -> int:
    return min(WRITE_BACKLOG, writer.transport.get_write_buffer_limits()[1])


def _read_only(vb: VarBind) -> int:
    return agentx.NOT_WRITABLE
