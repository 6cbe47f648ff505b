"""kvrrpctl's human output: aligned tables and key/value blocks (pure: answer -> text)."""
from __future__ import annotations

from typing import Any, Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 120:
        return f"{seconds:.1f}s"
    if s < 7200:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def format_status(ans: dict) -> str:
    rows = []
    for r in ans["instances"]:
        state = r["state"] + (" (maint)" if r.get("maintenance") else "") + (" (hand-over)" if r.get("hand_over") else "")
        rows.append((r["name"], r["interface"], r["vrid"], state, f'{r["priority"]}/{r["effective_priority"]}',
                     r["master"] or "-", ",".join(r["vips"]) or "-", _age(r.get("time_in_state")),
                     r.get("last_reason") or "-"))
    out = table(("NAME", "INTERFACE", "VRID", "STATE", "PRIO/EFF", "MASTER", "VIPS", "IN STATE", "LAST REASON"), rows)
    m = ans.get("maintenance") or {}
    if m.get("all") or m.get("instances"):
        out += f"maintenance: {'all instances' if m.get('all') else ', '.join(m['instances'])}\n"
    return out


def format_show(ans: dict) -> str:
    d, st = ans["data"], ans["stats"]
    keys = ("iname", "state", "ifp_ifname", "vrid", "version", "base_priority", "effective_priority",
            "master_address", "master_priority", "adver_int", "nopreempt", "preempt_delay", "sync_group",
            "vipset", "maintenance", "hand_over", "time_in_state")
    lines = [f"{k}: {d.get(k)}" for k in keys]
    lines.append("vips: " + (", ".join(d.get("vips", [])) or "-"))
    last = ans.get("last_transition")
    if last:
        lines.append(f"last transition: {last['from']} -> {last['to']}: {last['reason']}")
    lines.append("counters:")
    for k, v in sorted(st.items()):
        if isinstance(v, dict):
            for reason, n in sorted(v.items()):
                lines.append(f"  {k}.{reason}: {n}")
        else:
            lines.append(f"  {k}: {v}")
    tr = ans.get("trackers") or {}
    lines.append("trackers:")
    lines.append("  faults: " + (", ".join(tr.get("faults", [])) or "-"))
    for k, v in sorted((tr.get("weights") or {}).items()):
        lines.append(f"  weight {k}: {v}")
    for b in tr.get("bindings", []):
        lines.append(f"  {b['key']}: {b['status']}")
    return "\n".join(lines) + "\n"


def format_rs_list(ans: dict) -> str:
    rows = []
    for vs in ans["virtual_servers"]:
        for rs in vs["real_servers"]:
            t = rs.get("traffic") or {}
            rows.append((vs["virtual_server"], rs["address"], "up" if rs["alive"] else "down",
                         rs["weight"], "drained" if rs.get("drained") else "-", rs.get("checks", 0),
                         rs.get("failures", 0), t.get("conns", "-"), t.get("inpkts", "-"), t.get("outpkts", "-")))
    return table(("VIRTUAL SERVER", "REAL SERVER", "HEALTH", "WEIGHT", "DRAIN", "CHECKS", "FAILED",
                  "CONNS", "INPKTS", "OUTPKTS"), rows)


def format_answer(cmd: str, req: dict, ans: Any) -> str:
    if cmd == "status":
        return format_status(ans)
    if cmd == "show":
        return format_show(ans)
    if cmd == "rs" and req.get("action") == "list":
        return format_rs_list(ans)
    if cmd == "rs":
        return f"{ans['real_server']} of {ans['virtual_server']}: weight {ans['weight']}" \
               f"{' (drained)' if ans['drained'] else ''}\n"
    if cmd == "maintenance":
        verb = "on" if req.get("on") else "off"
        changed = ", ".join(ans["changed"]) or "nothing changed"
        return f"maintenance {verb}: {changed}\n"
    if cmd == "failover":
        return f"{ans['instance']}: master role handed over; priority held at 1 for {ans['hold']:g} s\n"
    if cmd == "dump":
        return "".join(f"{k}: {v}\n" for k, v in sorted(ans.items()))
    if cmd == "version":
        return f"kvrrp {ans['version']} (fast path: {ans['fastpath']}, Python {ans['python']}, pid {ans['pid']})\n"
    if cmd == "reload":
        return "reloaded\n"
    return f"{ans}\n"
