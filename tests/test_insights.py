"""Saved Logs Insights queries: planned, applied and pruned with the monitors spec; `opswatch insights`.

moto 5.2 serves no query definitions and no StopQuery: the embedded server adds them
(``chalicelib/embedded/motologs.py``), and these tests reach them over HTTP like every other
call. moto runs only ``fields``, ``sort`` and ``limit`` of a query and gives no statistics,
so CloudWatch's statistics, refusals and a long-running query come from the fault proxy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import boto3
import pytest
import yaml

from chalicelib.aws import client
from chalicelib.insights.run import since_seconds, window
from tests.conftest import opswatch, opswatch_here
from tests.faultproxy import FaultProxy

LB = "app/shop-prod/50dc6c495c0c9188"
GROUP = "/opswatch/local/alb"
RECENT = "fields @timestamp, @message | sort @timestamp desc | limit 2"


@pytest.fixture
def spec(aws, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    now = int(time.time() * 1000)
    events = [
        {"timestamp": now - (3 - i) * 1000, "message": json.dumps({"elb_status_code": 500 + i})} for i in range(3)
    ]
    logs.put_log_events(logGroupName=GROUP, logStreamName="s", logEvents=events)
    p = tmp_path / "monitors.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "dashboards": [{"name": "shop-local", "load_balancers": [LB], "sections": ["logs"]}],
                "insights": [{"name": "recent", "log_groups": [GROUP], "query": RECENT}],
            },
            sort_keys=False,
        )
    )
    return p


def save_directly() -> None:
    """What apply saves for the spec's query, without running apply (faster, for the run tests)."""
    boto3.client("logs").put_query_definition(name="opswatch/recent", queryString=RECENT, logGroupNames=[GROUP])
    boto3.client("logs").put_query_definition(name="opswatch/shop-local/x", queryString=RECENT, logGroupNames=[GROUP])


def saved() -> dict[str, dict]:
    answer = boto3.client("logs").describe_query_definitions(queryDefinitionNamePrefix="opswatch/")
    return {q["name"]: q for q in answer["queryDefinitions"]}


def test_apply_saves_the_questions_and_the_spec_queries_under_the_folder(spec):
    r = opswatch_here("monitors", "apply", "--spec", str(spec), "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(saved()) == {
        "opswatch/shop-local/top_5xx_paths",
        "opswatch/shop-local/slowest_targets",
        "opswatch/shop-local/top_client_ips",
        "opswatch/shop-local/status_codes",
        "opswatch/recent",
    }
    q = saved()["opswatch/shop-local/status_codes"]
    assert q["logGroupNames"] == [GROUP] and q["queryString"].startswith(
        "stats count(*) as requests by elb_status_code"
    )
    r = opswatch_here("monitors", "plan", "--spec", str(spec))
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "Plan: 0 to create, 0 to change, 0 to delete.", r.stdout


def test_a_changed_query_is_updated_in_place_and_prune_spares_other_folders(spec):
    assert opswatch_here("monitors", "apply", "--spec", str(spec), "--yes").returncode == 0
    logs = boto3.client("logs")
    mine = logs.put_query_definition(name="team/errors", queryString="fields @message", logGroupNames=[GROUP])
    before = saved()["opswatch/recent"]["queryDefinitionId"]
    data = yaml.safe_load(spec.read_text())
    data["insights"][0]["query"] = "fields @message | limit 1"
    data["dashboards"] = []
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    r = opswatch_here("monitors", "plan", "--spec", str(spec), "--format", "json")
    assert r.returncode == 3  # changes pending
    changes = json.loads(r.stdout)["changes"]
    [update] = [c for c in changes if c["action"] == "update"]
    assert update["kind"] == "query definition" and update["name"] == "opswatch/recent"
    assert update["diffs"] == [{"attribute": "queryString", "old": RECENT, "new": "fields @message | limit 1"}]
    stale = sorted(c["name"] for c in changes if c["action"] == "stale" and c["kind"] == "query definition")
    assert len(stale) == 4 and all(n.startswith("opswatch/shop-local/") for n in stale)
    r = opswatch_here("monitors", "apply", "--spec", str(spec), "--prune", "--yes")
    assert r.returncode == 0 and "deleted query definition opswatch/shop-local/status_codes" in r.stdout, r.stderr
    assert list(saved()) == ["opswatch/recent"]
    assert saved()["opswatch/recent"]["queryDefinitionId"] == before  # changed in place, not made anew
    others = logs.describe_query_definitions(queryDefinitionNamePrefix="team/")["queryDefinitions"]
    assert [q["queryDefinitionId"] for q in others] == [mine["queryDefinitionId"]]


def test_list_show_and_run_a_saved_query(spec):
    assert opswatch_here("monitors", "apply", "--spec", str(spec), "--yes").returncode == 0
    r = opswatch_here("insights", "list")
    assert r.returncode == 0 and r.stdout.splitlines()[0].split() == ["recent", GROUP], r.stdout
    r = opswatch_here("insights", "show", "opswatch/recent")
    assert r.returncode == 0 and r.stdout.endswith(f"{RECENT}\n") and f"log groups: {GROUP}" in r.stdout
    r = opswatch("insights", "run", "recent", "--since", "1h", "--format", "json")  # as a user runs it
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [json.loads(x["@message"])["elb_status_code"] for x in rows] == [502, 501]  # newest first, limit 2
    assert "records scanned" in r.stderr and "0.005 USD per GB" in r.stderr
    r = opswatch_here("insights", "run", "recent", "--format", "csv", "--log-group", GROUP)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "@timestamp,@message"


def test_an_unknown_name_or_a_bad_window_exits_2_before_any_query(spec):
    save_directly()
    r = opswatch_here("insights", "run", "nope")
    assert r.returncode == 2 and "no saved query 'nope' under opswatch/; saved queries: recent, shop-local/" in r.stderr
    for bad in (["--since", "soon"], ["--since", "1h", "--start", "2026-11-24T00:00:00Z"], ["--start", "tuesday"]):
        r = opswatch_here("insights", "run", "recent", *bad)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr


@pytest.fixture
def logs_proxy(spec, monkeypatch):
    save_directly()
    p = FaultProxy(client("sts").meta.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", p.endpoint)
    yield p
    p.close()


def test_a_query_cloudwatch_refuses_exits_1_with_its_reason(logs_proxy):
    logs_proxy.fail_target, logs_proxy.fail_times = "Logs_20140328.StartQuery", -1
    logs_proxy.error_type = "MalformedQueryException"
    r = opswatch_here("insights", "run", "recent")
    assert r.returncode == 1
    assert "opswatch: CloudWatch refused the query: MalformedQueryException: injected by the test" in r.stderr


def test_rows_then_records_bytes_and_cost(logs_proxy):
    def with_statistics(answer: dict) -> dict:
        return {**answer, "statistics": {"recordsMatched": 3, "recordsScanned": 2_000_000, "bytesScanned": 2e9}}

    logs_proxy.rewrite["Logs_20140328.GetQueryResults"] = with_statistics
    r = opswatch_here("insights", "run", "recent")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "(2 rows)"
    assert "2,000,000 records scanned (3 matched), 2,000.0 MB scanned, $0.0100 (0.005 USD per GB)" in r.stderr


def test_a_query_that_ends_failed_exits_1(logs_proxy):
    logs_proxy.rewrite["Logs_20140328.GetQueryResults"] = lambda a: {**a, "status": "Timeout"}
    r = opswatch_here("insights", "run", "recent")
    assert r.returncode == 1 and "the query ended Timeout" in r.stderr


def test_ctrl_c_stops_the_query(logs_proxy):
    running = json.dumps({"status": "Running", "results": []}).encode()
    logs_proxy.answer["Logs_20140328.GetQueryResults"] = lambda body: (
        200,
        {"Content-Type": "application/x-amz-json-1.1"},
        running,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.cli.main", "insights", "run", "recent"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    deadline = time.monotonic() + 30
    while logs_proxy.seen.count("Logs_20140328.GetQueryResults") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "opswatch: cancelled (StopQuery sent)" in err, err  # interrupted
    assert "Logs_20140328.StopQuery" in logs_proxy.seen and "Traceback" not in err


def test_the_time_window():
    assert since_seconds("90s") == 90 and since_seconds("15m") == 900 and since_seconds("7d") == 7 * 86400
    assert window(None, "2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z") == (1795514400, 1795518000)
    t0, t1 = window("2h", None, None)
    assert t1 - t0 == 7200
    for since, start, end in (("0h", None, None), (None, "2026-11-24T11:00:00", "2026-11-24T10:00:00")):
        with pytest.raises(ValueError):
            window(since, start, end)
    # Before 1970 (StartQuery's minimum), or past year 1 (an OverflowError traceback): refused, exit 2.
    for since, start in (("99999999d", None), ("999999999999999d", None), (None, "0001-01-01T00:00:00Z")):
        with pytest.raises(ValueError, match="the start is before 1970-01-01"):
            window(since, start, None)
