"""The alarm evaluator against AWS's "alarms and missing data" tables, and the alarms CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.monitors.evaluator import (
    POLICIES,
    STATES,
    EvaluationError,
    breaching,
    evaluate,
    parse_points,
    parse_values,
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
    # "- - - - X" and "- - - X -" with 3 of 3 do not alarm yet; "- - X - -" does.
    assert evaluate(parse_points("- - - - X"), 3, 3, "missing", "OK") == "OK"
    assert evaluate(parse_points("- - - X -"), 3, 3, "missing", "OK") == "OK"
    assert evaluate(parse_points("- - X - -"), 3, 3, "missing", "OK") == "ALARM"
    # The next point being good stops it: "- - - X 0".
    assert evaluate(parse_points("- - - X 0"), 3, 3, "missing", "OK") == "OK"


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


def test_simulate_errors_exit_2():
    r = cli("alarms", "simulate", "--points", "0 Q", "--evaluation-periods", "3")
    assert r.returncode == 2 and "point 2" in r.stderr
    r = cli("alarms", "simulate", "--values", "1 2", "--evaluation-periods", "3")
    assert r.returncode == 2 and "--threshold" in r.stderr
    assert cli("alarms", "simulate", "--evaluation-periods", "3").returncode == 2


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
