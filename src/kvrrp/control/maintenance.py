"""Which instances the operator put into maintenance, and (with --persist) the file that
carries it over a restart: JSON {"all": bool, "instances": [names]} beside the pid file."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

log = logging.getLogger("kvrrp.control")


@dataclass
class Maintenance:
    all: bool = False
    names: set[str] = field(default_factory=set)

    def wants(self, name: str) -> bool:
        return self.all or name in self.names

    def as_dict(self) -> dict:
        return {"all": self.all, "instances": sorted(self.names)}


def state_path(pid_file: str) -> str:
    return os.path.splitext(pid_file)[0] + ".maintenance.json"


def load(path: str) -> Maintenance:
    """The persisted maintenance, or none; a damaged file is reported and ignored."""
    try:
        with open(path) as fh:
            data = json.load(fh)
        names = data.get("instances", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("'instances' must be a list of names")
        return Maintenance(all=bool(data.get("all", False)), names=set(names))
    except FileNotFoundError:
        return Maintenance()
    except (OSError, ValueError, AttributeError) as exc:
        log.error("ignoring the maintenance state file %s: %s", path, exc)
        return Maintenance()


def save(path: str, m: Maintenance) -> None:
    if not m.all and not m.names:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        json.dump(m.as_dict(), fh)
    os.replace(tmp, path)
