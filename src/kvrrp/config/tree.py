"""Token lines -> a tree of keyword nodes, the shape keepalived's process_stream() walks.

A node is one line (keyword + arguments); a ``{`` line opens a block under the node before
it, ``}`` closes it. Brace problems are reported the way keepalived reports them ("Extra '}'",
"Unexpected '{'", unterminated blocks at end of input) and parsing continues.

`TreeBuilder` is incremental so the lexer can feed it line by line (no second pass over a
100,000-line configuration); `build_tree` is the one-shot form. With `on_top`, each top-level
node goes to that callback as soon as it is complete (its block closed, or the next top-level
line arrived) and is not kept: the loader parses block by block, so the tokens of a 10,000
instance file never all live at once (their peak used to stay in the daemon's RSS for good).
"""
from __future__ import annotations

from typing import Callable

from kvrrp.config.diagnostics import Diagnostics
from kvrrp.config.lexer import Token


class Node:
    __slots__ = ("kw", "args", "children", "open_tok", "used")

    def __init__(self, kw: Token, args: list[Token]) -> None:
        self.kw = kw
        self.args = args
        self.children: list[Node] | None = None
        self.open_tok: Token | None = None
        self.used = False           # set when a handler reads the node's block

    @property
    def keyword(self) -> str:
        return self.kw.text

    def words(self) -> list[str]:
        return [t.text for t in self.args]

    def __repr__(self) -> str:
        kids = "" if self.children is None else f" {{{len(self.children)}}}"
        return f"Node({self.kw.text!r} {self.words()}{kids})"


class TreeBuilder:
    __slots__ = ("diags", "root", "current", "stack", "on_top")

    def __init__(self, diags: Diagnostics, on_top: Callable[[Node], None] | None = None) -> None:
        self.diags = diags
        self.root: list[Node] = []
        self.current = self.root
        self.stack: list[tuple[list[Node], Node]] = []
        self.on_top = on_top

    def _hand_over(self) -> None:
        """Give the complete top-level nodes to on_top (no-op without it)."""
        if self.on_top is not None and self.root:
            done = list(self.root)
            self.root.clear()
            for node in done:
                self.on_top(node)

    def line(self, toks: list[Token]) -> None:
        first = toks[0]
        if len(toks) == 1 and not first.quoted:
            text = first.text
            if text == "{":
                current = self.current
                last = current[-1] if current else None
                if last is None or last.children is not None:
                    self.diags.error(first.loc, "unexpected '{' - ignoring", "unexpected-bob")
                    # keep the nesting balanced: read the block into a throwaway node
                    last = Node(first, [])
                last.children = []
                last.open_tok = first
                self.stack.append((current, last))
                self.current = last.children
                return
            if text == "}":
                if not self.stack:
                    self.diags.error(first.loc, "extra '}' found", "unexpected-eob")
                    return
                self.current = self.stack.pop()[0]
                if not self.stack:
                    self._hand_over()
                return
        if self.current is self.root:
            self._hand_over()       # the previous top-level node can no longer open a block
        self.current.append(Node(first, toks[1:]))

    def finish(self) -> list[Node]:
        while self.stack:
            _, node = self.stack.pop()
            tok = node.open_tok or node.kw
            self.diags.error(node.kw.loc, f"block '{node.kw.text}' opened at {tok.file}:{tok.line} is never "
                             "closed (missing '}')", "missing-eob")
        self.current = self.root
        self._hand_over()
        return self.root


def build_tree(lines: list[list[Token]], diags: Diagnostics) -> list[Node]:
    b = TreeBuilder(diags)
    for toks in lines:
        b.line(toks)
    return b.finish()
