"""The objects of keepalived's DBus API as dbus-next service interfaces (names and signatures
exactly as keepalived/dbus/org.keepalived.Vrrp1.*.xml), and the bus class that serves them.
What they do is the service's (kvrrp.dbus.service.DbusService, `service` below): an object
only holds its key and asks the service."""
import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbus_next import DBusError, ErrorType
from dbus_next.aio import MessageBus
from dbus_next.constants import PropertyAccess
from dbus_next.service import ServiceInterface, dbus_property, method, signal

from kvrrp.dbus import paths

if TYPE_CHECKING:
    from kvrrp.dbus.service import DbusService

log = logging.getLogger("kvrrp.dbus")


@dataclass(frozen=True)
class InstanceKey:
    """What an instance object stands for: keepalived resolves its objects by these."""

    name: str
    ifname: str            # the configured interface, or dbus_no_interface_name
    vrid: int
    family: int


class KeepalivedBus(MessageBus):
    """The system bus without dbus-next's org.freedesktop.DBus.ObjectManager InterfacesAdded /
    InterfacesRemoved signal for every export: keepalived sends none, and with thousands of
    instances they would be thousands of signals at start and at every reload."""

    def _emit_interface_added(self, path: str, interface: Any) -> None:
        return None

    def _emit_interface_removed(self, path: str, removed_interfaces: Any) -> None:
        return None


class VrrpObject(ServiceInterface):
    """org.keepalived.Vrrp1.Vrrp on .../Vrrp."""

    def __init__(self, service: "DbusService") -> None:
        super().__init__(paths.VRRP_INTERFACE)
        self._service = service

    @method()
    def PrintData(self):  # noqa: N802 - keepalived's member names
        log.info("Printing VRRP data on DBus request")
        self._service.actions.dump("data")

    @method()
    def PrintStats(self):  # noqa: N802
        log.info("Printing VRRP stats on DBus request")
        self._service.actions.dump("stats")

    @method()
    def PrintStatsClear(self):  # noqa: N802
        log.info("Printing and clearing VRRP stats on DBus request")
        self._service.actions.dump("stats", clear=True)

    @method()
    def ReloadConfig(self):  # noqa: N802
        # keepalived answers first, then signals its parent (SIGHUP): the reply never waits
        # for the reload
        log.info("Reloading configuration on DBus request")
        asyncio.get_running_loop().call_soon(self._service.actions.request_reload)

    # declared for introspection; DbusService sends them (without dbus-next's per-signal scan
    # of every exported object)
    @signal()
    def VrrpStarted(self):  # noqa: N802
        return None

    @signal()
    def VrrpReloaded(self):  # noqa: N802
        return None

    @signal()
    def VrrpStopped(self):  # noqa: N802
        return None


class VrrpObjectWithCreate(VrrpObject):
    """keepalived built with --enable-dbus-create-instance (kvrrp --dbus-create-instance): also
    CreateInstance / DestroyInstance, which only add and remove DBus objects (an object stands
    for the VRRP instance on its interface, VRID and family, when one runs there)."""

    @method()
    def CreateInstance(self, iname: "s", interface: "s", vrid: "u", family: "u"):  # noqa: N802, F821
        self._service.create_object(iname, interface, vrid, family)

    @method()
    def DestroyInstance(self, iname: "s"):  # noqa: N802, F821
        self._service.destroy_object(iname)


class InstanceObject(ServiceInterface):
    """org.keepalived.Vrrp1.Instance on .../Instance/<interface>/<vrid>/<family>."""

    def __init__(self, service: "DbusService", key: InstanceKey) -> None:
        super().__init__(paths.INSTANCE_INTERFACE)
        self._service = service
        self.key = key

    def _instance(self) -> Any:
        inst = self._service.resolve(self.key)
        if inst is None:
            k = self.key
            raise DBusError(ErrorType.INVALID_ARGS,
                            f"Instance '{k.ifname}/{k.vrid}/{paths.family_word(k.family)}' not found")
        return inst

    @method()
    def SendGarp(self):  # noqa: N802
        inst = self._instance()
        log.info("Sending garps on %s on DBus request", inst.name)
        self._service.actions.engine.send_garp(inst.name)

    @signal()
    def VrrpStatusChange(self) -> "u":  # noqa: N802, F821 - a DBus signature
        return 0

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "(s)":  # noqa: N802, F821
        return [self._instance().name]

    @dbus_property(access=PropertyAccess.READ)
    def State(self) -> "(us)":  # noqa: N802, F821
        code, word = paths.state_value(self._instance().state.value)
        return [code, word]
