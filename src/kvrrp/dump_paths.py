"""Where the VRRP dumps are written: keepalived's paths, global_defs' overrides, and
`data_use_instance` (keepalived's open_dump_file): the data dump's name gets the network
namespace and the `instance` name before its extension, `/tmp/keepalived.NS_INST.data`, so that
several daemons on one host (one per namespace or instance) do not overwrite each other's.
Only the data dump, as in keepalived (its stats and JSON dumps keep their names).
"""
from __future__ import annotations

import os

DATA_DUMP = "/tmp/keepalived.data"
STATS_DUMP = "/tmp/keepalived.stats"
JSON_DUMP = "/tmp/keepalived.json"

_DEFAULTS = {"data": DATA_DUMP, "stats": STATS_DUMP, "json": JSON_DUMP}
_FIELDS = {"data": "state_dump_file", "stats": "stats_dump_file", "json": "json_dump_file"}


def with_instance(path: str, namespace: str | None, instance: str | None) -> str:
    """keepalived's "%s%s%s%s" after the stem: ".NS_INST", ".NS" or ".INST" before the extension."""
    tag = "_".join(part for part in (namespace, instance) if part)
    if not tag:
        return path
    head, name = os.path.split(path)
    stem, dot, ext = name.rpartition(".")
    if not dot:                       # no extension: the tag goes at the end
        stem, ext = name, ""
    return os.path.join(head, f"{stem}.{tag}{'.' + ext if dot else ''}")


def dump_path(kind: str, global_defs, namespace: str | None = None, instance: str | None = None) -> str:  # noqa: ANN001
    """The file a dump of `kind` (data, stats, json) goes to."""
    path = getattr(global_defs, _FIELDS[kind], None) or _DEFAULTS[kind]
    if kind == "data" and getattr(global_defs, "data_use_instance", False):
        path = with_instance(path, namespace, instance)
    return path
