"""Files a reload leaves for operators, as keepalived's main.c / config_notify.c / parser.c do.

- `reload_file [PATH]`: a lock file that exists while a reload reads the new configuration
  (created rw-r--r-- before, removed after), so that tools can wait until no reload is under
  way. As in keepalived, the configuration in force names it (none on the first start), and
  the keyword alone means the default next to the pid file (`/run/kvrrp.pid` ->
  `/run/kvrrp.reload`; keepalived's is `/run/keepalived.reload` beside `/run/keepalived.pid`).
- `config_save_dir DIR`: keepalived copies the configuration it read to
  `DIR/keepalived.conf.PID.N` at start and on each reload, and writes the VRRP process's data
  dump before and after each reload to `DIR/keepalived_vrrp.PID.N.pre` / `.post`. kvrrp writes
  the same files; the configuration copy is the configuration as kvrrp understood it, every
  include inlined and every inherited value explicit (`kvrrp --dump-conf keepalived`, which
  reads back to an equal configuration), where keepalived's is its include-expanded text.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable

log = logging.getLogger("kvrrp.daemon")

RELOAD_EXTENSION = ".reload"


def reload_file_path(global_defs: Any, pid_file: str) -> str | None:
    """The lock file the configuration asks for, or None."""
    path = getattr(global_defs, "reload_file", None)
    if path is None:
        return None
    if path:
        return path
    base, _ext = os.path.splitext(pid_file)
    return base + RELOAD_EXTENSION


class ReloadLock:
    """with ReloadLock(path): ... - the file exists for the duration (no-op for None)."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def __enter__(self) -> "ReloadLock":
        if self.path is not None:
            old = os.umask(0o022)            # rw-r--r-- whatever the daemon's umask
            try:
                with open(self.path, "w"):
                    pass
            except OSError as exc:
                log.warning("Failed to create reload file (%s) %s - %s", self.path, exc.errno, exc.strerror)
            finally:
                os.umask(old)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("Failed to remove reload file (%s): %s", self.path, e.strerror)


class ConfigSaver:
    """config_save_dir: numbered copies of each configuration read, and the data dump before
    and after each reload. One per daemon; the counters run for the daemon's life."""

    def __init__(self, process: str = "vrrp") -> None:
        self.process = process
        self.conf_num = 0        # keepalived's conf_num: copies written
        self.reload_num = 0      # keepalived's reload_num: reloads seen

    @staticmethod
    def directory(global_defs: Any) -> str | None:
        """The directory, created (0700) if missing as keepalived does; None when unusable."""
        path = getattr(global_defs, "config_save_dir", None)
        if not path:
            return None
        if os.path.isdir(path):
            return path
        if os.path.exists(path):
            log.error("config_save_dir %s exists and is not a directory", path)
            return None
        try:
            os.mkdir(path, 0o700)
        except OSError as exc:
            log.error("Unable to create config_save_dir %s (error %s - %s)", path, exc.errno, exc.strerror)
            return None
        return path

    def save_config(self, config: Any) -> str | None:
        """DIR/keepalived.conf.PID.N: the configuration just read (start and each reload)."""
        directory = self.directory(config.global_defs)
        if directory is None:
            return None
        from kvrrp.config.dump import to_keepalived

        path = os.path.join(directory, f"keepalived.conf.{os.getpid()}.{self.conf_num}")
        self.conf_num += 1
        return self._write(path, lambda: to_keepalived(config))

    def save_dump(self, global_defs: Any, post: bool, render: Callable[[], str]) -> str | None:
        """DIR/keepalived_vrrp.PID.N.pre before a reload, .post after it."""
        directory = self.directory(global_defs)
        if directory is None:
            return None
        if not post:
            self.reload_num += 1
        name = f"keepalived_{self.process}.{os.getpid()}.{self.reload_num}.{'post' if post else 'pre'}"
        return self._write(os.path.join(directory, name), render)

    @staticmethod
    def _write(path: str, render: Callable[[], str]) -> str | None:
        try:
            text = render()
            with open(path, "w") as fh:
                fh.write(text)
        except Exception as exc:  # noqa: BLE001 - a copy for operators must not stop a reload
            log.warning("Failed to open config_save file %s: %s", path, exc)
            return None
        return path
