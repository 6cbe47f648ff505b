"""Token lines -> a tree of keyword nodes, the shape keepalived's process_stream() walks.

A node is one line (keyword + arguments); a ``{`` line opens a block under the node before
it, ``}`` closes it. Brace problems are reported the way keepalived reports them ("Extra '}'",
"Unexpected '{'", unterminated blocks at end of input) and parsing continues.
"""
from __future__ import annotations

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


def build_tree(lines: list[list[Token]], diags: Diagnostics) -> list[Node]:
    root: list[Node] = []
    stack: list[tuple[list[Node], Node | None]] = [(root, None)]
    current = root
    for toks in lines:
        first = toks[0]
        text = first.text
        if len(toks) == 1 and not first.quoted and (text == "{" or text == "}"):
            if text == "{":
                last = current[-1] if current else None
                if last is None or last.children is not None:
                    diags.error(first.loc, "unexpected '{' - ignoring", "unexpected-bob")
                    # keep the nesting balanced: read the block into a throwaway node
                    last = Node(first, [])
                last.children = []
                last.open_tok = first
                stack.append((current, last))
                current = last.children
            else:
                if len(stack) == 1:
                    diags.error(first.loc, "extra '}' found", "unexpected-eob")
                    continue
                current, _ = stack.pop()
            continue
        current.append(Node(first, toks[1:]))
    while len(stack) > 1:
        parent_list, node = stack.pop()
        assert node is not None
        tok = node.open_tok or node.kw
        diags.error(node.kw.loc, f"block '{node.kw.text}' opened at {tok.file}:{tok.line} is never closed"
                    " (missing '}')", "missing-eob")
    return root
