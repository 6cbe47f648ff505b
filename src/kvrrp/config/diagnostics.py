"""Problems found while reading a configuration, each with the place it came from.

Severity follows what keepalived's `-t` does with the same problem: ``error`` for anything
keepalived reports as a configuration error (it still runs, but `-t` exits non-zero),
``fatal`` for what makes the configuration unusable (missing main file), ``warning`` for
notices that do not make `-t` fail. Unknown keywords are warnings in kvrrp's wording (as the
issue asks) but carry ``fails_test=True`` because keepalived's `-t` exits 5 on them too.
"""
from __future__ import annotations

from dataclasses import dataclass

from kvrrp.config.model import Location

ERROR = "error"
WARNING = "warning"
FATAL = "fatal"


# Error codes after which keepalived itself does not run the VRRP part (vrrp_complete_instance()
# returns false, or duplicate VRIDs): every other error leaves keepalived running with the bad
# value ignored. A daemon that wants keepalived's tolerance refuses to start only on these
# (and on fatal problems); see LoadResult.blocking.
BLOCKING_CODES = frozenset({"missing-parameter-vrid", "no-interface", "strict-unicast", "no-vips", "duplicate-vrid",
                            "unicast-no-src"})


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: str                 # error | warning | fatal
    message: str
    loc: Location | None = None
    code: str = "general"         # short machine-readable class, e.g. "unknown-keyword"
    fails_test: bool = True       # does this make `kvrrp -t` exit non-zero?

    def format(self) -> str:
        where = str(self.loc) if self.loc is not None else "<config>"
        sev = "error" if self.severity == FATAL else self.severity
        return f"{where}: {sev}: {self.message}"

    def __str__(self) -> str:
        return self.format()


class Diagnostics:
    """An append-only collector shared by the lexer, parser and validator."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, loc: Location | None, message: str, code: str = "general") -> None:
        self.items.append(Diagnostic(ERROR, message, loc, code, True))

    def fatal(self, loc: Location | None, message: str, code: str = "fatal") -> None:
        self.items.append(Diagnostic(FATAL, message, loc, code, True))

    def warning(self, loc: Location | None, message: str, code: str = "general",
                fails_test: bool = False) -> None:
        self.items.append(Diagnostic(WARNING, message, loc, code, fails_test))

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class ConfigError(Exception):
    """Raised by the strict loader when a configuration has errors; carries them all."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        bad = [d for d in self.diagnostics if d.severity in (ERROR, FATAL)] or self.diagnostics
        text = "\n".join(d.format() for d in bad[:20])
        more = f"\n... and {len(bad) - 20} more" if len(bad) > 20 else ""
        super().__init__(f"invalid configuration:\n{text}{more}")
