"""BFD control packets (RFC 5880 section 4.1), without I/O.

`decode` returns a `Control` or a `Drop` naming the first failed check of RFC 5880 section
6.8.6 that can be made without the session (the per-session checks - unknown discriminator,
TTL, authentication - are the service's). It never raises on bad input.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

VERSION = 1
HEADER = struct.Struct("!BBBBIIIII")
LENGTH = HEADER.size                   # 24: no authentication section
AUTH_MIN_LENGTH = 26                   # with the A bit: at least Auth Type + Auth Len

ADMIN_DOWN, DOWN, INIT, UP = 0, 1, 2, 3
STATE_NAMES = ("AdminDown", "Down", "Init", "Up")

# diagnostics (RFC 5880 section 4.1)
DIAG_NONE = 0
DIAG_EXPIRED = 1                        # Control Detection Time Expired
DIAG_ECHO_FAILED = 2
DIAG_NEIGHBOR_DOWN = 3                  # Neighbor Signaled Session Down
DIAG_FWD_RESET = 4
DIAG_PATH_DOWN = 5
DIAG_CONCAT_PATH_DOWN = 6
DIAG_ADMIN_DOWN = 7
DIAG_REVERSE_CONCAT_PATH_DOWN = 8
DIAG_NAMES = ("No Diagnostic", "Control Detection Time Expired", "Echo Function Failed",
              "Neighbor Signaled Session Down", "Forwarding Plane Reset", "Path Down",
              "Concatenated Path Down", "Administratively Down", "Reverse Concatenated Path Down")

_P, _F, _C, _A, _D, _M = 0x20, 0x10, 0x08, 0x04, 0x02, 0x01

# the reasons decode() can give, in the order it checks them
DECODE_DROPS = ("runt", "bad_version", "bad_length", "truncated", "zero_detect_mult",
                "multipoint", "zero_my_discr", "zero_your_discr", "poll_and_final", "bad_diag")


@dataclass(frozen=True, slots=True)
class Control:
    state: int
    my_discr: int
    your_discr: int
    desired_min_tx: int                 # microseconds
    required_min_rx: int                # microseconds
    detect_mult: int
    diag: int = DIAG_NONE
    poll: bool = False
    final: bool = False
    demand: bool = False
    cpi: bool = False                   # Control Plane Independent
    auth: bool = False
    required_min_echo_rx: int = 0       # we run no echo function: always 0 from us

    def encode(self) -> bytes:
        """The 24-byte packet (we send no authentication section)."""
        flags = ((self.state & 3) << 6 | (_P if self.poll else 0) | (_F if self.final else 0)
                 | (_C if self.cpi else 0) | (_D if self.demand else 0))
        return HEADER.pack((VERSION << 5) | (self.diag & 0x1F), flags, self.detect_mult, LENGTH,
                           self.my_discr, self.your_discr, self.desired_min_tx,
                           self.required_min_rx, self.required_min_echo_rx)


@dataclass(frozen=True, slots=True)
class Drop:
    reason: str


def decode(data: bytes) -> Control | Drop:
    if len(data) < LENGTH:
        return Drop("runt")
    b0, flags, mult, length, my, your, tx, rx, echo = HEADER.unpack_from(data)
    if b0 >> 5 != VERSION:
        return Drop("bad_version")
    auth = bool(flags & _A)
    if length < (AUTH_MIN_LENGTH if auth else LENGTH):
        return Drop("bad_length")
    if length > len(data):
        return Drop("truncated")
    if mult == 0:
        return Drop("zero_detect_mult")
    if flags & _M:
        return Drop("multipoint")
    if my == 0:
        return Drop("zero_my_discr")
    state = flags >> 6
    if your == 0 and state not in (DOWN, ADMIN_DOWN):
        return Drop("zero_your_discr")
    if flags & _P and flags & _F:        # keepalived's extra sanity check
        return Drop("poll_and_final")
    diag = b0 & 0x1F
    if diag >= len(DIAG_NAMES):
        return Drop("bad_diag")
    return Control(state=state, my_discr=my, your_discr=your, desired_min_tx=tx, required_min_rx=rx,
                   detect_mult=mult, diag=diag, poll=bool(flags & _P), final=bool(flags & _F),
                   demand=bool(flags & _D), cpi=bool(flags & _C), auth=auth, required_min_echo_rx=echo)
