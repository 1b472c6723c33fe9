"""``opswatch insights``: the saved Logs Insights queries under the opswatch/ folder: list, show, run."""

from __future__ import annotations

import csv
import io
import json
import sys

import click

from chalicelib.cli.errors import EXIT_FINDINGS as EXIT_FAILED
from chalicelib.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, OpswatchGroup
from chalicelib.cli.errors import fail as _fail


@click.group(cls=OpswatchGroup)
def insights() -> None:
    """Saved Logs Insights queries (made by `opswatch monitors apply`): list, show, run."""


def _definitions() -> dict[str, dict]:
    from botocore.exceptions import ClientError

    from chalicelib.aws import client
    from chalicelib.insights.run import definitions, reason

    try:
        return definitions(client("logs"))
    except ClientError as exc:  # refused; no Region, credentials or endpoint: the shared handler says which
        _fail(f"reading the saved queries failed: {reason(exc)}", EXIT_USAGE)
    return {}


def _find(name: str) -> dict:
    from chalicelib.insights.plan import FOLDER

    found = _definitions()
    q = found.get(name.removeprefix(FOLDER))
    if q is None:
        names = ", ".join(found) or "none (run `opswatch monitors apply` with dashboards or insights in the spec)"
        _fail(f"no saved query {name!r} under {FOLDER}; saved queries: {names}", EXIT_USAGE)
    return q


@insights.command("list")
def list_queries() -> None:
    """The saved queries under opswatch/, with their log groups."""
    found = _definitions()
    for name, q in found.items():
        click.echo(f"{name:<40} {', '.join(q.get('logGroupNames') or [])}")
    if not found:
        click.echo("no saved queries under opswatch/ (run `opswatch monitors apply` with dashboards or insights)")


@insights.command()
@click.argument("name")
def show(name: str) -> None:
    """A saved query's log groups and query text."""
    q = _find(name)
    click.echo(f"{q['name']}\nlog groups: {', '.join(q.get('logGroupNames') or [])}\n\n{q['queryString']}")


def _write(columns: list[str], rows: list[list], fmt: str) -> None:
    if fmt == "json":
        for r in rows:
            click.echo(json.dumps(dict(zip(columns, r, strict=True)), ensure_ascii=False))
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
        return
    from chalicelib.athena.table import aligned

    for line in aligned(columns, [tuple(r) for r in rows], lambda v: "" if v is None else str(v)):
        click.echo(line)
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


@insights.command("run")
@click.argument("name")
@click.option("--since", help="How far back from now: 30m, 1h (default), 7d.")
@click.option("--start", help="ISO-8601 start (with --end; default one hour before it).")
@click.option("--end", help="ISO-8601 end (default now).")
@click.option("--log-group", "log_groups", multiple=True, help="Ask these groups instead of the saved ones (repeat).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def run_query(name: str, since: str | None, start: str | None, end: str | None, log_groups, fmt: str) -> None:
    """Run a saved query and print its rows, then the records and bytes scanned and their cost.

    Exit 0 done, 1 CloudWatch refused or ended the query (or Ctrl-C stopped it), 2 usage (nothing was sent).
    """
    from chalicelib.aws import client
    from chalicelib.insights.run import USD_PER_GB, QueryFailed, run, window

    try:
        t0, t1 = window(since, start, end)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    q = _find(name)
    groups = list(log_groups) or list(q.get("logGroupNames") or [])
    if not groups:
        _fail(f"saved query {name} names no log group; pass --log-group", EXIT_USAGE)

    def progress(status: str, elapsed: float, stats: dict) -> None:
        if sys.stderr.isatty():
            scanned = float(stats.get("bytesScanned") or 0)
            click.echo(
                f"\r{status:<9} {elapsed:5.1f} s  {float(stats.get('recordsScanned') or 0):,.0f} records  "
                f"{scanned / 1e6:,.1f} MB  ",
                err=True,
                nl=False,
            )

    try:
        result = run(client("logs"), q["queryString"], groups, t0, t1, progress)
    except QueryFailed as exc:
        _fail(f"CloudWatch refused the query: {exc}", EXIT_FAILED)
    except KeyboardInterrupt:
        _fail("cancelled (StopQuery sent)", EXIT_INTERRUPTED)
    if sys.stderr.isatty():
        click.echo("", err=True)
    _write(result.columns, result.rows, fmt)
    click.echo(
        f"query {result.query_id}: {result.records_scanned:,.0f} records scanned ({result.records_matched:,.0f} "
        f"matched), {result.bytes_scanned / 1e6:,.1f} MB scanned, ${result.cost:.4f} ({USD_PER_GB} USD per GB)",
        err=True,
    )
