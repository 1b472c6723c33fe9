"""The filter-pattern engine against the examples of AWS's filter-pattern documentation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.filters import PatternError, compile_pattern


def matches(pattern: str, events: list[str]) -> list[int]:
    """1-based numbers of the events the pattern matches."""
    return [m["eventNumber"] for m in compile_pattern(pattern).test(events)["matches"]]


# --- unstructured --------------------------------------------------------------------------------

DOC_EVENTS = ["[ERROR] A fatal exception has occurred", "Exiting with ERRORCODE: -1"]
OR_EVENTS = ["ERROR WARN message", "ERROR message", "WARN message"]


@pytest.mark.parametrize(
    ("pattern", "events", "want"),
    [
        ('""', DOC_EVENTS, [1, 2]),  # match everything
        ("", DOC_EVENTS, [1, 2]),
        ('" "', DOC_EVENTS, [1, 2]),
        ('"ERROR"', DOC_EVENTS, [1, 2]),  # a term matches inside ERRORCODE too
        ("ERROR", DOC_EVENTS, [1, 2]),
        ('"ERROR" - "Exiting"', DOC_EVENTS, [1]),
        ("ERROR -Exiting", DOC_EVENTS, [1]),
        (
            "ERROR Exception",
            ["[ERROR] Caught IllegalArgumentException", "[ERROR] Unhandled Exception", "[ERROR] other"],
            [1, 2],
        ),
        (
            "Failed to process the request",
            [
                "[WARN] Failed to process the request",
                "[ERROR] Unable to continue: Failed to process the request",
                "Failed",
            ],
            [1, 2],
        ),
        ('"Failed to process"', ["Failed to process", "Failed  to process", "process Failed to"], [1]),
        ("ERROR", OR_EVENTS, [1, 2]),
        ("?ERROR ?WARN", OR_EVENTS, [1, 2, 3]),
        ("ERROR WARN", OR_EVENTS, [1]),
        ("ERROR -WARN", OR_EVENTS, [2]),
        ("error", OR_EVENTS, []),  # case-sensitive
        ("%AUTHORIZED%", ["[ERROR 401] UNAUTHORIZED REQUEST", "[SUCCESS 200] AUTHORIZED REQUEST", "nope"], [1, 2]),
        (r"%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%", ["from 10.0.0.1", "from host"], [1]),
        ("%[Ee]rror|[Ff]ail%", ["Error here", "fail here", "all fine"], [1, 2]),
        ("%^[hc]at%", ["hat", "cat", "that"], [1, 2]),
        ("%[hc]at$%", ["hat", "a cat", "cats"], [1, 2]),
        ("%colou?r%", ["color", "colour", "colr"], [1, 2]),
        ("%a{3,5}%", ["aa", "aaa", "xaaaaay"], [2, 3]),
    ],
)
def test_unstructured_examples(pattern, events, want):
    assert matches(pattern, events) == want


# --- JSON ---------------------------------------------------------------------------------------------

DOC_JSON = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)
COMPOUND = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)


@pytest.mark.parametrize(
    ("pattern", "event", "matched"),
    [
        ('{ $.eventType = "UpdateTrail" }', DOC_JSON, True),
        ("{ $.eventType = UpdateTrail }", DOC_JSON, True),
        ("{ $.sourceIPAddress != 123.123.* }", DOC_JSON, True),
        ("{ $.sourceIPAddress = 111.111.* }", DOC_JSON, True),
        ('{ $.arrayKey[0] = "value" }', DOC_JSON, True),
        ("{ $.objectList[1].id = 2 }", DOC_JSON, True),
        ("{ $.SomeObject IS NULL }", DOC_JSON, True),
        ("{ $.SomeOtherObject NOT EXISTS }", DOC_JSON, True),
        ("{ $.SomeObject NOT EXISTS }", DOC_JSON, False),
        ("{ $.ThisFlag IS TRUE }", DOC_JSON, True),
        ("{ $.ThisFlag IS FALSE }", DOC_JSON, False),
        ("{ $.eventType = *Trail }", DOC_JSON, True),
        ("{ $.eventType = Update* }", DOC_JSON, True),
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', COMPOUND, True),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', COMPOUND, False),
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }',
            COMPOUND,
            True,
        ),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }',
            COMPOUND,
            False,
        ),
        ("{ $.users = 1 }", json.dumps({"users": [1, 2, 3]}), False),  # selectors must reach a value node
        ("{ $.users != 1 }", json.dumps({"users": [1, 2, 3]}), False),
        ("{ $.foo = bar }", '{"foo": "bar"}', True),
        ("{ $.foo = baz }", '{"foo": "bar"}', False),
        ("{ $.foo = bar || $.foo = baz }", '{"foo": "baz"}', True),
        ("{ $.latency >= 500 }", '{"latency": 500}', True),
        ("{ $.numbers[0] < 10e3 }", '{"numbers": [9999]}', True),
        ("{ $.numbers[0] < 10e-3 }", '{"numbers": [0.001]}', True),
        (
            "{ $.processes[4].averageRuntime <= 55.5 }",
            json.dumps({"processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}]}),
            True,
        ),
        ("{ $.errorCode = 400 }", '{"errorCode": 400}', True),
        ("{ $.errorCode != 500 }", '{"errorCode": 400}', True),
        ("{ $.latency > +1000 }", '{"latency": 1000.5}', True),
        ("{ $.latency > -1 }", '{"latency": -0.5}', True),
        # Recorded by AWS (tests/test_filter_patterns_recorded.py): a number pattern equals a string holding
        # exactly its text, though the documentation compares numbers with numbers only.
        ("{ $.errorCode = 400 }", '{"errorCode": "400"}', True),
        ("{ $.errorCode = 400 }", '{"errorCode": "400.0"}', False),
        ("{ $.latency = * }", '{"latency": 12}', True),
        ("{ $.latency = * }", '{"other": 12}', False),
        ("{ $.message = %time.?out% }", '{"message": "request timed out"}', False),
        ("{ $.message = %time.?out% }", '{"message": "timeout"}', True),
        ("{ $.message != %error% }", '{"message": "all good"}', True),
        ("{ $.actions[*] = PUT }", COMPOUND, True),
        ("{ $.users[*].id = 3 }", COMPOUND, True),
        ("{ $.* = 1 }", '{"a": 2, "b": 1}', True),
        ("{ $.['key.with.dots'] = yes }", '{"key.with.dots": "yes", "key": {"with": {"dots": "no"}}}', True),
        ("{ $.a = 1 }", "not json at all", False),  # non-JSON events never match a JSON pattern
        ("{ $.a = 1 }", "[1, 2]", False),
        ('{ $.level = "ERROR" }', '{"level": "ERROR", "msg": "x"}', True),
    ],
)
def test_json_examples(pattern, event, matched):
    assert (compile_pattern(pattern).match(event) is not None) is matched


# --- JSON: IS NULL and NOT EXISTS on arrays ---------------------------------------------------------------
# A selector reaches one value; IS NULL and NOT EXISTS test that value, never the elements of an array it
# reaches, as = and != do (recorded: { $.v = 1 } does not match {"v": [1, "Alpha", null]}). Only [*] and an
# index reach elements. Each case says where its answer comes from:
#   recorded: a TestMetricFilter answer in tests/data/filter-patterns/ (label, event number);
#   documented: AWS's "Filter pattern syntax" page, JSON section ("IS NULL ... only true if the specified
#     object is set to null", "NOT EXISTS ... only true if the specified object does not exist in log data",
#     "the SELECTOR must point to a value node"; $.arrayKey[0], $.objectList[1].id, $.coordinates[0][1]);
#   opswatch's choice: neither says; the rule recorded for [*] with = (any selected value) carried over.

ARRAY_NULL_CASES = [
    # the selector reaches the array itself
    ("{ $.v IS NULL }", '{"v": [null]}', False, "documented: an array is not null"),
    ("{ $.v IS NULL }", '{"v": [null, null]}', False, "documented: an array of nulls is not null"),
    ("{ $.v IS NULL }", '{"v": [1, "Alpha", null]}', False, "documented: mixed array (json_number_equal event 25)"),
    ("{ $.v IS NULL }", '{"v": []}', False, "documented: an empty array is not null"),
    ("{ $.v IS NULL }", '{"v": [[null]]}', False, "documented: nested array"),
    ("{ $.v IS NULL }", '{"v": [{"w": null}]}', False, "documented: objects in an array"),
    ("{ $.v NOT EXISTS }", '{"v": []}', False, "recorded: json_not_exists event 23"),
    ("{ $.v NOT EXISTS }", '{"v": [1, "Alpha", null]}', False, "recorded: json_not_exists event 25"),
    ("{ $.v NOT EXISTS }", '{"v": [null]}', False, "documented: an array of nulls exists"),
    # an index reaches one element
    ("{ $.v[0] IS NULL }", '{"v": [null, 1]}', True, "documented: $.arrayKey[0] selects the element"),
    ("{ $.v[1] IS NULL }", '{"v": [null, 1]}', False, "documented: the element is 1"),
    ("{ $.v[0] IS NULL }", '{"v": []}', False, "documented: a missing element is not set to null"),
    ("{ $.v[0] NOT EXISTS }", '{"v": []}', True, "opswatch's choice: past the end, no element"),
    ("{ $.v[0] NOT EXISTS }", '{"v": [null]}', False, "documented: a null element exists"),
    ("{ $.v[0] NOT EXISTS }", '{"v": {"0": null}}', True, "recorded: json_array_index event 9, [0] is no key"),
    ("{ $.v[0][0] IS NULL }", '{"v": [[null]]}', True, "documented: $.coordinates[0][1] indexes nested arrays"),
    ("{ $.v[0].w IS NULL }", '{"v": [{"w": null}]}', True, "documented: $.objectList[1].id"),
    # [*] reaches every element; the condition holds when any of them satisfies it
    ("{ $.v[*] IS NULL }", '{"v": [null, null]}', True, "opswatch's choice: any element, as [*] with ="),
    ("{ $.v[*] IS NULL }", '{"v": [1, "Alpha", null]}', True, "opswatch's choice: any element is null"),
    ("{ $.v[*] IS NULL }", '{"v": [1, "Alpha"]}', False, "opswatch's choice: no element is null"),
    ("{ $.v[*] IS NULL }", '{"v": []}', False, "opswatch's choice: no element at all"),
    ("{ $.v[*] IS NULL }", '{"v": [[null]]}', False, "recorded: json_array_wildcard event 7, [*] does not flatten"),
    ("{ $.v[*] IS NULL }", '{"v": {"a": null}}', True, "recorded: json_array_wildcard event 9, [*] on an object"),
    ("{ $.v[*] IS NULL }", '{"v": null}', False, "recorded: json_array_wildcard event 5, [*] on a scalar"),
    ("{ $.v[*] NOT EXISTS }", '{"v": []}', True, "opswatch's choice: an empty array has no element"),
    ("{ $.v[*] NOT EXISTS }", '{"v": [null]}', False, "opswatch's choice: a null element exists"),
    # objects inside arrays
    ("{ $.v[*].w IS NULL }", '{"v": [{"w": 1}, {"w": null}]}', True, "opswatch's choice: one element's w is null"),
    ("{ $.v[*].w IS NULL }", '{"v": [{"w": 1}, {"x": null}]}', False, "opswatch's choice: no w is null"),
    ("{ $.v.w IS NULL }", '{"v": [{"w": null}]}', False, "recorded: json_nested_missing event 9, .w skips arrays"),
    ("{ $.v.w NOT EXISTS }", '{"v": [{"w": null}]}', True, "recorded: json_nested_missing event 9"),
    ("{ $.v[*].w NOT EXISTS }", '{"v": [{"x": 1}, {"x": 2}]}', True, "opswatch's choice: no element has w"),
    ("{ $.v[*].w NOT EXISTS }", '{"v": [{"w": 1}, {"x": 2}]}', False, "opswatch's choice: one element has w"),
    # $.* reaches the root's values, not the elements of an array among them
    ("{ $.* IS NULL }", '{"a": [null]}', False, "recorded: json_object_wildcard event 8, $.* skips arrays"),
    ("{ $.* IS NULL }", '{"a": [1], "b": null}', True, "opswatch's choice: any value, as $.* with ="),
    # = * tests for a string or number, so it is no stand-in for EXISTS on an array
    ("{ $.v = * }", '{"v": [1]}', False, "documented: an array is not a value node"),
    ("{ $.v[*] = * }", '{"v": [1]}', True, "recorded: json_array_wildcard, [*] with ="),
]


@pytest.mark.parametrize(
    ("pattern", "event", "matched", "basis"),
    ARRAY_NULL_CASES,
    ids=[f"{i}-{c[3].split(':')[0]}" for i, c in enumerate(ARRAY_NULL_CASES)],
)
def test_is_null_and_not_exists_on_arrays(pattern, event, matched, basis):
    assert (compile_pattern(pattern).match(event) is not None) is matched, basis


@pytest.mark.parametrize(
    ("pattern", "position", "aws_reason", "hint"),
    [
        # recorded: invalid_json_is_not and invalid_json_exists; the same refusal on array selectors
        ("{ $.v[*] IS NOT NULL }", 13, "Invalid character(s) in term 'NOT'", "$.v[*] = *"),
        ("{ $.v[0] IS NOT NULL }", 13, "Invalid character(s) in term 'NOT'", "$.v[0] = *"),
        ("{ $.v IS NOT NULL }", 10, "Invalid character(s) in term 'NOT'", "$.v = *"),
        ("{ $.v[*] EXISTS }", 10, "Invalid metric filter pattern", "$.v[*] = *"),
        ("{ $.v EXISTS }", 7, "Invalid metric filter pattern", "$.v = *"),
    ],
)
def test_is_not_null_and_exists_are_refused_with_a_hint_that_holds_for_arrays(pattern, position, aws_reason, hint):
    """AWS has neither; the hint names the nearest pattern AWS accepts and what it does not cover."""
    with pytest.raises(PatternError) as err:
        compile_pattern(pattern)
    assert err.value.position == position
    assert aws_reason in err.value.reason
    assert hint in err.value.reason and "string or number" in err.value.reason


# --- space-delimited ----------------------------------------------------------------------------------

APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /index.html HTTP/1.0" 404 4355',
    "too short",
]


@pytest.mark.parametrize(
    ("pattern", "want"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", [1, 2, 3]),
        ("[..., status_code, bytes]", [1, 2, 3, 4]),
        ("[ip, user, ..., status_code, bytes]", [1, 2, 3]),
        ("[ip, user, ...]", [1, 2, 3, 4]),
        ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", [1, 2, 3]),
        ("[ip, user, username, timestamp, request, status_code, bytes > 5000]", [2]),
        ("[ip, user, username, timestamp, request, status_code = 200, bytes]", [1]),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", [3]),
        ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", [3]),
        ("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]", []),  # 6 fields: no event
        ("[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]", [3]),
        ("[ip, user, username, timestamp, request, status_code != 200, bytes < 5000]", [3]),
        ("[ip, user, username, timestamp, request = %index%, status_code, bytes]", [3]),
    ],
)
def test_space_delimited_examples(pattern, want):
    assert matches(pattern, APACHE) == want


def test_space_delimited_or_examples():
    # Recorded by AWS: the last field takes the rest of the line, so "ERROR WARN message" matches too.
    assert matches("[w1=ERROR, w2]", OR_EVENTS) == [1, 2]
    assert matches("[w1=ERROR || w1=WARN, w2]", OR_EVENTS) == [1, 2, 3]


def test_extracted_values_as_the_documentation_shows():
    event = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /products/index.html HTTP/1.0" 404 1534'
    [m] = compile_pattern("[..., request=*.html*, status_code=4*,]").test([event])["matches"]
    assert m["extractedValues"] == {
        "$status_code": "404",
        "$request": "GET /products/index.html HTTP/1.0",
        "$7": "1534",
        "$4": "10/Oct/2000:13:25:15 -0700",
        "$3": "frank",
        "$2": "-",
        "$1": "127.0.0.1",
    }
    assert m["eventNumber"] == 1


def test_json_and_term_patterns_extract_nothing():
    assert compile_pattern("{ $.a = 1 }").test(['{"a": 1}'])["matches"][0]["extractedValues"] == {}
    assert compile_pattern("ERROR").test(["ERROR"])["matches"][0]["extractedValues"] == {}


def test_test_metric_filter_shape_counts_events_from_one():
    out = compile_pattern("ERROR").test(["ok", "ERROR 1", "fine", "ERROR 2"])
    assert out == {
        "matches": [
            {"eventNumber": 2, "eventMessage": "ERROR 1", "extractedValues": {}},
            {"eventNumber": 4, "eventMessage": "ERROR 2", "extractedValues": {}},
        ]
    }


# --- metric values and dimensions ---------------------------------------------------------------------


def test_metric_value_and_dimensions():
    p = compile_pattern("{ $.latency = * }")
    assert p.metric('{"latency": 450, "path": "/api"}', "$.latency", {"Path": "$.path"}) == (450.0, {"Path": "/api"})
    assert p.metric('{"latency": "slow"}', "$.latency") is None  # not a number: nothing published
    assert p.metric('{"nolatency": 1}', "$.latency") is None  # no match
    d = compile_pattern("[ip, user, username, timestamp, request, status_code, bytes]")
    assert d.metric(APACHE[0], "$bytes", {"Status": "$status_code"}) == (1534.0, {"Status": "200"})
    assert d.metric(APACHE[0], "1") == (1.0, {})
    alb = compile_pattern("{ $.elb_status_code >= 500 }")
    assert alb.metric('{"elb_status_code": 502, "elb": "app/x/1"}', "1", {"LoadBalancer": "$.elb"}) == (
        1.0,
        {"LoadBalancer": "app/x/1"},
    )


# --- malformed patterns --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "where", "why"),
    [
        ("{ $.a = }", 9, "expected a value"),
        ('{ $.a >= "x" }', 10, ">= needs a number"),
        ("{ $.a = 1 && }", 14, "expected a selector"),
        ("{ a = 1 }", 3, "expected a selector"),
        ("{ $.a = 1 $.b = 2 }", 11, "join conditions with && or ||"),
        ("{ $.a = 1", 9, "ends with }"),
        ("{ $.a IS MAYBE }", 10, "TRUE, FALSE or NULL"),
        ("{ $.a NOT THERE }", 11, "EXISTS"),
        ("{ ($.a = 1 }", 12, "closing parenthesis"),
        ("{ $..a = 1 }", 4, "cannot read selector"),
        ("{ $.a = %x% && $.b = %y% && $.c = %z% }", 35, "maximum of 2 regular expressions"),
        ("{}", 1, "no condition"),
        ("[a, b", 5, "ends with ]"),
        ("[a, b >]", 7, "expected a value"),
        ("[a, b = 1 c]", 11, "expected && or ||"),
        ("[a, a]", None, "used twice"),
        ('"unclosed', 1, "not closed"),
        ("%foo(bar)%", 5, "parentheses"),
        ("%something!%", 11, "'!' is not allowed"),
        ("%café%", 5, "multi-byte"),
        ("%%", 1, "empty regular expression"),
        ("%[a-%", 2, "Failed to compile regular expression"),
        ("x" * 1025, 1025, "longer than 1024"),
    ],
)
def test_malformed_patterns_say_where_and_why(pattern, where, why):
    with pytest.raises(PatternError) as exc:
        compile_pattern(pattern)
    assert why in str(exc.value)
    assert exc.value.position == where


# --- properties ------------------------------------------------------------------------------------------

PATTERNS = [
    "ERROR",
    "?ERROR ?WARN -DEBUG",
    '"a phrase"',
    "%[0-9]+%",
    "{ $.a.b[0] >= 5 || $.c = x* }",
    "{ $.* IS NULL }",
    "{ $.a NOT EXISTS && $.b != %q% }",
    "[a, ..., b = 4* || b > 10, c]",
    "[...]",
    "[x,,]",
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PATTERNS),
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
            lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
            max_leaves=10,
        ).map(json.dumps),
    ),
)
def test_the_engine_never_raises_on_any_event(pattern, event):
    compile_pattern(pattern).match(event)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_any_pattern_text_compiles_or_raises_pattern_error(text):
    try:
        p = compile_pattern(text)
    except PatternError as exc:
        assert str(exc).startswith("invalid filter pattern")
    else:
        p.match("some event text 123")
        p.match('{"a": 1}')
