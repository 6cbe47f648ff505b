"""keepalived's DBus names and paths (kvrrp.dbus.paths, pure) and the three global_defs
keywords: typed in the model, no longer reported as not implemented by `kvrrp -t`."""
from __future__ import annotations

import pytest

from kvrrp.config import load
from kvrrp.config.support import NOT_IMPLEMENTED
from kvrrp.dbus import paths


def test_paths_are_keepalived_strings():
    prefix = paths.object_prefix(None, None)
    assert prefix == "/org/keepalived/Vrrp1"
    assert paths.vrrp_path(prefix) == "/org/keepalived/Vrrp1/Vrrp"
    assert paths.instance_path(prefix, "eth0", 51, 4) == "/org/keepalived/Vrrp1/Instance/eth0/51/IPv4"
    assert paths.instance_path(prefix, "eth0", 7, 6) == "/org/keepalived/Vrrp1/Instance/eth0/7/IPv6"
    # set_valid_path: anything but an ASCII letter or digit becomes "_" (VLANs, dashes, é)
    assert paths.instance_path(prefix, "bond0.100", 1, 4) == "/org/keepalived/Vrrp1/Instance/bond0_100/1/IPv4"
    assert paths.path_element("br-lan.é") == "br_lan___"      # é is two bytes, as keepalived sees it
    # net_namespace and the top-level `instance` name sit between the root and the objects
    assert paths.vrrp_path(paths.object_prefix("blue", "lb1")) == "/org/keepalived/Vrrp1/blue/lb1/Vrrp"
    assert paths.vrrp_path(paths.object_prefix(None, "lb-1")) == "/org/keepalived/Vrrp1/lb_1/Vrrp"


@pytest.mark.parametrize("state, deleted, code", [
    ("INIT", False, 0), ("BACKUP", False, 1), ("MASTER", False, 2), ("FAULT", False, 3),
    ("STOP", False, 98), ("DELETED", True, 97), ("DELETED", False, 3),   # keepalived's old way
])
def test_state_codes_are_keepalived_values(state, deleted, code):
    assert paths.state_code(state, notify_deleted=deleted) == code


def test_state_property_words():
    assert paths.state_value("MASTER") == (2, "Master")
    assert paths.state_value("BACKUP") == (1, "Backup")
    assert paths.state_value("STOP") == (98, "Stop")


def test_keywords_are_typed_and_implemented(tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text("global_defs {\n  enable_dbus\n  dbus_service_name org.keepalived.Vrrp1.lb2\n"
                    "  dbus_no_interface_name noif\n}\n"
                    "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n"
                    "  virtual_ipaddress {\n    198.18.0.200\n  }\n}\n")
    result = load(str(conf), None)
    g = result.config.global_defs
    assert (g.enable_dbus, g.dbus_service_name, g.dbus_no_interface_name) == (
        True, "org.keepalived.Vrrp1.lb2", "noif")
    assert not [d for d in result.diagnostics if "dbus" in d.message.lower()]
    assert not [k for k in NOT_IMPLEMENTED if "dbus" in k[1]]


def test_a_missing_service_name_is_reported(tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text("global_defs {\n  dbus_service_name\n}\n")
    result = load(str(conf), None)
    assert [d for d in result.diagnostics if "dbus_service_name" in d.message]
    assert result.config.global_defs.dbus_service_name is None
