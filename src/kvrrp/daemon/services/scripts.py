"""global_defs' scripts: the security policy every script runs under (set_supplementary_groups,
use_symlink_paths), startup_script at start and shutdown_script at the very end of the stop,
as keepalived's parent runs them around its children."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kvrrp.config.model import Config
from kvrrp.daemon.service import Service
from kvrrp.notify import security
from kvrrp.notify.runner import run_script
from kvrrp.notify.security import ScriptRefused, default_run_as, vet_script

if TYPE_CHECKING:
    from kvrrp.daemon.root import Daemon

log = logging.getLogger("kvrrp.track")


async def run_global_script(config: Config, which: str) -> None:
    """startup_script / shutdown_script (global_defs), each with its own timeout."""
    g = config.global_defs
    call = getattr(g, f"{which}_script")
    if call is None or not call.argv:
        return
    timeout = getattr(g, f"{which}_script_timeout")
    try:
        checked = vet_script(call, default_run_as(g.script_user, g.script_group), g.enable_script_security)
    except ScriptRefused as exc:
        log.error("%s_script disabled: %s", which, exc)
        return
    result = await run_script(checked, timeout)
    if not result.success:
        log.warning("%s_script %s %s", which, call.command,
                    "timed out" if result.timed_out else f"failed ({result.error or result.returncode})")


class GlobalScripts(Service):
    name = "startup/shutdown scripts"
    critical = False

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    async def start(self) -> None:
        security.configure(self.daemon.config)
        await run_global_script(self.daemon.config, "startup")

    async def prepare_reload(self, new: Config) -> None:
        security.configure(new)   # scripts of the new configuration start its way

    async def abort_reload(self, old: Config) -> None:
        security.configure(old)

    async def stop(self) -> None:
        await run_global_script(self.daemon.config, "shutdown")
