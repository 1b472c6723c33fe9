"""The right-hand side of a condition, and how it compares with a field's value.

Strings match exactly, with ``*`` as a wildcard; numbers compare numerically
(``-1``, ``1.5``, ``1e3`` included) and only with numbers; ``%regex%`` searches
a string. A field that is missing or of another type never satisfies a
condition, ``!=`` included.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from chalicelib.filters.errors import PatternError
from chalicelib.filters.lexer import Token
from chalicelib.filters.regex import compile_regex

_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_NUMERIC_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Value:
    kind: str  # string | number | regex
    text: str
    number: float | None = None
    pattern: re.Pattern | None = None  # compiled regex or wildcard


def value_from(token: Token, pattern: str, op: str) -> Value:
    if token.kind == "REGEX":
        if op not in ("=", "!="):
            raise PatternError(f"a regular expression can only be compared with = or !=, not {op}", pattern, token.pos)
        return Value("regex", token.text, pattern=compile_regex(token.text, pattern, token.pos))
    if token.kind == "WORD" and _NUMBER.match(token.text):
        return Value("number", token.text, number=float(token.text))
    if token.kind not in ("WORD", "STRING"):
        raise PatternError(f"expected a value after {op}, found {token.text!r}", pattern, token.pos)
    if op in _NUMERIC_OPS:
        raise PatternError(f"{op} needs a number, got {token.text!r}", pattern, token.pos)
    wildcard = None
    if "*" in token.text:
        wildcard = re.compile("".join(".*" if c == "*" else re.escape(c) for c in token.text) + r"\Z", re.S)
    return Value("string", token.text, pattern=wildcard)


def _as_number(actual: object) -> float | None:
    if isinstance(actual, bool):
        return None
    if isinstance(actual, int | float):
        return float(actual)
    if isinstance(actual, str) and _NUMBER.match(actual.strip()):
        return float(actual)
    return None


def compare(op: str, value: Value, actual: object, strings_are_numbers: bool = False) -> bool:
    """Whether ``actual`` satisfies ``op value``.

    ``strings_are_numbers``: space-delimited fields are text, so ``404`` compares
    numerically with the field "404"; in JSON a string is never a number.
    """
    if value.kind == "number":
        num = _as_number(actual) if (strings_are_numbers or not isinstance(actual, str)) else None
        if num is None:
            return False
        if op == "=":
            return num == value.number
        if op == "!=":
            return num != value.number
        return _NUMERIC_OPS[op](num, value.number)
    if isinstance(actual, bool) or actual is None or isinstance(actual, dict | list):
        return False  # a selector must reach a string or a number
    if not isinstance(actual, str):
        if value.kind != "string" or value.pattern is None:
            return False
        actual = format(actual, "g") if isinstance(actual, float) else str(actual)  # { $.latency = * }
    if value.kind == "regex":
        found = value.pattern.search(actual) is not None
    elif value.pattern is not None:
        found = value.pattern.match(actual) is not None
    else:
        found = actual == value.text
    return found if op == "=" else not found
