"""Run a saved Logs Insights query: StartQuery, poll GetQueryResults, StopQuery on interrupt.

Logs Insights bills the bytes it scans (0.005 USD per GB in most Regions), so every run
reports records and bytes scanned with their cost. A query CloudWatch refuses
(MalformedQueryException, an unknown log group, too many concurrent queries) raises
``QueryFailed`` with CloudWatch's reason; nothing is retried behind the user's back.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

USD_PER_GB = 0.005
DONE = ("Complete", "Failed", "Cancelled", "Timeout", "Unknown")
_SINCE = re.compile(r"(\d+)\s*([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class QueryFailed(Exception):
    """CloudWatch refused the query or ended it without results."""


@dataclass
class Result:
    query_id: str
    status: str
    columns: list[str]
    rows: list[list[str | None]]
    records_scanned: float = 0
    records_matched: float = 0
    bytes_scanned: float = 0

    @property
    def cost(self) -> float:
        return self.bytes_scanned / 1e9 * USD_PER_GB


def since_seconds(text: str) -> int:
    """``90s``, ``15m``, ``1h``, ``7d`` as seconds; ``ValueError`` otherwise."""
    m = _SINCE.fullmatch(text.strip())
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"--since {text!r}: a duration such as 30m, 1h or 7d")
    return int(m.group(1)) * _UNIT[m.group(2)]


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (``2026-11-24T10:00:00Z``); naive times are UTC."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 time (e.g. 2026-11-24T10:00:00Z)") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def window(since: str | None, start: str | None, end: str | None) -> tuple[int, int]:
    """The query's (start, end) in epoch seconds: ``--since`` back from now, or ``--start``/``--end``."""
    if since and (start or end):
        raise ValueError("give --since, or --start and --end, not both")
    now = datetime.now(UTC)
    if start or end:
        t1 = parse_time(end) if end else now
        t0 = parse_time(start) if start else t1 - timedelta(hours=1)
    else:
        t1 = now
        try:
            t0 = now - timedelta(seconds=since_seconds(since or "1h"))
        except OverflowError:  # past year 1: said below like any start before 1970
            t0 = datetime.min.replace(tzinfo=UTC)
    if t0 >= t1:
        raise ValueError("the start must come before the end")
    if t0.timestamp() < 0:  # StartQuery's startTime: epoch seconds, at least 0
        raise ValueError("the start is before 1970-01-01, the earliest time CloudWatch Logs takes")
    return int(t0.timestamp()), int(t1.timestamp())


def definitions(logs) -> dict[str, dict]:
    """The saved queries under the opswatch/ folder, by their name without the folder."""
    from chalicelib.insights.plan import FOLDER, live  # the spec's side: not for the Lambda path (Recent logs)

    return {name.removeprefix(FOLDER): q for name, q in sorted(live(logs).items())}


def reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code')}: {err.get('Message')}"
    return str(exc)


def run(
    logs,
    query: str,
    groups: list[str],
    start: int,
    end: int,
    progress: Callable[[str, float, dict], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline_seconds: float | None = None,
) -> Result:
    """Start the query, poll until it ends, and return its rows; Ctrl-C stops it (StopQuery) and re-raises.

    With ``deadline_seconds`` (a Lambda has a timeout), a query still running then is stopped and
    ``QueryFailed`` says so.
    """
    try:
        query_id = logs.start_query(logGroupNames=groups, startTime=start, endTime=end, queryString=query)["queryId"]
    except (ClientError, BotoCoreError) as exc:
        raise QueryFailed(reason(exc)) from None
    began = time.monotonic()
    delay = 0.2
    try:
        while True:
            answer = logs.get_query_results(queryId=query_id)
            status = answer.get("status", "Unknown")
            stats = answer.get("statistics") or {}
            if progress:
                progress(status, time.monotonic() - began, stats)
            if status in DONE:
                break
            if deadline_seconds is not None and time.monotonic() - began > deadline_seconds:
                with contextlib.suppress(ClientError, BotoCoreError):
                    logs.stop_query(queryId=query_id)
                raise QueryFailed(f"the query was still {status} after {deadline_seconds:g} s, and was stopped")
            sleep(delay)
            delay = min(delay * 1.5, 2.0)
    except KeyboardInterrupt:
        with contextlib.suppress(ClientError, BotoCoreError):  # it may have ended meanwhile
            logs.stop_query(queryId=query_id)
        raise
    except (ClientError, BotoCoreError) as exc:
        raise QueryFailed(reason(exc)) from None
    if status != "Complete":
        raise QueryFailed(f"the query ended {status} (query id {query_id})")
    columns: list[str] = []
    records = []
    for row in answer.get("results") or []:
        record = {f["field"]: f.get("value") for f in row if f.get("field") != "@ptr"}
        if not record:  # only the record pointer: nothing to show
            continue
        columns += [c for c in record if c not in columns]
        records.append(record)
    rows = [[r.get(c) for c in columns] for r in records]
    return Result(
        query_id,
        status,
        columns,
        rows,
        float(stats.get("recordsScanned") or 0),
        float(stats.get("recordsMatched") or 0),
        float(stats.get("bytesScanned") or 0),
    )
