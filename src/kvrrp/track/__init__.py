"""Trackers that move VRRP instances: vrrp_script, track_interface, track_file,
vrrp_track_process, with keepalived's weight rules.

The daemon's one entry point::

    sup = kvrrp.track.attach(engine, config, loop)
    await sup.start()            # before the engine starts its instances
    await sup.reload(new_config) # SIGHUP
    await sup.stop()

The engine only needs ``set_tracker(instance_name, key, status)``; status is an int priority
delta, or ``kvrrp.track.weights.FAULT`` / ``OK`` / ``INIT`` (see weights.py).
"""
from __future__ import annotations

import asyncio
from typing import Any

from kvrrp.config.model import Config
from kvrrp.track.supervisor import TrackingSupervisor


def attach(engine: Any, config: Config, loop: asyncio.AbstractEventLoop | None = None,
           **options: Any) -> TrackingSupervisor:
    """Build the supervisor for ``config`` feeding ``engine.set_tracker``; nothing runs until
    ``await start()``."""
    supervisor = TrackingSupervisor(engine, config, loop, **options)
    if hasattr(engine, "tracking"):
        engine.tracking = supervisor      # read by the SNMP tables (vrrpScriptResult & co)
    return supervisor


__all__ = ["attach", "TrackingSupervisor"]
