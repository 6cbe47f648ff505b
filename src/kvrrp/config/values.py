"""Typed readers for keyword arguments. Each reports a located diagnostic and returns None
when a value is unusable, so the parser can carry on and report every problem."""
from __future__ import annotations

import ipaddress
import re

from kvrrp.config.diagnostics import Diagnostics
from kvrrp.config.lexer import Token

_INT = re.compile(r"[+-]?\d+\Z")
_DEC = re.compile(r"(\d*)(?:\.(\d*))?\Z")
TRUE_WORDS = frozenset(("on", "true", "yes"))
FALSE_WORDS = frozenset(("off", "false", "no"))


_OCTET = frozenset(str(i) for i in range(256))


def _plain_ipv4(text: str) -> bool:
    """Dotted quad already in canonical form (no leading zeros) - skips ipaddress's slow path."""
    parts = text.split(".")
    return len(parts) == 4 and all(p in _OCTET for p in parts)


class Reader:
    """Value conversion bound to a diagnostics collector."""

    __slots__ = ("diags",)

    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags

    # -- arity ----------------------------------------------------------------------------

    def need(self, kw: Token, args: list[Token], n: int = 1) -> bool:
        if len(args) < n:
            what = "a value" if n == 1 else f"{n} values"
            self.diags.error(kw.loc, f"'{kw.text}' needs {what}", "missing-parameter")
            return False
        return True

    # -- numbers --------------------------------------------------------------------------

    def int(self, tok: Token, lo: int | None = None, hi: int | None = None, what: str | None = None) -> int | None:
        text = tok.text
        if _INT.match(text) is None:
            self.diags.error(tok.loc, f"{what or 'value'} '{text}' is not an integer", "invalid-number")
            return None
        val = int(text)
        if (lo is not None and val < lo) or (hi is not None and val > hi):
            self.diags.error(tok.loc, f"{what or 'value'} {val} out of range [{lo}..{hi}]", "out-of-range")
            return None
        return val

    def uint_base(self, tok: Token, lo: int = 0, hi: int | None = None, what: str | None = None) -> int | None:
        """An unsigned number in decimal, 0x hex or 0 octal (fwmark and the like)."""
        try:
            val = int(tok.text, 0)
        except ValueError:
            self.diags.error(tok.loc, f"{what or 'value'} '{tok.text}' is not a number", "invalid-number")
            return None
        if val < lo or (hi is not None and val > hi):
            self.diags.error(tok.loc, f"{what or 'value'} {val} out of range [{lo}..{hi}]", "out-of-range")
            return None
        return val

    def timer(self, tok: Token, lo: float = 0.0, hi: float | None = None, what: str | None = None) -> float | None:
        """Seconds with up to microsecond resolution, as keepalived's read_timer()."""
        text = tok.text
        m = _DEC.match(text)
        if m is None or text in ("", "."):
            self.diags.error(tok.loc, f"{what or 'time'} '{text}' is not a number of seconds", "invalid-number")
            return None
        whole = int(m.group(1) or "0")
        frac = (m.group(2) or "")[:6]
        val = whole + (int(frac.ljust(6, "0")) / 1_000_000 if frac else 0.0)
        if val < lo or (hi is not None and val > hi):
            hi_s = "" if hi is None else f"{hi:g}"
            self.diags.error(tok.loc, f"{what or 'time'} {text} out of range [{lo:g}..{hi_s}]", "out-of-range")
            return None
        return val

    # -- booleans ---------------------------------------------------------------------------

    def flag(self, kw: Token, args: list[Token]) -> bool | None:
        """A keyword that is on when given alone, or takes an optional <BOOL>."""
        if not args:
            return True
        return self.bool(args[0])

    def bool(self, tok: Token) -> bool | None:
        low = tok.text.lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
        self.diags.error(tok.loc, f"'{tok.text}' is not a boolean (on|off|true|false|yes|no)", "invalid-bool")
        return None

    # -- addresses ------------------------------------------------------------------------

    def ip(self, tok: Token, what: str = "address") -> tuple[str, int] | None:
        """A single IP address -> (canonical text, family)."""
        text = tok.text
        if _plain_ipv4(text):
            return text, 4
        try:
            addr = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            self.diags.error(tok.loc, f"invalid IP {what} '{text}'", "bad-ip")
            return None
        return str(addr), addr.version

    def prefix(self, tok: Token, what: str = "address", clamp: bool = False) -> tuple[str, int, int] | None:
        """IP[/len] -> (canonical address, prefixlen, family); host bits are kept. clamp: a
        numeric prefix length past the family's maximum is reported and replaced by the
        maximum, as keepalived does for a VIP ('Invalid address prefix len 33 ... - using 32')."""
        text = tok.text
        addr_s, _, plen_s = text.partition("/")
        if _plain_ipv4(addr_s):
            if not plen_s:
                return addr_s, 32, 4
            addr = None
            version = 4
            canon = addr_s
        else:
            try:
                addr = ipaddress.ip_address(addr_s)
            except ValueError:
                self.diags.error(tok.loc, f"invalid IP {what} '{text}'", "bad-ip")
                return None
            version = addr.version
            canon = str(addr)
        maxlen = 32 if version == 4 else 128
        if plen_s:
            if clamp and plen_s.isdigit() and int(plen_s) > maxlen:
                self.diags.warning(tok.loc, f"Invalid address prefix len {plen_s} for address {text} - using "
                                   f"{maxlen}", "bad-ip", fails_test=True)
                plen_s = str(maxlen)
            if not plen_s.isdigit() or int(plen_s) > maxlen:
                self.diags.error(tok.loc, f"invalid prefix length in '{text}' (0..{maxlen})", "bad-ip")
                return None
            plen = int(plen_s)
        else:
            plen = maxlen
        return canon, plen, version

    def network(self, tok: Token, what: str = "prefix") -> tuple[str, int] | None:
        """A route/rule prefix: 'default', 'all', IP or IP/len -> (canonical 'net/len', family)."""
        text = tok.text
        if text in ("default", "all", "any"):
            return text, 0
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            self.diags.error(tok.loc, f"invalid {what} '{text}'", "bad-ip")
            return None
        return str(net), net.version

    def port(self, tok: Token, what: str = "port") -> int | None:
        return self.int(tok, 0, 65535, what)
