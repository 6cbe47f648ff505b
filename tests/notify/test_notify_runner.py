"""The script runner: exit codes, timeout kills the whole process group, ENOEXEC fallback."""
from __future__ import annotations

import asyncio
import os
import time

from kvrrp.notify.runner import run_script
from kvrrp.notify.security import RunAs, check_script

ME = RunAs(uid=os.getuid(), gid=os.getgid(), user="me")


async def test_exit_codes(make_script, script_dir):
    ok = check_script((make_script(script_dir, "ok.sh", "exit 0\n"),), ME, False)
    bad = check_script((make_script(script_dir, "bad.sh", "exit 3\n"),), ME, False)
    assert (await run_script(ok, 5)).success
    r = await run_script(bad, 5)
    assert not r.success and r.returncode == 3


async def test_hanging_script_is_killed_at_timeout_with_its_children(make_script, script_dir, tmp_path):
    pidfile = tmp_path / "child.pid"
    hang = make_script(script_dir, "hang.sh", f"sleep 30 & echo $! > {pidfile}\ntrap '' TERM\nwait\n")
    c = check_script((hang,), ME, False)
    t0 = time.monotonic()
    r = await run_script(c, 0.3, kill_grace=0.3)
    elapsed = time.monotonic() - t0
    assert r.timed_out and not r.success
    assert elapsed < 5
    child = int(pidfile.read_text())
    await asyncio.sleep(0.1)
    try:
        os.kill(child, 0)
        alive = open(f"/proc/{child}/stat").read().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        alive = False
    assert not alive, "the script's child survived the timeout kill"


async def test_no_shebang_goes_to_sh_and_args_pass(make_script, script_dir, tmp_path):
    out = tmp_path / "out"
    p = script_dir / "noshebang"
    p.write_text(f'echo "$@" > {out}\n')
    os.chmod(p, 0o755)
    c = check_script((str(p), "a b"), ME, False)
    r = await run_script(c, 5, ("INSTANCE", "VI_1"))
    assert r.success
    assert out.read_text() == "a b INSTANCE VI_1\n"


async def test_shell_check_form():
    c = check_script(("</dev/null",), ME, True)
    assert (await run_script(c, 5)).success
    c = check_script(("</nonexistent/kvrrp",), ME, True)
    assert not (await run_script(c, 5)).success


async def test_env_is_cleaned(make_script, script_dir, tmp_path, monkeypatch):
    out = tmp_path / "env"
    monkeypatch.setenv("LD_PRELOAD", "/evil.so")
    s = make_script(script_dir, "env.sh", f'echo "[$LD_PRELOAD]" > {out}\n')
    assert (await run_script(check_script((s,), ME, False), 5)).success
    assert out.read_text() == "[]\n"


async def test_runs_as_the_configured_user(make_script, script_dir):
    import pathlib
    import shutil
    import tempfile

    import pytest

    from kvrrp.notify.security import ScriptRefused, default_run_as
    if os.geteuid() != 0:
        pytest.skip("needs root to switch user")
    nobody = default_run_as("nobody", None)
    # pytest's own tmp dirs are 0700: the user could not reach a script there, and we say so
    hidden = make_script(script_dir, "hidden.sh", "exit 0\n")
    with pytest.raises(ScriptRefused, match="no search permission"):
        check_script((hidden,), nobody, True)
    top = pathlib.Path(tempfile.mkdtemp(prefix="kvtrk-user-"))
    try:
        os.chmod(top, 0o755)
        out_dir = top / "out"
        out_dir.mkdir()
        os.chmod(out_dir, 0o777)
        s = make_script(top, "who.sh", f"id -u > {out_dir}/uid\nid -g >> {out_dir}/uid\n")
        r = await run_script(check_script((s,), nobody, True), 5)
        assert r.success, r
        assert (out_dir / "uid").read_text().split() == [str(nobody.uid), str(nobody.gid)]
    finally:
        shutil.rmtree(top)
