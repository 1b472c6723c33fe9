"""``opswatch policies``: regenerate or check the functions' IAM policy files in ``.chalice/``."""

from __future__ import annotations

import sys

import click

from chalicelib.cli.errors import OpswatchCommand


@click.command(cls=OpswatchCommand)
@click.option("--write", is_flag=True, help="Rewrite the files that differ (otherwise only check).")
@click.option("--stage", help="With --account and --region: the stage to place (recorded in .chalice/config.json).")
@click.option("--account", help="The 12-digit AWS account id the stage is deployed to.")
@click.option("--region", help="The Region the stage is deployed to (e.g. eu-west-1).")
@click.option("--doctor", "doctor", is_flag=True, help="Print the read-only policy `opswatch doctor` needs (--stage).")
def policies(write: bool, stage: str | None, account: str | None, region: str | None, doctor: bool) -> None:
    """Check (or --write) .chalice/policy-<stage>-<kind>.json against their one description per function.

    Every ARN names the stage's account and Region: `--write --stage prod --account
    ID --region R` records them as OPSWATCH_ACCOUNT_ID and OPSWATCH_REGION in the
    stage's settings and writes its policies. A stage without them has no policy
    files, and `chalice deploy` refuses it.

    Exit status: 0 up to date (or written), 1 out of date, 2 usage errors.
    """
    from chalicelib import policies as gen

    if doctor:
        _print_doctor(gen, stage, write or account or region)
        return
    if stage or account or region:
        if not (stage and account and region):
            raise click.UsageError("--stage, --account and --region go together")
        if not write:
            raise click.UsageError("--stage, --account and --region record settings: add --write")
        try:
            gen.place(stage, account.strip(), region.strip())
        except gen.PolicyError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(f"stage {stage}: account {account.strip()}, Region {region.strip()} (.chalice/config.json)")
    if write:
        try:
            changed = gen.write()
        except gen.PolicyError as exc:
            click.echo(f"opswatch: {exc}", err=True)
            sys.exit(1)
        click.echo("written: " + ", ".join(changed) if changed else "every policy file is up to date")
        problems = [p for p in gen.stale() if p.startswith("config.json")]
    else:
        problems = gen.stale()
    for p in problems:
        click.echo(p)
    for s in gen.unplaced():
        click.echo(
            f"stage {s}: no account and Region yet, so no policies and no deploy: "
            f"`opswatch policies --write --stage {s} --account ACCOUNT_ID --region REGION`"
        )
    if problems:
        click.echo("run `opswatch policies --write` (config.json references are fixed by hand)", err=True)
        sys.exit(1)
    if not write:
        click.echo("every policy file is up to date")


def _print_doctor(gen, stage: str | None, other: object) -> None:
    """The read-only policy for `opswatch doctor` on the stage (default: OPSWATCH_STAGE), on stdout."""
    from chalicelib import settings
    from chalicelib.doctor import policy

    if other:
        raise click.UsageError("--doctor prints a policy: it takes --stage only")
    stage = stage or settings.stage()
    if stage not in gen.stages():
        raise click.UsageError(f"--stage {stage!r}: no such stage in .chalice/config.json")
    try:
        with gen.stage_environment(stage):
            click.echo(policy.text(stage))
    except gen.PolicyError as exc:
        raise click.UsageError(str(exc)) from None
