"""Athena over the ALB logs: the table's regex against the parser, named queries on the local engine with
known answers, binding and injection, and the pyathena path against the moto server."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.alb.parser import ParseError, parse_line
from chalicelib.athena import local
from chalicelib.athena.catalog import QueryError, bind, load_catalog, typed_values
from chalicelib.athena.remote import cost_usd
from chalicelib.athena.table import COLUMNS, REGEX, render_ddl
from chalicelib.embedded.albtraffic import lines as traffic
from tests.conftest import ALB_DATA, opswatch, opswatch_here
from tests.faultproxy import FaultProxy

CATALOG = load_catalog()
OUTPUT_COLUMNS = {
    "status_codes": ["elb_status_code", "requests"],
    "requests_per_minute": ["minute", "requests", "status_4xx", "status_5xx"],
    "top_5xx_paths": ["path", "requests"],
    "slowest_targets": ["target", "requests", "p50", "p90", "p99"],
    "top_client_ips": ["client_ip", "requests"],
    "tls_usage": ["ssl_protocol", "ssl_cipher", "requests"],
    "desync_classification": ["classification", "classification_reason", "requests"],
    "lambda_errors": ["lambda_error_reason", "requests"],
    "rejected_requests": ["elb_status_code", "reason", "requests"],
}


def reference_lines() -> list[str]:
    out = [ln for p in sorted(ALB_DATA.glob("*.log")) for ln in p.read_text().splitlines() if ln.strip()]
    cases = (ALB_DATA / "vectordotdev_vrl_parse_aws_alb_log_cases.jsonl").read_text().splitlines()
    out += [json.loads(c)["line"] for c in cases]
    good = []
    for line in out:
        try:
            parse_line(line)
            good.append(line)
        except ParseError:
            pass
    return good


def _typed(name: str, value: str | None, like: object) -> object:
    if value in (None, ""):
        return None
    return type(like)(value) if isinstance(like, int | float) else value


@pytest.mark.parametrize("line", reference_lines())
def test_table_regex_gives_the_parsers_values(line):
    rec = parse_line(line)
    m = re.fullmatch(REGEX, line)
    assert m is not None
    got = dict(zip(COLUMNS, m.groups(), strict=True))
    for name in COLUMNS[:-1]:
        assert _typed(name, got[name], rec[name]) == rec[name], name
    assert got["extra_fields"] in (None, "") or rec.get("extra_fields")


def test_table_regex_in_duckdb_re2_equals_python():
    con = local.connect()
    names = ", ".join(f"'{c}'" for c in COLUMNS)
    for line in reference_lines():
        [row] = con.execute(f"SELECT regexp_extract(?, ?, [{names}])", [line, REGEX]).fetchall()
        py = re.fullmatch(REGEX, line).groups()
        assert [v or None for v in row[0].values()] == [v or None for v in py]


def test_ddl_keeps_groups_and_columns_equal_and_projects_days():
    assert re.compile(REGEX).groups == len(COLUMNS) == 38
    for construct in ("++", "*+", "?+", "(?=", "(?!", "(?<", "(?P"):  # outside what Java, RE2 and Python share
        assert construct not in REGEX
    db, table = render_ddl("opswatch_prod", "logs-bucket", "lb/", "111122223333", "eu-west-1", "2025/01/01")
    assert db == "CREATE DATABASE IF NOT EXISTS opswatch_prod"
    # One account and Region: the single-account stage, its table partitioned by account and region too.
    assert "PARTITIONED BY (account string, region string, day string)" in table
    assert "'projection.day.range' = '2025/01/01,NOW'" in table
    assert "'projection.account.values' = '111122223333'" in table
    assert "'projection.region.values' = 'eu-west-1'" in table
    loc = "s3://logs-bucket/lb/AWSLogs/"
    template = f"{loc}${{account}}/elasticloadbalancing/${{region}}/${{day}}"
    assert f"LOCATION '{loc}'" in table and f"'storage.location.template' = '{template}'" in table
    assert table.count("\n    ") >= len(COLUMNS) and "    extra_fields string" in table


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Two hours of generated traffic in two gzip objects, plus a line that is not an ALB entry."""
    folder = tmp_path_factory.mktemp("logs")
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp()
    lines = list(traffic(6000, start, seed=7))
    (folder / "a.log.gz").write_bytes(gzip.compress(("\n".join(lines[:3000]) + "\n").encode()))
    (folder / "b.log").write_text("\n".join(lines[3000:]) + "\nnot an ALB line\n")
    con = local.connect()
    loaded = local.load(con, [str(folder)])
    return con, [parse_line(x) for x in lines], loaded, folder


def _run(con, name, **params):  # the generated traffic's day unless given
    q = CATALOG[name]
    sql, values = bind(
        q.sql, typed_values(q, {"start": "2026-11-25T00:00:00Z", "end": "2026-11-26T00:00:00Z", **params})
    )
    return local.run(con, sql, values)


def test_every_named_query_has_its_documented_columns(generated):
    con = generated[0]
    assert set(CATALOG) == set(OUTPUT_COLUMNS)
    for name, columns in OUTPUT_COLUMNS.items():
        got, _ = _run(con, name)
        assert got == columns, name


def test_local_engine_answers_are_the_parsers_counts(generated):
    con, records, loaded, _ = generated
    assert (loaded.lines, loaded.rows, loaded.unmatched) == (6001, 6000, 1)
    _, rows = _run(con, "status_codes")
    assert dict(rows) == Counter(r["elb_status_code"] for r in records)
    _, rows = _run(con, "requests_per_minute")
    per_minute = Counter(r["time"][:16] for r in records)
    assert {m.strftime("%Y-%m-%dT%H:%M"): n for m, n, _, _ in rows} == per_minute
    assert sum(r[3] for r in rows) == sum(1 for r in records if r["elb_status_code"] >= 500)
    _, rows = _run(con, "top_5xx_paths", limit="3")
    paths = Counter(re.match(r"[a-z]+://[^/?#]*(/[^?#]*)", r["request_url"]).group(1) for r in records
                    if r["elb_status_code"] >= 500 and r["request_url"])  # fmt: skip
    assert [n for _, n in rows] == [n for _, n in paths.most_common(3)]
    assert {p for p, _ in rows} <= set(paths)


def test_percentiles_are_within_the_approximation_tolerance(tmp_path):
    # One target takes every dispatched request, so its percentiles rest on thousands of values.
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp()
    lines = []
    for line in traffic(5000, start, seed=11):
        fields = line.split(" ", 5)
        if fields[4] != "-":
            fields[4] = "10.0.0.1:8080"
        lines.append(" ".join(fields))
    (tmp_path / "one-target.log").write_text("\n".join(lines) + "\n")
    con = local.connect()
    local.load(con, [str(tmp_path)])
    _, rows = _run(con, "slowest_targets")
    [(target, n, p50, p90, p99)] = rows
    values = sorted(
        r["target_processing_time"]
        for r in map(parse_line, lines)
        if r["target_ip"] and r["target_processing_time"] >= 0
    )
    assert target == "10.0.0.1:8080" and n == len(values) > 3000  # -1 (not dispatched) left out
    for q, got in ((0.5, p50), (0.9, p90), (0.99, p99)):
        low, high = values[int((q - 0.02) * (len(values) - 1))], values[int(min(1, q + 0.02) * (len(values) - 1))]
        assert low <= got <= high, (q, got, low, high)  # within 2% of rank, an approximate percentile's tolerance


def test_injection_is_data_and_types_are_checked_before_anything_runs(generated):
    con = generated[0]
    _, rows = _run(con, "status_codes", elb="x' OR '1'='1")
    assert rows == []
    for bad, why in (
        ({"start": "yesterday'; DROP TABLE x; --"}, "not an ISO-8601 time"),
        ({"limit": "1; DROP TABLE x"}, "not a whole number"),
        ({"limits": "3"}, "has no parameter 'limits'"),
        ({"start": "2026-11-26T00:00:00Z", "end": "2026-11-25T00:00:00Z"}, "must be before end"),
    ):
        with pytest.raises(QueryError, match=why):
            typed_values(CATALOG["top_5xx_paths"], bad)


def cli(*args, env=None):
    return opswatch(*args, env=env)


def test_cli_local_engine_formats_and_exit_codes(generated, tmp_path):
    folder = generated[3]
    window = ["--param", "start=2026-11-25T00:00:00Z", "--param", "end=2026-11-26T00:00:00Z"]
    r = cli("athena", "run", "status_codes", "--engine", "local", "--logs", str(folder), *window, "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert set(rows[0]) == {"elb_status_code", "requests"} and sum(x["requests"] for x in rows) == 6000
    assert "1 of 6001 lines are not ALB access-log entries" in r.stderr
    out = tmp_path / "codes.csv"
    r = cli("athena", "run", "status_codes", "--engine", "local", "--logs", str(folder), *window, "--format", "csv",
            "--output", str(out))  # fmt: skip
    assert r.returncode == 0 and out.read_text().splitlines()[0] == "elb_status_code,requests"
    r = cli("athena", "sql", "SELECT count(*) AS n FROM alb_access_logs", "--engine", "local", "--logs", str(folder))
    assert r.returncode == 0 and r.stdout.splitlines()[1].strip() == "6000"
    assert cli("athena", "run", "nope").returncode == 2
    assert cli("athena", "run", "status_codes", "--param", "start=tomorrow").returncode == 2  # nothing sent
    r = cli("athena", "sql", "SELECT * FROM alb_access_logs LIMIT 10")
    assert r.returncode == 2 and "without a day predicate" in r.stderr
    r = cli("athena", "run", "status_codes", "--engine", "local", "--logs", str(folder / "missing"))
    assert r.returncode == 2 and "no such file or folder" in r.stderr  # an unreadable input, as in every command


def _inject(endpoint: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    """Results for the next query moto starts (with the header row real Athena returns)."""
    info = [{"Name": n, "Label": n, "Type": t, "CatalogName": "hive", "SchemaName": "", "TableName": "",
             "Precision": 10, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False} for n, t in columns]  # fmt: skip
    data = [{"Data": [{"VarCharValue": v} for v in row]} for row in [[n for n, _ in columns], *rows]]
    body = {"region": "us-east-1", "results": [{"rows": data, "column_info": info}]}
    req = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    urllib.request.urlopen(req, timeout=10).read()


def test_pyathena_against_moto(aws, monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    boto3.client("s3").create_bucket(Bucket="opswatch-local-athena-results")
    r = cli("athena", "setup")
    assert r.returncode == 0 and "created workgroup opswatch-local" in r.stdout, r.stderr
    _inject(aws.endpoint, [("elb_status_code", "integer"), ("requests", "bigint")], [["200", "42"], ["502", "3"]])
    r = cli("athena", "run", "status_codes", "--param", "elb=x' OR '1'='1", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [json.loads(x) for x in r.stdout.splitlines()] == [
        {"elb_status_code": 200, "requests": 42},
        {"elb_status_code": 502, "requests": 3},
    ]
    assert "0.0 MB scanned, $0.0001 (5 USD per TB, 10 MB minimum)" in r.stderr
    athena = boto3.client("athena")
    last = max(
        (athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in athena.list_query_executions()["QueryExecutionIds"]),
        key=lambda q: q["Status"]["SubmissionDateTime"],
    )  # fmt: skip
    assert last["WorkGroup"] == "opswatch-local" and last["QueryExecutionContext"]["Database"] == "opswatch_local"
    assert last["ResultConfiguration"]["OutputLocation"].startswith("s3://opswatch-local-athena-results/")
    params = last["ExecutionParameters"]
    assert params[4:] == ["'x'' OR ''1''=''1'", "'x'' OR ''1''=''1'"] and "?" in last["Query"]
    assert "x'" not in last["Query"]  # bound, never pasted
    _inject(aws.endpoint, [("n", "bigint")], [["7"]])
    r = cli("athena", "sql", "SELECT count(*) AS n FROM alb_access_logs WHERE day = '2026/11/25'", "--format", "csv")
    assert r.returncode == 0 and r.stdout.splitlines() == ["n", "7"]


def test_a_failed_query_exits_1_with_athenas_reason(aws, monkeypatch):
    proxy = FaultProxy(aws.endpoint)
    try:
        reason = "SYNTAX_ERROR: line 1:8: Column 'nope' cannot be resolved"

        def failed(answer: dict) -> dict:
            answer["QueryExecution"]["Status"].update(State="FAILED", StateChangeReason=reason)
            return answer

        proxy.rewrite["AmazonAthena.GetQueryExecution"] = failed
        boto3.client("s3").create_bucket(Bucket="opswatch-local-athena-results")
        env = {**os.environ, "AWS_ENDPOINT_URL": proxy.endpoint, "OPSWATCH_STAGE": "local"}
        query = "SELECT nope FROM alb_access_logs WHERE day = '2026/11/25'"
        r = cli("athena", "sql", query, env=env)  # the workgroup does not exist yet: Athena will not start it
        # A missing AWS resource the stage names is bad input (README, exit codes: 2), not a failed query (1):
        # this asserted 1 before, which told a script the query had run and failed.
        assert r.returncode == 2 and "NOT STARTED" in r.stderr and "WorkGroup does not exist" in r.stderr
        assert "WorkGroup does not exist (run `opswatch athena setup` first)" in r.stderr
        assert "Traceback" not in r.stderr
        assert (
            cli("athena", "setup", env={**os.environ, "OPSWATCH_STAGE": "local"}).returncode == 0
        )  # not via the proxy
        r = cli("athena", "sql", query, env=env)
        assert r.returncode == 1 and "FAILED: " + reason in r.stderr
    finally:
        proxy.close()


def test_cost_is_rounded_up_to_the_mb_with_a_10_mb_minimum():
    assert cost_usd(0) == cost_usd(10_000_000) == 10_000_000 / 1e12 * 5
    assert cost_usd(10_000_001) == 11_000_000 / 1e12 * 5
    assert cost_usd(1_000_000_000_000) == 5.0


def test_daily_report_posts_to_slack_and_raises_on_a_failed_query(aws, local_webhook, monkeypatch):
    from chalicelib.athena.report import ReportFailed, handle_schedule

    boto3.client("s3").create_bucket(Bucket="opswatch-local-athena-results")
    boto3.client("athena").create_work_group(
        Name="opswatch-local",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://opswatch-local-athena-results/"}},
    )
    _inject(aws.endpoint, [("path", "varchar"), ("requests", "bigint")], [["/pay", "12"], ["/<!channel>", "2"]])
    _inject(aws.endpoint, [("target", "varchar"), ("requests", "bigint"), ("p50", "double"), ("p90", "double"),
                           ("p99", "double")], [["10.0.0.7:8080", "400", "0.05", "0.2", "1.4"]])  # fmt: skip
    now = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    result = handle_schedule({}, now=now)
    assert result["queries"] == ["top_5xx_paths", "slowest_targets"]
    [msg] = local_webhook.messages
    text = msg.readable()
    assert "ALB report for 2026-11-26 (UTC)" in text and "/pay" in text and "10.0.0.7:8080" in text
    assert "<!channel>" not in json.dumps(msg.body)
    monkeypatch.setenv("OPSWATCH_ATHENA_REPORT", "status_codes,nope")
    with pytest.raises(ReportFailed, match="nope"):
        handle_schedule({}, now=now + timedelta(days=1))
    assert "*nope*: no such named query" in local_webhook.messages[-1].readable()


def test_named_queries_on_the_reference_lines(tmp_path):
    folder = tmp_path / "reference"
    folder.mkdir()
    lines = reference_lines()
    (folder / "reference.log").write_text("\n".join(lines) + "\n")
    con = local.connect()
    assert local.load(con, [str(folder)]).unmatched == 0
    records = [parse_line(x) for x in lines]
    window = {"start": "2000-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
    _, rows = _run(con, "status_codes", **window)
    assert dict(rows) == Counter(r["elb_status_code"] for r in records)
    _, rows = _run(con, "lambda_errors", **window)
    assert dict(rows) == Counter(r["lambda_error_reason"] for r in records if r["lambda_error_reason"])
    _, rows = _run(con, "desync_classification", **window)
    want = Counter(
        (r["classification"], r["classification_reason"])
        for r in records
        if r["classification"] and r["classification"] != "Acceptable"
    )
    assert {(c, reason): n for c, reason, n in rows} == want
    _, rows = _run(con, "rejected_requests", **window)
    assert sum(n for *_, n in rows) == sum(
        1
        for r in records
        if -1 in (r["request_processing_time"], r["target_processing_time"], r["response_processing_time"])
        or r["elb_status_code"] in (460, 463, 464)
    )
    for name in OUTPUT_COLUMNS:  # every query runs on every generation of line
        _run(con, name, **window)


def test_setup_print_says_which_values_are_placeholders(monkeypatch):
    from click.testing import CliRunner

    from chalicelib.cli.main import cli as opswatch_cli

    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    r = CliRunner().invoke(opswatch_cli, ["athena", "setup", "--print"])
    assert r.exit_code == 0 and "'projection.account.values' = '123456789012'" in r.stdout
    assert "'projection.region.values' = 'us-east-1'" in r.stdout
    assert r.stderr == (
        "opswatch: account 123456789012 and Region us-east-1 in the table's location are placeholders: "
        "pass --account and --region with the load balancer's own\n"
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    r = CliRunner().invoke(opswatch_cli, ["athena", "setup", "--print"])
    assert (
        "'projection.region.values' = 'eu-west-1'" in r.stdout and "opswatch: account 123456789012 in the" in r.stderr
    )
    r = CliRunner().invoke(opswatch_cli, ["athena", "setup", "--print", "--account", "210987654321"])
    assert r.exit_code == 0 and "'projection.account.values' = '210987654321'" in r.stdout
    assert r.stderr == ""


def test_an_output_that_cannot_be_written_is_refused_before_the_query(tmp_path):
    from click.testing import CliRunner

    from chalicelib.cli.main import cli as opswatch_cli

    logs = tmp_path / "alb.log"
    logs.write_text("\n".join(traffic(20, start=datetime(2026, 11, 25, tzinfo=UTC).timestamp())) + "\n")
    for output, said in [(tmp_path / "no" / "such" / "x.csv", "no such folder")]:
        for args in (["run", "status_codes"], ["sql", "SELECT count(*) FROM alb_access_logs"]):
            r = CliRunner().invoke(
                opswatch_cli, ["athena", *args, "--engine", "local", "--logs", str(logs), "--output", str(output)]
            )
            assert r.exit_code == 2 and r.stdout == "", r.output
            assert r.stderr.startswith(f"opswatch: --output {output}: ") and said in r.stderr, r.stderr
            assert isinstance(r.exception, SystemExit)


ENDLESS = "SELECT sum(a.range * b.range) AS n FROM range(1000000000) a, range(1000000000) b"  # 10^18 rows


def _junk_logs(tmp_path):
    """One line that is not an access-log entry: the CLI says so on stderr right before the query starts."""
    logs = tmp_path / "junk.log"
    logs.write_text("not an access-log entry\n")
    return logs


def test_a_local_query_past_its_timeout_is_stopped_and_exits_1(tmp_path):
    r = opswatch_here("athena", "sql", ENDLESS, "--engine", "local", "--logs", str(_junk_logs(tmp_path)),
                      "--timeout", "0.5")  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert r.stderr.splitlines()[-1] == "opswatch: query stopped after 0.5 s (--timeout)"
    for bad in ("0", "-1", "nan", "1e9"):
        r = opswatch_here("athena", "sql", "SELECT 1", "--engine", "local", "--logs", "x", "--timeout", bad)
        assert r.returncode == 2 and "--timeout" in r.stderr, (bad, r.stderr)


def test_ctrl_c_stops_a_local_query_and_exits_130(tmp_path):
    args = ["athena", "sql", ENDLESS, "--engine", "local", "--logs", str(_junk_logs(tmp_path))]
    proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli.main", *args], stderr=subprocess.PIPE, text=True)
    try:
        assert "not ALB access-log entries" in proc.stderr.readline()  # the query starts next
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "opswatch: interrupted (the local query was stopped)"


def test_the_local_engine_refuses_a_log_file_that_is_not_text(tmp_path):
    # A binary file was read as lines and reported as "N lines are not ALB access-log entries", exit 0.
    good = reference_lines()[0]
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text(good + "\n")
    (logs / "b.log.gz").write_bytes(gzip.compress((good + "\n").encode() * 100 + b"\x00\x01\x02\n"))
    r = opswatch_here("athena", "sql", "SELECT count(*) AS n FROM alb_access_logs", "--engine", "local", "--logs",
                      str(logs))  # fmt: skip
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"opswatch: {logs / 'b.log.gz'}: binary data (a NUL byte in line 101); is it a log file?\n"


def test_no_rows_in_the_default_window_says_so(generated):
    # 0 rows with no start or end said nothing: the logs were from another day than the last 24 hours.
    folder = generated[3]
    r = opswatch_here("athena", "run", "status_codes", "--engine", "local", "--logs", str(folder))
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "(0 rows)"
    hint = r.stderr.splitlines()[-1]
    assert hint.startswith("opswatch: no rows between ") and "the default window (the last 24 hours)" in hint
    assert "--param start=" in hint
    r = opswatch_here("athena", "run", "status_codes", "--engine", "local", "--logs", str(folder),
                      "--param", "end=2026-11-01T00:00:00Z")  # fmt: skip
    assert r.returncode == 0 and "default window" not in r.stderr  # a window given: no hint
    r = opswatch_here("athena", "run", "status_codes", "--engine", "local", "--logs", str(folder),
                      "--param", "start=2026-11-25T00:00:00Z")  # fmt: skip
    assert r.returncode == 0 and "default window" not in r.stderr and "(0 rows)" not in r.stdout


def test_a_stray_byte_in_an_alb_log_costs_its_line_not_the_file(tmp_path):
    good = reference_lines()[0]
    (tmp_path / "a.log").write_bytes(b"caf\xe9 not an entry\n" + (good + "\n").encode() * 3)
    r = opswatch_here("athena", "sql", "SELECT count(*) AS n FROM alb_access_logs", "--engine", "local", "--logs",
                      str(tmp_path))  # fmt: skip
    assert r.returncode == 0 and r.stdout.splitlines()[1].strip() == "3", r.stderr
    assert "1 of 4 lines are not ALB access-log entries" in r.stderr
