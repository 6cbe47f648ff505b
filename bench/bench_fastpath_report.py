"""Turn a pytest-benchmark JSON of bench_fastpath.py into the markdown table for docs/fastpath.md.

    python3 -m pytest bench/bench_fastpath.py --benchmark-only --benchmark-json=/tmp/fp.json
    python3 bench/bench_fastpath_report.py /tmp/fp.json [--stat min|median|mean]

Times are per item (per call, or per timer for the timer benchmarks): the chosen statistic of
the rounds (default min, as timeit advises: on a shared machine the minimum is the run least
disturbed by other processes) divided by the items each round handled. Ratios are slower /
Cython, so "24x" means Cython is 24 times faster.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict


def fmt_ns(ns: float | None) -> str:
    if ns is None:
        return "-"
    if ns >= 10_000:
        return f"{ns / 1000:,.0f} µs"
    if ns >= 1000:
        return f"{ns / 1000:.2f} µs"
    return f"{ns:.0f} ns"


def ratio(slow: float | None, fast: float | None) -> str:
    if slow is None or fast is None or fast == 0:
        return "-"
    return f"{slow / fast:.1f}x"


def table(data: dict, stat: str = "min") -> str:
    groups: dict[str, dict[str, float]] = defaultdict(dict)
    order: list[str] = []
    info = {}
    for bench in data["benchmarks"]:
        extra = bench.get("extra_info", {})
        group = bench.get("group") or bench["name"]
        if group not in groups:
            order.append(group)
        groups[group][extra.get("implementation", "?")] = bench["stats"][stat] * 1e9 / extra.get("items", 1)
        info = extra
    has_asyncio = any("asyncio" in g for g in groups.values())
    head = "| benchmark (per item) | Python twin | Cython | twin / Cython |"
    rule = "|---|---:|---:|---:|"
    if has_asyncio:
        head += " asyncio | asyncio / Cython |"
        rule += "---:|---:|"
    lines = [head, rule]
    for group in order:
        g = groups[group]
        row = f"| {group} | {fmt_ns(g.get('python'))} | {fmt_ns(g.get('cython'))} | {ratio(g.get('python'), g.get('cython'))} |"
        if has_asyncio:
            row += f" {fmt_ns(g.get('asyncio'))} | {ratio(g.get('asyncio'), g.get('cython'))} |"
        lines.append(row)
    machine = data.get("machine_info", {})
    lines.append("")
    lines.append(f"Python {info.get('python')}, Cython {info.get('cython')}, kvrrp {info.get('kvrrp')}, "
                 f"{machine.get('cpu', {}).get('brand_raw', machine.get('processor', ''))} "
                 f"({machine.get('machine', '')}); {stat} of pytest-benchmark rounds per item.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    stat = "min"
    if len(argv) == 3 and argv[1] == "--stat" and argv[2] in ("min", "median", "mean"):
        stat = argv[2]
    elif len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as fh:
        print(table(json.load(fh), stat))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
