"""The checker as an AgentX subagent of a real snmpd: snmpwalk shows the virtual and real servers
(and the IPVS traffic columns), snmptrapd receives realServerStateChange and
virtualServerQuorumStateChange when a real server goes down and comes back, and keepalived's
shutdown traps when the checker stops.

The checker runs in-process on the fake IPVS kernel (this host has no IPVS; the traffic
counters are ones the test puts in the fake kernel), with real TCP_CHECKs against listeners on
127.0.0.1; snmpd, snmptrapd and the walks are net-snmp's own programs on 127.0.0.1. A walk
blocks, so it runs in a thread while the loop answers the master agent.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from healthcheck.daemon import CheckerDaemon
from healthcheck.fakekernel import FakeKernel
from snmp_tools import NetSnmp

pytestmark = [pytest.mark.timeout(120)]

WAIT = 15.0
K = ".1.3.6.1.4.1.9586.100.5"
VS = f"{K}.3.3.1"
RS = f"{K}.3.4.1"
TRAP_RS = f"{K}.3.5.0.1"
TRAP_QUORUM = f"{K}.3.5.0.2"

CONF = """
global_defs {{
  router_id snmp-checker
  enable_snmp_checker
  enable_traps
  snmp_socket unix:{socket}
  snmp_vs_stats_update_interval 0.1
}}
virtual_server 198.18.0.1 80 {{
  delay_loop 0.2
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  quorum 2
  sorry_server 198.18.1.9 8080
  real_server 198.18.1.1 80 {{
    weight 1
    TCP_CHECK {{
      connect_ip 127.0.0.1
      connect_port {p1}
      connect_timeout 1
      retry 0
      warmup 0
    }}
  }}
  real_server 198.18.1.2 81 {{
    weight 1
    TCP_CHECK {{
      connect_ip 127.0.0.1
      connect_port {p2}
      connect_timeout 1
      retry 0
      warmup 0
    }}
  }}
}}
"""


class Listener:
    def __init__(self) -> None:
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> "Listener":
        async def close(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.close()
        self.server = await asyncio.start_server(close, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


async def until(predicate, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return bool(await predicate())


async def test_walk_and_real_server_traps(tmp_path) -> None:
    a, b = await Listener().start(), await Listener().start()
    conf = tmp_path / "keepalived.conf"
    kernel = FakeKernel()
    with NetSnmp(str(tmp_path)) as snmp:
        conf.write_text(CONF.format(socket=snmp.socket, p1=a.port, p2=b.port))
        d = CheckerDaemon(str(conf), kernel=kernel, dump_file=str(tmp_path / "dump.json"))
        await d.start()
        try:
            async def walk(oid: str) -> dict[str, str]:
                return await asyncio.to_thread(snmp.walk, oid)

            async def both_up() -> bool:
                rows = await walk(f"{RS}.6")
                return rows.get(f"{RS}.6.1.2") == "INTEGER: 1" and rows.get(f"{RS}.6.1.3") == "INTEGER: 1"
            assert await until(both_up), (await walk(K), d.status())

            (svc, dest), = kernel_keys_of(d, "198.18.1.1")
            kernel.traffic[(svc, None)] = {"conns": 7, "inpkts": 100, "outbytes": 5 * 2 ** 32}
            kernel.traffic[(svc, dest)] = {"conns": 3, "inbps": 1200, "active_conns": 2, "inactive_conns": 1}
            await asyncio.sleep(0.2)            # older than snmp_vs_stats_update_interval
            rows = await walk(K)
            assert rows[f"{K}.1.2.0"] == 'STRING: "snmp-checker"'
            assert rows[f"{VS}.2.1"] == "INTEGER: 2"                                # ip
            assert rows[f"{VS}.6.1"] == "Hex-STRING: C6 12 00 01" and rows[f"{VS}.7.1"] == "Gauge32: 80"
            assert rows[f"{VS}.8.1"] == "INTEGER: 1" and rows[f"{VS}.9.1"] == "INTEGER: 2"   # tcp, wrr
            assert rows[f"{VS}.10.1"] == "INTEGER: 1"                               # NAT
            assert rows[f"{VS}.20.1"] == "Gauge32: 2" and rows[f"{VS}.21.1"] == "Gauge32: 2"
            assert rows[f"{VS}.22.1"] == "Gauge32: 2" and rows[f"{VS}.23.1"] == "INTEGER: 1"  # quorum met
            assert rows[f"{VS}.27.1"] == "Gauge32: 7" and rows[f"{VS}.28.1"] == "Counter32: 100"
            assert rows[f"{VS}.31.1"] == f"Counter64: {5 * 2 ** 32}"
            # real servers: the sorry server first, then the two in configuration order
            assert rows[f"{RS}.2.1.1"] == "INTEGER: 2" and rows[f"{RS}.5.1.1"] == "Gauge32: 8080"
            assert rows[f"{RS}.4.1.2"] == "Hex-STRING: C6 12 01 01" and rows[f"{RS}.5.1.3"] == "Gauge32: 81", {k: v for k, v in rows.items() if k.startswith(RS)}
            assert rows[f"{RS}.7.1.2"] == "INTEGER: 1" and rows[f"{RS}.13.1.2"] == "Gauge32: 0"
            assert rows[f"{RS}.14.1.2"] == "Gauge32: 3" and rows[f"{RS}.25.1.2"] == "Gauge32: 1200"
            assert rows[f"{RS}.14.1.3"] == "Gauge32: 0"
            assert rows[f"{RS}.15.1.2"] == "Gauge32: 2" and rows[f"{RS}.16.1.2"] == "Gauge32: 1"   # active, inactive
            assert rows[f"{RS}.17.1.2"] == "Gauge32: 0" and rows[f"{RS}.36.1.2"] == "Gauge32: 1200"
            assert rows[f"{RS}.61.1.2"] == "Counter64: 1200" and rows[f"{RS}.63.1.2"] == "Gauge32: 0"
            assert rows[f"{VS}.64.1"] == "Gauge32: 200000" and rows[f"{RS}.46.1.2"] == "Gauge32: 0"   # delay_loop 0.2

            await b.stop()                        # 198.18.1.2:81 goes down, the quorum with it
            assert await until(lambda: _true(len(snmp.traps_named(TRAP_RS)) >= 1
                                             and len(snmp.traps_named(TRAP_QUORUM)) >= 1)), snmp.traps()
            down = snmp.traps_named(TRAP_RS)[-1]
            assert down[f"{RS}.4"] == "Hex-STRING: C6 12 01 02" and down[f"{RS}.5"] == "Gauge32: 81"
            assert down[f"{RS}.6"] == "INTEGER: 2"                                  # dead
            assert down[f"{VS}.6"] == "Hex-STRING: C6 12 00 01" and down[f"{VS}.7"] == "Gauge32: 80"
            assert down[f"{VS}.21"] == "Gauge32: 1" and down[f"{VS}.20"] == "Gauge32: 2"
            assert down[f"{K}.1.2.0"] == 'STRING: "snmp-checker"'
            lost = snmp.traps_named(TRAP_QUORUM)[-1]
            assert lost[f"{VS}.23"] == "INTEGER: 2" and lost[f"{VS}.22"] == "Gauge32: 2"   # notMet
            rows = await walk(f"{RS}.6")
            assert rows[f"{RS}.6.1.3"] == "INTEGER: 2" and rows[f"{RS}.6.1.1"] == "INTEGER: 1"  # sorry in

            b.port = int(b.port)
            await b.start()                       # back on the same port
            assert await until(lambda: _true(len(snmp.traps_named(TRAP_RS)) >= 2
                                             and len(snmp.traps_named(TRAP_QUORUM)) >= 2)), snmp.traps()
            assert snmp.traps_named(TRAP_RS)[-1][f"{RS}.6"] == "INTEGER: 1"
            assert snmp.traps_named(TRAP_QUORUM)[-1][f"{VS}.23"] == "INTEGER: 1"
            assert d.status()["snmp"]["traps"] == {"realServerStateChange": 2, "virtualServerQuorumStateChange": 2}
        finally:
            await d.stop()
            await a.stop()
            await b.stop()
        # stopping: keepalived's shutdown traps, each live real server dead, then quorum shutdown(3)
        assert await until(lambda: _true(len(snmp.traps_named(TRAP_QUORUM)) >= 3)), snmp.traps()
        assert snmp.traps_named(TRAP_QUORUM)[-1][f"{VS}.23"] == "INTEGER: 3"
        gone = snmp.traps_named(TRAP_RS)[-2:]
        assert [t[f"{RS}.6"] for t in gone] == ["INTEGER: 2", "INTEGER: 2"]
        assert [t[f"{VS}.21"] for t in gone] == ["Gauge32: 1", "Gauge32: 0"]


async def _true(value: bool) -> bool:
    return value


def kernel_keys_of(d: CheckerDaemon, rs_ip: str) -> list:
    return [k for (vs_text, rs_text), keys in d.engine.kernel_keys().items() if rs_ip in rs_text for k in keys]


async def test_snmpset_real_server_weight(tmp_path) -> None:
    """keepalived's one writable check object, realServerWeight: snmpset (rwcommunity) changes
    the weight IPVS has at once; 0 on one of two real servers drops the live weight under the
    quorum (virtualServerQuorumStateChange notMet, the sorry server in); the sorry server's
    row, a missing row and another column are notWritable, a string wrongType, 70000
    wrongValue; a reload keeps the weight."""
    a, b = await Listener().start(), await Listener().start()
    conf = tmp_path / "keepalived.conf"
    kernel = FakeKernel()
    with NetSnmp(str(tmp_path)) as snmp:
        conf.write_text(CONF.format(socket=snmp.socket, p1=a.port, p2=b.port))
        d = CheckerDaemon(str(conf), kernel=kernel, dump_file=str(tmp_path / "dump.json"))
        await d.start()
        try:
            async def get(oid: str) -> str | None:
                return (await asyncio.to_thread(snmp.get, oid)).get(oid)

            async def set_(*triples):
                return await asyncio.to_thread(snmp.set, *triples)

            async def both_up() -> bool:
                return (await get(f"{RS}.6.1.2")) == "INTEGER: 1" and (await get(f"{RS}.6.1.3")) == "INTEGER: 1"
            assert await until(both_up), d.status()
            (svc, dest), = kernel_keys_of(d, "198.18.1.1")

            def kernel_weight() -> int | None:
                entry = kernel.table.entries.get(svc)
                found = entry.dests.get(dest) if entry is not None else None
                return None if found is None else found.weight

            assert kernel_weight() == 1
            r = await set_((f"{RS}.7.1.2", "i", "5"))
            assert r.rc == 0 and r.stdout.strip() == f"{RS}.7.1.2 = INTEGER: 5", r.stderr
            assert await get(f"{RS}.7.1.2") == "INTEGER: 5"
            assert await until(lambda: _true(kernel_weight() == 5)), kernel.table

            refused = [((f"{RS}.7.1.1", "i", "5"), "notWritable"),      # the sorry server
                       ((f"{RS}.7.1.4", "i", "5"), "notWritable"),      # no third real server
                       ((f"{RS}.8.1.2", "i", "5"), "notWritable"),      # upper threshold
                       ((f"{RS}.7.1.2", "s", "5"), "wrongType"),
                       ((f"{RS}.7.1.2", "i", "70000"), "wrongValue")]
            for triple, reason in refused:
                r = await set_(triple)
                assert (r.rc, r.reason, r.failed_object) == (2, reason, triple[0]), r.stderr
            assert await get(f"{RS}.7.1.2") == "INTEGER: 5"

            # weight 0 on 198.18.1.2: live weight 5 + 0 still meets quorum 2; 0 on both does not
            assert (await set_((f"{RS}.7.1.3", "i", "0"))).rc == 0
            assert (await set_((f"{RS}.7.1.2", "i", "1"))).rc == 0
            assert await until(lambda: _true(len(snmp.traps_named(TRAP_QUORUM)) >= 1)), snmp.traps()
            lost = snmp.traps_named(TRAP_QUORUM)[-1]
            assert lost[f"{VS}.23"] == "INTEGER: 2"                                 # notMet
            assert await get(f"{RS}.6.1.1") == "INTEGER: 1"                         # sorry server in
            assert (await set_((f"{RS}.7.1.3", "i", "1"))).rc == 0
            assert await until(lambda: _true(len(snmp.traps_named(TRAP_QUORUM)) >= 2)), snmp.traps()
            assert snmp.traps_named(TRAP_QUORUM)[-1][f"{VS}.23"] == "INTEGER: 1"

            assert (await set_((f"{RS}.7.1.2", "i", "9"))).rc == 0
            await d.reload()
            assert await get(f"{RS}.7.1.2") == "INTEGER: 9"
            assert await until(lambda: _true(kernel_weight() == 9)), kernel.table
        finally:
            await d.stop()
            await a.stop()
            await b.stop()


RELOAD_CONF = """
global_defs {{
  router_id {rid}
{snmp}
}}
virtual_server 198.18.0.1 80 {{
  delay_loop 30
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.18.1.1 80 {{
    weight {weight}
  }}
}}
"""


async def test_reload_follows_enable_snmp_checker_and_the_socket(tmp_path) -> None:
    """A reload starts the subagent (enable_snmp_checker added), keeps its session while only
    the tables change, moves it to another master (snmp_socket changed) and stops it (keyword
    removed): each master's walk shows the check branch exactly while it is served there."""
    conf = tmp_path / "keepalived.conf"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    def write(rid: str, snmp: str, weight: int = 1) -> None:
        conf.write_text(RELOAD_CONF.format(rid=rid, snmp=snmp, weight=weight))

    with NetSnmp(str(tmp_path / "a")) as one, NetSnmp(str(tmp_path / "b")) as two:
        async def served(snmp: NetSnmp, rid: str | None, weight: int = 1) -> bool:
            rows = await asyncio.to_thread(snmp.walk, K)
            if rid is None:
                return f"{VS}.2.1" not in rows and f"{K}.1.2.0" not in rows
            return (rows.get(f"{K}.1.2.0") == f'STRING: "{rid}"' and rows.get(f"{VS}.2.1") == "INTEGER: 2"
                    and rows.get(f"{RS}.7.1.1") == f"INTEGER: {weight}")

        write("no-snmp", "")
        d = CheckerDaemon(str(conf), kernel=FakeKernel(), dump_file=str(tmp_path / "dump.json"))
        await d.start()
        try:
            assert d.snmp is None and await served(one, None)
            write("on-a", f"  enable_snmp_checker\n  snmp_socket unix:{one.socket}")
            assert await d.reload()
            assert await until(lambda: served(one, "on-a")), await asyncio.to_thread(one.walk, K)
            session = d.snmp
            write("on-a", f"  enable_snmp_checker\n  snmp_socket unix:{one.socket}", weight=3)
            assert await d.reload()
            assert d.snmp is session                      # same socket: the session is kept
            assert await until(lambda: served(one, "on-a", weight=3))
            write("on-b", f"  enable_snmp_checker\n  snmp_socket {two.socket}")
            assert await d.reload()
            assert d.snmp is not session
            assert await until(lambda: served(two, "on-b")), await asyncio.to_thread(two.walk, K)
            assert await until(lambda: served(one, None)), await asyncio.to_thread(one.walk, K)
            write("off", f"  snmp_socket {two.socket}")
            assert await d.reload()
            assert d.snmp is None
            assert await until(lambda: served(two, None)), await asyncio.to_thread(two.walk, K)
            assert d.reloads.as_dict()["applied"] == 4 and d.reloads.as_dict()["failed"] == 0
        finally:
            await d.stop()
