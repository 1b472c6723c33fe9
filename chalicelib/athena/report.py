"""The athena_report Lambda: yesterday's named queries on Athena, summed up in one Slack message.

Which queries: ``OPSWATCH_ATHENA_REPORT`` (default ``top_5xx_paths,slowest_targets``).
A query that fails or runs past its time is reported in the message, and the
invocation then raises, so the failure is retried and, in the end, kept.
Queries run through boto3's Athena client (``athena.boto``): the Lambda runtime's
boto3 is all this function needs, so pyathena stays out of the deployment package.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from chalicelib import settings
from chalicelib.athena.boto import run
from chalicelib.athena.catalog import bind, load_catalog, typed_values
from chalicelib.athena.results import AthenaQueryFailed, AthenaTarget, aligned
from chalicelib.slack.delivery import destination, send
from chalicelib.slack.message import SlackMessage
from chalicelib.slack.routing import Router
from chalicelib.slack.text import escape

logger = Logger(service="opswatch-athena")
ROWS_SHOWN = 10
ROWS_READ = 1000  # one page of GetQueryResults: enough to show ten and count the rest of most answers
QUERY_TIMEOUT_SECONDS = 240


class ReportFailed(RuntimeError):
    """At least one query of the report failed; the Slack message says which and why."""


def _table(columns: list[str], rows: list[tuple], truncated: bool = False) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3f}"
        return str(v)

    lines = aligned(columns, rows[:ROWS_SHOWN], cell)
    more = f"\n… {len(rows) - ROWS_SHOWN}{'+' if truncated else ''} more rows" if len(rows) > ROWS_SHOWN else ""
    return "```" + escape("\n".join(lines)) + "```" + more


def handle_schedule(event: dict | None = None, now: datetime | None = None) -> dict:
    cfg = settings.athena()
    catalog = load_catalog()
    now = now or datetime.now(UTC)
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=1)
    window = {"start": start.isoformat(), "end": end.isoformat()}
    target = AthenaTarget(cfg.database, cfg.workgroup, cfg.output)
    msg = SlackMessage(text=f"opswatch ALB report for {start:%Y-%m-%d}")
    msg.header(f":bar_chart: ALB report for {start:%Y-%m-%d} (UTC)")
    failed, scanned = [], 0
    for name in cfg.report_queries:
        q = catalog.get(name)
        if q is None:
            failed.append(name)
            msg.section(f"*{escape(name)}*: no such named query")
            continue
        sql, params = bind(q.sql, typed_values(q, window))
        try:
            result = run(target, sql, params, timeout=QUERY_TIMEOUT_SECONDS, max_rows=ROWS_READ)
        except AthenaQueryFailed as exc:
            logger.error(f"report query {name} failed: {exc}")
            failed.append(name)
            msg.section(f":x: *{escape(name)}* failed: {escape(exc)}")
            continue
        scanned += result.scanned_bytes
        table = _table(result.columns, result.rows, result.truncated)
        msg.section(f"*{escape(name)}*: {escape(q.description)}\n" + table)
    msg.context([f"{scanned / 1e6:,.1f} MB scanned on Athena · workgroup {escape(cfg.workgroup)}"])
    slack = settings.slack()
    channel, _ = Router(slack.routes, slack.channel, None).route(None, None)
    send(destination(slack), msg, channel)
    if failed:
        raise ReportFailed(f"{len(failed)} report queries failed: {', '.join(failed)} (reported in Slack)")
    return {"queries": list(cfg.report_queries), "scanned_bytes": scanned}
