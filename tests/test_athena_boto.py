"""The daily report's Athena client (boto3 alone) against the moto server: the same binding as the CLI's
pyathena, typed rows over several result pages, and a query stopped when it runs past its time."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from chalicelib.athena import boto as athena_boto
from chalicelib.athena import remote
from chalicelib.athena.catalog import bind, load_catalog, typed_values
from chalicelib.athena.results import AthenaQueryFailed, AthenaTarget
from tests.faultproxy import FaultProxy
from tests.test_athena import _inject

TARGET = AthenaTarget("opswatch_local", "opswatch-local", "s3://opswatch-local-athena-results/")
COLUMNS = [("path", "varchar"), ("requests", "bigint"), ("p99", "double")]
ROWS = [["/pay", "12", "1.5"], ["/a b", "3", None]]


@pytest.fixture
def workgroup(aws):
    boto3.client("s3").create_bucket(Bucket="opswatch-local-athena-results")
    boto3.client("athena").create_work_group(
        Name=TARGET.workgroup, Configuration={"ResultConfiguration": {"OutputLocation": TARGET.output}}
    )
    return aws


def _last_execution() -> dict:
    athena = boto3.client("athena")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    runs = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
    return max(runs, key=lambda q: q["Status"]["SubmissionDateTime"])


def test_the_report_and_pyathena_bind_a_named_query_alike(workgroup):
    """One named query, values that try to break out of their quotes, sent through each client."""
    query = load_catalog()["top_5xx_paths"]
    given = {"start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z", "elb": "x' OR '1'='1", "limit": "7"}
    sql, params = bind(query.sql, typed_values(query, given))
    sent, answers = [], []
    for run in (remote.run, athena_boto.run):
        _inject(workgroup.endpoint, COLUMNS, ROWS)
        answers.append(run(TARGET, sql, params, timeout=30))
        last = _last_execution()
        sent.append((last["Query"], last["ExecutionParameters"], last["WorkGroup"], last["QueryExecutionContext"]))
    assert sent[0] == sent[1]
    query_text, execution_params, _, _ = sent[1]
    assert "?" in query_text and "x'" not in query_text  # bound, never pasted
    assert "'x'' OR ''1''=''1'" in execution_params and "7" in execution_params
    pyathena_rows, boto_rows = (a.rows for a in answers)
    assert boto_rows == pyathena_rows == [("/pay", 12, 1.5), ("/a b", 3, None)]
    assert answers[0].columns == answers[1].columns == ["path", "requests", "p99"]


def test_rows_come_from_every_page_and_the_header_row_is_dropped(workgroup):
    """Athena pages results (1,000 rows a page); only the first page starts with the column labels."""
    proxy = FaultProxy(workgroup.endpoint)
    info = [{"Name": n, "Type": t} for n, t in COLUMNS]

    def page(body: bytes) -> tuple[int, dict, bytes]:
        token = json.loads(body).get("NextToken")
        rows = [["path", "requests", "p99"], ["/one", "1", "0.1"]] if token is None else [["/two", "2", "0.2"]]
        answer = {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": v} for v in r]} for r in rows],
                                "ResultSetMetadata": {"ColumnInfo": info}}}  # fmt: skip
        if token is None:
            answer["NextToken"] = "page-2"
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(answer).encode()

    proxy.answer["AmazonAthena.GetQueryResults"] = page
    try:
        athena = boto3.client("athena", endpoint_url=proxy.endpoint)
        result = athena_boto.run(TARGET, "SELECT 1", [], timeout=30, athena=athena)
    finally:
        proxy.close()
    assert result.rows == [("/one", 1, 0.1), ("/two", 2, 0.2)] and not result.truncated
    assert proxy.seen.count("AmazonAthena.GetQueryResults") == 2
    proxy = FaultProxy(workgroup.endpoint)  # a row limit met by the first page: the second is never asked for
    proxy.answer["AmazonAthena.GetQueryResults"] = page
    try:
        athena = boto3.client("athena", endpoint_url=proxy.endpoint)
        capped = athena_boto.run(TARGET, "SELECT 1", [], timeout=30, athena=athena, max_rows=1)
    finally:
        proxy.close()
    assert capped.rows == [("/one", 1, 0.1)] and capped.truncated
    assert proxy.seen.count("AmazonAthena.GetQueryResults") == 1


def test_a_query_past_its_time_is_stopped(workgroup):
    proxy = FaultProxy(workgroup.endpoint)

    def running(answer: dict) -> dict:
        answer["QueryExecution"]["Status"]["State"] = "RUNNING"
        return answer

    proxy.rewrite["AmazonAthena.GetQueryExecution"] = running
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    try:
        athena = boto3.client("athena", endpoint_url=proxy.endpoint)
        with pytest.raises(AthenaQueryFailed, match="TIMED_OUT") as caught:
            athena_boto.run(TARGET, "SELECT 1", [], timeout=1.0, athena=athena, sleep=sleep)
    finally:
        proxy.close()
    assert "StopQueryExecution" in " ".join(proxy.seen)
    state = boto3.client("athena").get_query_execution(QueryExecutionId=caught.value.query_id)
    assert state["QueryExecution"]["Status"]["State"] == "CANCELLED"
    assert waits[:2] == [athena_boto.FIRST_POLL_SECONDS, 2 * athena_boto.FIRST_POLL_SECONDS]  # it backs off
    assert all(w <= athena_boto.MAX_POLL_SECONDS for w in waits) and sum(waits) <= 1.0 + 1e-6


def test_a_failed_query_raises_athenas_reason_and_a_missing_workgroup_is_not_started(workgroup):
    proxy = FaultProxy(workgroup.endpoint)
    reason = "SYNTAX_ERROR: line 1:8: Column 'nope' cannot be resolved"

    def failed(answer: dict) -> dict:
        answer["QueryExecution"]["Status"].update(State="FAILED", StateChangeReason=reason)
        return answer

    proxy.rewrite["AmazonAthena.GetQueryExecution"] = failed
    try:
        athena = boto3.client("athena", endpoint_url=proxy.endpoint)
        with pytest.raises(AthenaQueryFailed, match="FAILED: " + reason):
            athena_boto.run(TARGET, "SELECT nope", [], timeout=30, athena=athena)
    finally:
        proxy.close()
    gone = AthenaTarget(TARGET.database, "no-such-workgroup", TARGET.output)
    with pytest.raises(AthenaQueryFailed, match="NOT STARTED"):
        athena_boto.run(gone, "SELECT 1", [], timeout=30)
