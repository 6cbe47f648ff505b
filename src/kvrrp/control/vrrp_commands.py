"""The VRRP daemon's control commands (served on its control socket; kvrrpctl speaks them).

Reads go through the same status snapshot /status shows; actions go through the engine's
operator methods (Engine.set_maintenance / hand_over / end_hand_over) and the daemon's own
reload and dump functions, the ones SIGHUP / SIGUSR1 / SIGUSR2 / SIGJSON run. `rs ...` is
passed on to the checker process's control socket.
"""
from __future__ import annotations

import asyncio
import logging
import os
import platform
from typing import Any

from kvrrp import fastpath, version
from kvrrp.control import maintenance as mstate
from kvrrp.control.client import ControlError, call_async
from kvrrp.control.server import CommandError, Handler

log = logging.getLogger("kvrrp.control")

DEFAULT_HOLD = 60.0          # seconds a handed-over instance keeps its priority at 1
MAX_HOLD = 7 * 24 * 3600.0


def version_info() -> dict[str, Any]:
    return {"version": version(), "fastpath": fastpath.IMPLEMENTATION,
            "python": platform.python_version(), "pid": os.getpid()}


class VrrpControl:
    def __init__(self, daemon: Any, pid_file: str, checker_socket: str | None) -> None:
        self.daemon = daemon
        self.state_file = mstate.state_path(pid_file)
        self.persisted = mstate.load(self.state_file)
        self.maint = mstate.Maintenance(self.persisted.all, set(self.persisted.names))
        self.checker_socket = checker_socket
        self._holds: dict[str, asyncio.TimerHandle] = {}

    @property
    def engine(self) -> Any:
        return self.daemon.engine

    def handlers(self) -> dict[str, Handler]:
        return {"status": self.status, "show": self.show, "maintenance": self.maintenance,
                "failover": self.failover, "reload": self.reload, "dump": self.dump,
                "version": self.version, "rs": self.rs}

    # -- maintenance carried over start and reload ------------------------------------------
    def prestart(self, names: tuple[str, ...]) -> None:
        """Engine prestart hook (at start, and for the instances a reload restarts or adds):
        the instances the operator keeps out start in FAULT, never BACKUP or MASTER first."""
        for name in names:
            if self.maint.wants(name):
                self.engine.set_maintenance(name, True)

    # -- reads ------------------------------------------------------------------------------
    async def status(self, args: dict) -> dict:
        st = self.daemon.status()
        last = (st.get("transitions") or {}).get("last", {})
        rows = []
        for inst in st["instances"]:
            d = inst["data"]
            name = d["iname"]
            master = "this node" if d["state"] == "MASTER" else (d.get("master_address") or "")
            rows.append({
                "name": name, "interface": d["ifp_ifname"], "vrid": d["vrid"], "state": d["state"],
                "priority": d["base_priority"], "effective_priority": d["effective_priority"],
                "master": master, "vips": [v.split(" ")[0] for v in d["vips"]],
                "time_in_state": d.get("time_in_state"),
                "last_reason": (last.get(name) or {}).get("reason", ""),
                "maintenance": d.get("maintenance", False), "hand_over": d.get("hand_over", False),
            })
        return {"instances": rows, "sync_groups": st.get("sync_groups", []),
                "maintenance": self.maint.as_dict(), "persisted_maintenance": self.persisted.as_dict()}

    async def show(self, args: dict) -> dict:
        name = _name(args)
        st = self.daemon.status()
        for inst in st["instances"]:
            if inst["data"]["iname"] == name:
                break
        else:
            raise CommandError(f"no vrrp_instance named {name!r}")
        bindings = [b for b in ((st.get("tracking") or {}).get("bindings") or []) if b.get("instance") == name]
        return {**inst, "last_transition": ((st.get("transitions") or {}).get("last") or {}).get(name),
                "trackers": {**inst.get("trackers", {}), "bindings": bindings}}

    async def version(self, args: dict) -> dict:
        return version_info()

    # -- actions ----------------------------------------------------------------------------
    async def maintenance(self, args: dict) -> dict:
        on = args.get("on")
        if not isinstance(on, bool):
            raise CommandError("maintenance needs on (true) or off (false)")
        names = self._targets(args)
        persist = bool(args.get("persist"))
        everything = bool(args.get("all"))
        changed = []
        for name in names:
            if self.engine.set_maintenance(name, on):
                changed.append(name)
        if on:
            if everything:
                self.maint.all = True
            self.maint.names.update(names)
            if persist:
                self.persisted.all = self.persisted.all or everything
                self.persisted.names.update(names)
        else:
            if everything:
                self.maint = mstate.Maintenance()
                self.persisted = mstate.Maintenance()
            else:
                if self.maint.all:
                    raise CommandError("maintenance is on for --all: turn it off with --all")
                self.maint.names.difference_update(names)
                self.persisted.names.difference_update(names)
        if persist or not on:
            mstate.save(self.state_file, self.persisted)
        if everything:
            # node-wide maintenance also withdraws this node's BGP routes (kvrrp.bgp)
            await self.daemon.node_maintenance(self.maint.all)
        for name in changed:
            log.info("(%s) maintenance %s by the operator%s", name, "on" if on else "off",
                     " (persisted)" if persist and on else "")
        return {"changed": changed, "instances": names, "persisted": self.persisted.as_dict()}

    async def failover(self, args: dict) -> dict:
        name = _name(args)
        hold = args.get("hold", DEFAULT_HOLD)
        if not isinstance(hold, (int, float)) or isinstance(hold, bool) or not 0 < hold <= MAX_HOLD:
            raise CommandError(f"hold must be a number of seconds in (0, {MAX_HOLD:g}]")
        self.engine.hand_over(name)             # OperateError (a ValueError) says why not
        old = self._holds.pop(name, None)
        if old is not None:
            old.cancel()
        self._holds[name] = asyncio.get_running_loop().call_later(hold, self._end_hold, name)
        log.info("(%s) master role handed over by the operator; priority held at 1 for %g s", name, hold)
        return {"instance": name, "hold": hold}

    def _end_hold(self, name: str) -> None:
        self._holds.pop(name, None)
        try:
            if self.engine.end_hand_over(name):
                log.info("(%s) hand-over hold ended; priority %d again", name,
                         self.engine.instance(name).effective_priority)
        except KeyError:
            pass                                # removed by a reload meanwhile

    def cancel_holds(self) -> None:
        for handle in self._holds.values():
            handle.cancel()
        self._holds.clear()

    async def reload(self, args: dict) -> dict:
        r = self.daemon.reloads
        r.requested += 1
        started = r.started
        await self.daemon.reload()              # what RELOAD (SIGHUP) runs
        if r.started == started:
            raise CommandError("a reload is running already (or the daemon is stopping); try again")
        if r.last_outcome != "applied":
            raise CommandError(f"reload {r.last_outcome}: {r.last_error}; the running configuration is kept")
        return {"reloaded": True}

    async def dump(self, args: dict) -> dict:
        kinds = args.get("kinds") or ["data", "stats", "json"]
        written = {}
        for kind in kinds:
            if kind not in ("data", "stats", "json"):
                raise CommandError(f"unknown dump {kind!r}: data, stats or json")
            path = self.daemon.dump(kind)       # the SIGUSR1 / SIGUSR2 / SIGJSON path
            if path is None:
                raise CommandError(f"writing the {kind} dump to {self.daemon.dump_path(kind)} failed "
                                   "(see the log)")
            written[kind] = path
        return written

    async def rs(self, args: dict) -> Any:
        if not self.checker_socket:
            raise CommandError("no checker process runs under this daemon (no virtual_server, or -P)")
        try:
            return await call_async(self.checker_socket, "rs", timeout=60.0, **args)
        except ControlError as exc:
            raise CommandError(f"checker: {exc}") from None

    def _targets(self, args: dict) -> list[str]:
        if args.get("all"):
            return list(self.engine.instances)
        name = _name(args)
        self.engine.instance(name)              # KeyError: no such instance
        return [name]


def _name(args: dict) -> str:
    name = args.get("name")
    if not isinstance(name, str) or not name:
        raise CommandError("an instance name is needed")
    return name

