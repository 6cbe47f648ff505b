"""A read-only MIB view: sorted OIDs and their values, and the AgentX Get / GetNext / GetBulk
answers over it (RFC 2741 7.2.3). Pure: the tables are built elsewhere (vrrp_mib, check_mib).

Rows are given as (object, index, type, value): the object is the column (or scalar) OID and
the index the instance part (0 for a scalar), so a Get on a missing row of a known column is
noSuchInstance and a Get on anything else noSuchObject, as an SNMP agent answers.
"""
from __future__ import annotations

import inspect
import time
from bisect import bisect_left, bisect_right
from typing import Any, Awaitable, Callable, Iterable, Protocol

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


class View(Protocol):
    def get(self, oid: Oid) -> VarBind | Awaitable[VarBind]: ...
    def next(self, rng: SearchRange) -> VarBind | Awaitable[VarBind]: ...


Builder = Callable[[], "MibView | Awaitable[MibView]"]


class SubtreeViews:
    """Several disjoint subtrees, each a MibView made on demand by its own builder (which may be
    a coroutine: the VRRP process builds big tables in slices, letting the loop run between
    them) and kept for `ttl` seconds or until invalidate(): a Get or a walk in one table builds
    that table only, and the hundreds of GetNexts of one walk share one build."""

    def __init__(self, parts: list[tuple[Oid, Builder]], ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.parts = sorted(parts, key=lambda p: p[0])
        self.ttl = ttl
        self.clock = clock
        self._built: dict[Oid, tuple[float, MibView]] = {}
        self.builds = 0

    def invalidate(self) -> None:
        self._built.clear()

    async def _view(self, prefix: Oid, build: Builder) -> MibView:
        now = self.clock()
        found = self._built.get(prefix)
        if found is None or now - found[0] > self.ttl:
            view = build()
            if inspect.isawaitable(view):
                view = await view
            found = (now, view)
            self._built[prefix] = found
            self.builds += 1
        return found[1]

    async def get(self, oid: Oid) -> VarBind:
        for prefix, build in self.parts:
            if oid[:len(prefix)] == prefix:
                return (await self._view(prefix, build)).get(oid)
        return VarBind(oid, NO_SUCH_OBJECT)

    async def next(self, rng: SearchRange) -> VarBind:
        for prefix, build in self.parts:
            if rng.end and prefix >= rng.end:
                break
            if prefix < rng.start and rng.start[:len(prefix)] != prefix:
                continue                      # this subtree lies wholly before the start
            start, include = (rng.start, rng.include) if rng.start > prefix else (prefix, True)
            vb = (await self._view(prefix, build)).next(SearchRange(start, rng.end, include))
            if vb.type != END_OF_MIB_VIEW:
                return vb
        return VarBind(rng.start, END_OF_MIB_VIEW)


async def _answer(result: VarBind | Awaitable[VarBind]) -> VarBind:
    return await result if inspect.isawaitable(result) else result


async def answer_get(view: View, ranges: list[SearchRange]) -> list[VarBind]:
    return [await _answer(view.get(r.start)) for r in ranges]


async def answer_getnext(view: View, ranges: list[SearchRange]) -> list[VarBind]:
    return [await _answer(view.next(r)) for r in ranges]


async def answer_getbulk(view: View, non_repeaters: int, max_repetitions: int,
                         ranges: list[SearchRange]) -> list[VarBind]:
    """RFC 2741 7.2.3.2: the first non_repeaters ranges once, then up to max_repetitions rows
    of the others, each continuing from the previous answer; stops early once every
    repeater has reached the end of the view."""
    non_repeaters = min(non_repeaters, len(ranges))
    out = [await _answer(view.next(r)) for r in ranges[:non_repeaters]]
    current = list(ranges[non_repeaters:])
    for _ in range(min(max_repetitions, MAX_BULK_REPETITIONS)):
        if not current:
            break
        row = [await _answer(view.next(r)) for r in current]
        out.extend(row)
        if all(vb.type == END_OF_MIB_VIEW for vb in row):
            break
        current = [SearchRange(vb.oid, r.end, False) for vb, r in zip(row, current)]
    return out
