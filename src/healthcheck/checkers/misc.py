"""MISC_CHECK: run ``misc_path``; exit 0 is success, 1 failure; with ``misc_dynamic`` an exit
code 2..255 is success with weight (code - 2) - as keepalived. A script still running at
``misc_timeout`` (default delay_loop) is killed (SIGTERM to its process group, SIGKILL after
a grace period) and counts as a failure.
"""
from __future__ import annotations

from kvrrp.config.model import MiscCheck
from kvrrp.notify.runner import run_script
from kvrrp.notify.security import ScriptRefused, default_run_as, vet_script

from healthcheck.checkers.base import CheckContext, CheckResult, Target


def exit_code_result(code: int, dynamic: bool, rs_weight: int) -> CheckResult:
    if code == 0:
        return CheckResult(True, weight_delta=0)
    if dynamic and 2 <= code <= 255:
        return CheckResult(True, weight_delta=(code - 2) - rs_weight)
    return CheckResult(False, f"exited with status {code}")


async def check(target: Target, ctx: CheckContext) -> CheckResult:
    spec = target.spec
    assert isinstance(spec, MiscCheck)
    if spec.misc_path is None:
        return CheckResult(False, "no misc_path")
    try:
        if ctx.default_run_as is None:
            ctx.default_run_as = default_run_as(None, None)
        script = vet_script(spec.misc_path, ctx.default_run_as, ctx.script_security, user=spec.user, group=spec.group)
    except ScriptRefused as exc:
        return CheckResult(False, str(exc))
    timeout = spec.misc_timeout if spec.misc_timeout else spec.delay_loop
    res = await run_script(script, timeout, kill_grace=min(2.0, max(0.2, timeout)))
    if res.timed_out:
        return CheckResult(False, "timed out")
    if res.error:
        return CheckResult(False, res.error)
    if res.returncode is None:
        return CheckResult(False, f"killed by signal {res.signal}")
    return exit_code_result(res.returncode, spec.misc_dynamic, target.rs.weight)
