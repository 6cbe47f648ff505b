"""The services whose libraries stay unimported unless the configuration (or the command line)
asks for them: every process keeps each module it imported for its whole life. This is the one
place that names them; kvrrp.daemon.root imports a module of this table only when its
`wanted` is true, at start or at a reload that first asks for it."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from kvrrp.config.model import Config


def status_wanted(args: Any, config: Config) -> bool:
    """--status-port: the aiohttp status server and the Prometheus metrics."""
    return bool(getattr(args, "status_port", None))


def snmp_wanted(args: Any, config: Config) -> bool:
    """Does the VRRP process serve SNMP (keepalived: enable_snmp_vrrp / _rfc / _rfcv2 / _rfcv3, or -x)?"""
    g = config.global_defs
    return bool(getattr(args, "snmp", False) or g.enable_snmp_vrrp or g.enable_snmp_rfc or g.enable_snmp_rfcv2
                or g.enable_snmp_rfcv3)


def dbus_wanted(args: Any, config: Config) -> bool:
    return bool(config.global_defs.enable_dbus)


def lvs_sync_wanted(args: Any, config: Config) -> bool:
    """lvs_sync_daemon (global) or an instance's lvs_sync_daemon_interface."""
    return config.global_defs.lvs_sync_daemon is not None or any(
        inst.lvs_sync_daemon_interface for inst in config.instances)


def bgp_wanted(args: Any, config: Config) -> bool:
    return config.bgp is not None


@dataclass(frozen=True)
class Optional:
    """A service imported ("module:Class") only when `wanted(args, config)`."""

    factory: str
    wanted: Callable[[Any, Config], bool]

    def load(self) -> type:
        module, _, cls = self.factory.partition(":")
        return getattr(importlib.import_module(module), cls)


STATUS_HTTP = Optional("kvrrp.daemon.services.status_http:StatusHttp", status_wanted)
SNMP = Optional("kvrrp.daemon.services.snmp:Snmp", snmp_wanted)
DBUS = Optional("kvrrp.daemon.services.dbus:Dbus", dbus_wanted)
LVS_SYNC = Optional("kvrrp.daemon.services.lvs_sync:LvsSyncDaemon", lvs_sync_wanted)
BGP = Optional("kvrrp.daemon.services.bgp:Bgp", bgp_wanted)
