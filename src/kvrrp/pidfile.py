"""The daemon's pid file: refuses a second copy, recovers from one left by a dead process.

A running daemon holds an exclusive flock on its pid file for its whole life. A second copy
that cannot take the lock refuses to start (and says which pid holds it). A file left behind by
a process that died without cleaning up is not locked by anyone, so it is simply taken over and
rewritten: no guessing from pids, which the kernel reuses.
"""
from __future__ import annotations

import fcntl
import logging
import os

log = logging.getLogger("kvrrp.daemon")

DEFAULT_PID_FILE = "/run/kvrrp.pid"


class AlreadyRunning(RuntimeError):
    """Another live daemon holds this pid file."""


class PidFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, write: bool = True) -> None:
        """Lock the file (refusing a second copy) and record this pid; write=False leaves it
        empty for the process that will run (daemonize forks first, see rewrite())."""
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(f"daemon already running with pid {holder} (pid file {self.path})") from None
        stale = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if stale and stale != str(os.getpid()):
            log.info("pid file %s was left by pid %s, which is gone; taking it over", self.path, stale)
        os.ftruncate(fd, 0)
        if write:
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def rewrite(self) -> None:
        """Record the current pid (after daemonize forked away from the pid that took the lock)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "PidFile":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_pid_dir(path: str | None) -> None:
    """keepalived removes the pid directory it made at exit: the default one kvrrp made
    (/run/kvrrp/NAME, /run/kvrrp), if nothing else is left in it. None: there is none."""
    if path is None or path == os.path.dirname(DEFAULT_PID_FILE):
        return
    try:
        os.rmdir(path)
    except OSError:
        pass   # not empty (another daemon's files, the checker's still going) or already gone


def default_pid_file(namespace: str | None, use_pid_dir: bool = False) -> str:
    """/run/kvrrp.pid; with use_pid_dir /run/kvrrp/kvrrp.pid; in a namespace (-s NAME or
    net_namespace NAME) /run/kvrrp/NAME/kvrrp.pid. keepalived's layout with kvrrp's names
    (keepalived: /run/keepalived.pid, /run/keepalived/keepalived.pid and, seen from outside its
    mount namespace, /run/keepalived/NAME/keepalived.pid): one pid directory per namespace, so
    that one daemon per namespace can run, and none shared with a keepalived on the same host."""
    run_dir = os.path.dirname(DEFAULT_PID_FILE)
    name = os.path.basename(DEFAULT_PID_FILE)
    if namespace:
        return os.path.join(run_dir, "kvrrp", namespace, name)
    if use_pid_dir:
        return os.path.join(run_dir, "kvrrp", name)
    return DEFAULT_PID_FILE
