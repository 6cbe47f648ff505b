"""VrrpSnmpAgent's trap decisions without a master agent (notifications wait in the subagent's
queue): which transitions trap, sync group traps once per group state, one auth-failure /
protocol-error trap per bad advert (as keepalived), the queue bounding a flood, and nothing
at all without enable_traps; which sets it takes."""
from __future__ import annotations

from types import SimpleNamespace

from kvrrp.config import parse_text
from kvrrp.snmp import vrrp_mib
from kvrrp.snmp.agentx import SNMP_TRAP_OID_0
from kvrrp.snmp.vrrp_agent import SnmpSettings, VrrpSnmpAgent
from kvrrp.vrrp.fsm import State
from kvrrp.vrrp.stats import InstanceStats

CONF = """global_defs {{
 router_id r1
 {traps}
}}
vrrp_sync_group G {{
 group {{
  A
  B
 }}
}}
vrrp_instance A {{
 interface lo
 virtual_router_id 1
 authentication {{
  auth_type PASS
  auth_pass x
 }}
 virtual_ipaddress {{
  198.18.0.1
 }}
}}
vrrp_instance B {{
 interface lo
 version 3
 virtual_router_id 2
 virtual_ipaddress {{
  198.18.0.2
 }}
}}
"""


def fake_engine(config):
    instances = {}
    for m in config.instances:
        settings = SimpleNamespace(name=m.name, ifname="lo", vrid=m.vrid, family=4, version=m.version,
                                   vips=(object(),), priority=100)
        instances[m.name] = SimpleNamespace(name=m.name, settings=settings, stats=InstanceStats(), state=State.BACKUP,
                                            own_address="198.18.0.10", master_address=None)
    return SimpleNamespace(instances=instances, sync_groups={}, add_transition_listener=lambda cb: None,
                           remove_transition_listener=lambda cb: None)


def agent(traps: bool = True) -> tuple[VrrpSnmpAgent, SimpleNamespace]:
    config = parse_text(CONF.format(traps="enable_traps" if traps else ""), filename="t.conf", config_id="h").config
    engine = fake_engine(config)
    settings = SnmpSettings(vrrp=True, checker=False, rfcv2=True, rfcv3=True, traps=traps, socket="unix:/nowhere")
    a = VrrpSnmpAgent(engine, config, settings, checker_serves_global=False, version="kvrrp test")
    return a, engine


def sent(a: VrrpSnmpAgent) -> list[tuple]:
    return [vbs[0].value for vbs in a.subagent._queue if vbs[0].oid == SNMP_TRAP_OID_0]


def test_transitions_trap_like_keepalived():
    a, engine = agent()
    a.on_transition("A", State.INIT, State.BACKUP, "startup", 100)
    a.on_transition("B", State.INIT, State.BACKUP, "startup", 100)
    assert sent(a) == [vrrp_mib.TRAP_INSTANCE_STATE, vrrp_mib.TRAP_INSTANCE_STATE, vrrp_mib.TRAP_SYNC_GROUP_STATE]
    engine.instances["A"].state = State.MASTER
    a.on_transition("A", State.BACKUP, State.MASTER, "master down timer expired", 100)
    engine.instances["B"].state = State.MASTER
    a.on_transition("B", State.BACKUP, State.MASTER, "sync group to MASTER", 100)
    # A (v2) sends both new-master traps: keepalived's default build (_SNMP_REPLY_V3_FOR_V2_)
    # serves VRRPv2 instances in VRRPv3-MIB too
    assert sent(a)[3:] == [vrrp_mib.TRAP_INSTANCE_STATE, vrrp_mib.TRAP_NEW_MASTER,        # A: v2
                           vrrp_mib.TRAP_V3_NEW_MASTER,
                           vrrp_mib.TRAP_INSTANCE_STATE, vrrp_mib.TRAP_V3_NEW_MASTER,     # B: v3
                           vrrp_mib.TRAP_SYNC_GROUP_STATE]                                # G: all MASTER
    assert a._master_reason == {"A": 3, "B": 3}           # B was pulled along: A's reason
    assert a.traps_sent == {"vrrpInstanceStateChange": 4, "vrrpSyncGroupStateChange": 2,
                            "vrrpTrapNewMaster": 1, "vrrpv3NewMaster": 2}


def test_no_traps_without_enable_traps():
    a, engine = agent(traps=False)
    a.on_transition("A", State.BACKUP, State.MASTER, "master down timer expired", 100)
    a.on_drop("A", "auth_failure", "198.18.0.99")
    a.on_drop("B", "ip_ttl", "198.18.0.99")
    assert sent(a) == [] and a._master_reason == {"A": 3}      # the MIB still learns the reason
    assert a._proto_error == {"B": 1}                          # ... and the protocol error


def test_one_trap_per_bad_advert():
    a, engine = agent()
    for _ in range(10):
        a.on_drop("A", "auth_failure", "198.18.0.99")
        a.on_drop("B", "checksum", "198.18.0.98")
    assert sent(a) == [vrrp_mib.TRAP_AUTH_FAILURE, vrrp_mib.TRAP_V3_PROTO_ERROR] * 10
    auth, proto = list(a.subagent._queue)[:2]
    assert auth[1].value == bytes((198, 18, 0, 99)) and auth[2].value == 3           # authFailure
    assert proto[1].value == 3 and a._proto_error == {"B": 3}                         # checksumError
    a.on_drop("A", "invalid_auth_type", "198.18.0.97")
    a.on_drop("A", "auth_type_mismatch", "198.18.0.97")
    a.on_drop("B", "version", "198.18.0.97")
    a.on_drop("B", "ip_ttl", "198.18.0.97")
    a.on_drop("A", "address_list", "198.18.0.97")       # no trap for these, in keepalived neither
    a.on_drop("B", "interval", "198.18.0.97")
    a.on_drop("gone", "auth_failure", "198.18.0.97")    # an instance a reload removed meanwhile
    tail = list(a.subagent._queue)[20:]
    assert [vbs[2].value for vbs in tail[:2]] == [1, 2]                                # invalidAuthType, mismatch
    assert [vbs[1].value for vbs in tail[2:]] == [2, 1]                                # versionError, ipTtlError
    assert a.traps_sent == {"vrrpTrapAuthFailure": 12, "vrrpv3ProtoError": 12}
    assert a._proto_error == {"B": 1}


def test_a_flood_of_bad_adverts_is_bounded_by_the_queue():
    a, engine = agent()
    for _ in range(1000):
        a.on_drop("A", "auth_failure", "198.18.0.99")
    assert len(a.subagent._queue) == 256 and a.subagent.counters["notifies_dropped"] == 744
    assert a.traps_sent == {"vrrpTrapAuthFailure": 1000}
