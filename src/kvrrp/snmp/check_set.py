"""The writable object of the checker's MIB, as keepalived's check_snmp.c has it:
realServerWeight (realServerTable column 7), an INTEGER. The real server's weight changes at
once (CheckerEngine.set_weight: IPVS and the quorum follow, a checker's later weight change
applies on top of it, as keepalived's update_svr_wgt); a reload keeps it while the real server
stays in the configuration. The sorry server's row (the first of a virtual server that has
one) has no weight and is notWritable, as are every other object, the global branch, a row
that does not exist, and a value that is not an INTEGER is wrongType.

One difference: keepalived reads only the low byte of the value (so 300 becomes 44, -1 255)
and refuses nothing; kvrrp takes IPVS's whole weight range 0..65535 and refuses the rest with
wrongValue. 0..255 behave the same in both.
"""
from __future__ import annotations

from typing import Any

from kvrrp.snmp import agentx
from kvrrp.snmp.agentx import VarBind
from kvrrp.snmp.check_mib import RS_COL
from kvrrp.snmp.settx import Change

WEIGHT = 7
WEIGHT_MAX = 65535


def check(engine: Any, vb: VarBind) -> int | Change:
    """TestSet of one varbind: an SNMP error, or the change to make at CommitSet."""
    from healthcheck.health import iter_real_servers

    n = len(RS_COL)
    if vb.oid[:n] != RS_COL or len(vb.oid) != n + 3 or vb.oid[n] != WEIGHT:
        return agentx.NOT_WRITABLE
    vs_index, rs_index = vb.oid[n + 1], vb.oid[n + 2]
    servers = engine.config.virtual_servers
    if not 1 <= vs_index <= len(servers):
        return agentx.NOT_WRITABLE
    vs = servers[vs_index - 1]
    rows = [None] * (vs.sorry_server is not None) + [rid for rid, _rs in iter_real_servers(vs)]
    if not 1 <= rs_index <= len(rows) or rows[rs_index - 1] is None:
        return agentx.NOT_WRITABLE          # no such row, or the sorry server's
    if vb.type != agentx.INTEGER:
        return agentx.WRONG_TYPE
    if not 0 <= vb.value <= WEIGHT_MAX:
        return agentx.WRONG_VALUE
    rid, weight = rows[rs_index - 1], vb.value

    def commit():
        previous = engine.set_weight(rid, weight)     # KeyError when a reload removed it since TestSet
        return lambda: engine.restore_weight(rid, previous)
    return commit
