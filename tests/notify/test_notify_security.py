"""Script security: keepalived's path checks, user choice, refusals with clear errors."""
from __future__ import annotations

import os
import stat

import pytest

from kvrrp.notify.security import (RunAs, ScriptRefused, check_script, default_run_as,
                                   is_shell_check, unsafe_component)

ROOT = RunAs(uid=0, gid=0, user="root")


def fake_tree(entries):
    """lstat over a dict path -> (mode, uid, gid)."""
    def lstat(path):
        mode, uid, gid = entries[path]
        return os.stat_result((mode, 0, 0, 1, uid, gid, 0, 0, 0, 0))
    return lstat


SAFE = {
    "/": (stat.S_IFDIR | 0o755, 0, 0),
    "/etc": (stat.S_IFDIR | 0o755, 0, 0),
    "/etc/keepalived": (stat.S_IFDIR | 0o755, 0, 0),
    "/etc/keepalived/chk.sh": (stat.S_IFREG | 0o755, 0, 0),
}


def test_safe_tree():
    assert unsafe_component("/etc/keepalived/chk.sh", fake_tree(SAFE)) is None


@pytest.mark.parametrize("path,entry,why", [
    ("/etc/keepalived/chk.sh", (stat.S_IFREG | 0o755, 1000, 0), "owned by uid 1000"),
    ("/etc/keepalived/chk.sh", (stat.S_IFREG | 0o757, 0, 0), "writable by everybody"),
    ("/etc/keepalived/chk.sh", (stat.S_IFREG | 0o775, 0, 50), "writable by group 50"),
    ("/etc/keepalived", (stat.S_IFDIR | 0o777, 0, 0), "writable by everybody"),
    ("/etc", (stat.S_IFDIR | 0o755, 1000, 1000), "owned by uid 1000"),
])
def test_unsafe_component_names_the_culprit(path, entry, why):
    tree = dict(SAFE)
    tree[path] = entry
    reason = unsafe_component("/etc/keepalived/chk.sh", fake_tree(tree))
    assert reason is not None and reason.startswith(path) and why in reason


def test_sticky_world_writable_dir_is_allowed_but_not_group_root_file_writable():
    tree = dict(SAFE)
    tree["/etc/keepalived"] = (stat.S_IFDIR | stat.S_ISVTX | 0o777, 0, 0)
    assert unsafe_component("/etc/keepalived/chk.sh", fake_tree(tree)) is None
    tree["/etc/keepalived/chk.sh"] = (stat.S_IFREG | 0o775, 0, 0)   # group root may write
    assert unsafe_component("/etc/keepalived/chk.sh", fake_tree(tree)) is None


def _script(tmp_path, name="chk.sh", body="#!/bin/sh\nexit 0\n", mode=0o755):
    d = tmp_path / "scripts"
    d.mkdir(exist_ok=True)
    os.chmod(d, 0o755)
    p = d / name
    p.write_text(body)
    os.chmod(p, mode)
    return p


def _safe_ancestors(tmp_path):
    """pytest's tmp dirs are root-owned 0700 when run as root; anything else cannot be tested."""
    probe = tmp_path / "probe"
    probe.write_text("")
    os.chmod(probe, 0o644)
    return unsafe_component(str(probe)) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own the script")
def test_real_files_secure_and_refused(tmp_path):
    if not _safe_ancestors(tmp_path):
        pytest.skip("tmp path is not root-controlled here")
    p = _script(tmp_path)
    ok = check_script((str(p), "arg"), ROOT, script_security=True)
    assert ok.argv == (str(p), "arg") and ok.insecure is None
    os.chmod(p, 0o777)
    with pytest.raises(ScriptRefused) as exc:
        check_script((str(p),), ROOT, script_security=True)
    assert str(p) in str(exc.value) and "writable by everybody" in str(exc.value)
    # without script security it runs, flagged
    assert check_script((str(p),), ROOT, script_security=False).insecure
    os.chmod(p, 0o755)
    os.chown(p, 65534, 65534)
    with pytest.raises(ScriptRefused, match="owned by uid 65534"):
        check_script((str(p),), ROOT, script_security=True)
    # a non-root user gets no path protection check, but must be able to reach the script
    nobody = RunAs(uid=65534, gid=65534, user="nobody")
    with pytest.raises(ScriptRefused, match="no search permission"):
        check_script((str(p),), nobody, script_security=True)   # pytest tmp dirs are 0700


def test_symlink_target_is_checked(tmp_path):
    if os.geteuid() != 0 or not _safe_ancestors(tmp_path):
        pytest.skip("needs root-controlled tmp")
    target_dir = tmp_path / "open"
    target_dir.mkdir()
    os.chmod(target_dir, 0o777)
    target = target_dir / "real.sh"
    target.write_text("#!/bin/sh\n")
    os.chmod(target, 0o755)
    link = _script(tmp_path, "link.sh")
    link.unlink()
    link.symlink_to(target)
    with pytest.raises(ScriptRefused, match="open"):
        check_script((str(link),), ROOT, script_security=True)


def test_missing_and_not_executable(tmp_path):
    with pytest.raises(ScriptRefused, match="cannot be accessed"):
        check_script((str(tmp_path / "nope.sh"),), ROOT, script_security=True)
    with pytest.raises(ScriptRefused, match="in PATH"):
        check_script(("no-such-program-kvrrp",), ROOT, script_security=False)
    p = _script(tmp_path, mode=0o644)
    with pytest.raises(ScriptRefused, match="not executable"):
        check_script((str(p),), ROOT, script_security=False)


def test_path_search_and_shell_checks():
    c = check_script(("true",), ROOT, script_security=False)
    assert os.path.isabs(c.argv[0]) and c.argv[0].endswith("/true")
    assert is_shell_check("</dev/tcp/127.0.0.1/80") and is_shell_check("< /dev/null")
    assert not is_shell_check("/bin/true")
    c = check_script(("</dev/tcp/127.0.0.1/80",), ROOT, script_security=True)
    assert c.shell


def test_default_user_and_unknown_users():
    ra = default_run_as(None, None)      # keepalived_script if it exists, else us
    try:
        import pwd
        pwd.getpwnam("keepalived_script")
        assert ra.user == "keepalived_script"
    except KeyError:
        assert ra.uid == os.getuid()
    assert default_run_as("root", None).uid == 0
    with pytest.raises(ScriptRefused, match="does not exist"):
        default_run_as("no_such_user_kvrrp", None)
    with pytest.raises(ScriptRefused, match="group"):
        default_run_as("root", "no_such_group_kvrrp")


def test_symlinked_parent_directory_is_followed_by_the_real_path_check():
    tree = dict(SAFE)
    tree["/etc"] = (stat.S_IFLNK | 0o777, 0, 0)          # like /bin -> usr/bin
    assert unsafe_component("/etc/keepalived/chk.sh", fake_tree(tree)) is None
    tree["/etc"] = (stat.S_IFLNK | 0o777, 1000, 0)
    assert "symlink owned by uid 1000" in unsafe_component("/etc/keepalived/chk.sh", fake_tree(tree))


def test_system_binaries_are_safe():
    if os.geteuid() != 0:
        pytest.skip("ownership of system files is only meaningful as root")
    for prog in ("/bin/true", "pidof"):
        assert check_script((prog,), ROOT, script_security=True).insecure is None


def test_vet_script_is_the_one_way_a_configured_script_is_cleared():
    from kvrrp.config.model import ScriptCall
    from kvrrp.notify.security import vet_script

    nobody = RunAs(uid=65534, gid=65534, user="nobody")
    call = ScriptCall(command="/bin/true", argv=("/bin/true",))
    true = os.path.realpath("/bin/true")        # run by its resolved path (no use_symlink_paths)
    assert vet_script(call, nobody, True).argv == (true,)
    assert vet_script(call, nobody, True).run_as.uid == 65534            # the default user
    assert vet_script(call, nobody, True, user="root").run_as.uid == 0    # the block's own user wins
    own = ScriptCall(command="/bin/true", argv=("/bin/true",), user="root")
    assert vet_script(own, nobody, True).run_as.uid == 0                  # the script line's user
    assert vet_script(ScriptCall(command="/bin/true"), nobody, True).argv == (true,)   # argv from command
    with pytest.raises(ScriptRefused, match="does not exist"):
        vet_script(call, nobody, True, user="no_such_user_kvrrp")
    with pytest.raises(ScriptRefused):
        vet_script(ScriptCall(command="/no/such/script", argv=("/no/such/script",)), nobody, True)
