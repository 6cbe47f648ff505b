"""Type stubs for the Cython fast path; the behaviour is documented in kvrrp._fastpath_py."""
from __future__ import annotations

from typing import Callable, Iterable

from typing_extensions import Buffer

IMPLEMENTATION: str
DROP_REASONS: tuple[str, ...]
WHEEL_LEVELS: int
WHEEL_BITS: int
WHEEL_SLOTS: int

_Addr = bytes | str

def inet_checksum(data: Buffer, initial: int = 0) -> int: ...
def pseudo_sum_ipv4(src: Buffer, dst: Buffer, length: int) -> int: ...
def pseudo_sum_ipv6(src: Buffer, dst: Buffer, length: int) -> int: ...

class Advert:
    version: int
    type: int
    vrid: int
    priority: int
    count: int
    auth_type: int
    adver_int: int
    checksum: int
    checksum_ok: bool | None
    addresses: tuple[bytes, ...]
    auth_data: bytes
    def __init__(self, version: int, type: int, vrid: int, priority: int, count: int, auth_type: int,
                 adver_int: int, checksum: int, checksum_ok: bool | None,
                 addresses: Iterable[bytes], auth_data: bytes) -> None: ...
    def to_dict(self) -> dict: ...

class Drop:
    reason: str
    def __init__(self, reason: str) -> None: ...

def decode_advert(payload: Buffer, family: int, src: _Addr | None = None, dst: _Addr | None = None,
                  *, v3_checksum_as_v2: bool = False) -> Advert | Drop: ...
def encode_advert(version: int, vrid: int, priority: int, addresses: Iterable[_Addr], adver_int: int, *,
                  family: int = 4, auth_type: int = 0, auth_data: bytes = b"", src: _Addr | None = None,
                  dst: _Addr | None = None, type: int = 1, v3_checksum_as_v2: bool = False) -> bytes: ...
class TimerWheel:
    resolution: float
    start: float
    def __init__(self, resolution: float = 0.001, start: float = 0.0) -> None: ...
    def schedule(self, key: int, deadline: float) -> None: ...
    def cancel(self, key: int) -> bool: ...
    def advance(self, now: float) -> list[int]: ...
    def next_deadline(self) -> float | None: ...
    def deadline(self, key: int) -> float | None: ...
    @property
    def now(self) -> float: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: object) -> bool: ...

RECV_BATCH: int
RX_TIME_MAX_AGE: float
TIMER_TOLERANCE: float

class InstanceSlot:
    wheel: TimerWheel
    timer_key: int
    version: int
    family: int
    unicast: bool
    auth_type: int
    auth_data: bytes
    wire_interval: int
    addresses: bytes
    compat_dst: bytes
    fast_rx: bool
    master: bytes
    master_priority: int
    master_interval: int
    priority: int
    accept_lower: bool
    delayed_start: float
    down_interval: float
    old_checksum: bool
    armed: bool
    deadline: float
    down_started: float
    advert_rcvd: int
    fast_rcvd: int
    fast_tx: bool
    sender: SocketSender | None
    adver_int: float
    targets: tuple[tuple[bytes, str, bytes | None, int | None], ...]
    advert_sent: int
    last_sent: float
    fast_sent: int
    def __init__(self, wheel: TimerWheel, timer_key: int) -> None: ...
    def configure(self, version: int, family: int, unicast: bool, auth_type: int, auth_data: bytes,
                  wire_interval: int, addresses: bytes, compat_dst: bytes = b"") -> None: ...
    def update(self, fast_rx: bool, master: bytes, master_priority: int, master_interval: int, priority: int,
               accept_lower: bool, delayed_start: float, down_interval: float, old_checksum: bool) -> None: ...
    def set_adverts(self, sender: SocketSender | None, adver_int: float,
                    targets: Iterable[tuple[Buffer, str, str | None, int | None]]) -> None: ...
    def schedule(self, deadline: float, started: float = ...) -> None: ...
    def cancel(self) -> None: ...
    def fired(self) -> None: ...
    def sent(self, now: float) -> None: ...

class ReceiveTable:
    family: int
    accepted: int
    def __init__(self, family: int) -> None: ...
    def set(self, vrid: int, slot: InstanceSlot | None) -> None: ...
    def get(self, vrid: int) -> InstanceSlot | None: ...
    def clear(self) -> None: ...
    def accept(self, src: _Addr, dst: _Addr, ttl: int, payload: Buffer, rx_time: float | None, now: float) -> bool: ...

_Punted = tuple[str, str, int, bytes, float | None]

def receive_batch(sock: object, family: int, table: ReceiveTable | None = None
                  ) -> tuple[list[_Punted], int, int, int, int]: ...

class SocketReader:
    family: int
    table: ReceiveTable | None
    received: int
    fast_path: int
    bad_ip_header: int
    missing_ancillary: int
    recv_errors: int
    def __init__(self, sock: object, family: int, deliver: Callable[[str, str, int, bytes, float | None], None],
                 on_error: Callable[[int], None] | None = None) -> None: ...
    def __call__(self) -> None: ...

class SocketSender:
    family: int
    ifindex: int
    sent: int
    send_errors: int
    def __init__(self, sock: object, family: int, ifindex: int,
                 on_error: Callable[[int, str], None] | None = None) -> None: ...

ADVERT_GRID: float

def next_advert_deadline(deadline: float, adver_int: float) -> float: ...
def fire_adverts(keys: list[int], start: int, now: float, slots: list[InstanceSlot | None],
                 timer_slots: int = 8) -> int: ...
