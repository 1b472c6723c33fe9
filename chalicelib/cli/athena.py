"""``opswatch athena``: the ALB table and named queries, on Athena or on the local engine."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from datetime import date, datetime
from decimal import Decimal

import click

from chalicelib import settings
from chalicelib.cli.errors import EXIT_FINDINGS as EXIT_FAILED
from chalicelib.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, OpswatchGroup, require_aws
from chalicelib.cli.errors import fail as _fail


@click.group(cls=OpswatchGroup)
def athena() -> None:
    """Query the ALB logs in S3: Athena (partition-projected table) or the local engine (DuckDB)."""


def _target():
    from chalicelib.athena.remote import AthenaTarget

    cfg = settings.athena()
    return AthenaTarget(cfg.database, cfg.workgroup, cfg.output)


@athena.command()
@click.option("--bucket", default=lambda: settings.alb().bucket, show_default="the stage's ALB log bucket")
@click.option("--prefix", default=lambda: settings.athena().log_prefix, help="The log prefix inside the bucket.")
@click.option(
    "--account",
    "accounts",
    multiple=True,
    help="A load balancer's account (repeat, or comma-separated; default OPSWATCH_ACCOUNTS, else the caller's).",
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    help="A load balancer's Region (repeat, or comma-separated; default OPSWATCH_REGIONS, else the client's).",
)
@click.option(
    "--projection",
    type=click.Choice(["enum", "injected"]),
    default=lambda: settings.athena().projection,
    show_default="OPSWATCH_ATHENA_PROJECTION, else enum",
    help="enum: the listed accounts and Regions; injected: no list, every query names an account and a Region.",
)
@click.option("--start-date", default="2024/01/01", show_default=True, help="The first day partition (yyyy/MM/dd).")
@click.option("--print", "print_only", is_flag=True, help="Print the DDL instead of running it.")
def setup(
    bucket: str,
    prefix: str,
    accounts: tuple[str, ...],
    regions: tuple[str, ...],
    projection: str,
    start_date: str,
    print_only: bool,
) -> None:
    """Create the database, the alb_access_logs table and the workgroup with its results location.

    The table is partitioned by account, Region and day, all projected, over the bucket's
    AWSLogs/ (a central bucket holds many accounts and Regions). It is replaced each time:
    run setup again after adding an account or Region to the lists (the logs in S3 stay).
    """
    from botocore.exceptions import ClientError

    from chalicelib.athena.remote import AthenaQueryFailed, execute_ddl
    from chalicelib.athena.table import render_ddl
    from chalicelib.aws import client

    if not re.fullmatch(r"\d{4}/\d\d/\d\d", start_date):
        _fail(f"--start-date {start_date!r}: expected yyyy/MM/dd")
    cfg = settings.athena()
    account_list = [a.strip() for v in accounts for a in v.split(",") if a.strip()] or list(cfg.accounts)
    region_list = [r.strip() for v in regions for r in v.split(",") if r.strip()] or list(cfg.regions)
    target = _target()
    try:
        placeholders = []
        if projection == "enum" and not account_list:
            if print_only:
                account_list, placeholders = ["123456789012"], [*placeholders, "account 123456789012"]
            else:
                account_list = [client("sts").get_caller_identity()["Account"]]
        if projection == "enum" and not region_list:
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            if print_only and not region:
                region, placeholders = "us-east-1", [*placeholders, "Region us-east-1"]
            region_list = [region or client("athena").meta.region_name]
        statements = render_ddl(target.database, bucket, prefix, account_list, region_list, start_date, projection)
        if print_only:
            click.echo(";\n\n".join(statements) + ";")
            if placeholders:
                click.echo(
                    f"opswatch: {' and '.join(placeholders)} in the table's location are placeholders: "
                    "pass --account and --region with the load balancer's own",
                    err=True,
                )
            return
        athena_client = client("athena")
        names = [w["Name"] for w in athena_client.list_work_groups().get("WorkGroups", [])]
        if target.workgroup not in names:
            athena_client.create_work_group(
                Name=target.workgroup,
                Configuration={"ResultConfiguration": {"OutputLocation": target.output}},
                Description="opswatch: queries over the ALB access logs",
            )
            click.echo(f"created workgroup {target.workgroup} (results in {target.output})")
        database, table = statements
        # Replaced, not kept: an existing table of an earlier shape (day only) or with other lists
        # would otherwise stay as it was. Dropping an external table leaves the logs in S3.
        for sql in (database, f"DROP TABLE IF EXISTS {target.database}.alb_access_logs", table):
            execute_ddl(target, sql)
            click.echo(sql.splitlines()[0])
    except AthenaQueryFailed as exc:  # a DDL statement Athena ran and failed
        _fail(str(exc), EXIT_FAILED)
    except ValueError as exc:  # a bucket, prefix, account or Region the DDL cannot hold
        _fail(str(exc))
    except ClientError as exc:  # refused (access, limits): nothing was created past this point
        _fail(f"Athena call failed: {exc}")
    shown = "injected" if projection == "injected" else f"{len(account_list)} account(s), {len(region_list)} Region(s)"
    click.echo(f"table {target.database}.alb_access_logs is ready ({shown})")


@athena.command("list")
def list_queries() -> None:
    """The named queries."""
    from chalicelib.athena.catalog import load_catalog

    for q in load_catalog().values():
        click.echo(f"{q.name:<24} {q.description}")


@athena.command()
@click.argument("name")
def show(name: str) -> None:
    """A named query's description, parameters and SQL."""
    q = _query(name)
    click.echo(f"{q.name}: {q.description}\n\nparameters:")
    for p in q.params:
        default = "" if p.default is None else f" (default {p.default!r})"
        click.echo(f"  {p.name:<8} {p.type:<10}{default} {p.help}".rstrip())
    click.echo(f"\n{q.sql}")


def _query(name: str):
    from chalicelib.athena.catalog import load_catalog

    catalog = load_catalog()
    if name not in catalog:
        _fail(f"no named query {name!r}; `opswatch athena list` shows them")
    return catalog[name]


def _cell(v: object) -> object:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


def _write(columns: list[str], rows: list[tuple], fmt: str, output: str | None) -> None:
    buf = io.StringIO()
    if fmt == "json":
        for r in rows:
            buf.write(json.dumps(dict(zip(columns, map(_cell, r), strict=True)), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        w = csv.writer(buf)
        w.writerow(columns)
        w.writerows([[_cell(c) for c in r] for r in rows])
    else:
        from chalicelib.athena.table import aligned

        buf.writelines(line + "\n" for line in aligned(columns, rows, lambda v: str(_cell(v))))
        buf.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(buf.getvalue())
        except OSError as exc:
            _fail(f"--output {output}: cannot write: {exc.strerror}")
    else:
        click.echo(buf.getvalue(), nl=False)


def _writable(output: str | None) -> None:
    """Refuse an --output that cannot be written before the query runs (and costs)."""
    if output:
        folder = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(folder):
            _fail(f"--output {output}: no such folder {folder}")
        if not os.access(folder, os.W_OK) or (os.path.exists(output) and not os.access(output, os.W_OK)):
            _fail(f"--output {output}: not writable")


def _execute(
    sql: str,
    params: list[object],
    engine: str,
    logs: tuple[str, ...],
    fmt: str,
    output: str | None,
    timeout: float,
    none_found: str | None = None,
) -> None:
    """Run ``sql`` and write its rows; ``none_found``: a hint printed (stderr) when there are no rows."""
    _writable(output)
    if engine == "local":
        from botocore.exceptions import ClientError

        from chalicelib.athena import local

        if not logs:
            _fail("--engine local needs --logs PATH (files, folders or s3:// prefixes)")
        con = local.connect()
        try:
            local.translate(sql)  # one query, or refused before the logs are loaded
            loaded = local.load(con, list(logs))
            if loaded.unmatched:
                click.echo(f"opswatch: {loaded.unmatched} of {loaded.lines} lines are not ALB access-log entries "
                           "and were left out", err=True)  # fmt: skip
            columns, rows = local.run(con, sql, params, timeout)
        except KeyboardInterrupt:
            _fail("interrupted (the local query was stopped)", EXIT_INTERRUPTED)
        except (local.LogsUnreadable, local.QueryInvalid) as exc:
            _fail(str(exc))
        except local.LocalError as exc:
            _fail(str(exc), EXIT_FAILED)
        except ClientError as exc:  # an s3:// prefix that cannot be read: an unreadable input
            _fail(f"reading the logs from S3 failed: {exc}")
        _write(columns, rows, fmt, output)
        if not rows and none_found:
            click.echo(f"opswatch: {none_found}", err=True)
        return
    from botocore.exceptions import ClientError

    from chalicelib.athena.remote import AthenaQueryFailed, cost_usd, run

    def progress(state: str, elapsed: float, scanned: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r{state:<9} {elapsed:5.1f} s  {scanned / 1e6:,.1f} MB  ${cost_usd(scanned):.4f}  ", err=True,
                       nl=False)  # fmt: skip

    require_aws()
    try:
        result = run(_target(), sql, params, progress)
    except AthenaQueryFailed as exc:
        # A workgroup or database that does not exist is a missing AWS resource the stage names: bad input (2),
        # as in every command; a query Athena started and failed is a failed query (1).
        missing = exc.state == "NOT STARTED" and "does not exist" in (exc.reason or "")
        _fail(
            str(exc) + (" (run `opswatch athena setup` first)" if missing else ""),
            EXIT_USAGE if missing else EXIT_FAILED,
        )
    except ClientError as exc:  # refused outside the query itself (access, throttling past the retries)
        _fail(f"Athena call failed: {exc}")
    except KeyboardInterrupt:
        _fail("cancelled (StopQueryExecution sent)", EXIT_INTERRUPTED)
    _write(result.columns, result.rows, fmt, output)
    if not result.rows and none_found:
        click.echo(f"opswatch: {none_found}", err=True)
    click.echo(
        f"query {result.query_id}: {result.scanned_bytes / 1e6:,.1f} MB scanned, ${result.cost:.4f} "
        "(5 USD per TB, 10 MB minimum)",
        err=True,
    )


_engine = click.option("--engine", type=click.Choice(["athena", "local"]), default="athena", show_default=True)
_logs = click.option("--logs", multiple=True, help="For --engine local: a log file, folder or s3:// prefix (repeat).")
_fmt = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
_out = click.option("--output", type=click.Path(dir_okay=False), help="Write the rows to this file.")


def _seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0 < value <= 86_400:  # NaN fails this too (FloatRange lets it through)
        raise click.BadParameter(f"{value}: expected more than 0 and at most 86400 seconds")
    return value


_timeout = click.option(
    "--timeout",
    type=float,
    default=300,
    show_default=True,
    callback=_seconds,
    help="For --engine local: stop the query after this many seconds (exit 1).",
)


@athena.command("run")
@click.argument("name")
@click.option("--param", "params", multiple=True, help="key=value (repeat): start, end, elb, limit, ...")
@_engine
@_logs
@_fmt
@_out
@_timeout
def run_named(
    name: str, params: tuple[str, ...], engine: str, logs, fmt: str, output: str | None, timeout: float
) -> None:
    """Run a named query. Exit 0 done, 1 the query failed or was cancelled, 2 usage, unreadable logs or AWS errors."""
    from chalicelib.athena.catalog import QueryError, bind, needs_origin, typed_values

    q = _query(name)
    given = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep:
            _fail(f"--param {p!r}: expected key=value")
        if key.strip() in given:  # the last would win silently: a script's default and the user's value, say
            first, again = given[key.strip()][:80], value[:80]
            _fail(f"--param {key.strip()[:80]} is given twice ({first!r} and {again!r}): give it once")
        given[key.strip()] = value
    try:
        typed = typed_values(q, given)
        sql, values = bind(q.sql, typed)
    except QueryError as exc:
        _fail(str(exc))
    why = needs_origin(typed, settings.athena().projection) if engine == "athena" else None
    if why:
        _fail(f"athena run {name}: {why}")
    window = None
    if "start" in q.names and not {"start", "end"} & set(given):
        window = (
            f"no rows between {typed['start']} and {typed['end']}, the default window (the last "
            "24 hours); pass --param start=... (and end=...) to look at other days"
        )
    _execute(sql, values, engine, logs, fmt, output, timeout, window)


@athena.command("sql")
@click.argument("query")
@_engine
@_logs
@_fmt
@_out
@click.option("--allow-full-scan", is_flag=True, help="Run on Athena even without a day predicate.")
@_timeout
def adhoc(query: str, engine: str, logs, fmt: str, output: str | None, allow_full_scan: bool, timeout: float) -> None:
    """Ad-hoc SQL in Athena's dialect. On Athena, a query on alb_access_logs must filter on day (cost).

    The guard reads the parsed query: every SELECT reading alb_access_logs needs a day
    condition (=, <, <=, >, >=, BETWEEN or IN against a constant) AND-ed at the top of its
    WHERE; a day in a comment, a string or an OR does not count.
    """
    from chalicelib.athena.guard import GuardError, unbounded_scans

    try:
        unbounded = unbounded_scans(query)
    except GuardError as exc:
        _fail(f"athena sql: {exc}")
    if engine == "athena" and unbounded and not allow_full_scan:
        _fail(
            "this query reads alb_access_logs without a day predicate, so Athena would scan every log ever "
            f"written (5 USD per TB): {'; '.join(unbounded)}. "
            "Add e.g. WHERE day >= '2026/11/20' AND ..., or pass --allow-full-scan"
        )
    _execute(query, [], engine, logs, fmt, output, timeout)
