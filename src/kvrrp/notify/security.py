"""Who runs a script, and whether it is safe to run: keepalived's script_user and
enable_script_security rules.

* The user: the script's own ``user [group]`` if given, else global ``script_user [group]``,
  else ``keepalived_script`` when that user exists, else the daemon's own user (root).
  A named user or group that does not exist is an error for the scripts that name it.
* Safety (checked when the script runs as root, keepalived's "need_script_protection"): every
  component of the path -- "/", each parent directory, the file, and the resolved target of a
  symlink -- must be owned by root, and must not be writable by a non-root group or by
  everybody (a directory with the sticky bit, like /tmp, is allowed its world-writable bit,
  but a file in it must still be owned by root). With ``enable_script_security`` an unsafe
  script is refused; without it the script runs and a warning is logged, as keepalived does.
* ``"</dev/tcp/host/port"``-style checks are not executed files: they go to /bin/sh as keepalived
  passes them to system(), and need no path check.
* Supplementary groups (keepalived's set_uid_gid): a script runs with only its user's uid and
  gid, unless ``set_supplementary_groups`` is set (or the group is written ``:group``), then
  with every group its user is a member of (getgrouplist of the user's own gid).
* The path executed (``use_symlink_paths``): by default a script reached through a symlink is
  executed by its resolved path (keepalived's realpath()); with ``use_symlink_paths`` by the
  path as written (cleaned of ``/./``, ``..`` and repeated slashes), so that the script sees the
  name it was called by in ``$0``. Both paths are checked for safety either way.
  Both are process-wide settings, as in keepalived: ``configure()`` sets them from global_defs.

The checks are pure over ``os.lstat`` results so tests can build trees with any owner.
"""
from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import stat
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("kvrrp.notify")

DEFAULT_SCRIPT_USER = "keepalived_script"


@dataclass(slots=True)
class ScriptPolicy:
    """global_defs settings every script start of the process follows."""

    supplementary_groups: bool = False       # set_supplementary_groups
    use_symlinks: bool = False               # use_symlink_paths


POLICY = ScriptPolicy()


def configure(config: object) -> None:
    """Take set_supplementary_groups and use_symlink_paths from a model.Config (at start and
    after each reload; kvrrp.process_plan's counterpart for scripts)."""
    process = getattr(getattr(config, "global_defs", None), "process", None)
    POLICY.supplementary_groups = bool(getattr(process, "set_supplementary_groups", False))
    POLICY.use_symlinks = bool(getattr(process, "use_symlink_paths", False))


class ScriptRefused(Exception):
    """A script that must not run; the message says why, naming the script."""


@dataclass(frozen=True, slots=True)
class RunAs:
    uid: int
    gid: int
    user: str
    groups: tuple[int, ...] = ()     # supplementary groups (initgroups)


def _lookup_user(user: str, group: str | None, supplementary: bool | None = None) -> RunAs:
    if group is not None and group.startswith(":"):
        supplementary = True              # keepalived: "user :group" asks for the groups too
        group = group[1:] or None
    if supplementary is None:
        supplementary = POLICY.supplementary_groups
    try:
        pw = pwd.getpwnam(user) if not user.isdigit() else pwd.getpwuid(int(user))
    except KeyError:
        raise ScriptRefused(f"script user {user!r} does not exist") from None
    gid = pw.pw_gid
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
        except KeyError:
            raise ScriptRefused(f"script group {group!r} does not exist") from None
    groups: tuple[int, ...] = ()
    if supplementary:
        try:
            groups = tuple(os.getgrouplist(pw.pw_name, pw.pw_gid))
        except OSError:
            groups = (gid,)
    return RunAs(uid=pw.pw_uid, gid=gid, user=pw.pw_name, groups=groups)


def default_run_as(script_user: str | None, script_group: str | None) -> RunAs:
    """The user scripts run as when they do not name one."""
    if script_user:
        return _lookup_user(script_user, script_group)
    try:
        return _lookup_user(DEFAULT_SCRIPT_USER, script_group)
    except ScriptRefused:
        uid, gid = os.getuid(), os.getgid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        return RunAs(uid=uid, gid=gid, user=name, groups=tuple(os.getgroups()))


def resolve_run_as(user: str | None, group: str | None, default: RunAs | None) -> RunAs:
    if user:
        return _lookup_user(user, group)
    if default is None:
        raise ScriptRefused("no usable default script user")
    return default


def is_shell_check(argv0: str) -> bool:
    """keepalived runs "</path" (file openability checks) through the shell, not as a file."""
    return argv0.startswith("<") and argv0[1:].lstrip(" \t").startswith("/")


def find_program(argv0: str) -> str:
    """The file argv[0] names: itself if it has a slash, else a PATH search."""
    if "/" in argv0:
        return argv0
    found = shutil.which(argv0)
    if found is None:
        raise ScriptRefused(f"cannot find script {argv0!r} in PATH")
    return found


def _is_executable_by(st: os.stat_result, run_as: RunAs) -> bool:
    if run_as.uid == 0:
        return bool(st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if st.st_uid == run_as.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == run_as.gid or st.st_gid in run_as.groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _untraversable(path: str, run_as: RunAs, stat_fn: Callable[[str], os.stat_result]) -> str | None:
    """The first directory on the way to ``path`` the user may not search, or None."""
    if run_as.uid == 0:
        return None
    parts = [p for p in os.path.dirname(path).split("/") if p]
    for i in range(len(parts) + 1):
        directory = "/" + "/".join(parts[:i])
        try:
            st = stat_fn(directory)
        except OSError:
            return directory
        if not _is_executable_by(st, run_as):
            return directory
    return None


def unsafe_component(path: str, lstat: Callable[[str], os.stat_result] = os.lstat) -> str | None:
    """The first component of ``path`` (absolute) a non-root user could change, with the
    reason, or None when the whole path is root-controlled."""
    parts = [p for p in path.split("/") if p]
    prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
    for i, prefix in enumerate(prefixes):
        last = i == len(prefixes) - 1
        try:
            st = lstat(prefix)
        except OSError as exc:
            return f"{prefix}: {exc.strerror}"
        mode = st.st_mode
        if not last and stat.S_ISLNK(mode):
            # e.g. /bin -> usr/bin on merged-/usr systems: the link itself must be root's; where
            # it leads is checked when the resolved path is walked
            if st.st_uid != 0:
                return f"{prefix} is a symlink owned by uid {st.st_uid}, not root"
            continue
        if not last and not stat.S_ISDIR(mode):
            return f"{prefix} is not a directory"
        if last and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            return f"{prefix} is not a regular file"
        if st.st_uid != 0:
            return f"{prefix} is owned by uid {st.st_uid}, not root"
        checked = (stat.S_ISDIR(mode) and not mode & stat.S_ISVTX) or stat.S_ISREG(mode)
        if checked and st.st_gid != 0 and mode & stat.S_IWGRP:
            return f"{prefix} is writable by group {st.st_gid}"
        if checked and mode & stat.S_IWOTH:
            return f"{prefix} is writable by everybody"
    return None


@dataclass(frozen=True, slots=True)
class CheckedScript:
    """A script cleared to run: the argv to exec and the user to run it as."""

    argv: tuple[str, ...]
    run_as: RunAs
    shell: bool = False              # run through /bin/sh -c (keepalived's system() path)
    insecure: str | None = None      # the reason, when it runs unsafe without script security


def check_script(argv: tuple[str, ...] | list[str], run_as: RunAs, script_security: bool,
                 *, lstat: Callable[[str], os.stat_result] = os.lstat,
                 stat_fn: Callable[[str], os.stat_result] = os.stat,
                 use_symlinks: bool | None = None) -> CheckedScript:
    """Clear a script to run, or raise ScriptRefused with a message naming it and the reason."""
    argv = tuple(argv)
    if not argv or not argv[0]:
        raise ScriptRefused("empty script command")
    if is_shell_check(argv[0]):
        return CheckedScript(argv=argv, run_as=run_as, shell=True)
    program = find_program(argv[0])
    if not os.path.isabs(program):
        program = os.path.abspath(program)
    real = os.path.realpath(program)
    try:
        st = stat_fn(real)
    except OSError as exc:
        raise ScriptRefused(f"script {argv[0]!r} cannot be accessed: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ScriptRefused(f"script {argv[0]!r} is not a regular file")
    blocked = _untraversable(real, run_as, stat_fn)
    if blocked is not None:
        raise ScriptRefused(f"script {argv[0]!r} cannot be reached by uid:gid {run_as.uid}:{run_as.gid}: "
                            f"no search permission on {blocked}")
    if not _is_executable_by(st, run_as):
        raise ScriptRefused(f"script {argv[0]!r} is not executable for uid:gid {run_as.uid}:{run_as.gid}")
    needs_protection = (run_as.uid == 0 or run_as.gid == 0
                        or (st.st_uid == 0 and st.st_mode & stat.S_ISUID and st.st_mode & stat.S_IXUSR)
                        or (st.st_gid == 0 and st.st_mode & stat.S_ISGID and st.st_mode & stat.S_IXGRP))
    reason = None
    if needs_protection:
        reason = unsafe_component(os.path.normpath(program), lstat)
        if reason is None and real != os.path.normpath(program):
            reason = unsafe_component(real, lstat)
    if reason is not None:
        if script_security:
            raise ScriptRefused(f"unsafe permissions for script {argv[0]!r}: {reason} "
                                f"(enable_script_security is on; fix ownership/permissions or run it as a non-root script_user)")
        log.warning("SECURITY VIOLATION - script %r runs as root with unsafe permissions: %s "
                    "(set enable_script_security to refuse it)", argv[0], reason)
    if use_symlinks is None:
        use_symlinks = POLICY.use_symlinks
    executed = os.path.normpath(program) if use_symlinks else real
    return CheckedScript(argv=(executed,) + argv[1:], run_as=run_as, insecure=reason)


def vet_script(call, default: RunAs | None, script_security: bool, *, user: str | None = None,
               group: str | None = None) -> CheckedScript:
    """The one way a configured script (a config.model.ScriptCall) is cleared to run: run as
    `user`/`group` when the block names them, else the script line's own, else `default`
    (global_defs script_user), then check_script. Raises ScriptRefused saying why."""
    run_as = resolve_run_as(user or call.user, group or call.group, default)
    return check_script(call.argv or (call.command,), run_as, script_security)
