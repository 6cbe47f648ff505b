"""keepalived.conf text -> logical lines of located tokens.

Follows keepalived's lib/parser.c read_line() pipeline, per physical line:

1. strip, then decomment: ``#`` / ``!`` outside double quotes start a comment (anywhere on
   the line, also after a value); ``\\#`` / ``\\!`` outside quotes are literal;
2. multi-line ``$NAME=value \\`` definitions collect continuation lines;
3. ``@ID rest`` keeps ``rest`` only when ID equals the config id, ``@^ID rest`` when not;
4. ``$NAME=value`` defines a parameter;
5. ``~SEQ(var, start, step, end) rest`` / ``~SEQx`` / ``~LST(...)`` repeat ``rest``;
6. ``$NAME`` / ``${NAME}`` / ``${NAME params}`` substitution, built-ins included, then the
   line is decommented again (so ``${_HASH}`` starts a comment, as in keepalived);
   a line that is exactly a multi-line parameter expands into its lines;
7. ``include PATTERN`` (and includer/includem/includew/includeb/includea) reads the matching
   files relative to the including file's directory, with glob and {a,b} brace expansion.
   Which include problems are errors (`-t` fails) and which only warnings follows keepalived:
   the kind (includer: unreadable or a directory; includem: also no match; includew: also a
   wildcard without match; includeb: a brace alternative missing; includea: all) or'd with the
   `include_check` keyword in force (same words, `+`/`-` to add and remove; it lasts until the
   end of the file it is in).

Each resulting line is split into tokens (double-quoted strings are one token, quotes
removed) and braces become lines of their own, as keepalived's line_residue handling does.
Tokens keep file, line and column.
"""
from __future__ import annotations

import glob
import os
import random
import re
import socket
from dataclasses import dataclass
from typing import Iterable, Iterator

from kvrrp.config.diagnostics import Diagnostics
from kvrrp.config.model import Location

MAX_INCLUDE_DEPTH = 64
# keepalived's include checks (lib/parser.h include_t): which include problems are errors
INCLUDE_R, INCLUDE_M, INCLUDE_W, INCLUDE_B = 1, 2, 4, 8   # unreadable/directory, no match, wildcard, brace
INCLUDE_CHECKS = {"read": INCLUDE_R, "match": INCLUDE_M, "wildcard_match": INCLUDE_W, "brace_match": INCLUDE_B}
INCLUDE_KINDS = {"include": 0, "includer": INCLUDE_R, "includem": INCLUDE_R | INCLUDE_M,
                 "includew": INCLUDE_R | INCLUDE_M | INCLUDE_W, "includeb": INCLUDE_R | INCLUDE_B,
                 "includea": INCLUDE_R | INCLUDE_M | INCLUDE_W | INCLUDE_B}
MAX_SUBSTITUTIONS_PER_LINE = 64
MAX_GENERATED_LINES = 5_000_000
MAX_LINE_LENGTH = 65536


class Token:
    """One word of a configuration line."""

    __slots__ = ("text", "file", "line", "col", "quoted")

    def __init__(self, text: str, file: str, line: int, col: int, quoted: bool = False) -> None:
        self.text = text
        self.file = file
        self.line = line
        self.col = col
        self.quoted = quoted

    @property
    def loc(self) -> Location:
        return Location(file=self.file, line=self.line, col=self.col)

    def __repr__(self) -> str:
        return f"Token({self.text!r} @ {self.file}:{self.line}:{self.col})"


@dataclass(slots=True)
class _Def:
    value: str
    multiline: bool
    builtin: str | None = None      # name of a built-in generator


_SPECIAL = re.compile(r'["\\#!]')
# A line with no quote, escape, comment, parameter or generator character and at most one
# brace, which can only be the very last character ("word word {") or the whole line ("}").
_SIMPLE_LINE = re.compile(r'[ \t]*(?:\}|[^"\\#!{}$@~\x00\r]*\{?)[ \t]*\r?\Z').match
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)("?)|([{}])|([^\s"{}]+)')
_DEF = re.compile(r'\$([A-Za-z_]\w*)=[ \t]*(.*)\Z', re.S)
_PARAM = re.compile(r'\$(?:\{([A-Za-z_]\w*)((?:[ \t]+\w+)*)\}|([A-Za-z_]\w*)(?=[ \t,)]|\Z))')
_INCLUDE = re.compile(r'include[rmwba]?\Z')
_BRACE = re.compile(r'\{([^{}]*,[^{}]*)\}')


def decomment(text: str) -> tuple[str, bool]:
    """Remove a comment; return (text stripped, ends-with-continuation-backslash)."""
    if _SPECIAL.search(text) is None:
        return text.strip(), False
    out: list[str] = []
    quote = False
    pos = 0
    skip = 0
    cont = False
    n = len(text)
    for m in _SPECIAL.finditer(text):
        i = m.start()
        if i < skip:
            continue
        ch = text[i]
        if ch == '"':
            quote = not quote
            continue
        if ch == "\\":
            if i + 1 < n:
                if not quote and text[i + 1] in "#!":
                    out.append(text[pos:i])
                    pos = i + 1        # keep the # or ! itself, drop the backslash
                skip = i + 2           # the escaped character is never special
                continue
            out.append(text[pos:i])
            pos = n
            cont = True
            break
        if not quote:            # '#' or '!'
            out.append(text[pos:i])
            pos = n
            break
    else:
        pass
    if pos < n:
        out.append(text[pos:])
    result = "".join(out).strip()
    return result, cont


def split_tokens(text: str, file: str, line: int, col0: int,
                 diags: Diagnostics | None) -> list[list[Token]]:
    """Tokenize one logical line; braces end up on lines of their own."""
    lines: list[list[Token]] = []
    cur: list[Token] = []
    for m in _TOKEN.finditer(text):
        col = col0 + m.start()
        word = m.group(4)
        if word is not None:
            cur.append(Token(word, file, line, col))
            continue
        brace = m.group(3)
        if brace is not None:
            if cur:
                lines.append(cur)
                cur = []
            lines.append([Token(brace, file, line, col)])
            continue
        if not m.group(2):
            # keepalived drops the rest of the line from an unmatched quote on
            if diags is not None:
                diags.error(Location(file=file, line=line, col=col),
                            "missing terminating '\"' in quoted string - rest of line ignored", "unmatched-quote")
            break
        text_q = m.group(1)
        if '\\"' in text_q:
            text_q = text_q.replace('\\"', '"')   # an escaped quote is part of the string
        cur.append(Token(text_q, file, line, col, True))
    if cur:
        lines.append(cur)
    return lines


def _brace_expand(pattern: str) -> list[str]:
    m = _BRACE.search(pattern)
    if m is None:
        return [pattern]
    out: list[str] = []
    for alt in m.group(1).split(","):
        out.extend(_brace_expand(pattern[: m.start()] + alt + pattern[m.end():]))
    return out


def default_config_id() -> str:
    return socket.gethostname().split(".")[0]



def _lines(text: str) -> Iterator[str]:
    """text.split("\n"), one line at a time: a 10,000-instance file is 120,000 lines, and a
    list of them all would live as long as the read (and its peak in the RSS for good)."""
    start = 0
    find = text.find
    while True:
        end = find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1

class Lexer:
    """Reads a configuration (with its includes) into a list of token lines."""

    def __init__(self, diags: Diagnostics, config_id: str | None = None,
                 env: dict[str, str] | None = None, seed: int | None = None) -> None:
        self.diags = diags
        self.config_id = default_config_id() if config_id is None else config_id
        self.env = os.environ if env is None else env
        self.random = random.Random(seed)
        self.defs: dict[str, _Def] = {
            "_PWD": _Def("", False, "pwd"),
            "_INSTANCE": _Def("", False, "instance"),
            "_RANDOM": _Def("", False, "random"),
            "_ENV": _Def("", False, "env"),
            "_HASH": _Def("#", False),
            "_BANG": _Def("!", False),
        }
        self.out: list[list[Token]] = []
        self.emit = self.out.append             # or a TreeBuilder's line(), see set_sink()
        self._stack: list[str] = []          # realpaths of files being read (loop detection)
        self._generated = 0
        self.files_read: list[str] = []
        self.include_check = 0               # include_check flags in force (INCLUDE_*)

    # -- entry points -----------------------------------------------------------------------

    def set_sink(self, sink) -> None:
        """Send every token line to `sink(line)` instead of collecting them in self.out."""
        self.emit = sink

    def read_file(self, path: str) -> list[list[Token]]:
        if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
            import stat
            if not stat.S_ISFIFO(os.stat(path).st_mode):     # never read a device (/dev/zero ...)
                self.diags.fatal(Location(file=path, line=0, col=0), "configuration is not a regular file",
                                 "file-not-found")
                return self.out
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as fh:
                text = fh.read()
        except OSError as exc:
            self.diags.fatal(Location(file=path, line=0, col=0),
                             f"cannot read configuration file: {exc.strerror or exc}", "file-not-found")
            return self.out
        self._feed(text, path)
        return self.out

    def read_text(self, text: str, filename: str = "<string>") -> list[list[Token]]:
        self._feed(text, filename)
        return self.out

    # -- internals -----------------------------------------------------------------------------

    def _feed(self, text: str, path: str) -> None:
        real = os.path.realpath(path) if not path.startswith("<") else path
        self._stack.append(real)
        self.files_read.append(path)
        try:
            self._feed_lines(_lines(text), path)
        finally:
            self._stack.pop()

    def _feed_lines(self, raw_lines: Iterable[str], path: str) -> None:
        pending: _Def | None = None            # multi-line definition being collected
        emit = self.emit
        simple = _SIMPLE_LINE
        for idx, raw in enumerate(raw_lines):
            lineno = idx + 1
            if pending is None and simple(raw) is not None:
                # Fast path (most lines of a big config): plain words, maybe a trailing '{' or a
                # lone '}' - nothing to decomment, substitute or include.
                words = raw.split()
                if not words:
                    continue
                first = words[0]
                if first[0] == "@" or first.startswith("include"):
                    pass                       # take the full path below (include_check too)
                else:
                    pos = raw.find(first)
                    if len(words) == 1:
                        if first == "}" or first == "{":
                            emit([Token(first, path, lineno, pos + 1)])
                            continue
                        if first[-1] == "{":
                            emit([Token(first[:-1], path, lineno, pos + 1)])
                            emit([Token("{", path, lineno, pos + len(first))])
                            continue
                        emit([Token(first, path, lineno, pos + 1)])
                        continue
                    toks = [Token(first, path, lineno, pos + 1)]
                    pos += len(first)
                    brace = None
                    last = words[-1]
                    if last[-1] == "{":
                        brace = len(words) - 1
                    for j in range(1, len(words)):
                        w = words[j]
                        pos = raw.find(w, pos)
                        if j == brace:
                            if len(w) > 1:
                                toks.append(Token(w[:-1], path, lineno, pos + 1))
                            emit(toks)
                            toks = [Token("{", path, lineno, pos + len(w))]
                        else:
                            toks.append(Token(w, path, lineno, pos + 1))
                        pos += len(w)
                    emit(toks)
                    continue
            if "\x00" in raw:
                self.diags.error(Location(file=path, line=lineno, col=1),
                                 "line contains NUL characters - ignored", "nul")
                continue
            stripped = raw.rstrip("\r")
            if pending is not None:
                if not stripped.strip():
                    pending = None
                    continue
                body, cont = decomment(stripped)
                if cont:
                    pending.value += ("\n" if pending.value else "") + body.rstrip()
                else:
                    if body:
                        pending.value += ("\n" if pending.value else "") + body
                    pending = None
                continue
            if not stripped:
                continue
            lead = len(stripped) - len(stripped.lstrip())
            body, cont = decomment(stripped)
            if not body and not cont:
                continue
            if cont:
                if body.startswith("$"):
                    m = _DEF.match(body)
                    if m is not None:
                        pending = self._define(m.group(1), m.group(2).rstrip(), multiline=True)
                        continue
                # outside a definition a trailing backslash is not a continuation: keepalived keeps
                # it, glued to the last word ("priority 120 \" -> "120\", an invalid number)
                body = body + "\\"
            pending = self._line(body, path, lineno, lead + 1, 0)

    def _define(self, name: str, value: str, multiline: bool) -> _Def:
        d = _Def(value, multiline)
        self.defs[name] = d
        return d

    def _loc(self, path: str, line: int, col: int) -> Location:
        return Location(file=path, line=line, col=col)

    def _line(self, body: str, path: str, lineno: int, col: int, depth: int) -> _Def | None:
        """Process one decommented line. Returns a multi-line definition still collecting."""
        if not body:
            return None
        if depth > MAX_SUBSTITUTIONS_PER_LINE:
            self.diags.error(self._loc(path, lineno, col),
                             "parameter substitution or ~SEQ nesting too deep (recursive definition?)",
                             "recursion")
            return None
        # 3. conditional lines
        if body[0] == "@":
            neg = body.startswith("@^")
            start = 2 if neg else 1
            m = re.search(r"[ \t]", body)
            if m is None:
                return None
            ident = body[start:m.start()]
            if (ident == self.config_id) == neg:
                return None
            rest = body[m.end():].lstrip(" \t")
            col += len(body) - len(rest)
            body = rest
            if not body:
                return None
        # 4. definitions
        if body[0] == "$":
            m = _DEF.match(body)
            if m is not None:
                value = m.group(2)
                if value.endswith("\\"):
                    return self._define(m.group(1), value[:-1].rstrip(), multiline=True)
                self._define(m.group(1), value, multiline=False)
                return None
        # 5. generators
        if body.startswith("~SEQ") or body.startswith("~LST"):
            self._generator(body, path, lineno, col, depth)
            return None
        if body[0] == "~":
            self.diags.error(self._loc(path, lineno, col),
                             f"unknown line generator '{body.split()[0]}'", "bad-generator")
            return None
        # 6. substitution
        if "$" in body:
            whole = _PARAM.fullmatch(body)
            if whole is not None:
                name = whole.group(1) or whole.group(3)
                d = self.defs.get(name)
                if d is not None and d.multiline and not whole.group(2):
                    for sub in d.value.split("\n"):
                        sub_body, _ = decomment(sub)
                        if sub_body:
                            self._line(sub_body, path, lineno, col, depth + 1)
                    return None
            new = self._substitute(body, path, lineno, col)
            if len(new) > MAX_LINE_LENGTH:
                self.diags.error(self._loc(path, lineno, col), f"parameter substitution makes the line longer "
                                 f"than {MAX_LINE_LENGTH} characters (recursive definition?)", "recursion")
                return None
            if new != body:
                new, _ = decomment(new)
                if not new:
                    return None
                return self._line(new, path, lineno, col, depth + 1)
        # 7. include
        if body.startswith("include"):
            parts = body.split(None, 1)
            if parts[0] == "include_check":
                # applies to the includes that follow it, while the file it is in is read
                # (then the parser keeps the keyword like any other)
                self._include_check_set(body.split()[1:], self._loc(path, lineno, col))
            elif _INCLUDE.match(parts[0]):
                if len(parts) < 2:
                    self.diags.error(self._loc(path, lineno, col), "include needs a file name",
                                     "missing-parameter")
                else:
                    self._include(parts[1].strip(), path, lineno, col, parts[0])
                return None
        for toks in split_tokens(body, path, lineno, col, self.diags):
            self.emit(toks)
        return None

    def _builtin(self, d: _Def, params: str, loc: Location, path: str) -> str | None:
        kind = d.builtin
        args = params.split()
        if kind == "pwd":
            if path.startswith("<"):
                return os.getcwd()
            return os.path.dirname(os.path.abspath(path))
        if kind == "instance":
            return self.config_id
        if kind == "random":
            if not all(a.isdigit() for a in args) or len(args) > 2:
                self.diags.error(loc, "${_RANDOM} takes up to two numbers: MIN MAX", "bad-parameter")
                return None
            lo = int(args[0]) if args else 0
            hi = int(args[1]) if len(args) > 1 else 32767
            if lo > hi:
                self.diags.error(loc, f"${{_RANDOM}}: min {lo} exceeds max {hi}, using {lo}", "bad-parameter")
                hi = lo
            return str(self.random.randint(lo, hi))
        if kind == "env":
            if len(args) != 1:
                self.diags.error(loc, "${_ENV} takes exactly one variable name", "bad-parameter")
                return None
            return self.env.get(args[0], "")
        return d.value

    def _substitute(self, body: str, path: str, lineno: int, col: int) -> str:
        defs = self.defs

        def repl(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(3)
            d = defs.get(name)
            if d is None or d.multiline:
                return m.group(0)          # undefined: left verbatim, like keepalived
            params = m.group(2) or ""
            if d.builtin is not None:
                value = self._builtin(d, params, self._loc(path, lineno, col + m.start()), path)
                return m.group(0) if value is None else value
            if params.strip():
                return m.group(0)
            return d.value

        return _PARAM.sub(repl, body)

    # -- ~SEQ / ~LST -------------------------------------------------------------------------

    def _generator(self, body: str, path: str, lineno: int, col: int, depth: int) -> None:
        loc = self._loc(path, lineno, col)
        close = body.find(")")
        if close < 0 or "(" not in body[:close]:
            self.diags.error(loc, f"invalid {body[:4]} specification '{body}' (missing parentheses)",
                             "bad-generator")
            return
        head = body[:body.index("(")].strip()
        inner = body[body.index("(") + 1:close]
        rest = body[close + 1:].strip()
        if head in ("~SEQ", "~SEQx"):
            values = self._seq_values(head, inner, body, loc)
            if values is None:
                return
            var, seq, hexfmt = values
            for v in seq:
                if not self._count(loc):
                    return
                self.defs[var] = _Def(format(v, "x") if hexfmt else str(v), False)
                if rest:
                    self._line(rest, path, lineno, col, depth + 1)
            return
        if head == "~LST":
            # The value list may contain {a,b} tuples and so ')' inside braces is not expected;
            # the closing ')' is the first one after the last '}'.
            lst = self._lst_values(inner, body, loc)
            if lst is None:
                return
            names, rows = lst
            for row in rows:
                if not self._count(loc):
                    return
                for name, val in zip(names, row):
                    self.defs[name] = _Def(val, False)
                if rest:
                    self._line(rest, path, lineno, col, depth + 1)
            return
        self.diags.error(loc, f"unknown line generator '{head}'", "bad-generator")

    def _count(self, loc: Location) -> bool:
        self._generated += 1
        if self._generated > MAX_GENERATED_LINES:
            if self._generated == MAX_GENERATED_LINES + 1:
                self.diags.error(loc, f"line generators produced more than {MAX_GENERATED_LINES} lines",
                                 "bad-generator")
            return False
        return True

    def _seq_values(self, head: str, inner: str, body: str, loc: Location):
        parts = [p.strip() for p in inner.split(",")]
        if len(parts) < 2 or not parts[0] or not re.fullmatch(r"[A-Za-z_]\w*", parts[0]):
            self.diags.error(loc, f"invalid ~SEQ definition '{body}'", "bad-generator")
            return None
        var = parts[0]
        nums: list[int] = []
        for p in parts[1:]:
            p = self._substitute(p, loc.file, loc.line, loc.col)
            try:
                nums.append(int(p, 0))
            except ValueError:
                self.diags.error(loc, f"invalid ~SEQ number '{p}' in '{body}'", "bad-generator")
                return None
        if len(nums) == 1:
            end = nums[0]
            step = -1 if end < 1 else 1
            start = -1 if end < 0 else 1
        elif len(nums) == 2:
            start, end = nums
            step = 1 if start <= end else -1
        elif len(nums) == 3:
            start, step, end = nums
            if step == 0 or (start < end and step < 0) or (start > end and step > 0):
                self.diags.error(loc, f"invalid ~SEQ values '{body}'", "bad-generator")
                return None
        else:
            self.diags.error(loc, f"invalid ~SEQ definition '{body}' (too many values)", "bad-generator")
            return None
        hexfmt = head == "~SEQx"
        if hexfmt and (start < 0 or end < 0):
            self.diags.error(loc, f"~SEQx is only valid for positive numbers '{body}'", "bad-generator")
            return None
        stop = end + (1 if step > 0 else -1)
        return var, range(start, stop, step), hexfmt

    def _lst_values(self, inner: str, body: str, loc: Location):
        # inner: "var, v1, v2" or "{a,b},{1,2},{3,4}"
        groups = re.findall(r"\{([^{}]*)\}|([^,{}]+)", inner)
        items: list[list[str]] = []
        for braced, plain in groups:
            if braced or (braced == "" and plain == ""):
                items.append([x.strip() for x in braced.split(",")])
            elif plain.strip():
                items.append([plain.strip()])
        if len(items) < 2:
            self.diags.error(loc, f"invalid ~LST specification '{body}'", "bad-generator")
            return None
        names = items[0]
        if not all(re.fullmatch(r"[A-Za-z_]\w*", n) for n in names):
            self.diags.error(loc, f"invalid ~LST variable names in '{body}'", "bad-generator")
            return None
        rows = []
        for row in items[1:]:
            if len(row) > len(names):
                self.diags.error(loc, f"~LST specification has too many values '{body}'", "bad-generator")
                return None
            rows.append(row + [""] * (len(names) - len(row)))
        return names, rows

    # -- include --------------------------------------------------------------------------------

    def _include_check_set(self, words: list[str], loc: Location) -> None:
        """keepalived's include_check_set(): no word turns every check on; `read`, `match`,
        `wildcard_match`, `brace_match` set (with `read`), `+word` / `-word` add and remove."""
        if not words:
            self.include_check = INCLUDE_R | INCLUDE_M | INCLUDE_W | INCLUDE_B
            return
        for i, word in enumerate(words):
            change = {"-": -1, "+": 1}.get(word[0], 0)
            name = word[1:] if change else word
            if not change and i:
                self.diags.error(loc, f"Duplicate include_check '{word}' specified - ignoring", "duplicate")
                continue
            if not change:
                self.include_check = 0
            flag = INCLUDE_CHECKS.get(name)
            if flag is None:
                self.diags.error(loc, f"Unknown include_check type '{name}' - ignoring", "invalid-value")
                continue
            if change == 0:
                self.include_check = INCLUDE_R | flag
            elif change > 0:
                self.include_check |= flag
            else:
                self.include_check &= ~flag

    def _include(self, pattern: str, path: str, lineno: int, col: int, kind: str = "include") -> None:
        loc = self._loc(path, lineno, col)
        if pattern.startswith('"') and pattern.endswith('"') and len(pattern) >= 2:
            pattern = pattern[1:-1]
        # which problems are errors: the include's own kind (includer, includem ...) or include_check
        checks = self.include_check | INCLUDE_KINDS.get(kind, 0)
        base = os.getcwd() if path.startswith("<") else os.path.dirname(os.path.abspath(path))
        matches: list[str] = []
        missing: list[str] = []
        alternatives = _brace_expand(pattern)
        for pat in alternatives:
            full = pat if os.path.isabs(pat) else os.path.join(base, pat)
            found = sorted(glob.glob(full))
            if not found and not glob.has_magic(full) and os.path.exists(full):
                found = [full]
            if not found:
                missing.append(pat)
            matches.extend(found)
        if not matches:
            wildcard = any(glob.has_magic(p) for p in alternatives)
            wanted = INCLUDE_W if wildcard else INCLUDE_B if len(alternatives) > 1 else INCLUDE_M
            if checks & wanted:
                self.diags.error(loc, f"include '{pattern}' matches no file", "include-missing")
            else:
                self.diags.warning(loc, f"include '{pattern}' matches no file", "include-missing")
            return
        if missing and len(alternatives) > 1 and checks & INCLUDE_B:
            self.diags.error(loc, f"Some config files missing: \"{pattern}\" ({', '.join(missing)})",
                             "include-missing")
            return
        if len(self._stack) >= MAX_INCLUDE_DEPTH:
            self.diags.error(loc, f"includes nested more than {MAX_INCLUDE_DEPTH} deep", "include-depth")
            return
        for f in matches:
            if not os.path.isfile(f):
                if not os.path.isdir(f):     # devices, fifos: never read (think /dev/zero)
                    self.diags.error(loc, f"include '{f}' is not a regular file - skipped", "include-unreadable")
                elif checks & INCLUDE_R:
                    self.diags.error(loc, f"Configuration file '{f}' is a directory - skipping",
                                     "include-unreadable")
                continue
            real = os.path.realpath(f)
            if real in self._stack:
                chain = " -> ".join(self._stack[self._stack.index(real):] + [real])
                self.diags.error(loc, f"include loop: {chain}", "include-loop")
                continue
            try:
                with open(f, encoding="utf-8", errors="surrogateescape") as fh:
                    text = fh.read()
            except OSError as exc:
                self.diags.error(loc, f"cannot read included file {f}: {exc.strerror or exc}",
                                 "include-unreadable")
                continue
            shown = os.path.normpath(f)
            self._stack.append(real)
            self.files_read.append(shown)
            saved_checks = self.include_check     # an include_check inside ends with the file
            try:
                self._feed_lines(_lines(text), shown)
            finally:
                self._stack.pop()
                self.include_check = saved_checks
