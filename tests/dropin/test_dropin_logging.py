"""keepalived's log line formats and error texts, without a daemon."""
from __future__ import annotations

import errno
import logging
import re
import time

from kvrrp.logging_setup import ConsoleFormatter, LogFileFormatter, describe_error, syslog_ident


def _record(msg: str, created: float) -> logging.LogRecord:
    rec = logging.LogRecord("kvrrp.test", logging.INFO, __file__, 1, msg, (), None)
    rec.created = created
    return rec


def test_console_line_is_keepalived_c_format() -> None:
    created = time.mktime((2026, 12, 7, 9, 4, 5, 0, 0, -1)) + 0.25
    line = ConsoleFormatter().format(_record("(VI_1) Entering MASTER STATE", created))
    assert line == "Mon Dec  7 09:04:05 2026: (VI_1) Entering MASTER STATE"


def test_log_file_line_has_nanoseconds() -> None:
    created = time.mktime((2026, 12, 7, 9, 4, 5, 0, 0, -1)) + 0.5
    line = LogFileFormatter().format(_record("x", created))
    assert re.fullmatch(r"Mon Dec 07 09:04:05\.50000\d{4} 2026: x", line), line


def test_syslog_ident_per_namespace() -> None:
    assert syslog_ident("Keepalived_vrrp") == "Keepalived_vrrp"
    assert syslog_ident("Keepalived_vrrp", "blue") == "Keepalived_vrrp_blue"


def test_error_texts_never_say_errno_none() -> None:
    assert describe_error(OSError(None, None)) == "OSError"
    assert describe_error(OSError(None, "no interface named eth9")) == "OSError: no interface named eth9"
    assert describe_error(OSError(errno.ENODEV, None)) == f"OSError: {__import__('os').strerror(errno.ENODEV)}"
    assert describe_error(FileNotFoundError(errno.ENOENT, "No such file or directory", "/x")) == \
        "FileNotFoundError: No such file or directory (/x)"
    assert describe_error(ValueError("bad")) == "ValueError: bad"
    assert "Errno None" not in describe_error(OSError(None, None, None))
