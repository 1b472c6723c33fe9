"""One central log-archive bucket, three accounts, two Regions: shipping, refusals and Athena per account.

The bucket lives in the monitoring account (moto keeps accounts apart by credentials);
the objects only carry other accounts' ids in their keys, as in a Control Tower log
archive. The S3 notification is AWS's documented example event (tests/data/events),
pointed at these objects.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter

import boto3
import pytest

from chalicelib import state
from chalicelib.alb.destination import check_template, group_for
from chalicelib.alb.handler import handle_s3_event
from chalicelib.alb.keys import KeyRefused, LogObject, classify
from chalicelib.athena import local
from chalicelib.athena.catalog import QueryError, bind, load_catalog, needs_origin, typed_values
from chalicelib.athena.table import render_ddl
from chalicelib.embedded.albtraffic import lines as traffic
from tests.conftest import opswatch
from tests.test_alb_shipping import s3_event

BUCKET = "opswatch-local-alb-logs"  # s3_event names this bucket
TEMPLATE = "/opswatch/alb/{account}"
A, B, C = "111122223333", "444455556666", "777788889999"
# (account, Region, load balancer, lines): three accounts, two Regions, one account in both.
OBJECTS = [
    (A, "us-east-1", "app/shop/50dc6c495c0c9188", 30),
    (A, "eu-west-1", "app/shop-eu/6a3bc0ffee000001", 20),
    (B, "us-east-1", "app/billing/7b4cd0ffee000002", 25),
    (C, "eu-west-1", "app/search/8c5de0ffee000003", 15),
]
NOW = time.time() - 600


def org_key(account: str, region: str, elb: str, day: str | None = None, tag: str = "x") -> str:
    day = day or time.strftime("%Y/%m/%d", time.gmtime(NOW))
    _, name, lb_id = elb.split("/")
    stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(NOW))
    return (
        f"AWSLogs/{account}/elasticloadbalancing/{region}/{day}/"
        f"{account}_elasticloadbalancing_{region}_app.{name}.{lb_id}_{stamp}_10.0.0.1_{tag}.log.gz"
    )


def body(elb: str, n: int, seed: int) -> bytes:
    return gzip.compress(("\n".join(traffic(n, NOW, elb=elb, seed=seed, spread_seconds=60)) + "\n").encode())


DAY = time.strftime("%Y/%m/%d", time.gmtime(NOW))
BAD_ACCOUNT = (
    f"AWSLogs/12345/elasticloadbalancing/us-east-1/{DAY}/"
    "12345_elasticloadbalancing_us-east-1_app.shop.50dc6c495c0c9188_20261126T1850Z_10.0.0.1_x.log.gz"
)
BAD_REGION = (
    f"AWSLogs/111122223333/elasticloadbalancing/xx-moon-1/{DAY}/"
    "111122223333_elasticloadbalancing_xx-moon-1_app.shop.50dc6c495c0c9188_20261126T1850Z_10.0.0.1_x.log.gz"
)
MISMATCH = (  # the folders say account B, the file name account A: which group would it go to?
    f"AWSLogs/{B}/elasticloadbalancing/us-east-1/{DAY}/"
    f"{A}_elasticloadbalancing_us-east-1_app.shop.50dc6c495c0c9188_20261126T1850Z_10.0.0.1_x.log.gz"
)


@pytest.fixture
def central(aws, s3, monkeypatch):
    """The central bucket with the four objects and three whose keys are refused."""
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("OPSWATCH_ALB_BUCKET", BUCKET)
    monkeypatch.setenv("OPSWATCH_ALB_LOG_GROUP", TEMPLATE)
    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "json")
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    monkeypatch.delenv("OPSWATCH_ALB_SHIP_FILTER", raising=False)
    state.create_table("opswatch-local-state")  # the shipping checkpoints: a redelivery ships nothing twice
    keys = []
    for i, (account, region, elb, n) in enumerate(OBJECTS):
        k = org_key(account, region, elb)
        s3.put_object(Bucket=BUCKET, Key=k, Body=body(elb, n, seed=i))
        keys.append(k)
    for k in (BAD_ACCOUNT, BAD_REGION, MISMATCH):
        s3.put_object(Bucket=BUCKET, Key=k, Body=body("app/shop/50dc6c495c0c9188", 5, seed=9))
    return keys


def group_events(group: str) -> dict[str, int]:
    logs = boto3.client("logs")
    out = {}
    for st in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        events = logs.get_log_events(logGroupName=group, logStreamName=st["logStreamName"], startFromHead=True)
        out[st["logStreamName"]] = len(events["events"])
    return out


def test_each_object_lands_in_its_accounts_group_and_bad_keys_are_refused_and_counted(central):
    answers = handle_s3_event(s3_event(*central, BAD_ACCOUNT, BAD_REGION, MISMATCH))
    shipped = answers[:4]
    assert [(a["account"], a["region"], a["log_group"], a["shipped"]) for a in shipped] == [
        (account, region, f"/opswatch/alb/{account}", n) for account, region, _, n in OBJECTS
    ]
    assert all(a["balanced"] and a["rejected"] == 0 for a in shipped)
    refused = answers[4:]
    assert [a["source"] for a in refused] == [f"s3://{BUCKET}/{k}" for k in (BAD_ACCOUNT, BAD_REGION, MISMATCH)]
    assert "account '12345' is not a 12-digit AWS account id" in refused[0]["key_refused"]
    assert "Region 'xx-moon-1' is not an AWS Region" in refused[1]["key_refused"]
    assert f"folders name account '{B}'" in refused[2]["key_refused"]

    logs = boto3.client("logs")
    groups = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/opswatch/alb/")["logGroups"]}
    assert groups == {f"/opswatch/alb/{x}" for x in (A, B, C)}  # nothing for the refused keys
    per_group = Counter()
    for account, _, _, n in OBJECTS:
        per_group[account] += n
    for account, n in per_group.items():
        group = f"/opswatch/alb/{account}"
        assert sum(group_events(group).values()) == n
        arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["arn"].removesuffix(":*")
        assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"opswatch:stage": "local"}
    # Account A's two Regions: one stream per object in the same group.
    assert len(group_events(f"/opswatch/alb/{A}")) == 2

    # Redelivered: every object is already shipped to its own group; the refused keys are refused again.
    again = handle_s3_event(s3_event(*central, BAD_ACCOUNT))
    assert all("already shipped" in a["skipped"] for a in again[:4]) and "not a 12-digit" in again[4]["key_refused"]


def test_route_metrics_carry_the_account_and_its_totals(central, monkeypatch):
    monkeypatch.setenv("OPSWATCH_ALB_FORMAT", "metrics")
    [report] = handle_s3_event(s3_event(central[2]))
    assert report["account"] == B and report["aggregated"] == 25 and report["shipped"] == 0
    logs = boto3.client("logs")
    group = f"/opswatch/alb/{B}"
    stream = next(s for s in group_events(group) if s.startswith("metrics/"))
    docs = [
        json.loads(e["message"])
        for e in logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    ]
    assert docs and all(d["account"] == B for d in docs)
    assert all(
        d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["LoadBalancer", "Route"], ["LoadBalancer"], ["account"]]
        for d in docs
    )
    assert sum(d["Requests"] for d in docs) == 25
    # Each name once per route, once for the load balancer, and once more for the account's totals.
    routes = {d["Route"] for d in docs}
    timed = {d["Route"] for d in docs if "TargetLatency" in d}
    assert report["metrics_published"] == 3 * (len(routes) + 1) + len(timed) + 1 + 3 + 1


def test_a_fixed_log_group_keeps_the_single_account_documents(aws):
    from chalicelib.alb import routemetrics
    from chalicelib.settings import AlbSettings

    cfg = AlbSettings(bucket="b", log_group="/opswatch/local/alb", format="metrics", ship_filter=None, key_suffix=None)
    m = routemetrics.for_stage(cfg, "metrics", account=A)
    m.add(__import__("chalicelib.alb.parser", fromlist=["parse_line"]).parse_line(next(traffic(1, NOW))))
    [(_, doc)] = list(m.documents())
    assert doc["account"] == A  # a property: no metric, searchable in Logs Insights
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["LoadBalancer", "Route"], ["LoadBalancer"]]


def test_the_template_is_checked_at_start_and_filled_within_the_name_rule(monkeypatch):
    from chalicelib import settings

    monkeypatch.setenv("OPSWATCH_ALB_LOG_GROUP", "/opswatch/alb/{acount}")
    with pytest.raises(ValueError, match=r"unknown placeholder \{acount\}; only \{account\}, \{region\}, \{elb\}"):
        settings.alb()
    for bad in ("/opswatch/alb/{account", "/opswatch alb/{account}", "/x/" + "a" * 600):
        with pytest.raises(ValueError, match="OPSWATCH_ALB_LOG_GROUP"):
            check_template(bad)
    obj = LogObject("b", "k", "app/shop/50dc6c495c0c9188", A, "eu-west-1")
    assert group_for("/alb/{region}/{elb}", obj) == "/alb/eu-west-1/app/shop/50dc6c495c0c9188"
    assert group_for("/opswatch/local/alb", obj) == "/opswatch/local/alb"
    long = "/" + "a" * 500 + "/{elb}"
    with pytest.raises(KeyRefused, match="not a log group name"):
        group_for(long, obj)


def test_an_unknown_placeholder_of_any_size_is_named_in_a_bounded_message():
    # The setting is read when app.py loads: its error must not carry megabytes of the value into the logs.
    with pytest.raises(ValueError, match=r"unknown placeholder \{x{40}\}; only") as caught:
        check_template("/opswatch/alb/{" + "x" * 2_000_000 + "}")
    assert len(str(caught.value)) < 1000


def test_a_template_without_a_fixed_prefix_is_refused_as_its_policy_would_take_every_log_group():
    from chalicelib.settings import policy_pattern

    # Each placeholder is "*" in the function's generated policy: "{account}" would let it write every group.
    for bad in ("{account}", "/{region}", "//{elb}/alb", "#{account}"):
        with pytest.raises(ValueError, match="a fixed prefix before the first placeholder"):
            check_template(bad)
    assert policy_pattern(check_template("/opswatch/alb/{account}")) == "/opswatch/alb/*"
    assert check_template("alb-{account}") == "alb-{account}"


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (BAD_ACCOUNT, "not a 12-digit AWS account id"),
        (BAD_ACCOUNT.replace("12345", "12345678901x"), "not a 12-digit AWS account id"),
        (BAD_ACCOUNT.replace("12345", "١١١١٢٢٢٢٣٣٣٣"), "not a 12-digit AWS account id"),  # Arabic-Indic digits
        (BAD_REGION, "not an AWS Region"),
        (MISMATCH, "its file name 111122223333 and us-east-1"),
    ],
)
def test_classify_refuses_keys_naming_a_malformed_account_or_region(key, why):
    with pytest.raises(KeyRefused, match=why):
        classify("b", key)
    obj, _ = classify("b", org_key(C, "ap-southeast-2", "app/x/0123456789abcdef"))
    assert (obj.account, obj.region) == (C, "ap-southeast-2")


def test_alb_ship_over_a_central_prefix_ships_per_account_and_lists_the_refused(central):
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW))
    r = opswatch("alb", "ship", f"s3://{BUCKET}/AWSLogs/", "--since", day, "--until", day)
    assert r.returncode == 1, r.stderr  # refused keys: findings, not a usage error
    assert "Traceback" not in r.stderr
    assert "objects: 4 shipped from, 0 skipped" in r.stdout
    assert "lines: 90 lines, 90 shipped, 0 filtered, 0 rejected, 0 refused" in r.stdout
    assert f"account {A}: 2 objects, 50 lines, 50 shipped, 0 filtered, 0 rejected, 0 refused -> /opswatch/alb/{A}" in (
        r.stdout
    )
    assert f"account {B}: 1 object, 25 lines, 25 shipped" in r.stdout
    assert f"account {C}: 1 object, 15 lines, 15 shipped" in r.stdout
    # Every account's and Region's folder is walked, the malformed ones too: each bad key is refused, named.
    assert r.stdout.count("refused (not shipped)") == 3 and "its file name" in r.stdout
    assert "12345_elasticloadbalancing_us-east-1_app.shop" in r.stdout and "not an AWS Region" in r.stdout
    assert sum(group_events(f"/opswatch/alb/{A}").values()) == 50
    # Again, without days (the prefix listed whole): the shipped objects are skipped, the bad keys refused again.
    r = opswatch("alb", "ship", f"s3://{BUCKET}/AWSLogs/")
    assert r.returncode == 1 and f"skipped 2: already shipped whole to /opswatch/alb/{A}" in r.stdout
    assert r.stdout.count("refused (not shipped)") == 3 and "objects: 0 shipped from, 4 skipped" in r.stdout
    assert sum(group_events(f"/opswatch/alb/{A}").values()) == 50  # nothing shipped twice


def test_alb_ship_refuses_an_unknown_placeholder_in_one_line(central):
    r = opswatch("alb", "ship", f"s3://{BUCKET}/AWSLogs/", OPSWATCH_ALB_LOG_GROUP="/x/{acct}")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("opswatch: ") and r.stderr.count("\n") == 1
    assert r.stderr.endswith(
        "alb ship: OPSWATCH_ALB_LOG_GROUP '/x/{acct}': unknown placeholder {acct}; "
        "only {account}, {region}, {elb} are filled in (from the object's key)\n"
    )
    r = opswatch("alb", "ship", f"s3://{BUCKET}/AWSLogs/", "--log-group", "/x/{acct}")
    assert r.returncode == 2 and "Invalid value for --log-group: --log-group '/x/{acct}': unknown" in r.stderr
    assert "Traceback" not in r.stderr


# Athena over the central bucket: the local engine reads account and Region from the keys.


CATALOG = load_catalog()


@pytest.fixture
def loaded(central):
    con = local.connect()
    result = local.load(con, [f"s3://{BUCKET}/AWSLogs/"])
    return con, result


def _run(con, name, **params):
    q = CATALOG[name]
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 3600))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW + 3600))
    sql, values = bind(q.sql, typed_values(q, {"start": start, "end": end, **params}))
    return local.run(con, sql, values)


def test_local_athena_answers_per_account_and_per_region(loaded):
    con, result = loaded
    assert result.files == 7 and result.unmatched == 0
    _, rows = _run(con, "status_codes")
    assert sum(r[1] for r in rows) == 90 + 15  # every line, the three refused objects' included
    # As Athena's partitions, the folders decide: the mismatched object lies in B's folder, the
    # xx-moon-1 one in A's; the "12345" folder is no account (Athena's projection never reads it).
    for account, n in ((A, 30 + 20 + 5), (B, 25 + 5), (C, 15)):
        _, rows = _run(con, "status_codes", account=account)
        assert sum(r[1] for r in rows) == n, account
    _, rows = _run(con, "status_codes", region="eu-west-1")
    assert sum(r[1] for r in rows) == 20 + 15
    _, rows = _run(con, "status_codes", account=A, region="eu-west-1")
    assert sum(r[1] for r in rows) == 20
    columns, rows = _run(con, "status_codes", by_account="true", region="us-east-1")
    assert columns == ["account", "elb_status_code", "requests"]
    per = Counter()
    for account, _, n in rows:
        per[account] += n
    assert per == {A: 30, B: 30}
    columns, rows = _run(con, "requests_per_minute", by_account="true")
    per = Counter()
    for row in rows:
        per[row[columns.index("account")]] += row[columns.index("requests")]
    assert per == {A: 55, B: 30, C: 15, None: 5}


def test_every_named_query_runs_per_account(loaded):
    con, _ = loaded
    for name in CATALOG:
        plain, _ = _run(con, name)
        columns, rows = _run(con, name, by_account="true")
        assert "account" in columns and sorted(columns) == sorted([*plain, "account"]), name
        assert {r[columns.index("account")] for r in rows} <= {A, B, C, None}, name
    columns, rows = _run(con, "top_client_ips", by_account="true", limit="2")
    per = Counter(r[columns.index("account")] for r in rows)
    assert all(n <= 2 for n in per.values()) and {A, B, C} <= set(per)  # the top 2 of each account


def test_query_parameters_are_checked_and_injected_projection_needs_account_and_region():
    q = CATALOG["status_codes"]
    with pytest.raises(QueryError, match="not a 12-digit AWS account id"):
        typed_values(q, {"account": "1' OR '1'='1"})
    with pytest.raises(QueryError, match="not a 12-digit AWS account id"):
        typed_values(q, {"account": "١١١١٢٢٢٢٣٣٣٣"})
    with pytest.raises(QueryError, match="not a Region name"):
        typed_values(q, {"region": "eu west"})
    with pytest.raises(QueryError, match="not true or false"):
        typed_values(q, {"by_account": "maybe"})
    values = typed_values(q, {"account": A})
    sql, params = bind(q.sql, values)
    assert "account = ?" in sql and A in params and A not in sql  # bound, never pasted
    assert "region = ?" not in sql
    assert needs_origin(values, "enum") is None
    assert "--param region=" in needs_origin(values, "injected")
    assert needs_origin(typed_values(q, {"account": A, "region": "eu-west-1"}), "injected") is None


def test_athena_setup_builds_the_table_for_a_central_bucket(monkeypatch):
    monkeypatch.setenv("OPSWATCH_ACCOUNTS", f"{A},{B},{C}")
    monkeypatch.setenv("OPSWATCH_REGIONS", "us-east-1,eu-west-1")
    r = opswatch("athena", "setup", "--print", "--bucket", "org-log-archive")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "PARTITIONED BY (account string, region string, day string)" in r.stdout
    assert f"'projection.account.values' = '{A},{B},{C}'" in r.stdout
    assert "'projection.region.values' = 'us-east-1,eu-west-1'" in r.stdout
    assert "LOCATION 's3://org-log-archive/AWSLogs/'" in r.stdout
    assert (
        "'storage.location.template' = 's3://org-log-archive/AWSLogs/${account}/elasticloadbalancing/${region}/${day}'"
        in r.stdout
    )
    r = opswatch("athena", "setup", "--print", "--projection", "injected")
    assert "'projection.account.type' = 'injected'" in r.stdout and "projection.account.values" not in r.stdout
    r = opswatch("athena", "setup", "--print", "--account", "12345")
    assert r.returncode == 2 and r.stderr.startswith("opswatch: account '12345'") and "Traceback" not in r.stderr
    [_, table] = render_ddl("db", "b", "", [A, B], ["eu-west-1"], "2025/01/01", "enum")
    assert f"'projection.account.values' = '{A},{B}'" in table and table.count("'projection.") == 10


def test_athena_run_on_an_injected_table_asks_for_account_and_region(monkeypatch):
    monkeypatch.setenv("OPSWATCH_ATHENA_PROJECTION", "injected")
    r = opswatch("athena", "run", "status_codes", "--param", f"account={A}")
    assert r.returncode == 2 and "every query must name both; pass --param region=..." in r.stderr


def test_a_refused_key_is_printed_inert(central, s3):
    key = BAD_ACCOUNT.replace("_x.log.gz", "_\x1b]0;owned\x07.log.gz")
    s3.put_object(Bucket=BUCKET, Key=key, Body=body("app/shop/50dc6c495c0c9188", 1, seed=3))
    r = opswatch("alb", "ship", f"s3://{BUCKET}/AWSLogs/12345/")
    assert r.returncode == 1 and "\x1b" not in r.stdout and "\\x1b]0;owned\\x07.log.gz" in r.stdout


def test_a_huge_key_is_skipped_with_its_reason_in_linear_time():
    start = time.perf_counter()
    obj, why = classify("b", "a" * 200_000)
    assert obj is None and "no S3 object key" in why
    obj, why = classify("b", "a" * 1000)  # within S3's limit: the bounded pattern stays quick
    assert obj is None and "not named like an ALB access log" in why
    assert time.perf_counter() - start < 0.5
