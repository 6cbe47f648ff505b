"""The services of the VRRP daemon, one module each; kvrrp.daemon.root orders them
(root.SERVICES). Optional services (status HTTP, SNMP, DBus, BGP, lvs_sync) are imported by the
root only when configured (kvrrp.daemon.optional)."""
