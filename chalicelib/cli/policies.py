"""``opswatch policies``: regenerate or check the functions' IAM policy files in ``.chalice/``."""

from __future__ import annotations

import sys

import click


@click.command()
@click.option("--write", is_flag=True, help="Rewrite the files that differ (otherwise only check).")
def policies(write: bool) -> None:
    """Check (or --write) .chalice/policy-<stage>-<kind>.json against their one description per function.

    Exit status: 0 up to date (or written), 1 out of date.
    """
    from chalicelib import policies as gen

    if write:
        changed = gen.write()
        click.echo("written: " + ", ".join(changed) if changed else "every policy file is up to date")
        problems = [p for p in gen.stale() if p.startswith("config.json")]
    else:
        problems = gen.stale()
    for p in problems:
        click.echo(p)
    if problems:
        click.echo("run `opswatch policies --write` (config.json references are fixed by hand)", err=True)
        sys.exit(1)
    if not write:
        click.echo("every policy file is up to date")
