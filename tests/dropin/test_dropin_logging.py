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


def test_address_messages_parse_and_skip_junk() -> None:
    import socket
    import struct

    from kvrrp.io.addrmon import RTM_DELADDR, RTM_NEWADDR, AddressChange, parse_address_messages

    def msg(kind: int, family: int, addr: bytes, index: int, prefix: int) -> bytes:
        attr = struct.pack("=HH", 4 + len(addr), 2) + addr
        attr += b"\0" * ((-len(attr)) % 4)
        body = struct.pack("=BBBBI", family, prefix, 0, 0, index) + attr
        return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body

    data = (msg(RTM_NEWADDR, socket.AF_INET, socket.inet_pton(socket.AF_INET, "198.18.0.200"), 2, 32)
            + msg(RTM_DELADDR, socket.AF_INET6, socket.inet_pton(socket.AF_INET6, "fe80::1"), 3, 64)
            + struct.pack("=IHHII", 16, 3, 0, 0, 0))            # NLMSG_DONE: skipped
    assert list(parse_address_messages(data)) == [AddressChange(True, "198.18.0.200", 32, 2),
                                                  AddressChange(False, "fe80::1", 64, 3)]
    assert list(parse_address_messages(data[:20])) == []         # truncated: nothing, no error
    assert list(parse_address_messages(b"\xff" * 7)) == []
