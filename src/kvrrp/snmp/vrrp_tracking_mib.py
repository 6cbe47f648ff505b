"""KEEPALIVED-MIB's tracking tables of the vrrp branch, as keepalived's vrrp_snmp.c serves them.
Pure: rows come from the configuration, its tracking plan (kvrrp.track.plan: keepalived's
pruning rules already applied) and a TrackerState snapshot of the running trackers.

| table | OID (vrrp.) | index |
|---|---|---|
| vrrpTrackedInterfaceTable / ScriptTable / FileTable / BfdTable / ProcessTable | 4 / 5 / 12 / 17 / 20 | (instance, n) |
| vrrpSyncTrackedInterfaceTable / Script / File / Bfd / Process | 14 / 15 / 16 / 19 / 22 | (sync group, n) |
| vrrpScriptTable / vrrpFileTable / vrrpBfdTable / vrrpProcessTable | 9 / 13 / 18 / 21 | (n) |

keepalived's lists, reproduced here: an instance's tracked interfaces are its track_interface
entries (its own interface is not one of them: it is tracked apart, and naming it is ignored),
with the weights left after the sync group / address owner rules; the file, BFD and process
rows show the tracked block's own weight and reverse flag (keepalived reads them from the
block, not from the track_* entry); the object tables list what some instance or sync group
still tracks (an unused vrrp_script is dropped, as keepalived drops it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from kvrrp.snmp.agentx import GAUGE32, INTEGER, OCTET_STRING
from kvrrp.snmp.mibview import Row
from kvrrp.track.plan import BFD, FILE, INTERFACE, PROCESS, SCRIPT, Plan

VRRP = (1, 3, 6, 1, 4, 1, 9586, 100, 5, 2)

# table number in the vrrp branch, and the column of the name (the weight and reverse follow)
INSTANCE_TABLES = {INTERFACE: (4, 1), SCRIPT: (5, 2), FILE: (12, 2), BFD: (17, 2), PROCESS: (20, 2)}
GROUP_TABLES = {INTERFACE: (14, 1), SCRIPT: (15, 2), FILE: (16, 2), BFD: (19, 2), PROCESS: (22, 2)}
# where a kind's entries are in an instance / sync group model
REFS = {INTERFACE: "track_interfaces", SCRIPT: "track_scripts", FILE: "track_files",
        BFD: "track_bfds", PROCESS: "track_processes"}
KINDS = (INTERFACE, SCRIPT, FILE, BFD, PROCESS)
# vrrpScriptResult: keepalived's script states
SCRIPT_INIT, SCRIPT_BAD, SCRIPT_GOOD, SCRIPT_FAILED = 1, 2, 3, 5
PARAM_MATCH = {"exact": 1, "initial": 2, "partial": 3}        # keepalived's param_match_t (0: none)


def truth(value: Any) -> int:
    return 1 if value else 2


@dataclass
class TrackerState:
    """What the running trackers know (kvrrp.track.supervisor), for the result columns:
    script health (None: not run yet), scripts refused (they never run), file values,
    process counts and quorum, BFD sessions up."""

    scripts: dict[str, bool | None] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    files: dict[str, int] = field(default_factory=dict)
    processes: dict[str, tuple[int, bool]] = field(default_factory=dict)
    bfd: dict[str, bool | None] = field(default_factory=dict)

    @classmethod
    def of(cls, supervisor: Any) -> "TrackerState":
        """From a kvrrp.track.supervisor.TrackingSupervisor (or None: nothing known)."""
        if supervisor is None:
            return cls()
        state = cls(scripts={n: e.tracker.healthy for n, e in supervisor.scripts.items()},
                    refused=set(supervisor.refused))
        if supervisor.files is not None:
            state.files = {n: int(f.value) for n, f in supervisor.files.files.items()}
        if supervisor.processes is not None:
            state.processes = {n: (int(s.count), bool(supervisor.processes.have_quorum(n)))
                               for n, s in supervisor.processes.states.items()}
        if supervisor.bfd is not None:
            state.bfd = {n: supervisor.bfd.is_up(n) for n in supervisor.plan.targets(BFD)}
        return state


def _block(config: Any, kind: str, name: str) -> Any:
    if kind == SCRIPT:
        return config.script(name)
    pool = {FILE: config.track_files, PROCESS: config.track_processes,
            BFD: [b for b in config.bfd_instances if b.vrrp]}[kind]
    return next((b for b in pool if b.name == name), None)


def _entry_columns(config: Any, kind: str, name: str, weight: int, reverse: bool) -> tuple[int, bool]:
    """(weight, reverse) a tracked-table row shows: the entry's own for interfaces and scripts,
    the tracked block's for files, BFDs and processes (keepalived reads file->weight)."""
    if kind in (INTERFACE, SCRIPT):
        return weight, reverse
    block = _block(config, kind, name)
    return (block.weight, block.weight_reverse) if block is not None else (weight, reverse)


def _rows(table: tuple[int, int], idx: tuple[int, ...], name: str, weight: int, reverse: bool) -> list[Row]:
    number, col = table
    entry = VRRP + (number, 1)
    return [(entry + (col,), idx, OCTET_STRING, name),
            (entry + (col + 1,), idx, INTEGER, weight),
            (entry + (col + 2,), idx, INTEGER, truth(reverse))]


def instance_bindings(plan: Plan) -> dict[str, list[Any]]:
    """Each instance's own tracking entries (not its primary interface, not its sync group's)."""
    out: dict[str, list[Any]] = {}
    for b in plan.bindings:
        if "@" in b.key or b.key.endswith("#primary"):
            continue
        out.setdefault(b.instance, []).append(b)
    return out


def one_instance_tracked_rows(i: int, bindings: Iterable[Any], config: Any) -> list[Row]:
    """The five tracked tables' rows of instance i (index (i, n), n counting per table)."""
    rows: list[Row] = []
    counts = dict.fromkeys(KINDS, 0)
    for b in bindings:
        counts[b.kind] += 1
        weight, reverse = _entry_columns(config, b.kind, b.target, b.weight, b.reverse)
        rows += _rows(INSTANCE_TABLES[b.kind], (i, counts[b.kind]), b.target, weight, reverse)
    return rows


def has_tracked_interfaces(bindings: Iterable[Any]) -> bool:
    """vrrpInstanceTrackPrimaryIf: keepalived answers whether the instance's track_interface
    list is non-empty."""
    return any(b.kind == INTERFACE for b in bindings)


def group_tracked_rows(config: Any) -> list[Row]:
    """The sync groups' five tracked tables, index (group, n): the group's entries whose block
    exists, weights cleared when a member is an address owner (keepalived's rule)."""
    from kvrrp.track.weights import check_weight

    rows: list[Row] = []
    for gi, sg in enumerate(config.sync_groups, 1):
        owner = any((inst := config.instance(m)) is not None and inst.priority == 255 for m in sg.group)
        for kind in KINDS:
            n = 0
            for ref in getattr(sg, REFS[kind]):
                if kind == INTERFACE:
                    weight, reverse = ref.weight or 0, ref.reverse
                else:
                    block = _block(config, kind, ref.name)
                    if block is None:
                        continue
                    if kind == SCRIPT:
                        weight = ref.weight if ref.weight is not None else block.weight
                        reverse = block.weight_reverse or ref.reverse
                    else:
                        weight, reverse = block.weight, block.weight_reverse
                weight = check_weight(weight)
                if owner and kind in (INTERFACE, SCRIPT):
                    weight = 0
                n += 1
                rows += _rows(GROUP_TABLES[kind], (gi, n), ref.name, weight, reverse)
    return rows


# ----------------------------------------------------------------------------- object tables
def script_command(argv: Iterable[str], command: str = "") -> str:
    """keepalived's cmd_str: every word in single quotes (a quote inside becomes '\\''), but a
    first word that is a shell redirection ('<' or '>') stays bare."""
    words = list(argv) or ([command] if command else [])
    out = []
    for n, word in enumerate(words):
        if n == 0 and word[:1] in ("<", ">"):
            out.append(word)
        else:
            out.append("'" + word.replace("'", "'\\''") + "'")
    return " ".join(out)


def script_path(argv: tuple[str, ...], use_symlinks: bool) -> str:
    """vrrpScriptPath: the file executed (realpath unless use_symlink_paths, as kvrrp runs it)."""
    if not argv:
        return ""
    from kvrrp.notify.security import ScriptRefused, find_program

    if argv[0][:1] in ("<", ">"):
        return argv[0]
    try:
        program = find_program(argv[0])
    except ScriptRefused:
        return argv[0]
    if not os.path.isabs(program):
        return argv[0]
    return program if use_symlinks else os.path.realpath(program)


def script_rows(config: Any, plan: Plan, state: TrackerState) -> list[Row]:
    """vrrpScriptTable: the vrrp_scripts something still tracks, in configuration order."""
    used = plan.targets(SCRIPT)
    use_symlinks = bool(getattr(config.global_defs.process, "use_symlink_paths", False))
    col = VRRP + (9, 1)
    rows: list[Row] = []
    n = 0
    for s in config.vrrp_scripts:
        if s.name not in used:
            continue
        n += 1
        idx = (n,)
        argv = s.script.argv if s.script is not None else ()
        if s.name in state.refused:
            result = SCRIPT_FAILED
        else:
            healthy = state.scripts.get(s.name)
            result = SCRIPT_INIT if healthy is None else (SCRIPT_GOOD if healthy else SCRIPT_BAD)
        timeout = s.timeout if s.timeout is not None else s.interval
        rows += [
            (col + (2,), idx, OCTET_STRING, s.name),
            (col + (3,), idx, OCTET_STRING, script_command(argv, s.script.command if s.script else "")),
            (col + (4,), idx, INTEGER, int(s.interval)),
            (col + (5,), idx, INTEGER, s.weight),
            (col + (6,), idx, INTEGER, result),
            (col + (7,), idx, GAUGE32, s.rise),
            (col + (8,), idx, GAUGE32, s.fall),
            (col + (9,), idx, INTEGER, truth(s.weight_reverse)),
            (col + (10,), idx, OCTET_STRING, script_path(argv, use_symlinks)),
            (col + (11,), idx, GAUGE32, int(round(s.interval * 1_000_000))),
            (col + (12,), idx, GAUGE32, int(round(timeout * 1_000_000))),
        ]
    return rows


def file_rows(config: Any, state: TrackerState) -> list[Row]:
    """vrrpFileTable: every vrrp_track_file, its value as last read (vrrpFileResult)."""
    col = VRRP + (13, 1)
    rows: list[Row] = []
    for n, f in enumerate(config.track_files, 1):
        idx = (n,)
        rows += [(col + (2,), idx, OCTET_STRING, f.name),
                 (col + (3,), idx, OCTET_STRING, f.file or ""),
                 (col + (4,), idx, INTEGER, state.files.get(f.name, 0)),
                 (col + (5,), idx, INTEGER, f.weight),
                 (col + (6,), idx, INTEGER, truth(f.weight_reverse))]
    return rows


def bfd_rows(config: Any, state: TrackerState) -> list[Row]:
    """vrrpBfdTable: the bfd_instances the VRRP process follows; vrrpBfdResult 1 while the
    session is up, else 0 (keepalived's bfd_up)."""
    col = VRRP + (18, 1)
    rows: list[Row] = []
    for n, b in enumerate((b for b in config.bfd_instances if b.vrrp), 1):
        idx = (n,)
        rows += [(col + (2,), idx, OCTET_STRING, b.name),
                 (col + (3,), idx, INTEGER, 1 if state.bfd.get(b.name) else 0),
                 (col + (4,), idx, INTEGER, b.weight),
                 (col + (5,), idx, INTEGER, truth(b.weight_reverse))]
    return rows


def full_command(p: Any) -> bool:
    """keepalived matches the whole command line with full_command, and also when parameters
    or param_match are given."""
    return bool(p.full_command or p.params or p.param_match != "none")


def param_match(p: Any) -> int:
    """keepalived's param_match_t: none(0) unless parameters or param_match were given."""
    return PARAM_MATCH.get(p.param_match, 0)


def process_rows(config: Any, state: TrackerState) -> list[Row]:
    """vrrpProcessTable: every vrrp_track_process; quorum_max -1 when unlimited (keepalived's
    UINT_MAX read as a signed Integer32), the delays in microseconds (keepalived's unit)."""
    col = VRRP + (21, 1)
    rows: list[Row] = []
    for n, p in enumerate(config.track_processes, 1):
        idx = (n,)
        count, quorum = state.processes.get(p.name, (0, False))
        rows += [(col + (2,), idx, OCTET_STRING, p.name),
                 (col + (3,), idx, OCTET_STRING, p.process or ""),
                 (col + (4,), idx, OCTET_STRING, " ".join(p.params)),
                 (col + (5,), idx, INTEGER, param_match(p)),
                 (col + (6,), idx, INTEGER, p.weight),
                 (col + (7,), idx, INTEGER, truth(p.weight_reverse)),
                 (col + (8,), idx, GAUGE32, p.quorum),
                 (col + (9,), idx, INTEGER, -1 if p.quorum_max is None else p.quorum_max),
                 (col + (10,), idx, GAUGE32, int(round(p.fork_delay * 1_000_000))),
                 (col + (11,), idx, GAUGE32, int(round(p.terminate_delay * 1_000_000))),
                 (col + (12,), idx, INTEGER, truth(full_command(p))),
                 (col + (13,), idx, INTEGER, count),
                 (col + (14,), idx, INTEGER, truth(quorum))]
    return rows


def object_rows(config: Any, plan: Plan, state: TrackerState) -> list[Row]:
    return script_rows(config, plan, state) + file_rows(config, state) + bfd_rows(config, state) + \
        process_rows(config, state)
