"""FILE_CHECK: the number in ``track_file`` drives the real server, as keepalived's tracked
files do for checkers. weight 0: a non-zero value is a failure (reverse: zero is).
Otherwise value * weight (negated with reverse) is added to the real server's weight.
An unreadable file or a non-number counts as 0, as keepalived's strtol does."""
from __future__ import annotations

from kvrrp.config.model import FileCheck

from healthcheck.checkers.base import CheckContext, CheckResult, Target

WEIGHT_FAULT = -(2**31)


def read_value(path: str) -> int:
    try:
        with open(path, "rb") as f:
            text = f.read(64).decode(errors="replace").strip().split()
    except OSError:
        return 0
    if not text:
        return 0
    try:
        return int(text[0], 0)
    except ValueError:
        digits = ""
        for ch in text[0]:
            if ch.isdigit() or (not digits and ch in "+-"):
                digits += ch
            else:
                break
        try:
            return int(digits)
        except ValueError:
            return 0


def value_result(value: int, weight: int, reverse: bool) -> CheckResult:
    if weight == 0:
        failed = (value != 0) != reverse
        return CheckResult(not failed, f"file value {value}", weight_delta=0)
    delta = value * weight * (-1 if reverse else 1)
    if delta <= WEIGHT_FAULT:
        return CheckResult(False, f"file value {value} is a fault")
    return CheckResult(True, weight_delta=delta)


async def check(target: Target, ctx: CheckContext) -> CheckResult:
    spec = target.spec
    assert isinstance(spec, FileCheck)
    if not spec.track_file:
        return CheckResult(False, "no track_file")
    # FILE_CHECK names a global track_file block; its file is what is read
    path = ctx.track_files.get(spec.track_file, spec.track_file)
    value = read_value(path)        # a small local file: cheaper inline than a thread hop
    res = value_result(value, spec.weight, spec.weight_reverse)
    if not spec.dynamic and res.ok:
        return CheckResult(True, weight_delta=0)
    return res
