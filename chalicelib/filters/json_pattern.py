"""JSON filter patterns: ``{ $.status >= 500 && ($.method = "POST" || $.path = /admin* ) }``.

Selectors: ``$.a.b``, ``$.a[0]``, ``$.a[*]`` (any element), ``$.*`` (any key),
``$.['key.with.dots']``. Conditions: ``= != < > <= >=`` with strings (``*``
wildcards), numbers or ``%regex%``; ``IS TRUE``, ``IS FALSE``, ``IS NULL``,
``NOT EXISTS``. ``&&`` binds tighter than ``||``; parentheses group. An event
that is not JSON never matches. With wildcards, a condition holds when any
selected value satisfies it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from chalicelib.filters.errors import PatternError
from chalicelib.filters.lexer import Token, tokenize
from chalicelib.filters.values import Value, compare, value_from

_STEP = re.compile(r"\.\[\s*'([^']*)'\s*\]|\.([^.\[\]]+)|\[\s*(\d+|\*)\s*\]")
MAX_REGEX = 2  # AWS: at most two regular expressions in a JSON or space-delimited pattern

Step = tuple[str, object]  # ("key", name) | ("index", n) | ("any", None)


def parse_selector(text: str, pattern: str, pos: int) -> tuple[Step, ...]:
    if not text.startswith("$"):
        raise PatternError(f"a selector starts with $, got {text!r}", pattern, pos)
    steps: list[Step] = []
    i = 1
    while i < len(text):
        m = _STEP.match(text, i)
        if m is None:
            raise PatternError(f"cannot read selector {text!r} after {text[:i]!r}", pattern, pos + i)
        quoted, name, index = m.groups()
        if quoted is not None:
            steps.append(("key", quoted))
        elif name is not None:
            steps.append(("any", None) if name == "*" else ("key", name))
        else:
            steps.append(("any", None) if index == "*" else ("index", int(index)))
        i = m.end()
    if not steps:
        raise PatternError("a selector needs a field after $, such as $.status", pattern, pos)
    return tuple(steps)


def resolve(doc: object, steps: tuple[Step, ...]) -> list[object]:
    """Every value the selector reaches in ``doc`` (several with wildcards, none when missing)."""
    current = [doc]
    for kind, arg in steps:
        nxt: list[object] = []
        for node in current:
            if (kind == "key" and isinstance(node, dict) and arg in node) or (
                kind == "index" and isinstance(node, list) and isinstance(arg, int) and arg < len(node)
            ):
                nxt.append(node[arg])
            elif kind == "any":
                if isinstance(node, dict):
                    nxt.extend(node.values())
                elif isinstance(node, list):
                    nxt.extend(node)
        current = nxt
    return current


@dataclass(frozen=True)
class Condition:
    selector: str
    steps: tuple[Step, ...]
    op: str  # = != < > <= >= IS NOT_EXISTS
    value: Value | None = None
    is_what: str | None = None  # TRUE FALSE NULL

    def holds(self, doc: object) -> bool:
        found = resolve(doc, self.steps)
        if self.op == "NOT_EXISTS":
            return not found
        if self.op == "IS":
            want = {"TRUE": True, "FALSE": False, "NULL": None}[self.is_what]
            return any(v is want for v in found)
        return any(compare(self.op, self.value, v) for v in found)


@dataclass(frozen=True)
class Logic:
    op: str  # AND | OR
    parts: tuple

    def holds(self, doc: object) -> bool:
        if self.op == "AND":
            return all(p.holds(doc) for p in self.parts)
        return any(p.holds(doc) for p in self.parts)


class _Parser:
    def __init__(self, pattern: str, tokens: list[Token]) -> None:
        self.pattern, self.toks, self.i = pattern, tokens, 0
        self.regexes = 0

    def peek(self) -> Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None, what: str = "") -> Token:
        tok = self.peek()
        if tok is None:
            raise PatternError(f"pattern ends early: expected {what or kind}", self.pattern, len(self.pattern))
        if kind and tok.kind != kind:
            raise PatternError(f"expected {what or kind}, found {tok.text!r}", self.pattern, tok.pos)
        self.i += 1
        return tok

    def expr(self):
        parts = [self.and_expr()]
        while (t := self.peek()) is not None and t.kind == "OR":
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Logic("OR", tuple(parts))

    def and_expr(self):
        parts = [self.unary()]
        while (t := self.peek()) is not None and t.kind == "AND":
            self.i += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else Logic("AND", tuple(parts))

    def unary(self):
        tok = self.peek()
        if tok is not None and tok.kind == "LPAREN":
            self.i += 1
            inner = self.expr()
            self.take("RPAREN", "a closing parenthesis")
            return inner
        return self.condition()

    def condition(self) -> Condition:
        sel = self.take("SELECTOR", "a selector such as $.status")
        steps = parse_selector(sel.text, self.pattern, sel.pos)
        tok = self.take(what="an operator (= != < > <= >=, IS or NOT EXISTS)")
        if tok.kind == "WORD" and tok.text.upper() == "IS":
            what = self.take("WORD", "TRUE, FALSE or NULL after IS")
            if what.text.upper() not in ("TRUE", "FALSE", "NULL"):
                raise PatternError(
                    f"expected TRUE, FALSE or NULL after IS, found {what.text!r}", self.pattern, what.pos
                )
            return Condition(sel.text, steps, "IS", is_what=what.text.upper())
        if tok.kind == "WORD" and tok.text.upper() == "NOT":
            ex = self.take("WORD", "EXISTS after NOT")
            if ex.text.upper() != "EXISTS":
                raise PatternError(f"expected EXISTS after NOT, found {ex.text!r}", self.pattern, ex.pos)
            return Condition(sel.text, steps, "NOT_EXISTS")
        if tok.kind != "OP":
            raise PatternError(f"expected an operator after {sel.text}, found {tok.text!r}", self.pattern, tok.pos)
        val_tok = self.take(what=f"a value after {tok.text}")
        value = value_from(val_tok, self.pattern, tok.text)
        if value.kind == "regex":
            self.regexes += 1
            if self.regexes > MAX_REGEX:
                raise PatternError(
                    f"at most {MAX_REGEX} regular expressions are allowed in one pattern", self.pattern, val_tok.pos
                )
        return Condition(sel.text, steps, tok.text, value)


@dataclass(frozen=True)
class JsonPattern:
    text: str
    root: object

    def match(self, message: str) -> dict[str, str] | None:
        """``{}`` when ``message`` matches, else ``None``."""
        try:
            doc = json.loads(message)
        except (ValueError, TypeError):
            return None
        if not isinstance(doc, dict | list) or not self.root.holds(doc):
            return None
        return {}  # CloudWatch extracts values only for space-delimited patterns


def scalar_text(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v)) if abs(v) < 1e15 else repr(v)
    return str(v)


def parse_json_pattern(text: str) -> JsonPattern:
    tokens = tokenize(text)
    if not tokens or tokens[0].kind != "LBRACE":
        raise PatternError("a JSON pattern starts with {", text, 1)
    if tokens[-1].kind != "RBRACE":
        raise PatternError("a JSON pattern ends with }", text, len(text))
    p = _Parser(text, tokens[1:-1])
    if not p.toks:
        raise PatternError("an empty JSON pattern {} has no condition", text, 1)
    root = p.expr()
    if p.peek() is not None:
        tok = p.peek()
        raise PatternError(f"unexpected {tok.text!r}: join conditions with && or ||", text, tok.pos)
    return JsonPattern(text, root)
