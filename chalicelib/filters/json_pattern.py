"""JSON filter patterns: ``{ $.status >= 500 && ($.method = "POST" || $.path = /admin* ) }``.

Selectors: ``$.a.b``, ``$.a[0]``, ``$.a[*]`` (any element), ``$.*`` (any key),
``$.['key.with.dots']``. Conditions: ``= != < > <= >=`` with strings (``*``
wildcards), numbers or ``%regex%``; ``IS TRUE``, ``IS FALSE``, ``IS NULL``,
``NOT EXISTS``. ``&&`` binds tighter than ``||``; parentheses group. Only a
JSON object can match: text that is not JSON, and a top-level JSON array,
never do (AWS's recorded answers: ``{ $.v NOT EXISTS }`` is false for
``[{"v": 1}]``). With wildcards, a condition holds when any selected value
satisfies it. With a duplicated key the last value counts.

Every condition tests the value its selector reaches, never the elements of an
array it reaches: an array (even ``[]`` or ``[null]``) exists and is not null,
just as it is never equal or unequal to anything (AWS's recorded answers:
``{ $.v NOT EXISTS }`` is false for ``{"v": []}``, ``{ $.v = 1 }`` for
``{"v": [1, "Alpha", null]}``; documented: ``IS NULL`` holds only for null).
``$.a[0]`` and ``$.a[*]`` reach elements; ``$.a.b`` does not enter an array.

Refused as AWS refuses them: ``= null`` and ``!= null`` (use ``IS NULL``),
``IS NOT NULL`` and ``EXISTS``, more than one wildcard in one selector, more
than three selectors with wildcards in one pattern, more than two regular
expressions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from chalicelib.filters.errors import PatternError
from chalicelib.filters.lexer import Token, tokenize
from chalicelib.filters.values import RawFloat, RawInt, Value, compare, value_from

_STEP = re.compile(r"\.\[\s*'([^']*)'\s*\]|\.([^.\[\]]+)|\[\s*(\d+|\*)\s*\]")
MAX_REGEX = 2  # AWS: at most two regular expressions in a JSON or space-delimited pattern
MAX_WILDCARDS_PER_SELECTOR = 1
MAX_WILDCARD_SELECTORS = 3
# The nearest test AWS accepts for "present" or "not null"; = * needs a value node, so it is no stand-in for arrays.
_PRESENT_HINT = "{0} = * matches a string or number, not null, true, false, an array or an object"

Step = tuple[str, object]  # ("key", name) | ("index", n) | ("any", None)


def parse_selector(text: str, pattern: str, pos: int) -> tuple[Step, ...]:
    if not text.startswith("$"):
        raise PatternError(f"a selector starts with $, got {text!r}", pattern, pos)
    steps: list[Step] = []
    i = 1
    while i < len(text):
        m = _STEP.match(text, i)
        if m is None:
            term = _bad_term(text, i)
            raise PatternError(
                f"Invalid character(s) in term {term!r} (cannot read selector {text!r} after {text[:i]!r})",
                pattern,
                pos + i,
            )
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
    if sum(kind == "any" for kind, _ in steps) > MAX_WILDCARDS_PER_SELECTOR:
        raise PatternError(
            "Your filter pattern has a JSON path selector that exceeds the maximum of 1 wildcard allowed per json "
            f"selector. ({text})",
            pattern,
            pos,
        )
    return tuple(steps)


def _bad_term(text: str, i: int) -> str:
    """The piece of a selector AWS names when it cannot read it: up to the first character out of place."""
    rest = text[i:]
    j = 1
    while j < len(rest) and (rest[j].isalnum() or rest[j] in "_*'" or (rest[0] == "[" and rest[j] == " ")):
        j += 1
    return (text[:i] if i == 1 else "") + rest[: j + 1]


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
        found = resolve(doc, self.steps)  # an array found is one value: these tests never look inside it
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
        self.wildcard_selectors = 0

    def peek(self) -> Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None, what: str = "") -> Token:
        tok = self.peek()
        if tok is None:
            raise PatternError(
                f"Invalid metric filter pattern (it ends early: expected {what or kind})",
                self.pattern,
                len(self.pattern),
            )
        if kind and tok.kind != kind:
            nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
            if tok.kind == "STRING" and nxt is not None and nxt.text.startswith(":"):  # { "v": [1] }
                raise PatternError(
                    "Invalid character(s) in term ':' (this is an EventBridge pattern; CloudWatch Logs writes "
                    f"{{ $.{tok.text} = ... }})",
                    self.pattern,
                    nxt.pos,
                )
            raise PatternError(
                f"Invalid metric filter pattern (expected {what or kind}, found {tok.text!r})", self.pattern, tok.pos
            )
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
        if any(kind == "any" for kind, _ in steps):
            self.wildcard_selectors += 1
            if self.wildcard_selectors > MAX_WILDCARD_SELECTORS:
                raise PatternError(
                    f"at most {MAX_WILDCARD_SELECTORS} selectors with wildcards are allowed in one filter pattern",
                    self.pattern,
                    sel.pos,
                )
        tok = self.take(what="an operator (= != < > <= >=, IS or NOT EXISTS)")
        if tok.kind == "WORD" and tok.text.upper() == "IS":
            what = self.take("WORD", "TRUE, FALSE or NULL after IS")
            if what.text.upper() == "NOT":
                raise PatternError(
                    f"Invalid character(s) in term {what.text!r} (CloudWatch has no IS NOT NULL; "
                    f"{_PRESENT_HINT.format(sel.text)})",
                    self.pattern,
                    what.pos,
                )
            if what.text.upper() not in ("TRUE", "FALSE", "NULL"):
                raise PatternError(
                    f"Invalid character(s) in term {what.text!r} (IS takes TRUE, FALSE or NULL)",
                    self.pattern,
                    what.pos,
                )
            return Condition(sel.text, steps, "IS", is_what=what.text.upper())
        if tok.kind == "WORD" and tok.text.upper() == "NOT":
            ex = self.take("WORD", "EXISTS after NOT")
            if ex.text.upper() != "EXISTS":
                raise PatternError(
                    f"Invalid metric filter pattern (expected EXISTS after NOT, found {ex.text!r})",
                    self.pattern,
                    ex.pos,
                )
            return Condition(sel.text, steps, "NOT_EXISTS")
        if tok.kind == "WORD" and tok.text.upper() == "EXISTS":
            raise PatternError(
                f"Invalid metric filter pattern (CloudWatch has no EXISTS; {_PRESENT_HINT.format(sel.text)})",
                self.pattern,
                tok.pos,
            )
        if tok.kind != "OP":
            raise PatternError(
                f"Invalid metric filter pattern (expected an operator after {sel.text}, found {tok.text!r})",
                self.pattern,
                tok.pos,
            )
        val_tok = self.take(what=f"a value after {tok.text}")
        if val_tok.kind == "WORD" and val_tok.text == "null":
            raise PatternError(
                f"Invalid metric filter pattern (compare with null using {sel.text} IS NULL)", self.pattern, val_tok.pos
            )
        value = value_from(val_tok, self.pattern, tok.text)
        if value.kind == "regex":
            self.regexes += 1
            if self.regexes > MAX_REGEX:
                raise PatternError(
                    f"Your input has exceeded the maximum of {MAX_REGEX} regular expressions per filter pattern.",
                    self.pattern,
                    val_tok.pos,
                )
        return Condition(sel.text, steps, tok.text, value)


@dataclass(frozen=True)
class JsonPattern:
    text: str
    root: object

    def match(self, message: str) -> dict[str, str] | None:
        """``{}`` when ``message`` matches, else ``None``."""
        try:
            doc = json.loads(message, parse_int=RawInt, parse_float=RawFloat)
        except (ValueError, TypeError, RecursionError):
            return None
        if not isinstance(doc, dict) or not self.root.holds(doc):
            return None
        return {}  # CloudWatch extracts values only for space-delimited patterns


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
        raise PatternError(
            f"Invalid metric filter pattern (unexpected {tok.text!r}: join conditions with && or ||)", text, tok.pos
        )
    return JsonPattern(text, root)
