"""The writable objects of the VRRP process's MIBs, as keepalived's vrrp_snmp.c has them.

keepalived (2.2.7 to 2.4, unchanged) gives write methods to two vrrpInstanceTable columns:

- vrrpInstanceBasePriority (.7): an INTEGER, 0 refused wrongValue; the base priority changes,
  the effective one is recomputed (vrrp_set_effective_priority) - kvrrp.vrrp.engine
  set_base_priority;
- vrrpInstancePreempt (.13): an INTEGER, enabled(1) / disabled(2), anything else wrongValue -
  set_preempt.

vrrpInstanceAccept (.27) of a VRRPv3 instance has a write method that refuses every value
noAccess (keepalived is built without ALLOW_SNMP_SET_ACCEPT); everything else - the other
columns (promote_secondaries and linkbeat are declared RWRITE but have no write method), the
other tables, the global branch and the RFC MIBs - is notWritable, as net-snmp answers for an
object without a write method, and so is a row that does not exist. A value that is not an
INTEGER is wrongType.

One difference: keepalived reads only the low byte of the value it is given (it dereferences
the long as a u_char), so it takes 300 as priority 44 and 257 as preempt enabled; kvrrp
refuses what is outside 1..255 (priority) or 1..2 (preempt) with wrongValue. The values both
refuse (0, 256 for the priority; 0, 3 for preempt) get the same error.

A committed value lasts until the next reload, which brings the configured one back (keepalived
builds its instances anew from the configuration).
"""
from __future__ import annotations

from typing import Any

from kvrrp.snmp import agentx
from kvrrp.snmp.agentx import VarBind
from kvrrp.snmp.settx import Change
from kvrrp.snmp.vrrp_mib import VRRP

INSTANCE_ENTRY = VRRP + (3, 1)
BASE_PRIORITY, PREEMPT, ACCEPT = 7, 13, 27


def check(engine: Any, vb: VarBind) -> int | Change:
    """TestSet of one varbind: an SNMP error, or the change to make at CommitSet."""
    n = len(INSTANCE_ENTRY)
    if vb.oid[:n] != INSTANCE_ENTRY or len(vb.oid) != n + 2:
        return agentx.NOT_WRITABLE
    column, index = vb.oid[n], vb.oid[n + 1]
    names = list(engine.instances)
    if not 1 <= index <= len(names):
        return agentx.NOT_WRITABLE          # net-snmp: no row, no write method
    name = names[index - 1]
    if column == ACCEPT and engine.instances[name].settings.version == 3:
        return agentx.NO_ACCESS
    if column not in (BASE_PRIORITY, PREEMPT):
        return agentx.NOT_WRITABLE
    if vb.type != agentx.INTEGER:
        return agentx.WRONG_TYPE
    value = vb.value
    if column == BASE_PRIORITY:
        if not 1 <= value <= 255:
            return agentx.WRONG_VALUE
        return _change(engine.set_base_priority, name, value)
    if value not in (1, 2):
        return agentx.WRONG_VALUE
    return _change(engine.set_preempt, name, value == 1)


def _change(setter: Any, name: str, value: Any) -> Change:
    def commit():
        old = setter(name, value)          # KeyError when a reload removed it since TestSet
        return lambda: setter(name, old)
    return commit
