"""Counters per VRRP instance (keepalived's vrrp_stats) and per drop reason."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Mapping

from kvrrp import fastpath

# Every reason a received advert can be dropped, in the order the receive checks run.
DROP_REASONS: tuple[str, ...] = (
    "ip_ttl",               # TTL / hop limit not 255 (multicast)
    "packet_length",        # too short, bad length, address count does not fit
    "version",              # not the instance's VRRP version (or not 2/3 at all)
    # auth_hmac (kvrrp.vrrp.auth_hmac), keepalived's order and its auth_ext_* counters
    "auth_ext_missing",     # enforce mode: no trailer
    "auth_ext_malformed",   # unknown ext_type or reserved not zero
    "auth_ext_stale",       # time mode: timestamp outside time_window (checked before the HMAC)
    "auth_ext_unknown_key", # key id not configured
    "auth_ext_invalid_hmac",  # HMAC does not verify (wrong key, tampered, spliced)
    "auth_ext_replay",      # sequence not after the sender's last accepted one
    "invalid_type",         # type is not ADVERTISEMENT
    "checksum",             # VRRP checksum wrong
    "family",               # address family not 4/6
    "unknown_vrid",         # no instance for (interface, family, VRID), or VRID 0 - engine counter
    "vmac_base_copy",       # the base interface's copy of an advert a VMAC instance takes - engine counter
    "invalid_auth_type",    # v2 auth type not 0/1/2
    "auth_type_mismatch",   # v2 auth type differs from ours
    "auth_failure",         # v2 PASS password differs
    "advert_interval",      # v2 interval differs from ours
    "destination",          # multicast received by a unicast instance or the reverse
    "address_list",         # virtual address list differs
    "unicast_src",          # check_unicast_src: sender is not one of our peers
    "own_packet",           # our own advert came back
    "not_running",          # instance is INIT/STOP/DELETED
    "internal_error",       # a bug while handling the packet (logged with its traceback)
)


# drops of an instance that never dropped anything (most of them): one shared empty view, and a
# dict of its own from the first drop (64 B per instance otherwise)
_NO_DROPS: Mapping[str, int] = MappingProxyType({})


class _AdvertCounters:
    """Where advert_rcvd / advert_sent live until attach(): the fast path's slot counts them after."""

    __slots__ = ("advert_rcvd", "advert_sent")

    def __init__(self) -> None:
        self.advert_rcvd = 0
        self.advert_sent = 0


@dataclass(slots=True)
class InstanceStats:
    """keepalived's per-instance statistics (vrrp_print_stats), plus drops by reason.

    advert_rcvd and advert_sent are kept by the instance's fast-path slot (attach()), which
    counts the steady-state adverts it takes and sends without Python; the others are here."""

    become_master: int = 0
    release_master: int = 0
    packet_len_err: int = 0
    ip_ttl_err: int = 0
    invalid_type_rcvd: int = 0
    advert_interval_err: int = 0
    addr_list_err: int = 0
    invalid_authtype: int = 0
    authtype_mismatch: int = 0
    auth_failure: int = 0
    pri_zero_rcvd: int = 0
    pri_zero_sent: int = 0
    version_err: int = 0
    checksum_err: int = 0
    garp_sent: int = 0
    na_sent: int = 0
    transitions: int = 0
    send_errors: int = 0                # adverts not sent: no source address yet for v3
    drops: Mapping[str, int] = field(default_factory=lambda: _NO_DROPS)   # count_drop() adds
    _rx: object = field(default_factory=_AdvertCounters, repr=False, compare=False)

    def attach(self, counters: object) -> None:
        """Count advert_rcvd / advert_sent in `counters` (the fast path's slot)."""
        counters.advert_rcvd = self._rx.advert_rcvd
        counters.advert_sent = self._rx.advert_sent
        self._rx = counters

    @property
    def advert_sent(self) -> int:
        return self._rx.advert_sent

    @advert_sent.setter
    def advert_sent(self, value: int) -> None:
        self._rx.advert_sent = value

    @property
    def advert_rcvd(self) -> int:
        return self._rx.advert_rcvd

    @advert_rcvd.setter
    def advert_rcvd(self, value: int) -> None:
        self._rx.advert_rcvd = value

    def count_drop(self, reason: str) -> None:
        if self.drops is _NO_DROPS:
            self.drops = {}
        self.drops[reason] = self.drops.get(reason, 0) + 1
        attr = _KEEPALIVED_COUNTER.get(reason)
        if attr is not None:
            setattr(self, attr, getattr(self, attr) + 1)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"advert_rcvd": self.advert_rcvd, "advert_sent": self.advert_sent}
        out.update((f.name, getattr(self, f.name)) for f in fields(self) if f.name not in ("drops", "_rx"))
        out["drops"] = dict(self.drops)
        return out

    def clear(self) -> None:
        self.advert_rcvd = self.advert_sent = 0
        for f in fields(self):
            if f.name != "_rx":
                setattr(self, f.name, _NO_DROPS if f.name == "drops" else 0)


_KEEPALIVED_COUNTER = {
    "ip_ttl": "ip_ttl_err",
    "packet_length": "packet_len_err",
    "version": "version_err",
    "invalid_type": "invalid_type_rcvd",
    "checksum": "checksum_err",
    "invalid_auth_type": "invalid_authtype",
    "auth_type_mismatch": "authtype_mismatch",
    "auth_failure": "auth_failure",
    "advert_interval": "advert_interval_err",
    "address_list": "addr_list_err",
    "destination": "addr_list_err",
}
assert set(_KEEPALIVED_COUNTER) <= set(DROP_REASONS)
# the fast path's decode drops keep their names all the way to the counters
assert set(fastpath.DROP_REASONS) <= set(DROP_REASONS)
