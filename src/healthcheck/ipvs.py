"""Reconcile the kernel's IPVS table with the desired one, touching only what kvrrp owns.

Three parts:

* `IpvsKernel` - the narrow seam to the kernel (dump / add / set / delete / flush, and
  `apply(ops)`: many operations in one batch, one result per operation).
  `healthcheck.ipvs_netlink.PyrouteKernel` implements it on the real kernel (pyroute2 opens the
  family; messages packed by `healthcheck.ipvs_wire`, batched, inside the event loop);
  `healthcheck.fakekernel.FakeKernel` implements it in memory for tests.
* `diff(current, desired, owned)` - pure: the operations that turn `current` into `desired`
  without touching services or destinations kvrrp does not own.
* `Reconciler` - keeps a mirror of the kernel table (dumped once at start, then updated by
  every applied operation), applies diffs, tracks ownership across reloads, flushes or cleans
  up on stop.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import astuple, dataclass, field
from typing import Iterable, Protocol, Sequence

from healthcheck.table import (
    FWD_NAMES,
    Dest,
    DestKey,
    Service,
    ServiceKey,
    Table,
)

log = logging.getLogger("kvrrp.healthcheck.ipvs")

ADD_SERVICE = "add_service"
SET_SERVICE = "set_service"
DEL_SERVICE = "del_service"
ADD_DEST = "add_dest"
SET_DEST = "set_dest"
DEL_DEST = "del_dest"
_ORDER = {DEL_DEST: 0, DEL_SERVICE: 1, ADD_SERVICE: 2, SET_SERVICE: 3, ADD_DEST: 4, SET_DEST: 5}


@dataclass(frozen=True, slots=True)
class Op:
    kind: str
    service: ServiceKey
    svc: Service | None = None          # add/set service
    dest: Dest | None = None            # add/set dest
    dest_key: DestKey | None = None     # del dest

    def __str__(self) -> str:
        if self.kind in (ADD_DEST, SET_DEST):
            assert self.dest is not None
            return f"{self.kind} {self.dest.key} weight {self.dest.weight} to {self.service}"
        if self.kind == DEL_DEST:
            return f"{self.kind} {self.dest_key} from {self.service}"
        return f"{self.kind} {self.service}"


class IpvsKernel(Protocol):
    async def dump(self) -> Table: ...
    async def dump_stats(self) -> dict: ...   # {ServiceKey: (stats, {DestKey: stats})}: traffic counters
    async def apply(self, ops: Sequence[Op]) -> list[Exception | None]: ...   # in order, one result per op
    async def add_service(self, svc: Service) -> None: ...
    async def set_service(self, svc: Service) -> None: ...
    async def del_service(self, key: ServiceKey) -> None: ...
    async def add_dest(self, svc: ServiceKey, dest: Dest) -> None: ...
    async def set_dest(self, svc: ServiceKey, dest: Dest) -> None: ...
    async def del_dest(self, svc: ServiceKey, dest: DestKey) -> None: ...
    async def flush(self) -> None: ...
    async def set_timeouts(self, tcp: int | None, tcpfin: int | None, udp: int | None) -> None: ...
    async def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# pure diff


@dataclass(slots=True)
class Ownership:
    services: set[ServiceKey] = field(default_factory=set)
    dests: set[tuple[ServiceKey, DestKey]] = field(default_factory=set)

    def union(self, other: Ownership) -> Ownership:
        return Ownership(self.services | other.services, self.dests | other.dests)

    def view_with(self, other: Ownership) -> Ownership:
        """Both at once without copying (a no-op pass must not copy 10,000-entry sets)."""
        if self.services is other.services and self.dests is other.dests:
            return self
        return Ownership(_Either(self.services, other.services), _Either(self.dests, other.dests))  # type: ignore[arg-type]


class _Either:
    __slots__ = ("a", "b")

    def __init__(self, a, b) -> None:
        self.a, self.b = a, b

    def __contains__(self, item: object) -> bool:
        return item in self.a or item in self.b


def diff(current: Table, desired: Table, owned: Ownership) -> list[Op]:
    """Operations turning `current` into `desired`, leaving foreign entries alone.

    A destination is deleted only when kvrrp owns it (declared by the config now or before a
    reload), or when its whole service is kvrrp's and is being deleted anyway."""
    ops: list[Op] = []
    for key, want in desired.entries.items():
        have = current.entries.get(key)
        if have is None:
            ops.append(Op(ADD_SERVICE, key, svc=want.service))
            ops.extend(Op(ADD_DEST, key, dest=d) for d in want.dests.values())
            continue
        if have.service is not want.service and not have.service.same_attrs(want.service):
            ops.append(Op(SET_SERVICE, key, svc=want.service))
        if have.dests == want.dests:
            continue        # C-speed: the same Dest objects (identity) or equal in every field
        for dk, d in want.dests.items():
            cur = have.dests.get(dk)
            if cur is None:
                ops.append(Op(ADD_DEST, key, dest=d))
            elif not cur.same_attrs(d):
                ops.append(Op(SET_DEST, key, dest=d))
        for dk in have.dests:
            if dk not in want.dests and (key, dk) in owned.dests:
                ops.append(Op(DEL_DEST, key, dest_key=dk))
    for key in current.entries:
        if key not in desired.entries and key in owned.services:
            ops.append(Op(DEL_SERVICE, key))
    ops.sort(key=lambda op: _ORDER[op.kind])
    return ops


def apply_to_table(table: Table, op: Op) -> None:
    """Mirror one applied operation into an in-memory table."""
    if op.kind in (ADD_SERVICE, SET_SERVICE):
        assert op.svc is not None
        table.add_service(op.svc)
    elif op.kind == DEL_SERVICE:
        table.entries.pop(op.service, None)
    elif op.kind in (ADD_DEST, SET_DEST):
        assert op.dest is not None
        table.entries[op.service].dests[op.dest.key] = op.dest
    elif op.kind == DEL_DEST:
        entry = table.entries.get(op.service)
        if entry is not None:
            entry.dests.pop(op.dest_key, None)  # type: ignore[arg-type]


async def apply_one_by_one(kernel: IpvsKernel, ops: Sequence[Op]) -> list[Exception | None]:
    """`IpvsKernel.apply` for kernels without batching (the fake kernel): the single verbs in
    order, every error in its operation's slot."""
    out: list[Exception | None] = []
    for op in ops:
        try:
            if op.kind == ADD_SERVICE:
                await kernel.add_service(op.svc)  # type: ignore[arg-type]
            elif op.kind == SET_SERVICE:
                await kernel.set_service(op.svc)  # type: ignore[arg-type]
            elif op.kind == DEL_SERVICE:
                await kernel.del_service(op.service)
            elif op.kind == ADD_DEST:
                await kernel.add_dest(op.service, op.dest)  # type: ignore[arg-type]
            elif op.kind == SET_DEST:
                await kernel.set_dest(op.service, op.dest)  # type: ignore[arg-type]
            elif op.kind == DEL_DEST:
                await kernel.del_dest(op.service, op.dest_key)  # type: ignore[arg-type]
            else:
                raise ValueError(f"unknown IPVS operation {op.kind!r}")
        except Exception as exc:  # noqa: BLE001 - reported per operation
            out.append(exc)
            continue
        out.append(None)
    return out


# ---------------------------------------------------------------------------------------------
# reconciler


@dataclass(slots=True)
class ApplyResult:
    applied: list[Op] = field(default_factory=list)
    failed: list[tuple[Op, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


class Reconciler:
    """Applies desired tables to a kernel, owning only what configs declared.

    In-process API (also what the VM tests drive):
        rec = Reconciler(kernel)
        await rec.start(flush=False)            # dump the kernel (or flush it: lvs_flush)
        await rec.reconcile(desired, declared)  # -> ApplyResult; only the difference is applied
        await rec.stop(keep=False)              # delete kvrrp's own services (or keep them)
    """

    def __init__(self, kernel: IpvsKernel, *, state_file: str | None = None) -> None:
        self.kernel = kernel
        self.mirror = Table()
        self.owned = Ownership()
        self._declared: Ownership | None = None  # the declared object self.owned was taken from
        self.state_file = state_file
        self.counters = {k: 0 for k in _ORDER} | {"errors": 0, "reconciles": 0}

    async def start(self, *, flush: bool = False) -> None:
        if flush:
            log.info("Flushing IPVS table (lvs_flush)")
            await self.kernel.flush()
            self.mirror = Table()
        else:
            self.mirror = await self.kernel.dump()
            # what an earlier run (killed, or stopped with keep) owned is still ours to remove
            self.owned = self.owned.union(load_ownership(self.state_file))
            self._declared = None

    async def resync(self) -> None:
        """Re-read the kernel (after an error or on demand)."""
        self.mirror = await self.kernel.dump()

    def plan(self, desired: Table, declared: Ownership) -> list[Op]:
        return diff(self.mirror, desired, self.owned.view_with(declared))

    async def reconcile(self, desired: Table, declared: Ownership) -> ApplyResult:
        """Apply the difference between the kernel and ``desired``.

        ``declared`` is what the current config can put in the kernel; entries declared by an
        earlier config (before a reload) are still owned, so they are removed when gone."""
        self.counters["reconciles"] += 1
        ops = self.plan(desired, declared)
        result = await self.apply(ops)
        if result.ok:
            # the same declared object as last time (callers never mutate one they passed):
            # ownership is unchanged, no set comparison of every entry
            if declared is not self._declared:
                changed = (self.owned.services != declared.services or self.owned.dests != declared.dests)
                self.owned = Ownership(set(declared.services), set(declared.dests))
                self._declared = declared
                if changed:
                    save_ownership(self.state_file, self.owned)
        else:
            # keep old ownership so the next pass retries removals; re-read the truth
            self.owned = self.owned.union(declared)
            self._declared = None
            try:
                await self.resync()
            except Exception as exc:  # noqa: BLE001 - a failed dump must not kill the checker
                log.warning("IPVS dump after failed apply: %s", exc)
        return result

    async def reconcile_services(self, desired: Table, keys: Iterable[ServiceKey]) -> ApplyResult:
        """Like reconcile, limited to the services ``keys`` (the ones whose state changed);
        ownership is unchanged. Cheap enough to run on every health transition."""
        self.counters["reconciles"] += 1
        cur, want = Table(), Table()
        for key in keys:
            entry = self.mirror.entries.get(key)
            if entry is not None:
                cur.entries[key] = entry
            entry = desired.entries.get(key)
            if entry is not None:
                want.entries[key] = entry
        result = await self.apply(diff(cur, want, self.owned))
        if not result.ok:
            try:
                await self.resync()
            except Exception as exc:  # noqa: BLE001 - a failed dump must not kill the checker
                log.warning("IPVS dump after failed apply: %s", exc)
        return result

    async def apply(self, ops: Iterable[Op]) -> ApplyResult:
        """Send ``ops`` in one batched call to the kernel; each failing operation is counted,
        logged and reported in ``failed`` (the callers re-read the kernel and retry)."""
        result = ApplyResult()
        ops = list(ops)
        if not ops:
            return result
        try:
            outcomes = await self.kernel.apply(ops)
        except Exception as exc:  # noqa: BLE001 - the whole batch failed (socket gone...)
            outcomes = [exc] * len(ops)
        for op, exc in zip(ops, outcomes):
            if exc is not None:
                self.counters["errors"] += 1
                log.error("IPVS %s failed: %s", op, exc)
                result.failed.append((op, str(exc)))
                continue
            self.counters[op.kind] += 1
            apply_to_table(self.mirror, op)
            result.applied.append(op)
            _log_op(op)
        return result

    async def stop(self, *, keep: bool = False, flush: bool = False) -> ApplyResult:
        """On shutdown: flush everything (lvs_flush_on_stop), delete kvrrp's own services
        (default), or leave the table as it is (keep)."""
        if flush:
            log.info("Flushing IPVS table on stop (lvs_flush_on_stop)")
            await self.kernel.flush()
            self.mirror = Table()
            return ApplyResult()
        if keep:
            return ApplyResult()
        ops = [Op(DEL_SERVICE, key) for key in self.mirror.entries if key in self.owned.services]
        result = await self.apply(ops)
        if result.ok:
            save_ownership(self.state_file, None)
        return result


def save_ownership(path: str | None, owned: Ownership | None) -> None:
    """Persist what kvrrp owns (atomically), so a restart after a crash or a `keep` stop can
    still remove entries the new config no longer declares. None removes the file."""
    if not path:
        return
    try:
        if owned is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        data = {"services": [list(astuple(k)) for k in sorted(owned.services)],
                "dests": [[list(astuple(s)), list(astuple(d))] for s, d in sorted(owned.dests)]}
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("IPVS ownership file %s: %s", path, exc)


def load_ownership(path: str | None) -> Ownership:
    if not path or not os.path.exists(path):
        return Ownership()
    try:
        with open(path) as f:
            data = json.load(f)
        services = {ServiceKey(*k) for k in data["services"]}
        dests = {(ServiceKey(*s), DestKey(*d)) for s, d in data["dests"]}
        return Ownership(services, dests)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("IPVS ownership file %s unreadable, ignored: %s", path, exc)
        return Ownership()


def _log_op(op: Op) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    if op.kind == ADD_DEST:
        log.debug("Adding service %s to VS %s", op.dest.key, op.service)  # type: ignore[union-attr]
    elif op.kind == DEL_DEST:
        log.debug("Removing service %s from VS %s", op.dest_key, op.service)
    elif op.kind == SET_DEST:
        d = op.dest
        log.debug("Setting service %s of VS %s: weight %d, %s", d.key, op.service, d.weight,  # type: ignore[union-attr]
                 FWD_NAMES.get(d.fwd, d.fwd))  # type: ignore[union-attr]
    elif op.kind == ADD_SERVICE:
        log.debug("Adding VS %s", op.service)
    elif op.kind == DEL_SERVICE:
        log.debug("Removing VS %s", op.service)
    elif op.kind == SET_SERVICE:
        log.debug("Updating VS %s", op.service)


class IpvsUnavailable(OSError):
    """The kernel has no IPVS (module not loaded / not built)."""
