"""``opswatch alarms``: what state an alarm takes on given data, and on its real history."""

from __future__ import annotations

import json
import math
import sys

import click

from chalicelib.cli.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, OpswatchGroup, plural
from chalicelib.monitors.evaluator import COMPARISONS, POLICIES, STATES

MAX_BACKTEST_HOURS = 24 * 14
MAX_EVALUATION_PERIODS = 86400 // 10  # period x evaluation_periods <= 1 day under an hour's period (spec.py)
MAX_POINTS = 100_000  # simulate: about 69 days of one-minute periods; the replay is linear, the output is not small
SHOWN_SLOTS = 24  # points drawn in a printed range; a longer one shows its newest, after "..."


@click.group(cls=OpswatchGroup)
def alarms() -> None:
    """CloudWatch alarm evaluation, reproduced locally."""


def _drawn(points: list, slots: int) -> str:
    """``0 - X``; a range of more than SHOWN_SLOTS slots as ``... `` and its newest (``points`` ends with them)."""
    drawn = " ".join("-" if p is None else ("X" if p else "0") for p in points[-SHOWN_SLOTS:])
    return f"... {drawn}" if slots > SHOWN_SLOTS else drawn


@alarms.command()
@click.option("--points", help="Evaluation range, oldest first: 0 not breaching, X breaching, - missing.")
@click.option("--values", help="Metric values, oldest first, - for missing (with --threshold and --comparison).")
@click.option("--threshold", type=float)
@click.option("--comparison", type=click.Choice(list(COMPARISONS)))
@click.option("--evaluation-periods", "n", type=int, required=True, help="N")
@click.option("--datapoints-to-alarm", "m", type=int, help="M (default: N)")
@click.option("--treat-missing-data", "policy", type=click.Choice(POLICIES), default="missing", show_default=True)
@click.option("--initial-state", type=click.Choice(STATES), default="INSUFFICIENT_DATA", show_default=True)
@click.option("--explain", is_flag=True, help="Say which rule decided, and whether AWS documents the range.")
def simulate(points, values, threshold, comparison, n, m, policy, initial_state, explain) -> None:
    """Print the state CloudWatch would set, alone on the last line.

    Points beyond one evaluation range (N + 2) are evaluated period by period, as CloudWatch does;
    each state change is printed on its way.
    """
    from chalicelib.monitors.evaluator import (
        EvaluationError,
        breaching,
        evaluation_range,
        parse_points,
        parse_values,
        replay,
    )

    try:
        if (points is None) == (values is None):
            raise EvaluationError("give either --points or --values")
        if values is not None:
            if threshold is None or comparison is None:
                raise EvaluationError("--values needs --threshold and --comparison")
            if not math.isfinite(threshold):
                raise EvaluationError(f"--threshold {threshold}: expected a finite number")
            pts = breaching(parse_values(values), threshold, comparison)
        else:
            pts = parse_points(points)
        given = "--values" if values is not None else "--points"
        if not pts:
            raise EvaluationError(f"{given} is empty: give at least one")
        if len(pts) > MAX_POINTS:
            raise EvaluationError(f"{given}: {len(pts):,} points, more than the {MAX_POINTS:,} simulate takes")
        if not 1 <= n <= MAX_EVALUATION_PERIODS:  # 10**8 took 2.5 GB; 10**20 was an OverflowError traceback
            raise EvaluationError(
                f"--evaluation-periods {n}: expected 1 to {MAX_EVALUATION_PERIODS:,} "
                "(a day of 10-second periods, the most CloudWatch evaluates)"
            )
        if m is not None and not 1 <= m <= n:
            raise EvaluationError(f"--datapoints-to-alarm {m}: expected 1 to --evaluation-periods ({n})")
        m = n if m is None else m
        shown = _drawn(pts, len(pts))
        decisions = replay(pts, n, m, policy, initial_state)
    except EvaluationError as exc:
        click.echo(f"opswatch: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"points {shown} | {m} of {n} to alarm | missing data: {policy} | before: {initial_state}")
    r = evaluation_range(n)
    state, undocumented = initial_state, 0
    for i, d in decisions:
        if len(decisions) > 1 and d.state != state:
            window = _drawn(pts[max(0, i + 1 - min(r, SHOWN_SLOTS)) : i + 1], r)
            click.echo(f"period {i + 1} [{window}]: {state} -> {d.state}" + (f": {d.why}" if explain else ""))
        elif explain and len(decisions) == 1:
            click.echo(f"{d.rule}: {d.why}")
        undocumented += not d.documented
        state = d.state
    if explain and undocumented:
        what = "this range is" if len(decisions) == 1 else f"{undocumented} of {len(decisions)} ranges are"
        click.echo(
            f"note: {what} not covered by AWS's current documentation; the answer follows its 2018-2019 "
            "version and opswatch's reading (see the evaluator's docstring)"
        )
    click.echo(state)


@alarms.command()
@click.argument("alarm_name")
@click.option("--hours", type=float, default=24, show_default=True, help="More than 0, at most 336 (14 days).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def backtest(alarm_name: str, hours: float, fmt: str) -> None:
    """Replay ALARM_NAME over its metric's last HOURS under each missing-data policy."""
    if not 0 < hours <= MAX_BACKTEST_HOURS:  # nan fails too; the spec's backtest.hours has the same bound
        click.echo(f"opswatch: --hours {hours:g}: more than 0 and at most {MAX_BACKTEST_HOURS} (14 days)", err=True)
        sys.exit(EXIT_USAGE)
    from botocore.exceptions import ClientError

    from chalicelib.aws import client
    from chalicelib.monitors import backtest as bt
    from chalicelib.monitors.evaluator import EvaluationError

    cw = client("cloudwatch")
    try:
        alarm = bt.fetch_alarm(cw, alarm_name)
        result = bt.run(cw, alarm, hours)
    except EvaluationError as exc:
        click.echo(f"opswatch: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except ClientError as exc:
        click.echo(f"opswatch: CloudWatch call failed: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "alarm": alarm_name,
                    "period": result.period,
                    "periods": len(result.values),
                    "missing": result.missing,
                    "current_policy": alarm.get("TreatMissingData", "missing"),
                    "policies": {
                        tl.policy: {
                            "alarm_periods": tl.alarm_periods,
                            "transitions": [{"time": t.isoformat(), "state": s} for t, s in tl.transitions],
                        }
                        for tl in result.timelines
                    },
                }
            )
        )
        return
    n = alarm["EvaluationPeriods"]
    click.echo(
        f"{alarm_name}: {alarm.get('MetricName') or 'metric math'} {alarm['ComparisonOperator']} "
        f"{alarm['Threshold']:g}, {alarm.get('DatapointsToAlarm') or n} of {n} periods of {result.period}s, "
        f"treats missing data as {alarm.get('TreatMissingData', 'missing')} today"
    )
    click.echo(f"{plural(len(result.values), 'period')} over {hours:g} h, {result.missing} without data")
    for tl in result.timelines:
        mark = " (current)" if tl.policy == alarm.get("TreatMissingData", "missing") else ""
        click.echo(
            f"\n{tl.policy}{mark}: {plural(tl.alarm_periods, 'period')} in ALARM, "
            f"{plural(len(tl.transitions), 'state change')}"
        )
        for t, state in tl.transitions[:50]:
            click.echo(f"  {t:%Y-%m-%d %H:%M} -> {state}")
        if len(tl.transitions) > 50:
            click.echo(f"  ... {len(tl.transitions) - 50} more")


@alarms.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--all-targets", is_flag=True, help="Audit every target of the spec through its role, by account.")
@click.option(
    "--spec", "spec_path", default="monitors.yaml", show_default=True, type=click.Path(dir_okay=False),
    help="The monitors spec whose targets --all-targets audits.",
)  # fmt: skip
def audit(fmt: str, all_targets: bool, spec_path: str) -> None:
    """Live alarms and metric filters with habits that make alarms silent or noisy.

    Exit 0 none, 1 findings, 2 an AWS error; with --all-targets, 2 when a target could not be
    reached (its line says why; the others are audited and listed).
    """
    from botocore.exceptions import ClientError

    from chalicelib.aws import client
    from chalicelib.monitors.audit import audit as run_audit

    if all_targets:
        _audit_targets(fmt, spec_path)
    try:
        findings = run_audit(client("cloudwatch"), client("logs"), client("sns"))
    except ClientError as exc:
        click.echo(f"opswatch: reading CloudWatch failed: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if fmt == "json":
        for f in findings:
            click.echo(json.dumps(f.as_dict()))
    else:
        for f in findings:
            click.echo(f"{f.resource}: {f.reason}\n    fix: {f.fix}")
        click.echo(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}")
    sys.exit(EXIT_FINDINGS if findings else EXIT_OK)


def _audit_targets(fmt: str, spec_path: str) -> None:
    """The audit in each target of the spec, grouped by account; exits."""
    from chalicelib.monitors.audit import audit_all
    from chalicelib.monitors.spec import SpecError, load

    try:
        loaded = load(spec_path, declares=False)  # the targets are all it reads
    except SpecError as exc:
        for p in exc.problems:
            click.echo(f"opswatch: {p}" if exc.whole else p, err=True)
        sys.exit(EXIT_USAGE)
    targets = [t.rules() for t in loaded.spec.targets]
    if not targets:
        click.echo(f"opswatch: {spec_path} declares no targets: run alarms audit without --all-targets", err=True)
        sys.exit(EXIT_USAGE)
    audited = audit_all(targets, home=False)
    unreachable = 0
    for a in audited:
        errors = [f for f in a.findings if f.kind == "unreachable-target"]
        unreachable += bool(errors)
        for f in errors:
            click.echo(f"opswatch: {f.resource}: {f.reason}", err=True)
        if fmt == "json":
            for f in a.findings:
                click.echo(json.dumps({"account": a.account, "region": a.region, **f.as_dict()}))
            continue
        click.echo(f"== target {a.label} ==")
        for f in a.findings:
            click.echo(f"{f.resource}: {f.reason}\n    fix: {f.fix}")
        click.echo(f"{plural(len(a.findings), 'finding')} in {a.label}")
    total = sum(len(a.findings) for a in audited)
    if fmt == "text":
        tail = f"; {unreachable} could not be reached" if unreachable else ""
        click.echo(f"{plural(total, 'finding')} in {plural(len(audited), 'target')}{tail}")
    sys.exit(EXIT_USAGE if unreachable else EXIT_FINDINGS if total else EXIT_OK)
