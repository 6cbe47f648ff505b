"""Route table, protocol, scope and realm names, read as iproute2 and keepalived's
lib/rttables.c read them: `<etc>/NAME` if it exists, else `<usr>/NAME`; then every `*.conf` of
`<usr>/NAME.d` that has no namesake in `<etc>/NAME.d`; then every `*.conf` of `<etc>/NAME.d`;
finally the built-in names no file gave. Lines are `NUMBER NAME` (`#` comments,
anything else skipped); a number is decimal, 0x hex or 0 octal, and a name that is a number is
that number. `iproute_etc_dir` / `iproute_usr_dir` choose the directories (defaults
/etc/iproute2 and /usr/share/iproute2, keepalived's).
"""
from __future__ import annotations

import os
from typing import Any

ETC_DIR = "/etc/iproute2"
USR_DIR = "/usr/share/iproute2"

_DEFAULTS: dict[str, tuple[tuple[int, str], ...]] = {
    "rt_tables": ((253, "default"), (254, "main"), (255, "local")),
    # keepalived's built-ins, plus the two names kvrrp's own routes use (iproute2 ships both)
    "rt_protos": ((0, "none"), (1, "redirect"), (2, "kernel"), (3, "boot"), (4, "static"), (8, "gated"),
                  (9, "ra"), (10, "mrt"), (11, "zebra"), (12, "bird"), (42, "babel"), (13, "dnrouted"),
                  (14, "xorp"), (15, "ntk"), (16, "dhcp"), (18, "keepalived"), (0, "unspec")),
    "rt_scopes": ((0, "global"), (255, "nowhere"), (254, "host"), (253, "link"), (200, "site"),
                  (0, "universe")),
    "rt_realms": ((0, "unknown"),),
}
_MAX = {"rt_tables": 2**32 - 1, "rt_protos": 255, "rt_scopes": 255, "rt_realms": 255}


class UnknownName(ValueError):
    pass


def _number(text: str) -> int | None:
    if not text or text.startswith("-"):
        return None
    try:
        return int(text, 0) if not (len(text) > 1 and text[0] == "0" and text[1].isdigit()) else int(text, 8)
    except ValueError:
        return None


def _read(path: str, limit: int, into: list[tuple[int, str]]) -> None:
    try:
        with open(path, errors="replace") as fh:
            for line in fh:
                fields = line.split("#", 1)[0].split()
                if len(fields) != 2:
                    continue
                num = _number(fields[0])
                if num is not None and num <= limit:
                    into.append((num, fields[1]))
    except OSError:
        return


def _conf_files(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [n for n in names if not n.startswith(".") and len(n) > 5 and n.endswith(".conf")
            and os.path.isfile(os.path.join(directory, n))]


class RtNames:
    """Name -> number for one (etc, usr) directory pair; each file read once, when first asked."""

    def __init__(self, etc_dir: str | None = None, usr_dir: str | None = None) -> None:
        self.etc_dir = etc_dir or ETC_DIR
        self.usr_dir = usr_dir or USR_DIR
        self._lists: dict[str, list[tuple[int, str]]] = {}

    @classmethod
    def from_config(cls, global_defs: Any) -> "RtNames":
        return cls(getattr(global_defs, "iproute_etc_dir", None), getattr(global_defs, "iproute_usr_dir", None))

    def entries(self, kind: str) -> list[tuple[int, str]]:
        """(number, name) of file `kind` (rt_tables, rt_protos, rt_scopes, rt_realms) in order."""
        found = self._lists.get(kind)
        if found is not None:
            return found
        limit = _MAX[kind]
        found = []
        etc_file, usr_file = os.path.join(self.etc_dir, kind), os.path.join(self.usr_dir, kind)
        if os.path.isfile(etc_file):
            _read(etc_file, limit, found)
        elif os.path.isfile(usr_file):
            _read(usr_file, limit, found)
        etc_d, usr_d = os.path.join(self.etc_dir, kind + ".d"), os.path.join(self.usr_dir, kind + ".d")
        for name in _conf_files(usr_d):
            if not os.path.lexists(os.path.join(etc_d, name)):
                _read(os.path.join(usr_d, name), limit, found)
        for name in _conf_files(etc_d):
            _read(os.path.join(etc_d, name), limit, found)
        known = {name for _, name in found}
        found += [(num, name) for num, name in _DEFAULTS.get(kind, ()) if name not in known]
        self._lists[kind] = found
        return found

    def lookup(self, kind: str, name: str) -> int:
        num = _number(name)
        if num is not None:
            if num > _MAX[kind]:
                raise UnknownName(f"{name} out of range for {kind}")
            return num
        for number, known in self.entries(kind):
            if known == name:
                return number
        raise UnknownName(f"unknown name {name!r} (not in {kind} under {self.etc_dir} or {self.usr_dir})")

    def table(self, name: str) -> int:
        return self.lookup("rt_tables", name)

    def protocol(self, name: str) -> int:
        return self.lookup("rt_protos", name)

    def scope(self, name: str) -> int:
        return self.lookup("rt_scopes", name)

    def realm(self, name: str) -> int:
        return self.lookup("rt_realms", name)


def check_route_names(cfg: Any, diags: Any) -> None:
    """keepalived's parse-time check of table / protocol / scope names in virtual_routes,
    virtual_rules, static_routes and static_rules (its words; `-t` fails), with the
    configuration's iproute_etc_dir / iproute_usr_dir."""
    names = RtNames.from_config(cfg.global_defs)
    routes = [r for i in cfg.instances for r in i.virtual_routes] + list(cfg.static_routes)
    rules = [r for i in cfg.instances for r in i.virtual_rules] + list(cfg.static_rules)
    for r in routes:
        for kind, value, message in (("rt_tables", r.table, "Routing table {} not found for route"),
                                     ("rt_protos", r.protocol, "Protocol {} not found or invalid for route"),
                                     ("rt_scopes", r.scope, "Scope {} not found or invalid for route")):
            if value is not None and not _known(names, kind, value):
                diags.error(r.loc, message.format(value), "route-name")
    for r in rules:
        if r.table is not None and not _known(names, "rt_tables", r.table):
            diags.error(r.loc, f"Routing table {r.table} not found for rule", "route-name")


def _known(names: RtNames, kind: str, value: str) -> bool:
    try:
        names.lookup(kind, value)
    except UnknownName:
        return False
    return True
