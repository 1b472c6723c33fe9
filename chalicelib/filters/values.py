"""The right-hand side of a condition, and how it compares with a field's value.

Strings match exactly, with ``*`` as a wildcard; ``%regex%`` searches a string;
``< <= > >=`` compare numbers with numbers only. In JSON, ``=`` and ``!=`` also
compare across types, as AWS's recorded answers show (the documentation is
silent): a number pattern equals a number of the same value (``1``, ``1.0``,
``1e0``) or a string of exactly the pattern's text (``"1"``, not ``"1.0"``); a
string pattern equals a string, or a number written exactly so in the event
(``"1"`` matches ``1``, not ``1.0``). ``!=`` holds for every string or number
that is not equal; a missing field, ``true``, ``false``, ``null``, an object or
an array never satisfies a condition, ``!=`` included.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from chalicelib.filters.errors import PatternError
from chalicelib.filters.lexer import Token
from chalicelib.filters.linear import LinearRegex, Wildcard
from chalicelib.filters.regex import compile_regex

_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_NUMERIC_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Value:
    kind: str  # string | number | regex
    text: str
    number: float | None = None
    pattern: LinearRegex | None = None  # a %regex%
    wildcard: Wildcard | None = None  # a string with * wildcards


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
    wildcard = Wildcard.of(token.text) if "*" in token.text else None  # linear: never a backtracking .*
    return Value("string", token.text, wildcard=wildcard)


class _Written:
    """A parsed JSON number that remembers how the event wrote it (``1.0``, ``1e0``)."""

    raw: str

    def __new__(cls, text: str):
        obj = super().__new__(cls, text)
        obj.raw = text
        return obj


class RawInt(_Written, int):
    """A JSON integer, as written (``json.loads(..., parse_int=RawInt)``)."""


class RawFloat(_Written, float):
    """A JSON number with a fraction or exponent, as written (``parse_float=RawFloat``)."""


def number_text(actual: int | float) -> str:
    """A number as the event wrote it (parsed with ``RawInt``/``RawFloat``), else as Python prints it."""
    raw = getattr(actual, "raw", None)
    if raw is not None:
        return raw
    return format(actual, "g") if isinstance(actual, float) else str(actual)


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
    if isinstance(actual, bool) or actual is None or isinstance(actual, dict | list):
        return False  # a selector must reach a string or a number
    if value.kind == "number":
        if isinstance(actual, str) and not strings_are_numbers:
            if op in _NUMERIC_OPS:
                return False
            equal = actual == value.text  # JSON "1" equals the pattern 1; "1.0" does not
            return equal if op == "=" else not equal
        num = _as_number(actual)
        if num is None:
            return False
        if op == "=":
            return num == value.number
        if op == "!=":
            return num != value.number
        return _NUMERIC_OPS[op](num, value.number)
    if not isinstance(actual, str):
        actual = number_text(actual)  # { $.v = "1" } matches 1 as written, not 1.0
    if value.kind == "regex":
        found = value.pattern.search(actual)
    elif value.wildcard is not None:
        found = value.wildcard.fullmatch(actual)
    else:
        found = actual == value.text
    return found if op == "=" else not found
