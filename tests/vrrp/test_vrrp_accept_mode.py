"""Accept_Mode off: which addresses a master drops, kept in step with states and reloads
(kvrrp.vrrp.accept_mode against a fake engine and firewall)."""
from __future__ import annotations

from types import SimpleNamespace

from kvrrp.io.ports import AddressSpec
from kvrrp.io.vip_firewall import BlockedAddress
from kvrrp.vrrp.accept_mode import AcceptMode, blocked_addresses, firewall_wanted
from kvrrp.vrrp.fsm import State


def settings(accept: bool, *vips: str, excluded: tuple[str, ...] = ()):  # noqa: ANN201
    spec = lambda a: AddressSpec(a, 128 if ":" in a else 32, "eth0", 6 if ":" in a else 4)  # noqa: E731
    return SimpleNamespace(accept=accept, vips=tuple(spec(a) for a in vips),
                           excluded_vips=tuple(spec(a) for a in excluded))


class FakeEngine:
    def __init__(self) -> None:
        self.instances: dict[str, SimpleNamespace] = {}
        self.listeners = []

    def add(self, name: str, state: State, s) -> None:  # noqa: ANN001
        self.instances[name] = SimpleNamespace(state=state, settings=s)

    def add_transition_listener(self, cb) -> None:  # noqa: ANN001
        self.listeners.append(cb)

    def remove_transition_listener(self, cb) -> None:  # noqa: ANN001
        self.listeners.remove(cb)

    def move(self, name: str, new: State) -> None:
        old, self.instances[name].state = self.instances[name].state, new
        for cb in list(self.listeners):
            cb(name, old, new, "test", 100)


class FakeFirewall:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list]] = []
        self.blocked: set[BlockedAddress] = set()

    def reset(self) -> None:
        self.calls.append(("reset", []))

    def block(self, addresses) -> None:  # noqa: ANN001
        if addresses:
            self.calls.append(("block", list(addresses)))
        self.blocked.update(addresses)

    def unblock(self, addresses) -> None:  # noqa: ANN001
        if addresses:
            self.calls.append(("unblock", list(addresses)))
        self.blocked.difference_update(addresses)

    def close(self) -> None:
        self.calls.append(("close", []))


V4 = BlockedAddress(4, "198.18.0.200", "eth0")
V4E = BlockedAddress(4, "198.18.0.210", "eth0")
LL = BlockedAddress(6, "fe80::5:200", "eth0")


def test_blocked_addresses_are_vips_and_excluded_vips_unless_accepting() -> None:
    assert blocked_addresses(settings(False, "198.18.0.200", excluded=("198.18.0.210",))) == [V4, V4E]
    assert blocked_addresses(settings(False, "fe80::5:200")) == [LL]
    assert blocked_addresses(settings(True, "198.18.0.200")) == []


def test_firewall_wanted_by_a_no_accept_instance_or_by_the_nftables_keyword() -> None:
    cfg = lambda nft: SimpleNamespace(global_defs=SimpleNamespace(nftables=nft))  # noqa: E731
    assert firewall_wanted(cfg(None), [settings(False)])
    assert not firewall_wanted(cfg(None), [settings(True)])
    assert firewall_wanted(cfg("keepalived"), [settings(True)])


def test_rules_follow_mastership() -> None:
    engine, fw = FakeEngine(), FakeFirewall()
    engine.add("VI_1", State.BACKUP, settings(False, "198.18.0.200", excluded=("198.18.0.210",)))
    engine.add("VI_2", State.BACKUP, settings(True, "198.18.0.201"))
    mode = AcceptMode(engine, fw)
    mode.start()
    assert fw.calls == [("reset", [])] and fw.blocked == set()
    engine.move("VI_2", State.MASTER)            # accepting: nothing to drop
    assert fw.blocked == set()
    engine.move("VI_1", State.MASTER)
    assert fw.blocked == {V4, V4E}
    engine.move("VI_1", State.FAULT)
    assert fw.blocked == set()
    engine.move("VI_1", State.BACKUP)            # not about MASTER: no call at all
    assert fw.calls[-1][0] == "unblock"
    mode.stop()
    assert fw.calls[-1] == ("close", []) and engine.listeners == []


def test_reload_changing_accept_or_vips_of_a_master_resyncs_in_place() -> None:
    engine, fw = FakeEngine(), FakeFirewall()
    engine.add("VI_1", State.MASTER, settings(False, "198.18.0.200"))
    mode = AcceptMode(engine, fw)
    mode.start()                                 # already master (e.g. started as owner-less MASTER)
    assert fw.blocked == {V4}
    engine.instances["VI_1"].settings = settings(False, "198.18.0.200", excluded=("198.18.0.210",))
    mode.resync()
    assert fw.blocked == {V4, V4E}
    assert ("unblock", [V4]) not in fw.calls     # the address kept was never let through
    engine.instances["VI_1"].settings = settings(True, "198.18.0.200")
    mode.resync()
    assert fw.blocked == set()
    engine.instances["VI_1"].settings = settings(False, "198.18.0.200")
    mode.resync()
    del engine.instances["VI_1"]                 # removed by a reload
    mode.resync()
    assert fw.blocked == set()
