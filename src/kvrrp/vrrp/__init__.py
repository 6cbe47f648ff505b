"""VRRP v2/v3 protocol core and engine (no I/O: everything goes through kvrrp.io.ports).

Public API: VrrpEngine (engine.py), the tracker statuses FAULT / OK, State, and the settings
adapter engine_settings(config). See docs/vrrp-core.md.
"""
from __future__ import annotations

from kvrrp.vrrp.engine import ReloadResult, VrrpEngine, validate_settings
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.instance import FAULT, OK, TrackerStatus
from kvrrp.vrrp.settings import EngineSettings, InstanceSettings, SyncGroupSettings, engine_settings

__all__ = ["VrrpEngine", "validate_settings", "ReloadResult", "State", "FAULT", "OK", "TrackerStatus", "EngineSettings",
           "InstanceSettings", "SyncGroupSettings", "engine_settings"]
