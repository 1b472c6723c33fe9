"""The alarm evaluator against AWS's "alarms and missing data" tables, and the alarms CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.monitors.evaluator import (
    POLICIES,
    STATES,
    EvaluationError,
    breaching,
    evaluate,
    explain,
    parse_points,
    parse_values,
    replay,
)

KEEP = "Retain current state"

# Evaluation Periods 3, Datapoints to Alarm 3, evaluation range 5 (first table of the documentation).
TABLE_3_OF_3 = [
    ("0 - X - X", "OK", "OK", "OK", "OK"),
    ("0 - - - -", "OK", "OK", "OK", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", KEEP, "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - X - -", "ALARM", KEEP, "ALARM", "OK"),
]
# Evaluation Periods 3, Datapoints to Alarm 2 (the M out of N table).
TABLE_2_OF_3 = [
    ("0 - X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 0 X 0 X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 - X - -", "OK", "OK", "ALARM", "OK"),
    ("- - - - 0", "OK", "OK", "ALARM", "OK"),
    ("- - - X -", "ALARM", KEEP, "ALARM", "OK"),
]
ROWS = [(3, *r) for r in TABLE_3_OF_3] + [(2, *r) for r in TABLE_2_OF_3]


@pytest.mark.parametrize(("m", "points", "missing", "ignore", "breach", "not_breach"), ROWS)
@pytest.mark.parametrize("current", STATES)
def test_documented_tables(m, points, missing, ignore, breach, not_breach, current):
    pts = parse_points(points)
    for policy, want in zip(POLICIES, (missing, ignore, breach, not_breach), strict=True):
        expected = current if want == KEEP else want
        assert evaluate(pts, n=3, m=m, policy=policy, current=current) == expected, (points, policy)


def test_premature_alarm_examples_from_the_text():
    # "- - - - X" and "- - - X -" with 3 of 3 do not alarm yet; "- - X - -" does. Not alarming yet is
    # INSUFFICIENT_DATA, as AWS's 2018-2019 page gave it (the current page does not say which state).
    assert evaluate(parse_points("- - - - X"), 3, 3, "missing", "OK") == "INSUFFICIENT_DATA"
    assert evaluate(parse_points("- - - X -"), 3, 3, "missing", "OK") == "INSUFFICIENT_DATA"
    assert evaluate(parse_points("- - X - -"), 3, 3, "missing", "OK") == "ALARM"
    # The next point being good stops it: "- - - X 0".
    assert evaluate(parse_points("- - - X 0"), 3, 3, "missing", "OK") == "OK"


# Rows of the same page's 2018-06 to 2019-05 versions, for ranges the current page does not cover.
EARLIER_ROWS = [
    (3, "- - - - X", "INSUFFICIENT_DATA", KEEP),
    (2, "- - - - X", "INSUFFICIENT_DATA", KEEP),
    (3, "X - - - -", "ALARM", KEEP),
]


@pytest.mark.parametrize(("m", "points", "missing", "ignore"), EARLIER_ROWS)
@pytest.mark.parametrize("current", STATES)
def test_earlier_page_rows_where_the_current_page_is_silent(m, points, missing, ignore, current):
    pts = parse_points(points)
    assert evaluate(pts, 3, m, "missing", current) == missing
    assert evaluate(pts, 3, m, "ignore", current) == (current if ignore == KEEP else ignore)
    assert not explain(pts, 3, m, "missing", current).documented


def test_a_single_breaching_point_ageing_through_the_range_never_gives_ok():
    # Once: OK, OK, ALARM, OK, OK under the old extrapolation. Now it waits, alarms, and keeps alarming.
    states = [d.state for _, d in replay(parse_points("- - - - X - - - -"), 3, 3, "missing", "OK")]
    assert states == ["INSUFFICIENT_DATA", "INSUFFICIENT_DATA", "ALARM", "ALARM", "ALARM"]
    states = [d.state for _, d in replay(parse_points("- - - - X - - - -"), 3, 3, "ignore", "ALARM")]
    assert states == ["ALARM"] * 5


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([True, False, None]), min_size=5, max_size=5),
    st.integers(0, 4),
    st.sampled_from(POLICIES),
    st.integers(1, 3),
)
def test_a_breaching_point_in_place_of_a_missing_one_never_turns_alarm_into_ok(points, slot, policy, m):
    if points[slot] is not None:
        return
    worse = [*points[:slot], True, *points[slot + 1 :]]
    if evaluate(points, 3, m, policy, "ALARM") != "OK":
        assert evaluate(worse, 3, m, policy, "ALARM") != "OK", (points, worse, policy, m)


def test_explain_names_the_rule_and_the_documented_ranges():
    d = explain(parse_points("0 X X - X"), 3, 3, "missing", "OK")
    assert (d.state, d.rule, d.documented) == ("ALARM", "enough-points", True)
    d = explain(parse_points("- - X - -"), 3, 3, "missing", "OK")
    assert (d.state, d.rule, d.documented) == ("ALARM", "premature-alarm", True)
    d = explain(parse_points("- - - - -"), 3, 3, "ignore", "ALARM")
    assert (d.state, d.rule, d.documented) == ("ALARM", "no-data", True)
    d = explain(parse_points("0 - X - -"), 3, 2, "breaching", "OK")
    assert (d.state, d.rule, d.documented) == ("ALARM", "filled", True)
    d = explain(parse_points("- 0 - X -"), 3, 2, "missing", "OK")
    assert (d.state, d.rule, d.documented) == ("OK", "filled", False)


def test_enough_real_points_skip_missing_slots_and_ignore_the_policy():
    pts = parse_points("X X - 0 -")
    for policy in POLICIES:
        assert evaluate(pts, n=3, m=2, policy=policy, current="OK") == "ALARM"


def test_values_with_threshold():
    assert breaching(parse_values("3.1 - 7 8"), 5, "GreaterThanThreshold") == [False, None, True, True]
    assert breaching([5.0], 5, "GreaterThanOrEqualToThreshold") == [True]
    with pytest.raises(EvaluationError, match="band"):
        breaching([1.0], 1, "LessThanLowerOrGreaterThanUpperThreshold")


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda: parse_points("0 Y"), "point 2"),
        (lambda: parse_values("1 x"), "value 2"),
        (lambda: evaluate([True], 3, 4), "between 1 and evaluation periods"),
        (lambda: evaluate([True], 0, 1), "at least 1"),
        (lambda: evaluate([True], 3, 3, "sometimes"), "treat-missing-data"),
        (lambda: evaluate([True], 3, 3, "missing", "RED"), "state"),
    ],
)
def test_bad_settings_are_explained(call, msg):
    with pytest.raises(EvaluationError, match=msg):
        call()


@given(st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=12), st.integers(1, 6), st.data())
def test_evaluator_properties(points, n, data):
    m = data.draw(st.integers(1, n))
    current = data.draw(st.sampled_from(STATES))
    results = {p: evaluate(points, n, m, p, current) for p in POLICIES}
    assert all(r in STATES for r in results.values())
    # Filling with bad points can only make things worse; with good ones, only better.
    order = {"OK": 0, "INSUFFICIENT_DATA": 1, "ALARM": 2}
    if any(p is not None for p in points):
        assert order[results["breaching"]] >= order[results["notBreaching"]]
    if sum(p is not None for p in points) >= n:
        assert len(set(results.values())) == 1  # the policy is not used at all


@given(st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=40), st.integers(1, 8), st.data())
def test_the_sliding_replay_decides_as_each_range_evaluated_alone(points, n, data):
    """replay() keeps counts as the range slides; each decision must equal explain() on that range alone."""
    from chalicelib.monitors.evaluator import evaluation_range

    m = data.draw(st.integers(1, n))
    policy, state = data.draw(st.sampled_from(POLICIES)), data.draw(st.sampled_from(STATES))
    r = evaluation_range(n)
    padded = [None] * max(0, r - len(points)) + points
    for i, decision in replay(points, n, m, policy, state):
        assert decision == explain(padded[i + 1 - r : i + 1], n, m, policy, state)
        state = decision.state


def test_replay_is_linear_in_the_points_whatever_n():
    """Counted, not timed: Python lines run by replay() for 3,000 points grow with the points, not points x N.

    Evaluating each range afresh ran about 4 x 3,000 x 2,002 lines here (minutes past 20,000 points, N = 8,640).
    """
    points = [(None, True, False)[i % 3] if i % 7 else True for i in range(3000)]
    runs = {}
    for n in (3, 2000):
        lines = 0

        def count(frame, event, arg):
            nonlocal lines
            lines += event == "line"
            return count

        sys.settrace(count)
        try:
            decisions = replay(points, n, 1, "missing", "OK")
        finally:
            sys.settrace(None)
        assert len(decisions) == 3000 - (n + 2) + 1
        runs[n] = lines
    assert runs[2000] < runs[3] * 1.5 and runs[3] < 60 * len(points), runs


def test_simulate_caps_the_points_it_takes():
    from click.testing import CliRunner

    from chalicelib.cli.alarms import MAX_POINTS
    from chalicelib.cli.main import cli as opswatch

    args = ["alarms", "simulate", "--evaluation-periods", "8640", "--datapoints-to-alarm", "10"]
    r = CliRunner().invoke(opswatch, [*args, "--points", "X " * (MAX_POINTS + 1)])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == f"opswatch: --points: {MAX_POINTS + 1:,} points, more than the {MAX_POINTS:,} simulate takes\n"
    r = CliRunner().invoke(opswatch, [*args, "--points", "X 0 - " * 10_000])  # 30,000 points, N = 8,640: at once
    assert r.exit_code == 0 and r.stdout.splitlines()[-1] == "ALARM"
    assert max(len(line) for line in r.stdout.splitlines()) < 200  # a range of 8,642 slots is drawn by its newest


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli.main", *args],
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
    )


def test_simulate_prints_the_state_alone_on_its_last_line():
    r = cli(
        "alarms",
        "simulate",
        "--points",
        "0 - X - X",
        "--evaluation-periods",
        "3",
        "--datapoints-to-alarm",
        "3",
        "--treat-missing-data",
        "missing",
        "--initial-state",
        "OK",
    )
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "OK"
    r = cli(
        "alarms",
        "simulate",
        "--points",
        "- - - - -",
        "--evaluation-periods",
        "3",
        "--treat-missing-data",
        "ignore",
        "--initial-state",
        "ALARM",
    )
    assert r.stdout.splitlines()[-1] == "ALARM"
    r = cli(
        "alarms",
        "simulate",
        "--values",
        "3.1 - 7 8",
        "--threshold",
        "5",
        "--comparison",
        "GreaterThanThreshold",
        "--evaluation-periods",
        "3",
        "--datapoints-to-alarm",
        "2",
    )
    assert r.stdout.splitlines()[-1] == "ALARM"


def test_simulate_explains_and_warns_outside_the_documented_ranges():
    args = ("alarms", "simulate", "--evaluation-periods", "3", "--explain")
    r = cli(*args, "--points", "- - X - -", "--initial-state", "OK")
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[-1] == "ALARM"
    assert lines[1].startswith("premature-alarm: 1 real point(s), all breaching, the oldest 3 slots old")
    assert "not covered" not in r.stdout  # a row of the current tables
    r = cli(*args, "--points", "- - - - X", "--treat-missing-data", "ignore", "--initial-state", "ALARM")
    lines = r.stdout.splitlines()
    assert lines[-1] == "ALARM" and lines[1].startswith("too-recent:")
    assert "note: this range is not covered by AWS's current documentation" in r.stdout


def test_simulate_longer_points_are_evaluated_period_by_period():
    r = cli(
        "alarms", "simulate", "--evaluation-periods", "3", "--initial-state", "OK",
        "--points", "0 0 - - - - X - - - - 0 0 0",
    )  # fmt: skip
    assert r.returncode == 0
    assert r.stdout.splitlines()[1:] == [
        "period 7 [- - - - X]: OK -> INSUFFICIENT_DATA",
        "period 9 [- - X - -]: INSUFFICIENT_DATA -> ALARM",
        "period 12 [- - - - 0]: ALARM -> OK",
        "OK",
    ]


def test_simulate_errors_exit_2():
    r = cli("alarms", "simulate", "--points", "0 Q", "--evaluation-periods", "3")
    assert r.returncode == 2 and "point 2" in r.stderr
    r = cli("alarms", "simulate", "--values", "1 2", "--evaluation-periods", "3")
    assert r.returncode == 2 and "--threshold" in r.stderr
    assert cli("alarms", "simulate", "--evaluation-periods", "3").returncode == 2


SIMULATE = ("alarms", "simulate", "--evaluation-periods", "3")
COMPARE = ("--threshold", "2", "--comparison", "GreaterThanThreshold")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--points", ""), "--points is empty"),
        (("--points", "   "), "--points is empty"),
        (("--values", "", *COMPARE), "--values is empty"),
        (("--points", "X X X", "--datapoints-to-alarm", "0"), "--datapoints-to-alarm 0: expected 1 to"),
        (("--points", "X X X", "--datapoints-to-alarm", "4"), "--datapoints-to-alarm 4: expected 1 to"),
        (("--points", "X X X", "--datapoints-to-alarm", "-1"), "--datapoints-to-alarm -1"),
        (("--values", "1 nan 3", *COMPARE), "value 2: 'nan' is not a finite number"),
        (("--values", "1 inf 3", *COMPARE), "value 2: 'inf' is not a finite number"),
        (("--values", "-Infinity 1 3", *COMPARE), "value 1: '-Infinity' is not a finite number"),
        (("--values", "1 2 3", "--threshold", "nan", "--comparison", "GreaterThanThreshold"), "--threshold nan"),
    ],
)
def test_simulate_refuses_what_cloudwatch_would_never_evaluate(args, said):
    from click.testing import CliRunner

    from chalicelib.cli.main import cli as opswatch

    r = CliRunner().invoke(opswatch, [*SIMULATE, *args])
    assert r.exit_code == 2 and said in r.stderr, r.output
    assert r.stdout == ""  # no state printed: a script reading the last line gets nothing to misread


def test_backtest_against_moto(aws):
    cw = boto3.client("cloudwatch")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    data = []
    for i in range(120):
        if i % 7 == 3:
            continue  # a gap every seven minutes
        data.append(
            {
                "MetricName": "HTTPCode_ELB_5XX_Count",
                "Timestamp": now - timedelta(minutes=120 - i),
                "Dimensions": [{"Name": "LoadBalancer", "Value": "app/x/1"}],
                "Value": 50 if 60 <= i < 70 else 1,
            }
        )
    for k in range(0, len(data), 20):
        cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data[k : k + 20])
    cw.put_metric_alarm(
        AlarmName="alb 5xx",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_ELB_5XX_Count",
        Statistic="Sum",
        Dimensions=[{"Name": "LoadBalancer", "Value": "app/x/1"}],
        Period=60,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=25,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    r = cli("alarms", "backtest", "alb 5xx", "--hours", "2", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["current_policy"] == "notBreaching" and out["missing"] > 0
    for policy in POLICIES:
        states = [t["state"] for t in out["policies"][policy]["transitions"]]
        assert "ALARM" in states and states[-1] == "OK"  # the burst alarms, then clears
    assert out["policies"]["notBreaching"]["alarm_periods"] == 10
    text = cli("alarms", "backtest", "alb 5xx", "--hours", "2")
    assert "notBreaching (current)" in text.stdout and "-> ALARM" in text.stdout
    missing = cli("alarms", "backtest", "no such alarm")
    assert missing.returncode == 2 and "no metric alarm named" in missing.stderr
