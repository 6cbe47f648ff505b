"""Script command -> argv, the way keepalived splits it (no shell involved)."""
from __future__ import annotations

_ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def split_command(text: str) -> tuple[str, ...]:
    """Split a script command into argv the way keepalived's alloc_strvec_quoted_escaped()
    does: whitespace separates words, '...' and "..." group, backslash escapes (\\n \\t \\xHH
    \\nnn octal \\cC control ...). No shell is involved. An unterminated quote ends the word."""
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    quote = ""
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            i += 1
            e = text[i]
            if e == "x" and i + 1 < n and text[i + 1] in "0123456789abcdefABCDEF":
                j = i + 1
                while j < n and j < i + 3 and text[j] in "0123456789abcdefABCDEF":
                    j += 1
                cur.append(chr(int(text[i + 1:j], 16)))
                i = j
            elif e == "c" and i + 1 < n:
                cur.append(chr(ord(text[i + 1]) & 0x1F))
                i += 2
            elif "0" <= e <= "7":
                j = i
                while j < n and j < i + 3 and "0" <= text[j] <= "7":
                    j += 1
                cur.append(chr(int(text[i:j], 8) & 0xFF))
                i = j
            else:
                cur.append(_ESCAPES.get(e, e))
                i += 1
            in_word = True
            continue
        if quote:
            if ch == quote:
                quote = ""
            else:
                cur.append(ch)
            i += 1
            continue
        if ch in "\"'":
            quote = ch
            in_word = True
        elif ch in " \t":
            if in_word:
                words.append("".join(cur))
                cur = []
                in_word = False
        else:
            cur.append(ch)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(cur))
    return tuple(words)
