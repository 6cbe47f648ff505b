"""keepalived's rise/fall counter for vrrp_script results, pure.

keepalived keeps one integer ``result`` in 0 .. rise+fall-1; the script is healthy when
``result >= rise``. A success moves it up (jumping to the top once it reaches ``rise``), a
failure moves it down (jumping to 0 once it falls to ``rise``). The effect: a healthy script
needs ``fall`` failures in a row to become failed, a failed one ``rise`` successes in a row to
become healthy.

At start the state is "unknown": the counter sits at rise-1, so the first success makes the
script healthy at once and the first failure makes it failed at once. ``init_fail`` starts it at
0 and failed, so ``rise`` successes are needed.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RiseFall:
    rise: int = 1
    fall: int = 1
    init_fail: bool = False
    result: int = 0
    known: bool = False          # False until the first result (unless init_fail)

    def __post_init__(self) -> None:
        if self.rise < 1 or self.fall < 1:
            raise ValueError(f"rise ({self.rise}) and fall ({self.fall}) must be >= 1")
        if self.init_fail:
            self.result = 0
            self.known = True
        else:
            self.result = self.rise - 1

    @property
    def healthy(self) -> bool | None:
        """True/False once known; None before the first result."""
        if not self.known:
            return None
        return self.result >= self.rise

    def record(self, success: bool) -> bool | None:
        """Feed one run's outcome. Returns the new health when it changed (or became known),
        else None."""
        before = self.healthy
        top = self.rise + self.fall - 1
        if success:
            if self.result < self.rise - 1:
                self.result += 1
            else:
                self.result = top
        else:
            if self.result > self.rise:
                self.result -= 1
            else:
                self.result = 0
        self.known = True
        after = self.healthy
        return after if after != before else None
