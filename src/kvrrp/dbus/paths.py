"""Names, object paths and state codes of keepalived's DBus API, as keepalived/vrrp/vrrp_dbus.c
builds them (pure: no DBus library here).

An operator's scripts address keepalived's objects by these exact strings:

    /org/keepalived/Vrrp1[/<net_namespace>][/<instance>]/Vrrp
    /org/keepalived/Vrrp1[/<net_namespace>][/<instance>]/Instance/<interface>/<vrid>/<IPv4|IPv6>

where <interface> is the instance's configured interface (not its VMAC) with every character
that is not an ASCII letter or digit replaced by "_" (DBus path elements allow only
[A-Za-z0-9_]), or `dbus_no_interface_name` ("none") for an instance without one.
"""
from __future__ import annotations

SERVICE_NAME = "org.keepalived.Vrrp1"
VRRP_INTERFACE = "org.keepalived.Vrrp1.Vrrp"
INSTANCE_INTERFACE = "org.keepalived.Vrrp1.Instance"
OBJECT_ROOT = "/org/keepalived/Vrrp1"
NO_INTERFACE_NAME = "none"

# keepalived's VRRP_STATE_* values (vrrp.h): VrrpStatusChange's `u` and State's first field
STATE_CODES = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "DELETED": 97, "STOP": 98}
# ... and State's second field (vrrp_dbus.c state_str)
STATE_WORDS = {"INIT": "Init", "BACKUP": "Backup", "MASTER": "Master", "FAULT": "Fault",
               "DELETED": "Deleted", "STOP": "Stop"}


def path_element(text: str) -> str:
    """keepalived's set_valid_path: every byte that is not an ASCII letter or digit becomes
    "_" (bytes, as keepalived walks the C string: a two-byte UTF-8 letter gives "__")."""
    raw = text.encode("utf-8", "surrogateescape")
    return "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else "_" for b in raw)


def family_word(family: int) -> str:
    return {4: "IPv4", 6: "IPv6"}.get(family, "None")


def object_prefix(net_namespace: str | None, instance_name: str | None) -> str:
    """/org/keepalived/Vrrp1, then the network namespace and the `instance` name when set
    (keepalived puts them in verbatim; a character DBus refuses is replaced here as in
    interface names, so the objects can always be registered)."""
    parts = [OBJECT_ROOT]
    for extra in (net_namespace, instance_name):
        if extra:
            parts.append(path_element(extra))
    return "/".join(parts)


def vrrp_path(prefix: str) -> str:
    return f"{prefix}/Vrrp"


def instance_path(prefix: str, ifname: str, vrid: int, family: int) -> str:
    return f"{prefix}/Instance/{path_element(ifname)}/{vrid}/{family_word(family)}"


def state_code(state_name: str, notify_deleted: bool = True) -> int | None:
    """The `u` VrrpStatusChange carries for a state the engine reports (upper-case name);
    None for one keepalived never signals. A deleted instance without notify_deleted signals
    FAULT, keepalived's older way (send_instance_notifies)."""
    if state_name == "DELETED" and not notify_deleted:
        state_name = "FAULT"
    return STATE_CODES.get(state_name)


def state_value(state_name: str) -> tuple[int, str]:
    """The State property: (code, word), keepalived's "(us)"."""
    return STATE_CODES.get(state_name, 0), STATE_WORDS.get(state_name, "Unknown")
