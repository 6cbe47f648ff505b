"""track_interface: link state from netlink link events (RTMGRP_LINK), never polled.

One netlink socket bound to the link multicast group; the initial state comes from one dump
made after binding (so no event between dump and subscription is lost). An interface is "up"
when it is administratively up and has carrier (IFF_UP and IFF_RUNNING), as keepalived's
IF_FLAGS_UP. An interface that does not exist counts as down; one that appears later is picked
up from its RTM_NEWLINK event.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from kvrrp.aio import cancel_and_wait

log = logging.getLogger("kvrrp.track")

IFF_UP = 0x1
IFF_RUNNING = 0x40

LinkCallback = Callable[[str, bool], None]


def link_is_up(flags: int) -> bool:
    return bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)


class LinkState:
    """Pure: the up/down picture of the watched names, fed with netlink link messages."""

    def __init__(self, names: set[str]) -> None:
        self.names = set(names)
        self.up: dict[str, bool] = {n: False for n in self.names}
        self._index_name: dict[int, str] = {}

    def apply(self, event: str, index: int, name: str | None, flags: int) -> list[tuple[str, bool]]:
        """Apply one RTM_NEWLINK/RTM_DELLINK; returns the (name, up) changes it caused."""
        changes = []
        old_name = self._index_name.get(index)
        if event == "RTM_DELLINK":
            self._index_name.pop(index, None)
            gone = name or old_name
            if gone in self.names and self.up.get(gone):
                self.up[gone] = False
                changes.append((gone, False))
            return changes
        if name is None:
            name = old_name
        if name is None:
            return changes
        if old_name is not None and old_name != name and old_name in self.names and self.up.get(old_name):
            self.up[old_name] = False          # renamed away: the old name is gone
            changes.append((old_name, False))
        self._index_name[index] = name
        if name in self.names:
            now = link_is_up(flags)
            if self.up.get(name) != now:
                self.up[name] = now
                changes.append((name, now))
        return changes


class InterfaceWatcher:
    def __init__(self, names: set[str], on_change: LinkCallback, rcvbuf=None) -> None:  # noqa: ANN001
        """rcvbuf: vrrp_netlink_monitor_rcv_bufs(_force) (an io.sockbuf.RcvBuf) or None."""
        self.rcvbuf = rcvbuf
        self.state = LinkState(names)
        self.on_change = on_change
        self.events = 0
        self.resyncs = 0
        self._ipr = None
        self._task: asyncio.Task | None = None

    def is_up(self, name: str) -> bool:
        return self.state.up.get(name, False)

    async def start(self) -> None:
        """Subscribe, then dump: the initial state is set without callbacks for 'down'
        interfaces that never were up (callers read ``is_up`` after start)."""
        if not self.state.names:
            return
        from pyroute2 import AsyncIPRoute
        from pyroute2.netlink.rtnl import RTMGRP_LINK

        from kvrrp.io.sockbuf import apply

        ipr = AsyncIPRoute()
        await ipr.bind(groups=RTMGRP_LINK)
        apply(ipr, self.rcvbuf, "netlink link monitor")
        self._ipr = ipr
        await self._dump(initial=True)
        for name in sorted(self.state.names):
            if not self.state.up[name]:
                log.info("tracked interface %s is %s", name,
                         "down" if name in self.state._index_name.values() else "missing (counted as down)")
        self._task = asyncio.get_running_loop().create_task(self._read(), name="track_interface")

    def _apply(self, msg, initial: bool = False) -> None:
        event = msg.get("event") or "RTM_NEWLINK"
        changes = self.state.apply(event, msg["index"], msg.get("ifname"), msg["flags"])
        if initial:
            return
        for name, up in changes:
            log.info("tracked interface %s is now %s", name, "UP" if up else "DOWN")
            self.on_change(name, up)

    async def _dump(self, initial: bool) -> None:
        from pyroute2 import AsyncIPRoute

        dump_ipr = AsyncIPRoute()
        try:
            async for msg in await dump_ipr.link("dump"):
                self._apply(msg, initial=initial)
        finally:
            dump_ipr.close()

    async def _read(self) -> None:
        assert self._ipr is not None
        while True:
            try:
                async for msg in self._ipr.get():
                    self.events += 1
                    try:
                        self._apply(msg)
                    except Exception:     # a malformed message must not stop tracking
                        log.exception("bad link event ignored")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # e.g. ENOBUFS after an event burst: events were lost, so read the truth again
                self.resyncs += 1
                log.warning("link event socket error (%s): re-reading every link", exc)
                await asyncio.sleep(0.1)
                try:
                    await self._dump(initial=False)
                except Exception:
                    log.exception("link re-dump failed")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None
