"""A read-only MIB view: sorted OIDs and their values, and the AgentX Get / GetNext / GetBulk
answers over it (RFC 2741 7.2.3). Pure: the tables are built elsewhere (vrrp_mib, check_mib).

Rows are given as (object, index, type, value): the object is the column (or scalar) OID and
the index the instance part (0 for a scalar), so a Get on a missing row of a known column is
noSuchInstance and a Get on anything else noSuchObject, as an SNMP agent answers.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any, Iterable

from kvrrp.snmp.agentx import END_OF_MIB_VIEW, NO_SUCH_INSTANCE, NO_SUCH_OBJECT, Oid, SearchRange, VarBind

Row = tuple[Oid, Oid, int, Any]
MAX_BULK_REPETITIONS = 64   # bounds one GetBulk's work whatever the manager asked for


class MibView:
    def __init__(self, rows: Iterable[Row] = ()) -> None:
        values: dict[Oid, tuple[int, Any]] = {}
        objects: set[Oid] = set()
        for obj, index, vtype, value in rows:
            if value is None:
                continue            # a column with no value in this row (keepalived: not returned)
            values[obj + index] = (vtype, value)
            objects.add(obj)
        self._values = values
        self._objects = objects
        self._oids = sorted(values)

    def __len__(self) -> int:
        return len(self._oids)

    def oids(self) -> list[Oid]:
        return list(self._oids)

    def get(self, oid: Oid) -> VarBind:
        found = self._values.get(oid)
        if found is not None:
            return VarBind(oid, *found)
        if any(oid[:n] in self._objects for n in range(1, len(oid))):
            return VarBind(oid, NO_SUCH_INSTANCE)
        return VarBind(oid, NO_SUCH_OBJECT)

    def next(self, rng: SearchRange) -> VarBind:
        """The first OID in [start, end) (start excluded unless rng.include)."""
        oids = self._oids
        i = bisect_left(oids, rng.start) if rng.include else bisect_right(oids, rng.start)
        if i < len(oids) and (not rng.end or oids[i] < rng.end):
            oid = oids[i]
            return VarBind(oid, *self._values[oid])
        return VarBind(rng.start, END_OF_MIB_VIEW)


def answer_get(view: MibView, ranges: list[SearchRange]) -> list[VarBind]:
    return [view.get(r.start) for r in ranges]


def answer_getnext(view: MibView, ranges: list[SearchRange]) -> list[VarBind]:
    return [view.next(r) for r in ranges]


def answer_getbulk(view: MibView, non_repeaters: int, max_repetitions: int,
                   ranges: list[SearchRange]) -> list[VarBind]:
    """RFC 2741 7.2.3.2: the first non_repeaters ranges once, then up to max_repetitions rows
    of the others, each continuing from the previous answer; stops early once every
    repeater has reached the end of the view."""
    non_repeaters = min(non_repeaters, len(ranges))
    out = [view.next(r) for r in ranges[:non_repeaters]]
    current = list(ranges[non_repeaters:])
    for _ in range(min(max_repetitions, MAX_BULK_REPETITIONS)):
        if not current:
            break
        row = [view.next(r) for r in current]
        out.extend(row)
        if all(vb.type == END_OF_MIB_VIEW for vb in row):
            break
        current = [SearchRange(vb.oid, r.end, False) for vb, r in zip(row, current)]
    return out
