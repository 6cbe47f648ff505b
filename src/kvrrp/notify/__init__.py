"""Notifications of VRRP state changes: notify scripts, notify FIFOs, SMTP alerts; and the
script machinery shared with the trackers (script_user, enable_script_security, timeouts).

The daemon's one entry point::

    notifier = kvrrp.notify.attach(engine, config)
    await notifier.start()             # registers engine.add_transition_listener(...)
    await notifier.reload(new_config)  # SIGHUP (instances gone notify DELETED/FAULT)
    await notifier.stop()              # after the engine reported STOP: waits for the scripts
"""
from __future__ import annotations

from typing import Any

from kvrrp.config.model import Config
from kvrrp.notify.notifier import Notifier


def attach(engine: Any, config: Config, **options: Any) -> Notifier:
    """Build the notifier for ``config``; it listens to ``engine`` once started."""
    return Notifier(engine, config, **options)


__all__ = ["attach", "Notifier"]
