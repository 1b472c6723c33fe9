"""JSON from outside opswatch, decoded within bounds: size, number of values, nesting depth.

Every flow reads JSON that someone else wrote (SNS messages, awslogs payloads, log
lines, on-failure records). ``json.loads`` alone has three ways to fail that
``except ValueError`` does not catch or that arrive too late:

- ``'[' * 100000`` raises ``RecursionError``, and a document nested 900 deep parses
  but makes the next ``json.dumps`` (or any recursive walk) raise it instead;
- a small text of many tiny values (``[{},{},...]``) grows about 25 times in memory
  once decoded, past what a 128 MB function holds;
- a huge text is decoded whole before anyone looks at its size.

``loads`` refuses all three with ``UndecodableJSON``, a ``ValueError``, so the
callers' existing "not JSON" path (count it, report it, skip it) covers them.

>>> loads('{"a": [1, 2]}')
{'a': [1, 2]}
>>> loads("[" * 100000 + "]" * 100000)
Traceback (most recent call last):
...
chalicelib.boundedjson.UndecodableJSON: JSON nested deeper than 64 levels (at character 65)
>>> loads("[" + "{}," * 10 + "{}]", max_values=5)
Traceback (most recent call last):
...
chalicelib.boundedjson.UndecodableJSON: JSON holds more than 5 values
"""

from __future__ import annotations

import json
import math
import re

MAX_DEPTH = 64  # far above any AWS event (SNS, EventBridge, awslogs nest fewer than 10 levels)

# A JSON string, or what is left of an unclosed one: every opening quote matches at once, in one pass, so
# a text of unclosed strings (``"\\"\\"\\"…``) costs linear time, not one scan to the end per quote.
_STRING_BODY = r'"(?:[^"\\]|\\.|\\\Z)*+(?:"|\Z)'
_STRING = re.compile(_STRING_BODY, re.S)
_TOKEN = re.compile(_STRING_BODY + r"|[\[{]|[\]}]", re.S)


class UndecodableJSON(ValueError):
    """JSON that opswatch will not decode (too big, too many values, too deep); the message says which."""


def count_values(text: str) -> int:
    """An upper bound of the values a JSON text decodes into (containers and separators outside strings).

    Linear and in C (``re.sub`` and ``str.count``), so it can run before the decoding it guards.

    >>> count_values('[1, "a,b", {"c": [2]}]')
    6
    """
    bare = _STRING.sub('""', text)
    return bare.count(",") + bare.count("[") + bare.count("{") + 1


def _deep_at(text: str, max_depth: int) -> int | None:
    """Where (0-based character) the nesting first passes ``max_depth``, if it does."""
    depth = 0
    for m in _TOKEN.finditer(text):
        ch = m.group()[0]
        if ch in "[{":
            depth += 1
            if depth > max_depth:
                return m.start()
        elif ch in "]}":
            depth -= 1
    return None


def _depth_exceeds(doc: object, max_depth: int) -> bool:
    """Whether ``doc`` nests deeper than ``max_depth`` (iterative: no recursion of its own)."""
    stack = [(doc, 1)] if isinstance(doc, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _too_deep(text: str, max_depth: int) -> UndecodableJSON:
    at = _deep_at(text, max_depth)
    where = f" (at character {at + 1})" if at is not None else ""
    return UndecodableJSON(f"JSON nested deeper than {max_depth} levels{where}")


def _not_a_number(token: str) -> float:
    raise UndecodableJSON(f"JSON holds a number out of range or not a number: {token}")


def _finite(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        _not_a_number(token)
    return value


def loads(
    text: str | bytes,
    *,
    max_chars: int | None = None,
    max_values: int | None = None,
    max_depth: int = MAX_DEPTH,
    **kwargs,
) -> object:
    """``json.loads(text, **kwargs)``, refusing with ``UndecodableJSON`` what would not stay bounded.

    ``max_chars`` bounds the text, ``max_values`` what it decodes into (see ``count_values``),
    ``max_depth`` its nesting, so that whatever uses the result may recurse into it.
    Malformed JSON raises ``json.JSONDecodeError`` (a ``ValueError``) as usual. ``NaN``,
    ``Infinity`` and numbers past a float's range (``1e999``) are refused too: Python reads
    them, but they are not JSON, and a message carrying one would be refused downstream
    (Slack, CloudWatch) instead of here, with its reason.

    >>> loads('{"a": 1e999}')
    Traceback (most recent call last):
    ...
    chalicelib.boundedjson.UndecodableJSON: JSON holds a number out of range or not a number: 1e999
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode(json.detect_encoding(text), "surrogatepass")  # as json.loads does
    if max_chars is not None and len(text) > max_chars:
        raise UndecodableJSON(f"JSON text of {len(text)} characters, more than the limit of {max_chars}")
    if max_values is not None and count_values(text) > max_values:
        raise UndecodableJSON(f"JSON holds more than {max_values} values")
    kwargs.setdefault("parse_constant", _not_a_number)
    kwargs.setdefault("parse_float", _finite)
    try:
        doc = json.loads(text, **kwargs)
    except RecursionError:
        raise _too_deep(text, max_depth) from None
    if _depth_exceeds(doc, max_depth):
        raise _too_deep(text, max_depth)
    return doc
