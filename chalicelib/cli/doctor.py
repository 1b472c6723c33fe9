"""``opswatch doctor``: check that a live stage is wired end to end, and say how to fix what is not."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from chalicelib.cli.errors import OpswatchCommand

EXIT_OK, EXIT_FAILED = 0, 1
MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def _stop(message: str) -> None:
    from chalicelib.cli.errors import fail

    fail(message)


def _stage_env(stage: str | None):
    """The stage's settings from .chalice/config.json while the block runs (the shell's, without --stage)."""
    from chalicelib import policies

    if stage is None:
        return contextlib.nullcontext()
    stages = policies.stages()
    if stage not in stages:
        _stop(f"--stage {stage!r}: no such stage in .chalice/config.json (stages: {', '.join(stages)})")
    return policies.stage_environment(stage)


def _where() -> tuple[str, str, str]:
    """(account, Region, caller ARN). No Region, no credentials or refused credentials end as one line, exit 2
    (the command's error handler)."""
    from chalicelib.cli.errors import require_aws
    from chalicelib.doctor.check import _client

    require_aws()
    import boto3

    region = boto3.session.Session().region_name
    me = _client("sts", region).get_caller_identity()
    return me["Account"], region, me["Arn"]


def _spec(spec_path: str | None, stage: str):
    if spec_path is None:
        return None
    from chalicelib.monitors.spec import SpecError, load

    try:
        return load(spec_path, stage)
    except SpecError as exc:
        for p in exc.problems:
            click.echo(p, err=True)
        _stop(f"--spec {spec_path}: not a valid monitors spec (`opswatch monitors validate --spec {spec_path}`)")
    except OSError as exc:
        _stop(f"--spec {spec_path}: {exc.strerror or exc}")


@click.command(cls=OpswatchCommand)
@click.option("--stage", help="The stage in .chalice/config.json (default: the shell's OPSWATCH_* settings).")
@click.option(
    "--load-balancer",
    "load_balancers",
    multiple=True,
    help="A load balancer's name or ARN (repeatable; default: every ALB in the Region).",
)
@click.option(
    "--spec", "spec_path", type=click.Path(exists=True, dir_okay=False), help="A monitors spec: show its drift."
)
@click.option("--send-test", is_flag=True, help="Post a test message to Slack through the real delivery code.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def doctor(stage: str | None, load_balancers: tuple[str, ...], spec_path: str | None, send_test: bool, fmt: str):
    """Check every piece of a deployed stage, read-only, and print the fix of each that is not right.

    Each check ends ok, warn, fail, or skip (with the reason: AccessDenied says which
    permission it needs; `opswatch policies --doctor` prints a read-only policy).
    Every call reads, except --send-test. Exit status: 0 nothing failed (warnings
    allowed), 1 a check failed, 2 usage error (unknown stage, load balancer or spec;
    no AWS Region or credentials).
    """
    from chalicelib import settings

    with _stage_env(stage):
        name = stage or settings.stage()
        loaded = _spec(spec_path, name)  # a bad spec is named before any AWS call
        account, region, caller = _where()
        results = _run(name, account, region, caller, list(load_balancers), loaded, spec_path, send_test)
    if fmt == "json":
        for r in results:
            click.echo(json.dumps(r.as_dict()))
    else:
        _print_text(results, name, account, region)
    sys.exit(EXIT_FAILED if any(r.status == "fail" for r in results) else EXIT_OK)


def _run(stage, account, region, caller, lb_refs, loaded, spec_path, send_test):
    from botocore.exceptions import ClientError

    from chalicelib.console import partition_of
    from chalicelib.doctor import albflow, runner
    from chalicelib.doctor.check import Context

    ctx = Context(
        stage=stage,
        account=account,
        region=region,
        partition=partition_of(region),
        caller=caller,
        spec=loaded,
        spec_path=spec_path,
        send_test=send_test,
    )
    if lb_refs:
        try:
            ctx.load_balancers = albflow.resolve(ctx.client("elbv2"), lb_refs)
        except albflow.UnknownLoadBalancer as exc:
            _stop(f"--load-balancer {exc.args[0]!r}: no such load balancer in {region}")
        except ClientError:
            ctx.load_balancer_refs = lb_refs  # the access-logs check tries again and reports what it lacks
    return runner.run(ctx)


def _print_text(results, stage: str, account: str, region: str) -> None:
    from chalicelib.doctor.runner import flow_of

    click.echo(f"opswatch doctor: stage {stage}, account {account}, Region {region}")
    flow = None
    for r in results:
        if flow_of(r.check) != flow:
            flow = flow_of(r.check)
            click.echo(f"\n{flow}")
        click.echo(f"  {MARKS[r.status]} {r.check}: {r.found}")
        if r.status != "ok" and r.fix:
            click.echo(f"       fix: {r.fix}")
    counts = {s: sum(r.status == s for r in results) for s in MARKS}
    click.echo(f"\n{len(results)} checks: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
