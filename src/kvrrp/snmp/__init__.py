"""SNMP: keepalived's KEEPALIVED-MIB, VRRP-MIB (RFC 2787) and VRRPv3-MIB (RFC 6527) served as an
AgentX subagent of net-snmp's snmpd, and the traps keepalived sends (docs/snmp.md).

Imported only when the configuration enables SNMP (enable_snmp_* / -x): agentx (the RFC 2741
codec), mibview (Get/GetNext/GetBulk over sorted OIDs), subagent (the asyncio session),
vrrp_mib / check_mib (the tables and traps), vrrp_agent / check_agent (the daemons' wiring).
"""
