"""Unstructured filter patterns: terms, "quoted phrases", ?alternatives, -exclusions, %regex%.

Matching is case-sensitive and looks for each term anywhere in the event.
``ERROR Exception`` needs both; ``?ERROR ?WARN`` either; ``ERROR -DEBUG``
excludes; the empty pattern matches every event.

Where AWS's recorded answers (TestMetricFilter, us-east-1, 2026-09) differ from
its documentation, opswatch gives the recorded answer:

- ``?term`` alternatives next to a required or excluded term are ignored:
  ``?ERROR ?ARGUMENTS REQUEST`` behaves as ``REQUEST``, and
  ``?ERROR ?ARGUMENTS -REQUEST`` as ``-REQUEST``;
- ``" "`` matches only events that contain a space (the documentation says every event);
- ``*`` in an unquoted term is refused (``Invalid character(s) in term '*'``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.filters.errors import PatternError
from chalicelib.filters.regex import compile_regex

_TERM = re.compile(r'([?-]?)\s*(?:"((?:[^"\\]|\\.)*)"|(\S+))')


@dataclass(frozen=True)
class TermPattern:
    text: str
    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    regex: re.Pattern | None = None

    def match(self, message: str) -> dict[str, str] | None:
        if self.regex is not None:
            return {} if self.regex.search(message) else None
        if any(t not in message for t in self.required):
            return None
        if self.any_of and not (self.required or self.excluded) and not any(t in message for t in self.any_of):
            return None
        if any(t in message for t in self.excluded):
            return None
        return {}


def parse_terms(text: str) -> TermPattern:
    stripped = text.strip()
    if stripped in ("", '""'):
        return TermPattern(text)
    if stripped.startswith("%"):
        if not stripped.endswith("%") or len(stripped) < 2:
            raise PatternError("a regular expression is not closed with %", text, len(text))
        return TermPattern(text, regex=compile_regex(stripped[1:-1], text, text.index("%") + 1))
    required, any_of, excluded = [], [], []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TERM.match(text, pos)
        if m is None:
            raise PatternError(f"expected a term after {text[pos]!r}", text, pos + 1)
        sign, quoted, bare = m.groups()
        if bare is not None and '"' in bare:
            raise PatternError(
                f"Invalid character(s) in term {bare!r} (a double-quoted phrase is not closed)",
                text,
                pos + 1 + bare.index('"'),
            )
        if bare is not None and "*" in bare:
            raise PatternError(
                f"Invalid character(s) in term {bare!r} (quote a term that contains *)", text, m.start(3) + 1
            )
        term = quoted.replace('\\"', '"') if quoted is not None else bare
        if not term:
            raise PatternError("empty term", text, pos + 1)
        {"": required, "?": any_of, "-": excluded}[sign].append(term)
        pos = m.end()
    return TermPattern(text, tuple(required), tuple(any_of), tuple(excluded))
