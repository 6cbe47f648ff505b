"""In-memory `IpvsKernel` with the kernel's error behaviour, for tests on hosts without IPVS,
and the table of a checker told not to program IPVS (`kvrrp_bgp { ipvs off }`: anycast of
services listening on this host itself, docs/scale-out.md).

Records every mutating call in ``calls`` so tests can assert "no churn" or "only a set".
Errors mirror the kernel's: adding an existing entry -> EEXIST, touching a missing one ->
ENOENT (ESRCH for a missing service), like IPVS over netlink.
"""
from __future__ import annotations

import errno

from typing import Sequence

from healthcheck.ipvs import Op, apply_one_by_one
from healthcheck.ipvs_wire import STATS_FIELDS
from healthcheck.table import Dest, DestKey, Service, ServiceKey, Table


class FakeKernelError(OSError):
    pass


class FakeKernel:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table.copy() if table is not None else Table()
        self.calls: list[tuple[str, str]] = []
        self.fail_next: dict[str, int] = {}
        self.timeouts: dict[str, int] = {}
        self.batches: list[int] = []          # sizes of the apply() batches received
        # traffic counters a test puts in: {(service key, dest key or None): {field: value}}
        self.traffic: dict[tuple[ServiceKey, DestKey | None], dict[str, int]] = {}

    async def apply(self, ops: Sequence[Op]) -> list[Exception | None]:
        self._check_fail("apply")
        self.batches.append(len(ops))
        return await apply_one_by_one(self, ops)

    def _check_fail(self, name: str) -> None:
        n = self.fail_next.get(name, 0)
        if n:
            self.fail_next[name] = n - 1
            raise FakeKernelError(errno.EIO, f"injected failure in {name}")

    def _svc(self, key: ServiceKey):
        entry = self.table.entries.get(key)
        if entry is None:
            raise FakeKernelError(errno.ESRCH, f"no service {key}")
        return entry

    async def dump(self) -> Table:
        self._check_fail("dump")
        return self.table.copy()

    async def dump_stats(self) -> dict:
        """PyrouteKernel.dump_stats's shape: the counters a test set, zeros elsewhere."""
        self._check_fail("dump_stats")
        zero = dict.fromkeys(STATS_FIELDS, 0)
        out = {}
        for key, entry in self.table.entries.items():
            dests = {dk: {**zero, "active_conns": 0, "inactive_conns": 0, "persistent_conns": 0,
                          **self.traffic.get((key, dk), {})} for dk in entry.dests}
            out[key] = ({**zero, **self.traffic.get((key, None), {})}, dests)
        return out

    async def add_service(self, svc: Service) -> None:
        self._check_fail("add_service")
        if svc.key in self.table:
            raise FakeKernelError(errno.EEXIST, f"service {svc.key} exists")
        self.table.add_service(svc)
        self.calls.append(("add_service", str(svc.key)))

    async def set_service(self, svc: Service) -> None:
        self._check_fail("set_service")
        self._svc(svc.key).service = svc
        self.calls.append(("set_service", str(svc.key)))

    async def del_service(self, key: ServiceKey) -> None:
        self._check_fail("del_service")
        self._svc(key)
        del self.table.entries[key]
        self.calls.append(("del_service", str(key)))

    async def add_dest(self, svc: ServiceKey, dest: Dest) -> None:
        self._check_fail("add_dest")
        entry = self._svc(svc)
        if dest.key in entry.dests:
            raise FakeKernelError(errno.EEXIST, f"dest {dest.key} exists in {svc}")
        entry.dests[dest.key] = dest
        self.calls.append(("add_dest", f"{svc} {dest.key} w{dest.weight}"))

    async def set_dest(self, svc: ServiceKey, dest: Dest) -> None:
        self._check_fail("set_dest")
        entry = self._svc(svc)
        if dest.key not in entry.dests:
            raise FakeKernelError(errno.ENOENT, f"no dest {dest.key} in {svc}")
        entry.dests[dest.key] = dest
        self.calls.append(("set_dest", f"{svc} {dest.key} w{dest.weight}"))

    async def del_dest(self, svc: ServiceKey, dest: DestKey) -> None:
        self._check_fail("del_dest")
        entry = self._svc(svc)
        if dest not in entry.dests:
            raise FakeKernelError(errno.ENOENT, f"no dest {dest} in {svc}")
        del entry.dests[dest]
        self.calls.append(("del_dest", f"{svc} {dest}"))

    async def flush(self) -> None:
        self._check_fail("flush")
        self.table = Table()
        self.calls.append(("flush", ""))

    async def set_timeouts(self, tcp: int | None, tcpfin: int | None, udp: int | None) -> None:
        self._check_fail("set_timeouts")
        for name, value in (("tcp", tcp), ("tcpfin", tcpfin), ("udp", udp)):
            if value is not None:
                self.timeouts[name] = value
        self.calls.append(("set_timeouts", f"{tcp} {tcpfin} {udp}"))

    async def close(self) -> None:
        pass
