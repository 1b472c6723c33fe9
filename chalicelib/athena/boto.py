"""Run a named query on Athena with boto3's own client: what the daily report does inside Lambda.

The Lambda runtime ships boto3, so the report needs nothing else: pyathena (the
CLI's client) would bring its own botocore, fsspec and tzdata into the package.
The SQL and the values come from the same ``catalog.bind`` as the CLI's, and the
values go as the same ExecutionParameters text (``catalog.athena_literal``), so
a query binds alike through both (a test runs one through each on moto).

Start, then poll with a backoff that grows to a cap (a long scan costs few
calls, a short one answers quickly), page through GetQueryResults, and past the
time allowed stop the query: nothing keeps scanning, and billing, after we gave up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal

from chalicelib.athena.catalog import athena_literal
from chalicelib.athena.results import AthenaQueryFailed, AthenaResult, AthenaTarget

FIRST_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 5.0
CATALOG = "awsdatacatalog"  # Athena's default (Glue) catalog, named as pyathena names it
DONE = ("SUCCEEDED", "FAILED", "CANCELLED")
_INTS = ("tinyint", "smallint", "integer", "int", "bigint")
_FLOATS = ("double", "float", "real")


def poll_delays(first: float = FIRST_POLL_SECONDS, cap: float = MAX_POLL_SECONDS) -> Iterator[float]:
    """Seconds between status checks: doubling from ``first`` up to ``cap``.

    >>> from itertools import islice
    >>> list(islice(poll_delays(0.2, 1.0), 6))
    [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    """
    delay = first
    while True:
        yield min(delay, cap)
        delay *= 2


def convert(value: str | None, athena_type: str) -> object:
    """One cell from GetQueryResults's text, typed as pyathena's default converter types it.

    A value that does not read as its type is kept as text rather than failing the report.

    >>> convert("42", "bigint"), convert("0.5", "double"), convert(None, "varchar"), convert("1.10", "decimal")
    (42, 0.5, None, Decimal('1.10'))
    >>> convert("n/a", "integer")
    'n/a'
    """
    if value is None:
        return None
    kind = athena_type.lower()
    try:
        if kind in _INTS:
            return int(value)
        if kind in _FLOATS:
            return float(value)
        if kind == "decimal":
            return Decimal(value)
    except (ValueError, ArithmeticError):  # decimal's InvalidOperation is an ArithmeticError
        return value
    if kind == "boolean":
        return value.lower() == "true"
    return value


def run(
    target: AthenaTarget,
    sql: str,
    params: list[object],
    timeout: float,
    athena=None,
    sleep: Callable[[float], None] = time.sleep,
    max_rows: int | None = None,
) -> AthenaResult:
    """Start ``sql`` with ``params`` bound, wait for it at most ``timeout`` seconds, and return its rows.

    With ``max_rows``, pages stop once that many rows are read and the result says it was
    truncated: a query that answers a million rows costs the report one page, not a thousand.

    Raises ``AthenaQueryFailed``: Athena refused to start it, it ended FAILED or CANCELLED,
    or it ran past ``timeout`` (and was stopped).
    """
    from botocore.exceptions import ClientError

    if athena is None:
        from chalicelib.aws import client

        athena = client("athena")
    request: dict = {
        "QueryString": sql,
        "WorkGroup": target.workgroup,
        "QueryExecutionContext": {"Database": target.database, "Catalog": CATALOG},
        "ResultConfiguration": {"OutputLocation": target.output},
    }
    if params:
        request["ExecutionParameters"] = [athena_literal(v) for v in params]
    try:
        query_id = athena.start_query_execution(**request)["QueryExecutionId"]
    except ClientError as exc:  # no such workgroup, bad SQL, no access
        raise AthenaQueryFailed("NOT STARTED", str(exc), "-") from None
    deadline = time.monotonic() + timeout
    delays = poll_delays()
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        status = execution["Status"]
        if status["State"] in DONE:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise AthenaQueryFailed("TIMED_OUT", f"no answer within {timeout:g} s; the query was stopped", query_id)
        sleep(min(next(delays), left))
    if status["State"] != "SUCCEEDED":
        raise AthenaQueryFailed(status["State"], status.get("StateChangeReason"), query_id)
    columns, rows, truncated = _results(athena, query_id, max_rows)
    scanned = execution.get("Statistics", {}).get("DataScannedInBytes", 0) or 0
    return AthenaResult(columns, rows, query_id, scanned, truncated)


def _results(athena, query_id: str, max_rows: int | None = None) -> tuple[list[str], list[tuple], bool]:
    """The pages of GetQueryResults, typed, until ``max_rows`` are read; the header row Athena puts first is dropped.

    Returns the columns, the rows, and whether pages were left unread.
    """
    columns: list[str] = []
    types: list[str] = []
    rows: list[tuple] = []
    first = True
    token: str | None = None
    while True:
        page = athena.get_query_results(QueryExecutionId=query_id, **({"NextToken": token} if token else {}))
        if not columns:
            info = page["ResultSet"].get("ResultSetMetadata", {}).get("ColumnInfo", [])
            columns = [c["Name"] for c in info]
            types = [c["Type"] for c in info]
        for row in page["ResultSet"].get("Rows", []):
            cells = [d.get("VarCharValue") for d in row.get("Data", [])]
            if first:
                first = False
                if cells == columns:  # a SELECT's first row repeats the column labels
                    continue
            rows.append(tuple(convert(v, t) for v, t in zip(cells, types, strict=False)))
        token = page.get("NextToken")
        if not token:
            return columns, rows, False
        if max_rows is not None and len(rows) >= max_rows:
            return columns, rows, True
