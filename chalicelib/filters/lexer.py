"""Tokens of JSON (``{ ... }``) and space-delimited (``[ ... ]``) filter patterns."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.filters.errors import PatternError

OPERATORS = ("!=", "<=", ">=", "=", "<", ">")


@dataclass(frozen=True)
class Token:
    kind: str  # SELECTOR OP STRING REGEX WORD LPAREN RPAREN AND OR COMMA LBRACE RBRACE LBRACKET RBRACKET
    text: str
    pos: int  # 1-based position in the pattern


def tokenize(pattern: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch.isspace():
            i += 1
            continue
        start = i + 1
        two = pattern[i : i + 2]
        if two in ("&&", "||"):
            out.append(Token("AND" if two == "&&" else "OR", two, start))
            i += 2
        elif two in ("!=", "<=", ">="):
            out.append(Token("OP", two, start))
            i += 2
        elif ch in "=<>":
            out.append(Token("OP", ch, start))
            i += 1
        elif ch in "(){}[],":
            kinds = {
                "(": "LPAREN",
                ")": "RPAREN",
                "{": "LBRACE",
                "}": "RBRACE",
                "[": "LBRACKET",
                "]": "RBRACKET",
                ",": "COMMA",
            }
            out.append(Token(kinds[ch], ch, start))
            i += 1
        elif ch == '"':
            j, buf = i + 1, []
            while j < n and pattern[j] != '"':
                if pattern[j] == "\\" and j + 1 < n:
                    buf.append(pattern[j + 1])
                    j += 2
                    continue
                buf.append(pattern[j])
                j += 1
            if j >= n:
                raise PatternError("a double-quoted string is not closed", pattern, start)
            out.append(Token("STRING", "".join(buf), start))
            i = j + 1
        elif ch == "%":
            j = pattern.find("%", i + 1)
            if j == -1:
                raise PatternError("a regular expression is not closed with %", pattern, start)
            out.append(Token("REGEX", pattern[i + 1 : j], start))
            i = j + 1
        elif ch == "$":
            j = i + 1
            depth = 0
            while j < n:
                c = pattern[j]
                if c == "[":
                    depth += 1
                elif c == "]":
                    if depth == 0:
                        break
                    depth -= 1
                elif depth == 0 and (c.isspace() or c in "=!<>(),}&|"):
                    break
                elif c == "'" and depth:  # $.['key.with.dots']
                    k = pattern.find("'", j + 1)
                    j = k if k != -1 else n - 1
                j += 1
            out.append(Token("SELECTOR", pattern[i:j], start))
            i = j
        else:
            j = i
            while (
                j < n
                and not pattern[j].isspace()
                and pattern[j] not in '=!<>(){}[],"'
                and pattern[j : j + 2] not in ("&&", "||")
            ):
                j += 1
            if j == i:
                raise PatternError(
                    f"Invalid character(s) in term {pattern[i : i + 2]!r} (unexpected character {ch!r})", pattern, start
                )
            out.append(Token("WORD", pattern[i:j], start))
            i = j
    return out
