"""Run a query on Athena through pyathena: bound parameters, live progress, cost, cancel on Ctrl-C.

Parameters go as Athena execution parameters (pyathena's ``qmark`` style), each
as SQL literal text (``catalog.athena_literal``): never pasted into the query.
What a query costs, its result and its failure are ``results``'s, shared with the
daily report's client (``boto``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from chalicelib.athena.catalog import athena_literal
from chalicelib.athena.results import AthenaQueryFailed, AthenaResult, AthenaTarget, cost_usd

__all__ = ["AthenaQueryFailed", "AthenaResult", "AthenaTarget", "cost_usd", "execute_ddl", "run"]

# pyathena logs a traceback when a query cannot start; opswatch reports the error itself, once.
logging.getLogger("pyathena").setLevel(logging.CRITICAL)


def run(
    target: AthenaTarget,
    sql: str,
    params: list[object],
    progress: Callable[[str, float, int], None] | None = None,
    poll_seconds: float = 0.5,
    timeout: float | None = None,
) -> AthenaResult:
    """Start the query, report (state, elapsed s, bytes scanned) while it runs, and return its rows.

    Past ``timeout`` seconds the query is stopped and ``AthenaQueryFailed`` says so.
    """
    from botocore.exceptions import BotoCoreError
    from pyathena import connect
    from pyathena.async_cursor import AsyncCursor
    from pyathena.error import Error as PyAthenaError

    from chalicelib.aws import client

    athena = client("athena")
    conn = connect(
        s3_staging_dir=target.output,
        work_group=target.workgroup,
        schema_name=target.database,
        region_name=athena.meta.region_name,
        cursor_class=AsyncCursor,
    )
    cursor = conn.cursor()
    literal = [athena_literal(v) for v in params]
    try:
        query_id, future = cursor.execute(sql, literal or None, paramstyle="qmark")
    except PyAthenaError as exc:  # Athena refused to start it (no such workgroup, bad SQL, no access)
        if isinstance(exc.__cause__, BotoCoreError):  # no Region, no credentials, no endpoint: not the query's fault
            raise exc.__cause__ from None
        raise AthenaQueryFailed("NOT STARTED", str(exc), "-") from None
    started = time.monotonic()
    try:
        while not future.done():
            if timeout is not None and time.monotonic() - started > timeout:
                cursor.cancel(query_id)
                raise AthenaQueryFailed("TIMED_OUT", f"no answer within {timeout:g} s; the query was stopped", query_id)
            if progress:
                stats = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
                scanned = stats.get("Statistics", {}).get("DataScannedInBytes", 0)
                progress(stats["Status"]["State"], time.monotonic() - started, scanned)
            time.sleep(poll_seconds)
        rs = future.result()
    except PyAthenaError as exc:
        raise AthenaQueryFailed("FAILED", str(exc), query_id) from None
    except KeyboardInterrupt:
        cursor.cancel(query_id)  # StopQueryExecution: nothing keeps scanning after Ctrl-C
        raise
    if rs.state != "SUCCEEDED":
        raise AthenaQueryFailed(rs.state, rs.state_change_reason, query_id)
    columns = [d[0] for d in rs.description or []]
    return AthenaResult(columns, list(rs.fetchall()), query_id, rs.data_scanned_in_bytes or 0)


def execute_ddl(target: AthenaTarget, sql: str) -> str:
    """Run one DDL statement (free on Athena); returns the query id. Raises ``AthenaQueryFailed``."""
    from pyathena import connect
    from pyathena.error import Error as PyAthenaError

    from chalicelib.aws import client

    cursor = connect(
        s3_staging_dir=target.output, work_group=target.workgroup, region_name=client("athena").meta.region_name
    ).cursor()
    try:
        cursor.execute(sql)
    except PyAthenaError as exc:
        raise AthenaQueryFailed("FAILED", str(exc), cursor.query_id or "-") from None
    if cursor.state != "SUCCEEDED":
        raise AthenaQueryFailed(cursor.state, cursor.state_change_reason, cursor.query_id)
    return cursor.query_id
