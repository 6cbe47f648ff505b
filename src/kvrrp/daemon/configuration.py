"""Reading the configuration for the VRRP daemon: every diagnostic logged (and printed when
asked), and the rule of which problems stop a start or refuse a reload
(kvrrp.config.runnable, shared with the checker process)."""
from __future__ import annotations

import logging
from typing import Any

from kvrrp.config import load
from kvrrp.config.runnable import all_config as strict_includes
from kvrrp.config.runnable import report_diagnostics, runnable_config

log = logging.getLogger("kvrrp.daemon")


def load_config(path: str, config_id: str | None, out: Any = None, *,
                all_config: bool = False) -> Any | None:
    """Load and log every diagnostic as it is (and print it to `out` too when given); None
    when the configuration has a problem keepalived itself would not run with
    (LoadResult.blocking). Like keepalived, other errors (an out-of-range value, an unknown
    keyword ...) are reported and the bad value ignored."""
    result = parse_config(path, config_id, all_config=all_config)
    report_diagnostics(result, logger=log)
    if out is not None:
        print_diagnostics(result, out)
    return usable_config(result)


def parse_config(path: str, config_id: str | None, interfaces: Any = None, all_config: bool = False) -> Any:
    """kvrrp.config.load: pure, safe to run in a worker thread (SIGHUP does). interfaces: the
    host's interface names, each one the configuration names must exist (None: not checked);
    all_config is keepalived's -e (a missing include is an error)."""
    result = load(path, config_id, interfaces=interfaces)
    return strict_includes(result) if all_config else result


def print_diagnostics(result: Any, out=None) -> None:  # noqa: ANN001 - a text stream
    report_diagnostics(result, out)


def usable_config(result: Any) -> Any | None:
    """The configuration, or None when it has blocking problems (or none could be built)."""
    return runnable_config(result)
