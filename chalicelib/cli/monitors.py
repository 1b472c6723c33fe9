"""``opswatch monitors``: metric filters and alarms as code, validated, planned and applied like Terraform."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

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
        "within CloudWatch's rules" + (f"; {plural(len(s.targets), 'target')}" if s.targets else "")
    )


@dataclass
class Planned:
    """One place's plan (the shell's account, or one target), or why it could not be planned."""

    label: str  # "" for the shell's own account: its output is as before targets existed
    plan: object = None
    logs: object = None
    cw: object = None
    error: str = ""
    target: object = None


def _plan_one(loaded, target=None) -> Planned:
    """Plan in the shell's account (``target`` None) or in ``target`` through its role.

    A target's AWS failure is kept as its error; the shell's ends the command (exit 2), as before.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.monitors.places import caller_not_configured, home, reach, why_not
    from chalicelib.monitors.plan import make_plan
    from chalicelib.targets import TargetError

    try:
        place = home() if target is None else reach(target)
        logs, cw = place.client("logs"), place.client("cloudwatch")
        p = make_plan(loaded, logs, cw, place.partition, place.region, place.account)
        return Planned(place.label if target else "", p, logs, cw, target=target)
    except ValueError as exc:  # a log_alarms rule that cannot be a metric filter: the spec's fault, every target's
        if isinstance(exc, TargetError) and target is not None:
            return Planned(target.label, error=why_not(target, exc), target=target)
        click.echo(f"opswatch: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except (ClientError, BotoCoreError) as exc:
        if target is None or caller_not_configured(exc):
            if isinstance(exc, ClientError):
                click.echo(f"opswatch: reading CloudWatch failed: {exc}", err=True)
                sys.exit(EXIT_USAGE)
            raise
        return Planned(target.label, error=why_not(target, exc), target=target)


def _plan_all(loaded) -> list[Planned]:
    """One plan per target of the spec (each through its role), or the shell's account's alone."""
    from chalicelib.monitors.places import named

    targets = named([t.rules() for t in loaded.spec.targets])  # a target without a name: OPSWATCH_ACCOUNT_NAMES'
    if not targets:
        return [_plan_one(loaded)]
    return [_plan_one(loaded, t) for t in targets]


def _header(planned: Planned) -> None:
    if planned.label:
        click.echo(f"== target {planned.label} ==")


def _plan_line(create: int, update: int, delete: int, label: str = "") -> str:
    where = f" for {label}" if label else ""
    return f"Plan{where}: {create} to create, {update} to change, {delete} to delete."


def _report(planned: list[Planned], prune: bool) -> tuple[int, int, int, int]:
    """Print every place's plan (a header and summary per target); totals and the number of failed targets."""
    totals = [0, 0, 0]
    failed = 0
    for pl in planned:
        _header(pl)
        if pl.error:
            failed += 1
            click.echo(f"opswatch: {pl.error}", err=True)
            click.echo(f"not planned: {pl.error}")
            continue
        _print_plan(pl.plan, prune, pl.cw)
        counts = _summary(pl.plan, prune)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        if pl.label:
            click.echo(_plan_line(*counts, pl.label))
    if len(planned) == 1 and not planned[0].label:
        click.echo(_plan_line(*totals))
    else:
        n = len(planned)
        tail = f"; {failed} could not be planned" if failed else ""
        click.echo(_plan_line(*totals).removesuffix(".") + f" in {plural(n, 'target')}{tail}.")
    return (*totals, failed)


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

    With ``targets:`` in the spec, each target is planned through its role, under its own header.
    Exit status: 0 nothing would change, 2 usage, spec or AWS error (a target that could not be
    planned included, even when others have changes), 3 changes pending (2 in terraform's
    -detailed-exitcode; 3 here, so that a usage error is never read as "changes").
    """
    loaded = _load(spec_path, EXIT_USAGE)
    planned = _plan_all(loaded)
    if fmt == "json":
        places = [_as_json(pl, prune) for pl in planned]
        if len(planned) == 1 and not planned[0].label:
            click.echo(json.dumps(places[0], default=str))
        else:
            click.echo(json.dumps({"targets": places}, default=str))
            for pl in planned:
                if pl.error:
                    click.echo(f"opswatch: {pl.error}", err=True)
        totals = [sum(_summary(pl.plan, prune)) for pl in planned if not pl.error]
        failed = sum(1 for pl in planned if pl.error)
        changes = sum(totals)
    else:
        *counts, failed = _report(planned, prune)
        changes = sum(counts)
    # A target that could not be planned is an error (2) even when others have changes: "3" would
    # claim the plan is known everywhere.
    sys.exit(EXIT_USAGE if failed else EXIT_CHANGES if changes else EXIT_OK)


def _as_json(pl: Planned, prune: bool) -> dict:
    out: dict = {}
    if pl.label:
        t = pl.target
        out = {"account": t.account, "region": t.region, "name": t.name or None, "error": pl.error or None}
        if pl.error:
            return out
    p = pl.plan
    out["changes"] = [
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
    ] + [
        {"action": "delete" if prune else "stale", "kind": r.kind, "name": r.name, "log_group": r.log_group}
        for r in p.stale
    ]
    out["notes"] = p.notes
    return out


@monitors.command()
@_spec_option
@click.option("--prune", is_flag=True, help="Also delete managed resources no longer in the spec.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def apply(spec_path: str, prune: bool, yes: bool) -> None:
    """Apply the plan and print what was done. Exit 0 done, 1 something failed (the rest is said), 2 usage.

    With ``targets:``, every target that could be planned is applied; one that could not be reached
    is said and makes the exit status 1.
    """
    from chalicelib.monitors.plan import apply_plan

    loaded = _load(spec_path, EXIT_USAGE)
    planned = _plan_all(loaded)
    failed_targets = [pl for pl in planned if pl.error]
    pending = [pl for pl in planned if not pl.error and sum(_summary(pl.plan, prune))]
    if not pending:
        for pl in failed_targets:
            click.echo(f"opswatch: {pl.error}", err=True)
        click.echo(
            "Nothing to do: CloudWatch matches the spec"
            + (f" in the {plural(len(planned) - len(failed_targets), 'target')} reached." if failed_targets else ".")
        )
        sys.exit(EXIT_FAILED if failed_targets else EXIT_OK)
    _report(planned, prune)
    if not yes and not click.confirm("Apply?", default=False):
        click.echo("Nothing applied.")
        sys.exit(EXIT_FAILED)
    done = failed = 0
    for pl in pending:
        _header(pl)
        result = apply_plan(pl.plan, pl.logs, pl.cw, prune, loaded.stage)
        for line in result.done:
            click.echo(line)
        for label, why in result.failed:
            click.echo(f"FAILED {label}" + (f" in {pl.label}" if pl.label else "") + f": {why}", err=True)
        done, failed = done + len(result.done), failed + len(result.failed)
    if failed or failed_targets:  # each target not reached was said with the plan
        tail = f", {plural(len(failed_targets), 'target')} not reached" if failed_targets else ""
        click.echo(f"{done} applied, {failed} failed{tail}; run apply again once fixed.", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(
        f"Applied: {plural(done, 'change')}" + (f" in {plural(len(pending), 'target')}." if planned[0].label else ".")
    )


@monitors.command()
@_spec_option
def targets(spec_path: str) -> None:
    """Print the spec's targets as one line of JSON: the daily audit's OPSWATCH_AUDIT_TARGETS setting."""
    loaded = _load(spec_path, EXIT_USAGE)
    click.echo(
        json.dumps(
            [
                {
                    "account": t.account,
                    "region": t.region,
                    "role_arn": t.role_arn,
                    **({"name": t.name} if t.name else {}),
                }
                for t in loaded.spec.targets
            ],
            separators=(",", ":"),
        )
    )
