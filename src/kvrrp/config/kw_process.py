"""Keywords about the daemon processes themselves (keepalived's global_parser.c): the network
namespace and pid directory at top level; process names, nice / SCHED_RR / CPU affinity /
mlockall / RLIMIT_RTTIME per process, the automatic realtime escalation, the umask and how
scripts are started in global_defs.

Values land in model.ProcessDefs (global_defs "process") and in Config's top-level fields;
kvrrp.process_plan turns them into what each process applies. Messages and limits are
keepalived's, so `kvrrp -t` fails where `keepalived -t` does.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import TYPE_CHECKING, Any

from kvrrp.config import model as m
from kvrrp.config.kw_handlers import Fields, Handler
from kvrrp.config.tree import Node

if TYPE_CHECKING:
    from kvrrp.config.parser import Parser

TASK_COMM_LEN = 16            # the kernel's comm buffer, NUL included: names keep 15 characters
RT_PRIORITY_MIN, RT_PRIORITY_MAX = 1, 99      # sched_get_priority_min/max(SCHED_RR) on Linux
UINT32_MAX = 4294967295
_INT = re.compile(r"^[+-]?\d+$")
# keepalived's umask words (S_IRUSR ...), each 5 characters, joined with '|'
UMASK_BITS = {"IRUSR": 0o400, "IWUSR": 0o200, "IXUSR": 0o100, "IRWXU": 0o700,
              "IRGRP": 0o040, "IWGRP": 0o020, "IXGRP": 0o010, "IRWXG": 0o070,
              "IROTH": 0o004, "IWOTH": 0o002, "IXOTH": 0o001, "IRWXO": 0o007}
DEFAULT_NAMES = {"vrrp_process_name": "keepalived_vrrp", "checker_process_name": "keepalived_lvs",
                 "bfd_process_name": "keepalived_bfd"}


def _set_process(g: Fields, **changes: Any) -> None:
    g["process"] = dataclasses.replace(g.get("process") or m.ProcessDefs(), **changes)


def _set_tuning(g: Fields, which: str, **changes: Any) -> None:
    current = g.get("process") or m.ProcessDefs()
    _set_process(g, **{which: dataclasses.replace(getattr(current, which), **changes)})


def _int_word(p: Parser, node: Node, message: str) -> int | None:
    """The keyword's first argument as an integer, or None after reporting `message`."""
    if not node.args or _INT.match(node.args[0].text) is None:
        p.diags.error(node.args[0].loc if node.args else node.kw.loc, message, "invalid-number")
        return None
    return int(node.args[0].text)


def _bool_arg(p: Parser, node: Node, message: str) -> bool | None:
    if not node.args:
        return True
    low = node.args[0].text.lower()
    from kvrrp.config.values import FALSE_WORDS, TRUE_WORDS

    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    p.diags.error(node.args[0].loc, message, "invalid-bool")
    return None


# ---- process names ------------------------------------------------------------------------------

def _name(p: Parser, node: Node, text: str | None) -> str | None:
    """keepalived's save_process_name(): a missing name is an error, a long one is truncated
    to what the kernel keeps in comm (and reported)."""
    if text is None:
        p.diags.error(node.kw.loc, "Process name missing", "missing-parameter")
        return None
    if len(text) >= TASK_COMM_LEN:
        p.diags.error(node.args[0].loc, f"Process name {text} more than {TASK_COMM_LEN - 1} characters, "
                      "truncating", "out-of-range")
        text = text[:TASK_COMM_LEN - 1]
    return text


def _process_names(p: Parser, node: Node, g: Fields) -> None:
    _set_process(g, **DEFAULT_NAMES)


def _process_name(field: str, deprecated: bool = False) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        if deprecated:
            p.diags.warning(node.kw.loc, f"'{node.kw.text}' is deprecated - please use 'checker_process_name'",
                            "deprecated", fails_test=False)
        name = _name(p, node, node.args[0].text if node.args else None)
        if name is not None:
            _set_process(g, **{field: name})
    return h


# ---- per-process scheduling ---------------------------------------------------------------------

def _nice(which: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        if not node.args:
            p.diags.error(node.kw.loc, f"No {which} process priority specified", "missing-parameter")
            return
        v = _int_word(p, node, f"Invalid {which} process priority specified")
        if v is None:
            return
        if not -20 <= v <= 19:
            p.diags.error(node.args[0].loc, f"Invalid {which} process priority specified", "out-of-range")
            return
        _set_tuning(g, which, nice=v)
    return h


def _no_swap(which: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        _set_tuning(g, which, no_swap=True)
    return h


def _rt_priority(which: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        if not node.args:
            p.diags.error(node.kw.loc, f"No {which} process real-time priority specified", "missing-parameter")
            return
        v = _int_word(p, node, f"{which} process real-time priority '{node.args[0].text}' invalid")
        if v is None:
            return
        if v < RT_PRIORITY_MIN:
            p.diags.error(node.args[0].loc, f"{which} process real-time priority {v} less than minimum "
                          f"{RT_PRIORITY_MIN} - setting to minimum", "out-of-range")
            v = RT_PRIORITY_MIN
        elif v > RT_PRIORITY_MAX:
            p.diags.error(node.args[0].loc, f"{which} process real-time priority {v} greater than maximum "
                          f"{RT_PRIORITY_MAX} - setting to maximum", "out-of-range")
            v = RT_PRIORITY_MAX
        _set_tuning(g, which, rt_priority=v)
    return h


def online_cpus() -> int:
    """keepalived checks CPU ids against sysconf(_SC_NPROCESSORS_ONLN) of the host it runs on."""
    try:
        return int(os.sysconf("SC_NPROCESSORS_ONLN"))
    except (ValueError, OSError):
        return os.cpu_count() or 1


def _cpu_affinity(which: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        if not node.args:
            p.diags.error(node.kw.loc, f"No {which} cpu_id set specified", "missing-parameter")
            return
        count = online_cpus()
        cpus: list[int] = []
        for tok in node.args:
            if _INT.match(tok.text) is None or not 0 <= int(tok.text) <= count - 1:
                # keepalived empties the set at the first bad id: the process is not pinned
                p.diags.error(tok.loc, f"Invalid cpu_id:{tok.text} specified for {which} process "
                              f"(this host has CPUs 0..{count - 1})", "out-of-range")
                _set_tuning(g, which, cpu_affinity=())
                return
            if int(tok.text) not in cpus:
                cpus.append(int(tok.text))
        _set_tuning(g, which, cpu_affinity=tuple(sorted(cpus)))
    return h


def _rlimit_rttime(which: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        if node.kw.text.endswith("_rtime"):
            p.diags.warning(node.kw.loc, f"Keyword '{node.kw.text}' is deprecated - please use "
                            f"'{node.kw.text[:-5]}rttime'", "deprecated", fails_test=False)
        v = _int_word(p, node, f"Invalid {which} real-time limit - "
                      f"{node.args[0].text if node.args else '(missing)'}")
        if v is None:
            return
        if not 1 <= v <= UINT32_MAX:
            p.diags.error(node.args[0].loc, f"Invalid {which} real-time limit - {node.args[0].text}", "out-of-range")
            return
        # half of it becomes the soft limit (a SIGXCPU warning first), which must not be 0
        _set_tuning(g, which, rlimit_rttime=max(v, 2))
    return h


def _max_auto_priority(p: Parser, node: Node, g: Fields) -> None:
    if not node.args:
        _set_process(g, max_auto_priority=RT_PRIORITY_MAX)
        return
    text = node.args[0].text
    if _INT.match(text) is None or not -1 <= int(text) <= RT_PRIORITY_MAX:
        p.diags.error(node.args[0].loc, f"max_auto_priority '{text}' must be in [0, {RT_PRIORITY_MAX}] "
                      "(or -1 to disable) - ignoring", "out-of-range")
        return
    _set_process(g, max_auto_priority=int(text))


def _min_auto_priority_delay(p: Parser, node: Node, g: Fields) -> None:
    if not node.args:
        p.diags.error(node.kw.loc, "min_auto_priority_delay requires delay time", "missing-parameter")
        return
    text = node.args[0].text
    if not text.isdigit() or not 1 <= int(text) <= 10000000:
        p.diags.error(node.args[0].loc, f"min_auto_priority_delay '{text}' must be in [1, 10000000] - ignoring",
                      "out-of-range")
        return
    _set_process(g, min_auto_priority_delay=int(text))


# ---- umask and scripts ---------------------------------------------------------------------------

def parse_umask(words: list[str]) -> tuple[int | None, str | None]:
    """keepalived's umask_handler(): a number (strtol base 0: 022, 0x12, 18) within 0777, or
    bit names joined by '|' (IWGRP|IWOTH, also split over words). (mask, None) or (None, why)."""
    if not words:
        return None, "Missing parameter(s) to umask option"
    if words[0][:1].isdigit():
        if len(words) != 1:
            return None, "Extra parameter(s) to umask option"
        text = words[0].lower()
        try:
            if text.startswith("0x"):
                value = int(text[2:], 16)
            elif text.startswith("0") and len(text) > 1:
                value = int(text[1:], 8)
            else:
                value = int(text, 10)
        except ValueError:
            return None, f"invalid umask value {words[0]}"
        if value & ~0o777:
            return None, f"invalid umask value {words[0]}"
        return value, None
    bits, need_or = 0, False
    for word in words:
        i = 0
        while i < len(word):
            if need_or:
                if word[i] != "|":
                    return None, f"Invalid umask syntax {word}"
                need_or = False
                i += 1
                continue
            bit = UMASK_BITS.get(word[i:i + 5])
            if bit is None:
                return None, f"Unknown umask bit {word[i:]}"
            bits |= bit
            i += 5
            need_or = True
    if not need_or:
        return None, "umask missing bit value"
    return bits, None


def _umask(p: Parser, node: Node, g: Fields) -> None:
    value, why = parse_umask([t.text for t in node.args])
    if why is not None:
        p.diags.error(node.args[0].loc if node.args else node.kw.loc, why, "invalid-umask")
        return
    _set_process(g, umask=value)


def _flag(field: str, message: str) -> Handler:
    def h(p: Parser, node: Node, g: Fields) -> None:
        v = _bool_arg(p, node, message.format(node.args[0].text if node.args else ""))
        if v is not None:
            _set_process(g, **{field: v})
    return h


GLOBAL_PROCESS: dict[str, Handler] = {
    "process_names": _process_names,
    "process_name": _process_name("process_name"),
    "vrrp_process_name": _process_name("vrrp_process_name"),
    "checker_process_name": _process_name("checker_process_name"),
    "lvs_process_name": _process_name("checker_process_name", deprecated=True),
    "bfd_process_name": _process_name("bfd_process_name"),
    "max_auto_priority": _max_auto_priority,
    "min_auto_priority_delay": _min_auto_priority_delay,
    "umask": _umask,
    "use_symlink_paths": _flag("use_symlink_paths", "Invalid value '{}' for global use_symlink_path specified"),
    "set_supplementary_groups": _flag("set_supplementary_groups", "Invalid set_supplementary_groups parameter {}"),
}
for _which in ("vrrp", "checker", "bfd"):
    GLOBAL_PROCESS[f"{_which}_priority"] = _nice(_which)
    GLOBAL_PROCESS[f"{_which}_no_swap"] = _no_swap(_which)
    GLOBAL_PROCESS[f"{_which}_rt_priority"] = _rt_priority(_which)
    GLOBAL_PROCESS[f"{_which}_cpu_affinity"] = _cpu_affinity(_which)
    GLOBAL_PROCESS[f"{_which}_rlimit_rttime"] = _rlimit_rttime(_which)
    GLOBAL_PROCESS[f"{_which}_rlimit_rtime"] = _rlimit_rttime(_which)


# ---- top level -------------------------------------------------------------------------------------

def _net_namespace(p: Parser, node: Node, f: Fields) -> None:
    if not node.args:
        p.diags.error(node.kw.loc, "net_namespace name missing - ignoring", "missing-parameter")
        return
    if f.get("net_namespace") is not None:
        p.diags.error(node.args[0].loc, f"Duplicate net_namespace definition {node.args[0].text} - ignoring",
                      "duplicate")
        return
    f["net_namespace"] = node.args[0].text


def _net_namespace_ipvs(p: Parser, node: Node, f: Fields) -> None:
    if f.get("net_namespace_ipvs") is not None:
        p.diags.error(node.kw.loc, "Duplicate net_namespace_ipvs definition "
                      f"{node.args[0].text if node.args else ''} - ignoring", "duplicate")
        return
    f["net_namespace_ipvs"] = node.args[0].text if node.args else ""   # no name: the default namespace


def _namespace_with_ipsets(p: Parser, node: Node, f: Fields) -> None:
    f["namespace_with_ipsets"] = True


def _use_pid_dir(p: Parser, node: Node, f: Fields) -> None:
    f["use_pid_dir"] = True


def _child_wait_time(p: Parser, node: Node, f: Fields) -> None:
    text = node.args[0].text if node.args else ""
    if not text.isdigit() or int(text) > UINT32_MAX:
        p.diags.error(node.args[0].loc if node.args else node.kw.loc, f"Invalid child_wait_time {text}",
                      "invalid-number")
        return
    f["child_wait_time"] = int(text)


TOP_PROCESS: dict[str, Handler] = {
    "net_namespace": _net_namespace,
    "net_namespace_ipvs": _net_namespace_ipvs,
    "namespace_with_ipsets": _namespace_with_ipsets,
    "use_pid_dir": _use_pid_dir,
    "child_wait_time": _child_wait_time,
}
