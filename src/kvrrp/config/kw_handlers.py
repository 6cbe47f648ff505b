"""Reusable keyword handler builders: `keyword VALUE` stored into a field, with keepalived's
argument checks. A handler is called as handler(parser, node, fields)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from kvrrp.config.tree import Node

if TYPE_CHECKING:
    from kvrrp.config.parser import Parser

Fields = dict
# a callable handler(parser, node, fields), or the name of a Parser method taking (node, fields)
Handler = Callable[["Parser", Node, Fields], None] | str

def _set_str(field: str) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        if p.one_value(node):
            f[field] = node.args[0].text
    return h


def _set_int(field: str, lo: int, hi: int) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        if p.one_value(node):
            v = p.r.int(node.args[0], lo, hi, node.kw.text)
            if v is not None:
                f[field] = v
    return h


def _set_timer(field: str, lo: float = 0.0, hi: float | None = None) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        if p.one_value(node):
            v = p.r.timer(node.args[0], lo, hi, node.kw.text)
            if v is not None:
                f[field] = v
    return h


def _set_flag(field: str, value: bool = True) -> Handler:
    """Keyword alone = on; optional <BOOL> argument."""
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        v = p.r.flag(node.kw, node.args)
        if v is not None:
            f[field] = v if value else not v
    return h


def _set_ip(field: str, fam_field: str | None = None) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        if p.one_value(node):
            ip = p.r.ip(node.args[0], node.kw.text)
            if ip is not None:
                f[field] = ip[0]
                if fam_field:
                    f[fam_field] = ip[1]
    return h


def _set_script(field: str) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        s = p.script(node)
        if s is not None:
            f[field] = s
    return h


def _set_notify(field: str) -> Handler:
    """A notify script: keepalived keeps the first one given and reports (and `-t` fails on)
    any repeat, so a second notify_master never silently replaces the first."""
    def h(p: Parser, node: Node, f: Fields) -> None:
        s = p.script(node)
        if s is None:
            return
        if field in f:
            p.diags.warning(node.kw.loc, f"({f.get('name', '')}) {node.kw.text} script already specified - "
                            f"ignoring {s.command}", "duplicate", fails_test=True)
            return
        f[field] = s
    return h


def _set_ignoring_args(field: str, value: bool) -> Handler:
    """A keyword keepalived takes with no argument and whose arguments it ignores (nopreempt 1,
    even nopreempt off, sets nopreempt): the same here, with a word about the ignored text."""
    def h(p: Parser, node: Node, f: Fields) -> None:
        if node.args:
            p.diags.warning(node.args[0].loc, f"'{node.kw.text}' takes no argument - "
                            f"'{' '.join(t.text for t in node.args)}' ignored, as keepalived does",
                            "extra-parameter", fails_test=False)
        f[field] = value
    return h


def _deprecated(instead: str, handler: Handler) -> Handler:
    """A deprecated alias: works, but keepalived reports it (and `-t` fails), so we do too."""
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.diags.warning(node.kw.loc, f"'{node.kw.text}' is deprecated - please use '{instead}'", "deprecated",
                        fails_test=True)
        handler(p, node, f)
    return h


def _extra(p: Parser, node: Node, f: Fields) -> None:
    p.extra(node, f)


def _weight(lo: int, hi: int) -> Handler:
    def h(p: Parser, node: Node, f: Fields) -> None:
        p.no_block(node)
        p.weight(node, lo, hi, f)
    return h


def _script_user(p: Parser, node: Node, s: Fields) -> None:
    if p.r.need(node.kw, node.args):
        user = node.args[0].text
        group = node.args[1].text.lstrip(":") if len(node.args) > 1 else None
        if ":" in user and group is None:
            user, _, group = user.partition(":")
        s["user"] = user
        s["group"] = group or None


def _track(field: str, lo: int, hi: int, noreverse: bool) -> Handler:
    def h(p: Parser, node: Node, s: Fields) -> None:
        s.setdefault(field, []).extend(p.track_refs(node, lo, hi, noreverse))
    return h




def _set_seconds(field: str, hi: int) -> Handler:
    """Whole seconds (keepalived read_unsigned): '1.5' is invalid; stored as float seconds."""
    def h(p: Parser, node: Node, f: Fields) -> None:
        if p.one_value(node):
            v = p.r.int(node.args[0], 0, hi, node.kw.text)
            if v is not None:
                f[field] = float(v)
    return h


def _set_repeat(field: str, hi: int = 4294967295) -> Handler:
    """A repeat count where keepalived turns 0 into 1 (and reports it)."""
    def h(p: Parser, node: Node, f: Fields) -> None:
        if p.one_value(node):
            v = p.r.int(node.args[0], 0, hi, node.kw.text)
            if v == 0:
                p.diags.warning(node.args[0].loc, f"{node.kw.text} must be greater than 0, setting to 1",
                                "out-of-range", fails_test=True)
                v = 1
            if v is not None:
                f[field] = v
    return h
