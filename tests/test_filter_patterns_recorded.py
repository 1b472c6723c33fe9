"""Every answer AWS's TestMetricFilter gave (recorded in us-east-1, 2026-09), reproduced by opswatch's engine.

The recordings (``tests/data/filter-patterns/``, see SOURCES.md) win where they and the documentation
disagree; ``tests/test_filter_patterns.py`` keeps the documentation's own examples, annotated where a
recording overrules them. A refused pattern must be refused with AWS's reason in the message.
"""

from __future__ import annotations

import json

import pytest

from chalicelib.filters import PatternError, compile_pattern
from tests.conftest import DATA

RECORDED = [
    json.loads(line) for line in (DATA / "filter-patterns" / "testmetricfilter-recorded.jsonl").read_text().splitlines()
]


@pytest.mark.parametrize("case", RECORDED, ids=[f"{i}-{c['label']}" for i, c in enumerate(RECORDED)])
def test_engine_answers_as_aws_did(case):
    if case["result"] == "refused":
        with pytest.raises(PatternError) as err:
            compile_pattern(case["pattern"])
        aws_reason = case["error"].split(": ", 1)[1]
        assert aws_reason in err.value.reason
        return
    got = compile_pattern(case["pattern"]).test(case["events"])["matches"]
    assert [m["eventNumber"] for m in got] == case["matches"]
    assert [m["eventMessage"] for m in got] == [case["events"][n - 1] for n in case["matches"]]
    for m in got:
        want = (case.get("extractedValues") or {}).get(str(m["eventNumber"]))
        if want is not None:
            assert m["extractedValues"] == want


@pytest.mark.parametrize(
    ("pattern", "events", "want"),
    [
        # The statements of what AWS answers, beyond the recorded calls.
        ("?ERROR ?ARGUMENTS -REQUEST", ["ERROR x", "REQUEST", "plain"], [1, 3]),  # behaves as -REQUEST
        ('" "', ["a b", "ab", " "], [1, 3]),  # only events that contain a space (documented: every event)
        ("[]", ["a b", "", '"x y" z'], [1, 2, 3]),
        ('{ $.v != "1" }', ['{"v": 1}', '{"v": 2}', '{"v": "x"}', "{}", '{"v": null}', '{"v": true}'], [2, 3]),
        ("{ $.v != 1 }", ['{"v": 1.0}', '{"v": "1"}', '{"v": "1.0"}', "{}", '{"v": [1]}'], [3]),
        ("{ $.v IS NULL }", ['{"v": null}', '{"v": [null]}', "[null]", "{}"], [1]),
        ("{ $.v[*] IS NULL }", ['{"v": [1, "a", null]}', '{"v": [1]}'], [1]),
        ("{ $.v NOT EXISTS }", ['[{"v": 1}]', "[]", "{}", '{"w": [{"v": 1}]}'], [3, 4]),
    ],
)
def test_stated_answers(pattern, events, want):
    assert [m["eventNumber"] for m in compile_pattern(pattern).test(events)["matches"]] == want


def test_extracted_values_of_empty_brackets_and_the_rest_of_the_line():
    [m] = compile_pattern("[]").test(['10.0.0.1 - "GET / HTTP/1.1" 200'])["matches"]
    assert m["extractedValues"] == {"$1": "10.0.0.1", "$2": "-", "$3": "GET / HTTP/1.1", "$4": "200"}
    [m] = compile_pattern("[w1=ERROR, w2]").test(["ERROR  request  failed"])["matches"]
    assert m["extractedValues"] == {"$w1": "ERROR", "$w2": "request  failed"}  # as written, spaces kept


@pytest.mark.parametrize(
    ("pattern", "position", "reason"),
    [
        ("ERROR*", 1, "Invalid character(s) in term 'ERROR*'"),
        ("ok ?WARN*", 5, "Invalid character(s) in term 'WARN*'"),
        ("{ $.v = null }", 9, "Invalid metric filter pattern"),
        ("{ $.v != null }", 10, "Invalid metric filter pattern"),
        ("{ $.a[*].b.* = 1 }", 3, "exceeds the maximum of 1 wildcard allowed per json selector"),
        ("{ $.a[*] = 1 || $.b[*] = 1 || $.c.* = 1 || $.d[*] = 1 }", 44, "at most 3 selectors with wildcards"),
        ("[a, ..., b, ...]", 13, "Duplicate field '...'"),
        ("%a{2,1}%", 4, "Failed to compile regular expression."),
    ],
)
def test_refusals_give_the_position_and_aws_reason(pattern, position, reason):
    with pytest.raises(PatternError) as err:
        compile_pattern(pattern)
    assert reason in err.value.reason and err.value.position == position
