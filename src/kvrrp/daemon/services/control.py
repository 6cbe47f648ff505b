"""The control socket kvrrpctl speaks to (kvrrp.control), beside the pid file. Maintenance
(persisted, or kept over a reload) is in place before an instance starts: it starts straight
in FAULT. Closed before the instances stop."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kvrrp.control.protocol import socket_path
from kvrrp.control.server import ControlServer
from kvrrp.control.vrrp_commands import VrrpControl
from kvrrp.daemon.checker_child import checker_pid_path, wants_checker
from kvrrp.daemon.service import Service

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.daemon")


class ControlSocket(Service):
    name = "control socket"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.server: ControlServer | None = None

    async def start(self) -> None:
        d = self.daemon
        pid_file = d.pid_file()
        checker = socket_path(checker_pid_path(d.args)) if wants_checker(d.args, d.config) else None
        d.control = VrrpControl(d, pid_file, checker)
        d.engine.add_prestart_hook(d.control.prestart)
        path = getattr(d.args, "control_socket", None) or socket_path(pid_file)
        server = ControlServer(path, d.control.handlers())
        try:
            await server.start()
        except OSError as exc:
            log.error("control socket %s unavailable: %s", path, exc)
            return
        self.server = server

    async def withdraw(self) -> None:
        if self.daemon.control is not None:
            self.daemon.control.cancel_holds()
        server, self.server = self.server, None
        if server is not None:
            await server.stop()
