"""Compile any CloudWatch Logs filter pattern and use it as CloudWatch does.

``match`` for subscription filters and FilterLogEvents, ``test`` for the
TestMetricFilter response shape, ``metric`` for a metric filter's value and
dimensions (``$.field`` for JSON, ``$name`` for space-delimited fields, or a
number).

>>> p = compile_pattern('{ $.elb_status_code >= 500 }')
>>> p.test(['{"elb_status_code": 502}', '{"elb_status_code": 200}', 'not json'])["matches"]
[{'eventNumber': 1, 'eventMessage': '{"elb_status_code": 502}', 'extractedValues': {}}]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.filters.delimited import parse_delimited_pattern
from chalicelib.filters.errors import PatternError
from chalicelib.filters.json_pattern import parse_json_pattern, parse_selector, resolve
from chalicelib.filters.unstructured import parse_terms

MAX_PATTERN_LENGTH = 1024  # the FilterPattern length limit of the CloudWatch Logs API
_LITERAL = re.compile(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class FilterPattern:
    text: str
    kind: str  # terms | json | delimited
    impl: object

    def match(self, message: str) -> dict[str, str] | None:
        """Extracted values (possibly empty) when the event matches, else ``None``. Never raises."""
        if not isinstance(message, str):
            return None
        return self.impl.match(message)

    def test(self, messages: list[str]) -> dict:
        """What TestMetricFilter answers: ``eventNumber`` counts the input events from 1."""
        matches = []
        for number, message in enumerate(messages, 1):
            found = self.match(message)
            if found is not None:
                matches.append({"eventNumber": number, "eventMessage": message, "extractedValues": found})
        return {"matches": matches}

    def metric(self, message: str, value: str, dimensions: dict[str, str] | None = None):
        """``(metric value, dimensions)`` a metric filter publishes for ``message``, or ``None``.

        A field that is missing or not a number publishes nothing, as in CloudWatch.
        """
        found = self.match(message)
        if found is None:
            return None
        number = self._lookup(message, found, value)
        try:
            number = float(number)
        except (TypeError, ValueError):
            return None
        dims = {}
        for name, ref in (dimensions or {}).items():
            got = self._lookup(message, found, ref)
            if got is None:
                return None
            dims[name] = str(got)
        return number, dims

    def _lookup(self, message: str, found: dict[str, str], ref: str) -> object:
        if _LITERAL.match(ref):
            return ref
        if ref.startswith("$.") or ref.startswith("$["):
            from chalicelib import boundedjson

            try:
                doc = boundedjson.loads(message)
            except ValueError:
                return None
            values = resolve(doc, parse_selector(ref, ref, 1))
            return values[0] if values and not isinstance(values[0], dict | list | bool) else None
        return found.get(ref)


def sample_problems(
    matches, should_match: list[str] | tuple[str, ...], should_not: list[str] | tuple[str, ...]
) -> list[str]:
    """Every declared sample that does not behave as declared, in the words a spec error uses.

    ``matches(line) -> bool`` is the matcher under test (a pattern, or a log-alert rule).

    >>> p = compile_pattern("ERROR")
    >>> sample_problems(lambda s: p.match(s) is not None, ["ERROR x", "ok"], ["fine", "ERRORCODE"])
    ["samples.match[2] does not match: 'ok'", "samples.no_match[2] matches: 'ERRORCODE'"]
    """
    out = [f"samples.match[{i}] does not match: {s!r}" for i, s in enumerate(should_match, 1) if not matches(s)]
    return out + [f"samples.no_match[{i}] matches: {s!r}" for i, s in enumerate(should_not, 1) if matches(s)]


def compile_pattern(text: str) -> FilterPattern:
    """Parse ``text``; raise ``PatternError`` (saying where and why) when CloudWatch would refuse it."""
    if not isinstance(text, str):
        raise PatternError("a filter pattern is text")
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(f"longer than {MAX_PATTERN_LENGTH} characters", "", MAX_PATTERN_LENGTH + 1)
    stripped = text.strip()
    if stripped.startswith("{"):
        return FilterPattern(text, "json", parse_json_pattern(text))
    if stripped.startswith("["):
        return FilterPattern(text, "delimited", parse_delimited_pattern(text))
    return FilterPattern(text, "terms", parse_terms(text))


__all__ = ["FilterPattern", "PatternError", "compile_pattern", "sample_problems"]
