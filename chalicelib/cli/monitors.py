"""``opswatch monitors``: metric filters and alarms as code, validated, planned and applied like Terraform."""

from __future__ import annotations

import json
import sys

import click

from chalicelib.cli.errors import EXIT_CHANGES, EXIT_OK, EXIT_USAGE, OpswatchGroup, plural
from chalicelib.cli.errors import EXIT_FINDINGS as EXIT_FAILED
from chalicelib.cli.errors import fail as _fail

_spec_option = click.option(
    "--spec", "spec_path", default="monitors.yaml", show_default=True, type=click.Path(dir_okay=False)
)


@click.group(cls=OpswatchGroup)
def monitors() -> None:
    """Metric filters, alarms, dashboards and saved Logs Insights queries declared in YAML: validate, plan, apply."""


def _load(spec_path: str, fail_code: int):
    """The validated spec, samples included; on any problem print FILE:LINE: reason and exit."""
    from chalicelib.monitors.spec import SpecError, load

    try:
        loaded = load(spec_path)
    except SpecError as exc:
        if exc.whole:  # the file itself is refused: one line, as every command says it
            _fail(exc.problems[0], fail_code)
        for p in exc.problems:
            click.echo(p, err=True)
        _fail(f"{spec_path}: not a valid monitors spec ({plural(len(exc.problems), 'problem')})", fail_code)
    from chalicelib.dashboards.plan import problems as dashboard_problems

    problems = dashboard_problems(loaded)  # every body against CloudWatch's documented structure
    for i, f in enumerate(loaded.spec.metric_filters):
        for why in f.check_samples():
            problems.append(
                f"{spec_path}:{loaded.line_of('metric_filters', i, 'samples')}: metric filter {f.name}: {why}"
            )
    if problems:
        for p in problems:
            click.echo(p, err=True)
        _fail(f"{spec_path}: not a valid monitors spec ({plural(len(problems), 'problem')})", fail_code)
    return loaded


@monitors.command()
@_spec_option
def validate(spec_path: str) -> None:
    """Check the spec: schema, AWS's rules and every filter's samples, without any AWS call. Exit 0 or 2."""
    loaded = _load(spec_path, EXIT_USAGE)
    s = loaded.spec
    samples = sum(len(f.samples.match) + len(f.samples.no_match) for f in s.metric_filters if f.samples)
    click.echo(
        f"{spec_path}: valid: {plural(len(s.metric_filters), 'metric filter')}, {plural(len(s.alarms), 'alarm')}, "
        f"{plural(len(s.log_alarms), 'log alarm')}; {plural(samples, 'sample')} "
        f"{'behaves' if samples == 1 else 'behave'} as declared; "
        f"{plural(len(s.dashboards), 'dashboard')} and {plural(len(s.insights), 'saved query', 'saved queries')} "
        "within CloudWatch's rules"
    )


def _context():
    from chalicelib.aws import client
    from chalicelib.console import partition_of

    sts = client("sts")
    account = sts.get_caller_identity()["Account"]
    region = sts.meta.region_name
    return client("logs"), client("cloudwatch"), partition_of(region), region, account


def _plan(loaded):
    from botocore.exceptions import ClientError

    from chalicelib.monitors.plan import make_plan

    try:
        logs, cw, partition, region, account = _context()
        return make_plan(loaded, logs, cw, partition, region, account), cw
    except ValueError as exc:  # a log_alarms rule that cannot be a metric filter
        click.echo(f"opswatch: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except ClientError as exc:
        click.echo(f"opswatch: reading CloudWatch failed: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def _show(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, list | dict) else repr(value)


def _print_plan(plan, prune: bool, cw) -> None:
    marks = {"create": "+", "update": "~", "delete": "-"}
    for c in plan.pending:
        click.echo(f"{marks[c.action]} {c.label}" + (f"   [{c.note}]" if c.note else ""))
        for attr, old, new in c.diffs if c.action == "update" else []:
            if c.resource.kind == "dashboard" and attr.startswith("widget "):
                click.echo(f"    {attr}: {new}")  # the widgets that differ, not the whole body
            else:
                click.echo(f"    {attr}: {_show(old)} -> {_show(new)}")
        if c.resource.backtest_hours:
            click.echo("    " + _backtest(cw, c.resource))
        if c.resource.url:
            click.echo(f"    console: {c.resource.url}")
    for c in plan.changes:
        if c.action == "unchanged" and c.resource.backtest_hours:
            click.echo(f"  {c.label}\n    " + _backtest(cw, c.resource))
        elif c.action == "unchanged" and c.resource.url:
            click.echo(f"  {c.label}   [unchanged]\n    console: {c.resource.url}")
    for r in plan.stale:
        where = f" ({r.log_group})" if r.log_group else ""
        click.echo(
            f"{'-' if prune else '?'} {r.kind} {r.name}{where}   [managed by opswatch, not in the spec"
            + ("]" if prune else "; apply --prune deletes it]")
        )
    for n in plan.notes:
        click.echo(f"note: {n}")


def _backtest(cw, resource) -> str:
    """How often the alarm would have fired over its metric's recent data, under its own policy."""
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.monitors import backtest
    from chalicelib.monitors.evaluator import EvaluationError

    params = resource.params
    try:
        result = backtest.run(cw, params, resource.backtest_hours)
    except (EvaluationError, ClientError, BotoCoreError) as exc:
        return f"backtest: not run ({exc})"
    [tl] = [t for t in result.timelines if t.policy == params["TreatMissingData"]]
    fired = sum(1 for _, s in tl.transitions if s == "ALARM")
    return (
        f"backtest over {resource.backtest_hours:g} h ({plural(len(result.values), 'period')}, "
        f"{result.missing} without data): would have fired {plural(fired, 'time')}, "
        f"{plural(tl.alarm_periods, 'period')} in ALARM "
        f"under {params['TreatMissingData']}"
    )


def _summary(plan, prune: bool) -> tuple[int, int, int]:
    create = sum(c.action == "create" for c in plan.pending)
    update = sum(c.action == "update" for c in plan.pending)
    delete = len(plan.stale) if prune else 0
    return create, update, delete


@monitors.command()
@_spec_option
@click.option("--prune", is_flag=True, help="Count the managed resources no longer in the spec as deletions.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plan(spec_path: str, prune: bool, fmt: str) -> None:
    """What apply would create, change (attribute by attribute) and delete.

    Exit status: 0 nothing would change, 2 usage, spec or AWS error, 3 changes pending (2 in terraform's
    -detailed-exitcode; 3 here, so that a usage error is never read as "changes").
    """
    loaded = _load(spec_path, EXIT_USAGE)
    p, cw = _plan(loaded)
    create, update, delete = _summary(p, prune)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "changes": [
                        {
                            "action": c.action,
                            "kind": c.resource.kind,
                            "name": c.resource.name,
                            "log_group": c.resource.log_group,
                            "diffs": [{"attribute": a, "old": o, "new": n} for a, o, n in c.diffs],
                            "note": c.note or None,
                            **({"url": c.resource.url} if c.resource.url else {}),
                        }
                        for c in p.pending
                    ]
                    + [
                        {
                            "action": "delete" if prune else "stale",
                            "kind": r.kind,
                            "name": r.name,
                            "log_group": r.log_group,
                        }
                        for r in p.stale
                    ],
                    "notes": p.notes,
                },
                default=str,
            )
        )
    else:
        _print_plan(p, prune, cw)
        click.echo(f"Plan: {create} to create, {update} to change, {delete} to delete.")
    sys.exit(EXIT_CHANGES if create + update + delete else EXIT_OK)


@monitors.command()
@_spec_option
@click.option("--prune", is_flag=True, help="Also delete managed resources no longer in the spec.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def apply(spec_path: str, prune: bool, yes: bool) -> None:
    """Apply the plan and print what was done. Exit 0 done, 1 something failed (the rest is said), 2 usage."""
    from chalicelib.aws import client
    from chalicelib.monitors.plan import apply_plan

    loaded = _load(spec_path, EXIT_USAGE)
    p, cw = _plan(loaded)
    create, update, delete = _summary(p, prune)
    if not create + update + delete:
        click.echo("Nothing to do: CloudWatch matches the spec.")
        return
    _print_plan(p, prune, cw)
    click.echo(f"Plan: {create} to create, {update} to change, {delete} to delete.")
    if not yes and not click.confirm("Apply?", default=False):
        click.echo("Nothing applied.")
        sys.exit(EXIT_FAILED)
    result = apply_plan(p, client("logs"), cw, prune, loaded.stage)
    for line in result.done:
        click.echo(line)
    for label, why in result.failed:
        click.echo(f"FAILED {label}: {why}", err=True)
    if result.failed:
        click.echo(f"{len(result.done)} applied, {len(result.failed)} failed; run apply again once fixed.", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"Applied: {plural(len(result.done), 'change')}.")
