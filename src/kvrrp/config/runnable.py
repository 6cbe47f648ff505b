"""The rule both daemons start and reload by: report every diagnostic, refuse only what
keepalived itself would not run (LoadResult.blocking); any other error is reported and the
bad value ignored, as keepalived does.

    config = load_runnable(path, config_id)                 # diagnostics to stderr
    config = load_runnable(path, config_id, logger=log)     # ... or to a logger (daemonized)
    if config is None: refuse to start / keep the running configuration
"""
from __future__ import annotations

import logging
import sys
from typing import TextIO

from kvrrp.config.diagnostics import ERROR, FATAL
from kvrrp.config.loader import LoadResult, load
from kvrrp.config.model import Config


def report_diagnostics(result: LoadResult, out: TextIO | None = None,
                       logger: logging.Logger | None = None) -> None:
    """Every diagnostic, one a line: to ``logger`` when given (errors at ERROR, the rest at
    WARNING), else to ``out`` (stderr when None, looked up at call time)."""
    for diag in result.diagnostics:
        if logger is not None:
            level = logging.ERROR if diag.severity in (ERROR, FATAL) else logging.WARNING
            logger.log(level, "%s", diag.format())
        else:
            print(diag.format(), file=out if out is not None else sys.stderr)


def runnable_config(result: LoadResult) -> Config | None:
    """The configuration, or None when it has blocking problems (or none could be built)."""
    if result.blocking or result.config is None:
        return None
    return result.config


def load_runnable(path: str, config_id: str | None = None, out: TextIO | None = None,
                  logger: logging.Logger | None = None) -> Config | None:
    """load(), report every diagnostic, and return the configuration unless it is blocked."""
    result = load(path, config_id)
    report_diagnostics(result, out, logger)
    return runnable_config(result)


def all_config(result: LoadResult) -> LoadResult:
    """keepalived's -e/--all-config: every include behaves like `includet`, so an include
    that matches no file is an error (`-t` fails) instead of a notice."""
    import dataclasses

    diags = tuple(dataclasses.replace(d, severity=ERROR, fails_test=True) if d.code == "include-missing" else d
                  for d in result.diagnostics)
    return dataclasses.replace(result, diagnostics=diags)
