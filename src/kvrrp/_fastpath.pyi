"""Type stubs for the Cython fast path; the behaviour is documented in kvrrp._fastpath_py."""
from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

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

class EncodeRequest(NamedTuple):
    version: int
    vrid: int
    priority: int
    addresses: Sequence[_Addr]
    adver_int: int
    family: int = 4
    auth_type: int = 0
    auth_data: bytes = b""
    src: _Addr | None = None
    dst: _Addr | None = None
    type: int = 1

def decode_advert(payload: Buffer, family: int, src: _Addr | None = None, dst: _Addr | None = None,
                  *, v3_checksum_as_v2: bool = False) -> Advert | Drop: ...
def decode_batch(payloads: Iterable[Buffer], family: int, srcs: Iterable[_Addr | None] | None = None,
                 dsts: Iterable[_Addr | None] | None = None, *,
                 v3_checksum_as_v2: bool = False) -> list[Advert | Drop]: ...
def encode_advert(version: int, vrid: int, priority: int, addresses: Iterable[_Addr], adver_int: int, *,
                  family: int = 4, auth_type: int = 0, auth_data: bytes = b"", src: _Addr | None = None,
                  dst: _Addr | None = None, type: int = 1, v3_checksum_as_v2: bool = False) -> bytes: ...
def encode_batch(requests: Iterable[EncodeRequest | tuple], *, v3_checksum_as_v2: bool = False) -> list[bytes]: ...

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
