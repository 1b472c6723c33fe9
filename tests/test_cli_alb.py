"""``opswatch alb parse`` and ``opswatch alb ship``: the command-line contracts, run as a user would."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time

import boto3

from chalicelib.alb.fields import FIELDS
from tests.alb_lines import CUT_AT, cut_gzip, key, line
from tests.conftest import ALB_DATA

OPSWATCH = [sys.executable, "-m", "chalicelib.cli.main"]


def run(*args, stdin: bytes | None = None, env: dict | None = None):
    return subprocess.run([*OPSWATCH, *args], input=stdin, capture_output=True, env=env or os.environ.copy())


def test_parse_json_prints_one_object_per_line_with_the_field_names():
    r = run("alb", "parse", str(ALB_DATA / "aws_doc_examples_2023-04.log"))
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(recs) == 7
    assert all(tuple(x) == FIELDS for x in recs)
    assert recs[0]["elb_status_code"] == 200 and recs[0]["ssl_cipher"] is None
    assert isinstance(recs[0]["request_processing_time"], float)


def test_parse_gzip_and_stdin_and_alb_format(tmp_path):
    src = (ALB_DATA / "aws_doc_examples_2023-04.log").read_bytes()
    gz = tmp_path / "x.log.gz"
    gz.write_bytes(gzip.compress(src))
    r = run("alb", "parse", "--format", "alb", str(gz), "-", stdin=src)
    assert r.returncode == 0
    assert r.stdout == src + src


def test_parse_rejections_go_to_stderr_with_file_line_and_reason(tmp_path):
    f = tmp_path / "mixed.log"
    f.write_text(line() + "\nnonsense here\n" + line() + "\n")
    r = run("alb", "parse", str(f))
    assert r.returncode == 1
    assert len(r.stdout.decode().splitlines()) == 2
    assert r.stderr.decode().strip() == f"{f}:2: field 2 (time): expected an ISO-8601 UTC time, got 'here'"


def test_parse_usage_and_io_errors_exit_2(tmp_path):
    assert run("alb", "parse").returncode == 2
    r = run("alb", "parse", str(tmp_path / "missing.log"))
    assert r.returncode == 2 and b"cannot read" in r.stderr
    assert run("alb", "parse", "--format", "xml", "x").returncode == 2


def test_parse_truncated_gzip_reports_and_exits_2(tmp_path):
    # An input that cannot be read whole exits 2 in every command (README, exit codes); what was read is printed.
    data = gzip.compress(("\n".join(line() for _ in range(2000)) + "\n").encode())
    f = tmp_path / "cut.log.gz"
    f.write_bytes(data[: len(data) // 2])
    r = run("alb", "parse", str(f))
    assert r.returncode == 2 and b"gzip stream truncated" in r.stderr
    assert 0 < len(r.stdout.splitlines()) < 2000


def test_parse_rejects_the_line_a_truncated_gzip_cuts(tmp_path):
    # The fragment after the last whole line parsed (cut after its trace_id) and was printed as a record.
    f = tmp_path / "cut.log.gz"
    f.write_bytes(cut_gzip([line() for _ in range(3)], line()[:CUT_AT]))
    r = run("alb", "parse", str(f))
    assert r.returncode == 2 and len(r.stdout.splitlines()) == 3
    err = r.stderr.decode().splitlines()
    assert err[0].startswith(f"{f}:4: truncated: the object's data ends inside this line"), err
    assert err[1].startswith(f"{f}: gzip stream truncated"), err


def test_parse_metrics_summary_on_rejected_lines_says_why_there_are_none(tmp_path):
    f = tmp_path / "junk.log"
    f.write_text("nonsense here\nmore nonsense\n")
    r = run("alb", "parse", str(f), "--format", "metrics")
    assert r.returncode == 1 and r.stdout == b""
    summary = r.stderr.decode().splitlines()[-1]
    assert summary.startswith("2 lines read, 2 rejected; 0 lines -> 0 EMF documents"), summary
    f.write_text(line() + "\n")
    summary = run("alb", "parse", str(f), "--format", "metrics").stderr.decode().splitlines()[-1]
    assert summary.startswith("1 line -> 1 EMF document (0.001 MB of ingestion), 8 distinct metrics"), summary


def test_ship_backfills_a_prefix_with_day_bounds(aws, s3, logs):
    bucket = "old-logs"
    s3.create_bucket(Bucket=bucket)
    days = ["2026/11/20", "2026/11/21", "2026/11/22"]
    for d in days:
        s3.put_object(Bucket=bucket, Key=key(d.replace("/", ""), day=d), Body=gzip.compress((line() + "\n").encode()))
    s3.put_object(Bucket=bucket, Key="AWSLogs/123456789012/ELBAccessLogTestFile", Body=b"x")
    env = os.environ.copy()
    env["OPSWATCH_ALB_LOG_GROUP"] = "/opswatch/backfill"
    prefix = "AWSLogs/123456789012/elasticloadbalancing/us-east-2/"
    r = run("alb", "ship", f"s3://{bucket}/{prefix}", "--since", "2026-11-21", "--until", "2026-11-22", env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "objects: 2 shipped from, 0 skipped" in out
    assert "lines: 2 lines, 2 shipped, 0 filtered, 0 rejected, 0 refused" in out
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/opswatch/backfill")["logStreams"]]
    assert len(streams) == 2 and all("20261121" in s or "20261122" in s for s in streams)

    r = run("alb", "ship", f"s3://{bucket}/AWSLogs/", env=env)
    assert "skipped 1: the test object ALB writes" in r.stdout.decode()


def test_ship_reports_refused_old_lines_and_exits_1(aws, s3):
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key=key("old"), Body=gzip.compress(line(time.time() - 40 * 86400).encode()))
    r = run("alb", "ship", "s3://bkt/AWSLogs/")
    assert r.returncode == 1
    assert "refused by CloudWatch 1: older than 14 days" in r.stdout.decode()


def test_ship_exits_2_on_a_truncated_object_after_shipping_the_rest(aws, s3):
    s3.create_bucket(Bucket="bkt")
    whole = gzip.compress(("\n".join(line() for _ in range(50)) + "\n").encode())
    s3.put_object(Bucket="bkt", Key=key("whole"), Body=whole)
    s3.put_object(Bucket="bkt", Key=key("cut"), Body=whole[: len(whole) // 2])
    r = run("alb", "ship", "s3://bkt/AWSLogs/")
    out = r.stdout.decode()
    assert r.returncode == 2, out + r.stderr.decode()  # an unreadable input, as in alb parse
    assert "objects: 2 shipped from" in out and "gzip stream truncated" in out


def test_ship_counts_the_line_a_truncated_object_cuts_as_rejected(aws, s3):
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key=key("cut"), Body=cut_gzip([line() for _ in range(3)], line()[:CUT_AT]))
    r = run("alb", "ship", "s3://bkt/AWSLogs/")
    out = r.stdout.decode()
    assert r.returncode == 2, out + r.stderr.decode()
    assert "lines: 4 lines, 3 shipped, 0 filtered, 1 rejected, 0 refused" in out
    assert "  rejected 1: truncated\n" in out and "gzip stream truncated" in out


def test_ship_refuses_reversed_days_and_lists_a_wide_range_once(aws, s3):
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key=key("in", day="2026/11/21"), Body=gzip.compress((line() + "\n").encode()))
    prefix = "s3://bkt/AWSLogs/123456789012/elasticloadbalancing/us-east-2/"
    r = run("alb", "ship", prefix, "--since", "2026-11-22", "--until", "2026-11-21")
    assert r.returncode == 2 and b"2026-11-21 is before --since 2026-11-22" in r.stderr  # was: nothing shipped, exit 0
    # One listing per day would be 3.65 million prefixes (hundreds of MB, hours): the prefix is listed once.
    from tests.bounded import run_opswatch

    r = run_opswatch("alb", "ship", prefix, "--since", "0001-01-01", "--until", "9999-12-31", seconds=60)
    assert r.returncode == 0 and "objects: 1 shipped from" in r.stdout, r.stderr[-2000:]
    assert r.peak_rss_mb < 200, r.peak_rss_mb


def test_ship_bad_arguments(aws):
    assert run("alb", "ship", "not-a-uri").returncode == 2
    assert run("alb", "ship", "s3://b/", "--since", "yesterday").returncode == 2
    r = run("alb", "ship", "s3://no-such-bucket/")
    assert r.returncode == 2 and b"cannot list" in r.stderr
    boto3.client("s3").create_bucket(Bucket="bkt")
    r = run("alb", "ship", "s3://bkt/", "--filter", "status > 5")
    assert r.returncode == 2 and b"unknown field" in r.stderr


def test_ship_defaults_to_the_stages_own_log_group(aws, s3, logs):
    s3.create_bucket(Bucket="prod-logs")
    s3.put_object(Bucket="prod-logs", Key=key("p"), Body=gzip.compress((line() + "\n").encode()))
    env = {k: v for k, v in os.environ.items() if k != "OPSWATCH_ALB_LOG_GROUP"}
    r = run("alb", "ship", "s3://prod-logs/AWSLogs/", env={**env, "OPSWATCH_STAGE": "prod"})
    assert r.returncode == 0, r.stderr
    groups = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/opswatch/")["logGroups"]]
    assert groups == ["/opswatch/prod/alb"]  # never a group another stage's filters watch
