"""reload_time_file's time formats and keepalived's messages (kvrrp.reload_schedule), on UTC
times (trailing Z) so that the machine's time zone does not matter."""
from __future__ import annotations

import calendar

import pytest

from kvrrp.reload_schedule import ReloadTime, parse_reload_time

NOW = calendar.timegm((2026, 12, 7, 16, 0, 0, 0, 0, 0))   # 2026-12-07 16:00:00 UTC


def utc(*fields: int) -> float:
    return float(calendar.timegm((*fields, 0, 0, 0)))


@pytest.mark.parametrize("text, expected", [
    ("17:30:00Z", ReloadTime(utc(2026, 12, 7, 17, 30, 0), False)),           # later today
    ("15:00:00Z", ReloadTime(utc(2026, 12, 8, 15, 0, 0), False)),            # passed: tomorrow
    ("16:00:00Z", ReloadTime(utc(2026, 12, 8, 16, 0, 0), False)),            # now counts as passed
    ("26-12-31 23:59:59Z", ReloadTime(utc(2026, 12, 31, 23, 59, 59), True)),
    ("2027-01-01 00:00:00Z", ReloadTime(utc(2027, 1, 1, 0, 0, 0), True)),
    ("2026-12-07 15:59:59Z", "Reload date/time is in the past - ignoring"),
    ("17:30Z", "Reload time 17:30Z format is incorrect - ignoring"),
    ("25:00:00Z", "Reload date/time 25:00:00Z invalid - ignoring"),
    ("2026-02-30 10:00:00Z", "Reload date/time 2026-02-30 10:00:00Z invalid - ignoring"),
])
def test_reload_time_formats_as_keepalived_reads_them(text, expected):
    assert parse_reload_time(text, NOW) == expected


def test_time_only_across_the_year_end():
    now = utc(2026, 12, 31, 23, 0, 0)
    assert parse_reload_time("22:00:00Z", now) == ReloadTime(utc(2027, 1, 1, 22, 0, 0), False)
