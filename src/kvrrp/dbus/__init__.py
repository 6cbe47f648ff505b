"""keepalived's DBus service (org.keepalived.Vrrp1), started only when global_defs has
`enable_dbus`: `paths` (pure: names, object paths, state codes) needs nothing; `service`
imports dbus-next, so nothing imports it unless the configuration asks for DBus."""
