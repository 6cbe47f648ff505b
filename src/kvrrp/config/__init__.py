"""keepalived.conf configuration layer: lexer, keyword tables, typed model, validation.

Public API::

    from kvrrp.config import load, parse_text, load_or_raise, ConfigError
    res = load("/etc/keepalived/keepalived.conf", config_id=None)
    res.config          # kvrrp.config.model.Config (frozen dataclasses)
    res.diagnostics     # every problem, each with file:line:col
    config = load_runnable(path)   # the daemons' rule: diagnostics printed, None if blocked
"""
from __future__ import annotations

from kvrrp.config.diagnostics import ConfigError, Diagnostic  # noqa: F401
from kvrrp.config.loader import LoadResult, load, load_or_raise, parse_text  # noqa: F401
from kvrrp.config.model import *  # noqa: F401,F403
from kvrrp.config.runnable import load_runnable, report_diagnostics, runnable_config  # noqa: F401
