"""keepalived's DBus service on the system bus, with dbus-next (asyncio, pure Python).

What keepalived/vrrp/vrrp_dbus.c serves, with the same names, signatures and paths (the
introspection data is keepalived's org.keepalived.Vrrp1.Vrrp.xml / .Instance.xml as Debian's
keepalived ships them, built without --enable-dbus-create-instance):

- /org/keepalived/Vrrp1/Vrrp, interface org.keepalived.Vrrp1.Vrrp: methods PrintData,
  PrintStats, PrintStatsClear (the SIGUSR1 / SIGUSR2 / STATS_CLEAR dumps, to the same files),
  ReloadConfig (answers, then reloads as SIGHUP does); signals VrrpStarted, VrrpReloaded,
  VrrpStopped.
- one object per vrrp_instance (kvrrp.dbus.paths.instance_path), interface
  org.keepalived.Vrrp1.Instance: properties Name "(s)" and State "(us)" (read through
  org.freedesktop.DBus.Properties.Get), method SendGarp (one gratuitous ARP / unsolicited NA
  for each of a master's addresses), signal VrrpStatusChange "u" on every notified transition.

Like keepalived: the objects are exported and the name requested (at start before the
instances run, the daemon waits for that a bounded time); then VrrpStarted and one
VrrpStatusChange per instance that already left INIT go out, and from then on one per
transition; a reload drops the objects of removed instances, adds new ones and
sends VrrpReloaded; at exit the objects go and VrrpStopped is sent. Failing to reach the bus
or to own the name is logged and VRRP runs on without DBus (keepalived: "Failed to initialise
DBus").

The objects themselves are kvrrp.dbus.objects. This module imports dbus-next, so only a
configuration with enable_dbus loads it.
"""
import asyncio
import logging
from typing import Any, Callable, Optional

from dbus_next import BusType, DBusError, ErrorType, Message, RequestNameReply
from dbus_next.aio import MessageBus

from kvrrp.dbus import paths
from kvrrp.dbus.objects import InstanceKey, InstanceObject, KeepalivedBus, VrrpObject, VrrpObjectWithCreate

log = logging.getLogger("kvrrp.dbus")

SEND_TIMEOUT = 2.0      # the last signal at exit: how long it may take to leave
IFNAMSIZ = 16


class DaemonActions:
    """The daemon's side, as the service needs it (kvrrp.daemon.Daemon provides these)."""

    engine: Any
    dump: Callable[..., Optional[str]]
    request_reload: Callable[[], None]


def instance_key(runtime: Any, configured: Any, config: Any) -> InstanceKey:
    """VRID and family as the engine runs the instance, the interface as configured
    (keepalived's VRRP_CONFIGURED_IFP: never the VMAC), dbus_no_interface_name without one."""
    none = config.global_defs.dbus_no_interface_name or paths.NO_INTERFACE_NAME
    ifname = configured.interface if configured is not None else runtime.settings.ifname
    return InstanceKey(runtime.name, ifname or none, runtime.settings.vrid, runtime.settings.family)


def _by_name(config: Any) -> dict[str, Any]:
    return {inst.name: inst for inst in config.instances} if config is not None else {}


class DbusService:
    """The bus connection, the exported objects and the signals, for one daemon."""

    def __init__(self, actions: DaemonActions, config: Any, net_namespace: Optional[str] = None,
                 create_instance: bool = False,
                 bus_factory: Callable[[], MessageBus] = lambda: KeepalivedBus(bus_type=BusType.SYSTEM)) -> None:
        self.actions = actions
        self.config = config
        self.service_name = config.global_defs.dbus_service_name or paths.SERVICE_NAME
        self.prefix = paths.object_prefix(net_namespace or config.net_namespace, config.instance_name)
        self._bus_factory = bus_factory
        self._vrrp_class = VrrpObjectWithCreate if create_instance else VrrpObject
        self._created: set[str] = set()       # objects CreateInstance made (reloads keep them)
        self._index: dict[tuple[str, int, int], str] = {}   # (path element, vrid, family) -> name
        self.bus: Optional[MessageBus] = None
        self.running = False                      # objects exported, name owned, VrrpStarted sent
        self.objects: dict[str, InstanceObject] = {}      # by instance name
        self._paths: dict[str, str] = {}                  # instance name -> object path
        self._next_config: Any = None      # the configuration a running reload is applying
        self._configured = _by_name(config)            # vrrp_instance blocks by name
        self._next_configured: dict[str, Any] = {}
        self.signals_sent = 0
        self.signal_failures = 0
        self._bus_done: Optional[asyncio.Future] = None

    # -- life cycle ---------------------------------------------------------------------------
    async def start(self) -> bool:
        """Connect, export, own the name, then VrrpStarted and every instance's state."""
        try:
            bus = await self._bus_factory().connect()
        except Exception as exc:  # noqa: BLE001 - VRRP runs on without DBus
            log.error("Failed to initialise DBus: cannot connect to the system bus: %s", exc)
            return False
        self.bus = bus
        try:
            bus.export(paths.vrrp_path(self.prefix), self._vrrp_class(self))
            self._sync_objects()
            reply = await bus.request_name(self.service_name)
        except Exception as exc:  # noqa: BLE001 - an invalid name, a policy refusal
            log.error("Failed to initialise DBus: cannot own %s: %s", self.service_name, exc)
            self._drop_bus()
            return False
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            log.error("Failed to initialise DBus: %s is owned by another process (%s)",
                      self.service_name, reply.name)
            self._drop_bus()
            return False
        log.info("Acquired DBus bus %s", self.service_name)
        self.running = True
        self._emit(paths.vrrp_path(self.prefix), paths.VRRP_INTERFACE, "VrrpStarted")
        for name, inst in list(self.actions.engine.instances.items()):
            if inst.state.value != "INIT":     # not started yet: its first transition will say
                self.state_changed(name, inst.state.value)
        self._bus_done = asyncio.ensure_future(bus.wait_for_disconnect())
        self._bus_done.add_done_callback(self._on_disconnect)
        return True

    async def stop(self) -> None:
        """The objects go, VrrpStopped is sent (and waited for), the connection closes."""
        bus = self.bus
        if bus is None:
            return
        was_running = self.running
        self.running = False
        for path in list(self._paths.values()):
            bus.unexport(path)
        self._paths.clear()
        self.objects.clear()
        self._created.clear()
        bus.unexport(paths.vrrp_path(self.prefix))
        if was_running:
            msg = Message.new_signal(paths.vrrp_path(self.prefix), paths.VRRP_INTERFACE, "VrrpStopped")
            try:
                await asyncio.wait_for(bus.send(msg), SEND_TIMEOUT)
                self.signals_sent += 1
            except Exception as exc:  # noqa: BLE001 - exiting anyway
                self.signal_failures += 1
                log.warning("DBus signal VrrpStopped not sent: %s", exc)
        self._drop_bus()
        log.info("Released DBus")

    def expect_config(self, config: Any) -> None:
        """A reload is about to apply `config` (None: it failed): the instances it starts
        signal their first transitions before their objects exist, on the paths it gives them
        (keepalived computes a signal's path, registered or not)."""
        self._next_config = config
        self._next_configured = _by_name(config)

    def reload(self, config: Any) -> None:
        """After a reload was applied: objects follow the new instances, then VrrpReloaded."""
        self.config, self._configured = config, _by_name(config)
        self._next_config, self._next_configured = None, {}
        if not self.running:
            return
        self._sync_objects()
        self._emit(paths.vrrp_path(self.prefix), paths.VRRP_INTERFACE, "VrrpReloaded")

    # -- transitions --------------------------------------------------------------------------
    def on_transition(self, name: str, old: Any, new: Any, reason: str, priority: int) -> None:
        """Engine transition listener: keepalived's dbus_send_state_signal."""
        if self.running:
            self.state_changed(name, new.value)

    def state_changed(self, name: str, state: str) -> None:
        inst = self._configured.get(name) or self._next_configured.get(name)
        notify_deleted = bool(inst is not None and (inst.notify_deleted_enabled or inst.notify_deleted))
        code = paths.state_code(state, notify_deleted)
        path = self._paths.get(name) or self._new_path(name)
        if code is None or path is None:
            return
        self._emit(path, paths.INSTANCE_INTERFACE, "VrrpStatusChange", "u", [code])

    def _new_path(self, name: str) -> Optional[str]:
        runtime = self.actions.engine.instances.get(name)
        if runtime is None:
            return None
        config = self._next_config or self.config
        configured = (self._next_configured if self._next_config is not None else self._configured).get(name)
        key = instance_key(runtime, configured, config)
        return paths.instance_path(self.prefix, key.ifname, key.vrid, key.family)

    # -- internals ----------------------------------------------------------------------------
    def _sync_objects(self) -> None:
        """Export one object per instance of self.config; drop those of instances that are gone
        or whose path changed. Two instances on one path (same interface, VRID and family,
        told apart only by unicast peers): the first keeps it, as keepalived's registration
        of the second fails."""
        assert self.bus is not None
        wanted = {name: instance_key(runtime, self._configured.get(name), self.config)
                  for name, runtime in self.actions.engine.instances.items()}
        self._index = {}
        for name, key in wanted.items():
            self._index.setdefault((paths.path_element(key.ifname), key.vrid, key.family), name)
        for name in list(self._paths):
            if name in self._created:
                continue
            obj = self.objects[name]
            if wanted.get(name) != obj.key:
                self.bus.unexport(self._paths.pop(name), obj)
                del self.objects[name]
        taken = {path: name for name, path in self._paths.items()}
        for name, key in wanted.items():
            if name in self._paths:
                continue
            path = paths.instance_path(self.prefix, key.ifname, key.vrid, key.family)
            if path in taken:
                log.warning("(%s) no DBus object: %s already belongs to (%s)", name, path, taken[path])
                continue
            obj = InstanceObject(self, key)
            self.bus.export(path, obj)
            self.objects[name], self._paths[name] = obj, path
            taken[path] = name

    def path_of(self, name: str) -> Optional[str]:
        return self._paths.get(name)

    def resolve(self, key: InstanceKey) -> Any:
        """The running instance an object stands for: its own, or (an object CreateInstance
        made) the one on its interface, VRID and family - keepalived's get_vrrp_instance."""
        engine = self.actions.engine
        if key.name not in self._created:
            return engine.instances.get(key.name)
        name = self._index.get((paths.path_element(key.ifname), key.vrid, key.family))
        return engine.instances.get(name) if name is not None else None

    def create_object(self, iname: str, ifname: str, vrid: int, family: int) -> None:
        """CreateInstance, with keepalived's outcomes: an empty or too long interface name is
        an error; an existing name or a path already taken is logged and answered as done."""
        if not ifname or len(ifname.encode()) >= IFNAMSIZ:
            log.info("Interface name '%s' too long for CreateInstance", ifname)
            raise DBusError(ErrorType.INVALID_ARGS, "Interface name empty or too long")
        if iname in self.objects:
            log.info("An object for instance %s already exists", iname)
            return
        key = InstanceKey(iname, ifname, vrid & 0xFF, family if family in (4, 6) else 0)
        path = paths.instance_path(self.prefix, key.ifname, key.vrid, key.family)
        if path in self._paths.values():
            log.info("Registering DBus object on %s failed: an object is already registered there", path)
            return
        assert self.bus is not None
        obj = InstanceObject(self, key)
        self.bus.export(path, obj)
        self.objects[iname], self._paths[iname] = obj, path
        self._created.add(iname)
        log.info("Added DBus object for instance %s on path %s", iname, path)

    def destroy_object(self, iname: str) -> None:
        """DestroyInstance: the object named `iname` goes (the VRRP instance, if any, stays)."""
        obj = self.objects.pop(iname, None)
        if obj is None:
            raise DBusError(ErrorType.INVALID_ARGS, f"Instance '{iname}' not found")
        assert self.bus is not None
        self.bus.unexport(self._paths.pop(iname), obj)
        self._created.discard(iname)
        log.info("Deleted DBus object for instance %s", iname)

    def _emit(self, path: str, interface: str, member: str, signature: str = "", body: Any = ()) -> None:
        bus = self.bus
        if bus is None or not bus.connected:
            return
        msg = Message.new_signal(path, interface, member, signature, list(body))
        fut = bus.send(msg)
        fut.add_done_callback(self._sent)

    def _sent(self, fut: "asyncio.Future[Any]") -> None:
        if fut.cancelled() or fut.exception() is not None:
            self.signal_failures += 1
            log.warning("DBus signal not sent: %s", "cancelled" if fut.cancelled() else fut.exception())
        else:
            self.signals_sent += 1

    def _on_disconnect(self, fut: "asyncio.Future[Any]") -> None:
        why = fut.exception() if not fut.cancelled() else None    # always retrieved
        if self.running:
            self.running = False
            log.error("Lost the DBus connection (%s); DBus stays off until the next reload",
                      why or "closed by the bus")

    def _drop_bus(self) -> None:
        bus, self.bus = self.bus, None
        if bus is not None and bus.connected:     # (dbus-next warns closing a dead socket)
            try:
                bus.disconnect()
            except Exception:  # noqa: BLE001
                log.debug("closing the DBus connection failed", exc_info=True)

    def snapshot(self) -> dict:
        return {"running": self.running, "service_name": self.service_name,
                "objects": len(self._paths) + (1 if self.running else 0),
                "signals_sent": self.signals_sent, "signal_failures": self.signal_failures}
