"""The public entry points: text or file in, (Config, diagnostics) out."""
from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Collection

from kvrrp.config.diagnostics import BLOCKING_CODES, ERROR, FATAL, ConfigError, Diagnostic, Diagnostics
from kvrrp.config.lexer import Lexer
from kvrrp.config.model import Config
from kvrrp.config.parser import Parser
from kvrrp.config.tree import TreeBuilder
from kvrrp.config.validate import validate


@dataclass(frozen=True)
class LoadResult:
    config: Config
    diagnostics: tuple[Diagnostic, ...] = ()
    files: tuple[str, ...] = field(default=(), compare=False)   # every file read, includes too

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity in (ERROR, FATAL))

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity not in (ERROR, FATAL))

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def blocking(self) -> tuple[Diagnostic, ...]:
        """The problems keepalived itself would not run with (fatal, or an error whose code is in
        diagnostics.BLOCKING_CODES); other errors keepalived reports and then ignores the value."""
        return tuple(d for d in self.diagnostics
                     if d.severity == FATAL or (d.severity == ERROR and d.code in BLOCKING_CODES))


class _NoGC:
    """Pause the cyclic garbage collector while building: parsing allocates hundreds of
    thousands of small acyclic objects, and the collector's repeated full scans would
    otherwise more than double the parse time of a big configuration."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc) -> None:
        if self.was:
            gc.enable()


def _streaming(lexer: Lexer, diags: Diagnostics) -> tuple[Parser, TreeBuilder, dict]:
    """Lexer -> tree builder -> parser, one top-level block at a time (see kvrrp.config.tree)."""
    parser = Parser(diags)
    fields = parser.begin()
    builder = TreeBuilder(diags, on_top=lambda node: parser.top(node, fields))
    lexer.set_sink(builder.line)
    return parser, builder, fields


def _run(lexer: Lexer, diags: Diagnostics, parser: Parser, builder: TreeBuilder, fields: dict,
         interfaces: Collection[str] | None = None) -> LoadResult:
    builder.finish()
    cfg = parser.finish(fields)
    cfg = validate(cfg, diags, parser.where, parser.kwloc)
    if interfaces is not None:
        from kvrrp.config.interface_check import check_interfaces

        check_interfaces(cfg, diags, parser.where, interfaces)
    return LoadResult(cfg, tuple(diags.items), tuple(lexer.files_read))


def load(path: str, config_id: str | None = None, *, env: dict[str, str] | None = None,
         seed: int | None = None, interfaces: Collection[str] | None = None) -> LoadResult:
    """Read a keepalived.conf (and its includes). Never raises for bad content.
    interfaces: the host's interface names; every interface the configuration names must be
    one of them (config.interface_check). None: not checked."""
    with _NoGC():
        diags = Diagnostics()
        lexer = Lexer(diags, config_id=config_id, env=env, seed=seed)
        stages = _streaming(lexer, diags)
        lexer.read_file(path)
        return _run(lexer, diags, *stages, interfaces)


def parse_text(text: str, filename: str = "<string>", config_id: str | None = None, *,
               env: dict[str, str] | None = None, seed: int | None = None,
               interfaces: Collection[str] | None = None) -> LoadResult:
    """Parse configuration text; includes are resolved relative to the current directory
    (or to `filename`'s directory when it names a real path)."""
    with _NoGC():
        diags = Diagnostics()
        lexer = Lexer(diags, config_id=config_id, env=env, seed=seed)
        stages = _streaming(lexer, diags)
        lexer.read_text(text, filename)
        return _run(lexer, diags, *stages, interfaces)


def load_or_raise(path: str, config_id: str | None = None) -> Config:
    """Strict variant: raise ConfigError carrying every diagnostic if any error was found."""
    res = load(path, config_id)
    if res.errors:
        raise ConfigError(list(res.diagnostics))
    return res.config
