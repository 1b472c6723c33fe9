"""Wildcards and regexes that made ``re`` backtrack, on event text an attacker writes: now linear.

Before ``chalicelib/filters/linear.py``: ``{ $.path = "*/a*/b*/c" }`` took 23.7 s on an 8 KB value,
``%a*a*a*a*b%`` ran past 60 s on 2,000 characters. Each case runs in a child process under a
wall-clock bound (``tests/bounded.py``) far below what the old matching took. Beside them,
the linear matchers are compared with ``re`` over generated regexes and texts.
"""

from __future__ import annotations

import random
import re

import pytest

from chalicelib.filters.linear import LinearRegex, Wildcard
from tests.bounded import run_code

CASES = [
    # (pattern, event): every one answers "no match", the slowest case for a backtracking matcher
    ('{ $.path = "*/a*/b*/c" }', '{"path": "' + "/a/b" * 2048 + '"}'),  # an 8 KB value
    ("%a*a*a*a*b%", "a" * 2500),
    ("{ $.v = %a*a*a*a*b% }", '{"v": "' + "a" * 2500 + '"}'),
    ("[ip, path = %a*a*a*a*b%]", "1.2.3.4 " + "a" * 2500),
    ('[ip, path = "*a*a*a*a*b"]', "1.2.3.4 " + "a" * 8000),
    ("%[a-z]*[a-z]*[a-z]*=%", "a" * 2500),
    ("%^.*.*.*=.*$%", "x" * 4000 + "\n"),
]


def test_pathological_patterns_answer_within_a_second_each():
    body = f"""
import time
from chalicelib.filters import compile_pattern
worst = 0.0
for pattern, event in {CASES!r}:
    p = compile_pattern(pattern)
    t = time.monotonic()
    found = p.match(event)
    worst = max(worst, time.monotonic() - t)
    assert found is None, pattern
print("worst", worst)
"""
    got = run_code(body, seconds=30, address_space_mb=1024)  # the old matching needs minutes here
    assert got.returncode == 0, got.stderr[-2000:]
    worst = float(got.stdout.split("worst")[1])
    assert worst < 1.0, worst
    assert got.peak_rss_mb < 200, got.peak_rss_mb


def test_a_quarter_megabyte_event_stays_linear():
    got = run_code(
        """
from chalicelib.filters import compile_pattern
assert compile_pattern("%a*a*a*a*b%").match("a" * 262_144) is None
assert compile_pattern("%a*a*a*a*b%").match("a" * 262_143 + "b") == {}
assert compile_pattern('{ $.p = "*a*a*a*a*b" }').match('{"p": "' + "a" * 262_000 + '"}') is None
print("ok")
""",
        seconds=30,
        address_space_mb=1024,
    )
    assert got.returncode == 0 and got.stdout.strip() == "ok", got.stderr[-2000:]


ATOMS = [*"ab.", "[ab]", "[^a]", r"\s", r"\d", r"\x61", "^", "$", "|", "*", "+", "?", "{2}", "{1,2}", "{,2}"]
ATOMS += ["{2,}", "*?", "{", "}", r"\n", " ", r"\.", "[a-]", "b{0}"]


def test_linear_regex_agrees_with_re():
    rng = random.Random(17)
    checked = 0
    for _ in range(6000):
        body = "".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 7)))
        try:
            reference = re.compile(body)
        except re.error:
            continue
        linear = LinearRegex(body)
        for _ in range(8):
            text = "".join(rng.choice("ab \n1{}.-") for _ in range(rng.randint(0, 9)))
            assert linear.search(text) == (reference.search(text) is not None), (body, text)
            checked += 1
    assert checked > 20_000


@pytest.mark.parametrize("text", ["*", "a*", "*a", "a*b", "*a*", "a**b", "*/a*/b*/c", "ab*ab", "a*ba*b"])
def test_wildcard_agrees_with_the_regex_it_replaces(text):
    regex = re.compile("".join(".*" if c == "*" else re.escape(c) for c in text) + r"\Z", re.S)
    rng = random.Random(text)
    for _ in range(3000):
        s = "".join(rng.choice("ab/c\n") for _ in range(rng.randint(0, 9)))
        assert Wildcard.of(text).fullmatch(s) == (regex.match(s) is not None), s


def test_a_log_alert_rule_regex_runs_linear_and_python_groups_still_work():
    from chalicelib.logalerts.rules import rule_from_dict

    slow = rule_from_dict({"name": "r", "severity": "info", "pattern": '"x"', "regex": "x.*a*a*a*a*b"}, "test")
    got = run_code(
        """
from chalicelib.logalerts.rules import rule_from_dict
rule = rule_from_dict({"name": "r", "severity": "info", "pattern": '"x"', "regex": "x.*a*a*a*a*b"}, "test")
assert not rule.matches("x" + "a" * 3000)
print("ok")
""",
        seconds=20,
        address_space_mb=1024,
    )
    assert got.returncode == 0 and got.stdout.strip() == "ok", got.stderr[-2000:]
    assert slow.matches("x aab")
    grouped = rule_from_dict({"name": "g", "severity": "info", "pattern": '"dead"', "regex": r"dead(lock|end)\b"}, "t")
    assert grouped.matches("a deadlock here") and not grouped.matches("deadlocked")


GROUPED = [*ATOMS, "(", ")", "(?:", "(a|b)", "(|a)", "(ab)?", "(a|b){1,2}", "(?P<g>b)", ")?", "){2}"]


def test_linear_regex_with_groups_agrees_with_re():
    """Groups are written out as alternatives for the automaton; what it answers must be what re answers."""
    rng = random.Random(23)
    checked = linear_ones = 0
    for _ in range(12_000):
        body = "".join(rng.choice(GROUPED) for _ in range(rng.randint(1, 7)))
        if "(" not in body:
            continue
        try:
            reference = re.compile(body)
        except re.error:
            continue
        linear = LinearRegex(body)
        linear_ones += linear.unsupported is None
        for _ in range(8):
            text = "".join(rng.choice("ab \n1{}.-") for _ in range(rng.randint(0, 9)))
            assert linear.search(text) == (reference.search(text) is not None), (body, text)
            checked += 1
    assert checked > 10_000 and linear_ones > 1000, (checked, linear_ones)


def test_a_log_alert_rule_regex_with_groups_runs_linear():
    # Any group sent the whole regex to re: "x(a|b)?.*a*a*a*a*c" took minutes on a few thousand characters.
    got = run_code(
        """
from chalicelib.logalerts.rules import rule_from_dict
rule = rule_from_dict({"name": "r", "severity": "info", "pattern": '"x"', "regex": "x(a|b)?.*a*a*a*a*c"}, "t")
assert not rule.matches("x" + "a" * 262_000)
assert rule.matches("xb aac")
print("ok")
""",
        seconds=20,
        address_space_mb=1024,
    )
    assert got.returncode == 0 and got.stdout.strip() == "ok", got.stderr[-2000:]
