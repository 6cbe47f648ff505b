"""SMTP alerts: keepalived's message, sent by a small asyncio client, never blocking the loop.

Subject ``[<router_id>] VRRP Instance <name> - Entering MASTER state`` (groups: ``VRRP Group``),
body ``=> VRRP Instance is now owning VRRP VIPs <=`` etc., headers Date / From / Subject /
X-Mailer / To as keepalived's smtp.c writes them. The dialogue is HELO, MAIL FROM, RCPT TO
(each recipient), DATA, QUIT; each step has ``smtp_connect_timeout``. Alerts are sent one after
another from a queue; an unreachable or failing server is logged and counted, never fatal.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate

from kvrrp.aio import cancel_and_wait

log = logging.getLogger("kvrrp.notify")

INSTANCE_TEXT = {
    "MASTER": ("Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
    "BACKUP": ("Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "FAULT": ("Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "STOP": ("Stopping", "=> VRRP Instance stopping <="),
    "DELETED": ("Deleted", "=> VRRP Deleted at reload <="),
}
GROUP_TEXT = {
    "MASTER": ("Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="),
    "BACKUP": ("Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="),
    "FAULT": ("Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="),
    "STOP": ("Stopping", "=> All VRRP group instances are now stopping <="),
}


@dataclass(frozen=True, slots=True)
class Alert:
    subject: str
    body: str


def vrrp_alert(router_id: str, kind: str, name: str, state: str) -> Alert | None:
    """The alert keepalived sends for an INSTANCE or GROUP entering ``state`` (None: no mail)."""
    table = INSTANCE_TEXT if kind == "INSTANCE" else GROUP_TEXT
    text = table.get(state)
    if text is None:
        return None
    what = "VRRP Instance" if kind == "INSTANCE" else "VRRP Group"
    return Alert(subject=f"[{router_id}] {what} {name} - {text[0]}", body=text[1])


def _addr(a: str) -> str:
    return a if a.startswith("<") else f"<{a}>"


def build_message(alert: Alert, mail_from: str, recipients: tuple[str, ...], date: str | None = None) -> bytes:
    """The DATA part, with keepalived's headers, CRLF line ends and dot-stuffing."""
    date = date or formatdate(time.time(), localtime=True)
    to = ",\r\n ".join(recipients)
    lines = [f"Date: {date}", f"From: {mail_from}", f"Subject: {alert.subject}",
             "X-Mailer: Keepalived", f"To: {to}", "", alert.body, ""]
    text = "\r\n".join(lines)
    stuffed = "\r\n".join(("." + ln) if ln.startswith(".") else ln for ln in text.split("\r\n"))
    return stuffed.encode("utf-8") + b"\r\n.\r\n"


class SmtpError(Exception):
    pass


async def _reply(reader: asyncio.StreamReader, timeout: float) -> tuple[int, str]:
    lines = []
    while True:
        raw = await asyncio.wait_for(reader.readline(), timeout)
        if not raw:
            raise SmtpError("connection closed by server")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            try:
                return int(line[:3]), "\n".join(lines)
            except ValueError:
                raise SmtpError(f"bad reply {line!r}") from None


async def send_mail(server: str, port: int, helo: str, mail_from: str, recipients: tuple[str, ...],
                    data: bytes, timeout: float) -> None:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(server, port), timeout)
    try:
        async def step(cmd: str | None, expect: int) -> None:
            if cmd is not None:
                writer.write(cmd.encode() + b"\r\n")
                await asyncio.wait_for(writer.drain(), timeout)
            code, text = await _reply(reader, timeout)
            if code != expect:
                raise SmtpError(f"{cmd or 'greeting'}: server said {text!r}")

        await step(None, 220)
        await step(f"HELO {helo}", 250)
        await step(f"MAIL FROM:{_addr(mail_from)}", 250)
        for rcpt in recipients:
            await step(f"RCPT TO:{_addr(rcpt)}", 250)
        await step("DATA", 354)
        writer.write(data)
        await step(None, 250)
        await step("QUIT", 221)
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), timeout)
        except (OSError, asyncio.TimeoutError, SmtpError):
            pass


def split_server(server: str, port: int) -> tuple[str, int]:
    """smtp_server may carry its port already ("host port" or [v6]:port are resolved by the
    config layer into smtp_server_port); accept "host:port" for IPv4/names too."""
    server = server.strip()
    if server.startswith("[") and "]" in server:
        host, _, rest = server[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            return host, int(rest[1:])
        return host, port
    if server.count(":") == 1:
        host, _, p = server.partition(":")
        if p.isdigit():
            return host, int(p)
    return server, port


class SmtpAlerter:
    def __init__(self, server: str, port: int, helo: str, mail_from: str, recipients: tuple[str, ...],
                 timeout: float) -> None:
        self.server, self.port = split_server(server, port)
        self.helo = helo
        self.mail_from = mail_from
        self.recipients = recipients
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._queue: deque[Alert] = deque()
        self._task: asyncio.Task | None = None

    def alert(self, alert: Alert) -> None:
        self._queue.append(alert)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="smtp alerts")

    async def _run(self) -> None:
        while self._queue:
            alert = self._queue.popleft()
            data = build_message(alert, self.mail_from, self.recipients)
            try:
                await send_mail(self.server, self.port, self.helo, self.mail_from, self.recipients,
                                data, self.timeout)
                self.sent += 1
                log.info("SMTP alert successfully sent: %s", alert.subject)
            except (OSError, asyncio.TimeoutError, SmtpError, socket.gaierror) as exc:
                self.failed += 1
                log.warning("Error sending SMTP alert %r to %s:%d: %s", alert.subject, self.server,
                            self.port, exc or type(exc).__name__)

    async def drain(self, timeout: float) -> None:
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
