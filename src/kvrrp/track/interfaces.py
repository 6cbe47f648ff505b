"""track_interface: link state from netlink link events (RTMGRP_LINK), or polled.

One netlink socket bound to the link multicast group; the initial state comes from one dump
made after binding (so no event between dump and subscription is lost). An interface is "up"
when it is administratively up and has carrier (IFF_UP and IFF_RUNNING), as keepalived's
IF_FLAGS_UP. An interface that does not exist counts as down; one that appears later is picked
up from its RTM_NEWLINK event.

`linkbeat_interfaces` / `linkbeat_use_polling` (keepalived's linkbeat): those interfaces are
polled every second by ioctl instead (io.linkbeat; MII, ETHTOOL_GLINK or the flags) and their
netlink events ignored. `interface_up_down_delays`: a change lasts `down` / `up` seconds before
it is reported, and one reverted within that time is never reported ("Delay timer for X
cancelled"); as in keepalived only once the interface has been seen up, and not at start.
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
POLL_INTERVAL = 1.0        # keepalived's POLLING_DELAY


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
    def __init__(self, names: set[str], on_change: LinkCallback, rcvbuf=None,  # noqa: ANN001
                 delays: dict[str, tuple[float, float]] | None = None,
                 polled: dict[str, str | None] | None = None, poll_interval: float = POLL_INTERVAL) -> None:
        """rcvbuf: vrrp_netlink_monitor_rcv_bufs(_force) (an io.sockbuf.RcvBuf) or None;
        delays: name -> (down, up) seconds; polled: name -> linkbeat type (None: probe)."""
        self.rcvbuf = rcvbuf
        self.state = LinkState(names)            # what netlink says
        self.reported: dict[str, bool] = {}      # what the instances were told (is_up)
        self.on_change = on_change
        self.events = 0
        self.resyncs = 0
        self.delays = dict(delays or {})
        self.polled = {n: t for n, t in (polled or {}).items() if n in self.state.names}
        self.linkbeat: dict[str, bool] = {}      # last polled state
        self.poll_interval = poll_interval
        self._seen_up: set[str] = set()
        self._pending: dict[str, tuple[asyncio.TimerHandle, bool]] = {}
        self._probe = None
        self._ipr = None
        self._task: asyncio.Task | None = None
        self._poll_task: asyncio.Task | None = None

    def is_up(self, name: str) -> bool:
        return self.reported.get(name, False)

    async def start(self) -> None:
        """Subscribe, then dump: the initial state is set without callbacks for 'down'
        interfaces that never were up (callers read ``is_up`` after start)."""
        if not self.state.names:
            return
        from pyroute2.iproute import AsyncIPRoute   # not the package: kvrrp.io.pyroute2_parts
        from pyroute2.netlink.rtnl import RTMGRP_LINK

        from kvrrp.io.sockbuf import apply

        ipr = AsyncIPRoute()
        await ipr.bind(groups=RTMGRP_LINK)
        apply(ipr, self.rcvbuf, "netlink link monitor")
        self._ipr = ipr
        await self._dump(initial=True)
        self.reported = {n: self.state.up[n] for n in self.state.names if n not in self.polled}
        if self.polled:
            from kvrrp.io.linkbeat import LinkProbe

            self._probe = LinkProbe()
            for name in sorted(self.polled):
                self.reported[name] = self._poll_one(name, initial=True)
        self._seen_up = {n for n, up in self.reported.items() if up}
        for name in sorted(self.state.names):
            if not self.reported[name]:
                log.info("tracked interface %s is %s", name,
                         "down" if name in self.state._index_name.values() else "missing (counted as down)")
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._read(), name="track_interface")
        if self.polled:
            self._poll_task = loop.create_task(self._poll(), name="linkbeat")

    def _apply(self, msg, initial: bool = False) -> None:
        event = msg.get("event") or "RTM_NEWLINK"
        changes = self.state.apply(event, msg["index"], msg.get("ifname"), msg["flags"])
        if initial:
            return
        for name, up in changes:
            if name not in self.polled:        # linkbeat: the poller decides, not netlink
                self._changed(name, up)

    # -- linkbeat polling ---------------------------------------------------------------------
    def _poll_one(self, name: str, initial: bool = False) -> bool:
        assert self._probe is not None
        up, found = self._probe.probe(name, self.polled[name])
        configured = self.polled[name]
        if configured is not None and found is not None and found != configured and initial:
            log.info("(%s): Configured linkbeat type %s not supported, using %s", name, configured, found)
        if found is not None:
            self.polled[name] = found
        self.linkbeat[name] = up
        return up

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            for name in sorted(self.polled):
                was = self.linkbeat.get(name)
                try:
                    up = self._poll_one(name)
                except Exception:           # a probe must never stop the others
                    log.exception("linkbeat probe of %s failed", name)
                    continue
                if up != was:
                    log.info("Linkbeat reports %s %s", name, "up" if up else "down")
                    self._changed(name, up)

    # -- debounce (interface_up_down_delays) and reporting ----------------------------------
    def _changed(self, name: str, up: bool) -> None:
        pending = self._pending.get(name)
        if pending is not None:
            if pending[1] == up:
                return                          # that change is already on its way
            pending[0].cancel()
            del self._pending[name]
            log.info("Delay timer for %s cancelled", name)
        if self.reported.get(name, False) == up:
            return
        delay = self.delays.get(name, (0.0, 0.0))[1 if up else 0]
        if delay > 0 and name in self._seen_up:
            log.info("%s: Adding %s change delay by %d", name, "up" if up else "down", round(delay * 1_000_000))
            handle = asyncio.get_running_loop().call_later(delay, self._report, name, up)
            self._pending[name] = (handle, up)
            return
        self._report(name, up)

    def _report(self, name: str, up: bool) -> None:
        self._pending.pop(name, None)
        if up:
            self._seen_up.add(name)
        self.reported[name] = up
        log.info("tracked interface %s is now %s", name, "UP" if up else "DOWN")
        self.on_change(name, up)

    async def _dump(self, initial: bool) -> None:
        from pyroute2.iproute import AsyncIPRoute   # not the package: kvrrp.io.pyroute2_parts

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
        await cancel_and_wait(self._poll_task)
        self._poll_task = None
        for handle, _up in self._pending.values():
            handle.cancel()
        self._pending.clear()
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None


def link_options(config, names: set[str]) -> tuple[dict[str, tuple[float, float]], dict[str, str | None]]:  # noqa: ANN001
    """(delays, polled) for the watched `names` from interface_up_down_delays,
    linkbeat_interfaces, linkbeat_use_polling (top level: every instance's interface; in an
    instance, deprecated: its own). keepalived polls only interfaces something tracks."""
    delays = {d.interface: (d.down, d.up) for d in getattr(config, "interface_up_down_delays", ())}
    wanted: dict[str, str | None] = {}
    for inst in config.instances:
        if inst.interface and (getattr(config, "linkbeat_use_polling", False)
                               or getattr(inst, "linkbeat_use_polling", False)):
            wanted.setdefault(inst.interface, None)
    for lb in getattr(config, "linkbeat_interfaces", ()):
        wanted[lb.interface] = lb.type
    polled = {}
    for name, kind in wanted.items():
        if name in names:
            polled[name] = kind
        else:
            log.info("Turning off linkbeat for %s since not used for tracking", name)
    return delays, polled

