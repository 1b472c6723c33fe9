"""Monitors as code: validation (AWS's rules, recorded answers), plan/apply/prune and the audit, on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import yaml

from chalicelib.monitors.spec import SpecError, load
from tests.conftest import DATA, opswatch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "infra" / "monitors.yaml"
PUT_RECORDED = [
    json.loads(x) for x in (DATA / "filter-patterns" / "putmetricfilter-recorded.jsonl").read_text().splitlines()
]

ALARM = {
    "name": "a",
    "metric": {"namespace": "ns", "name": "m", "statistic": "Sum"},
    "period": 60,
    "evaluation_periods": 5,
    "comparison": "GreaterThanThreshold",
    "threshold": 1,
    "treat_missing_data": "notBreaching",
}
FILTER = {
    "name": "f",
    "log_group": "/g",
    "pattern": "{ $.status >= 500 }",
    "metric": {"namespace": "ns", "name": "m"},
}


def cli(*args):
    return opswatch(*args)


def spec_file(tmp_path, data: dict) -> str:
    p = tmp_path / "monitors.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(p)


def problems(tmp_path, data: dict) -> str:
    with pytest.raises(SpecError) as err:
        load(spec_file(tmp_path, data))
    return str(err.value)


def test_the_shipped_example_is_valid_and_its_samples_hold():
    r = cli("monitors", "validate", "--spec", str(EXAMPLE))
    assert r.returncode == 0, r.stderr
    assert "4 metric filters, 5 alarms, 1 log alarm; 12 samples behave as declared" in r.stdout


def test_one_spec_serves_each_stage_with_its_own_group_namespace_alarms_and_topic():
    """${stage} makes the example every stage's spec: no stage's filters or alarms see another stage's data."""
    from chalicelib import policies, settings

    seen: dict[str, set[str]] = {}
    for stage in ("dev", "prod"):
        spec = load(str(EXAMPLE), stage=stage).spec
        with policies.stage_environment(stage):
            group, topic = settings.alb().log_group, settings.slack().alarm_topic
        assert {f.log_group for f in spec.metric_filters} == {group}
        assert {f.metric.namespace for f in spec.metric_filters} == {f"opswatch/{stage}/alb"}
        # Alarms watch the stage's namespace, or the route metrics (kept apart by their LoadBalancer dimension).
        assert {a.metric.namespace for a in spec.alarms} == {f"opswatch/{stage}/alb", "opswatch/alb-routes"}
        assert all(a.actions.alarm == [topic] for a in [*spec.alarms, *spec.log_alarms])
        seen[stage] = {group, f"opswatch/{stage}/alb"} | {a.name for a in spec.alarms}
    assert not seen["dev"] & seen["prod"], seen["dev"] & seen["prod"]
    assert "/opswatch/local/alb" in {f.log_group for f in load(str(EXAMPLE)).spec.metric_filters}  # OPSWATCH_STAGE


def test_only_stage_is_replaced_and_a_typo_is_caught(tmp_path):
    jndi = {**FILTER, "name": "jndi", "pattern": '"${jndi:"', "samples": {"match": ["GET /${jndi:ldap://x/a}"]}}
    loaded = load(spec_file(tmp_path, {"metric_filters": [jndi]}), stage="prod")
    assert loaded.spec.metric_filters[0].pattern == '"${jndi:"'  # a pattern's ${ is text, never a substitution
    assert loaded.spec.metric_filters[0].check_samples() == []
    text = problems(tmp_path, {"metric_filters": [{**FILTER, "log_group": "/opswatch/${stag}/alb"}]})
    assert "monitors.yaml:3: metric_filters.0.log_group (f): '/opswatch/${stag}/alb' is not a log group name" in text
    assert "(only ${stage} is replaced)" in text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"alarms": [{**ALARM, "treat_missing_data": None}]}, "treat_missing_data is required: choose one of"),
        (
            {"alarms": [{**ALARM, "datapoints_to_alarm": 6}]},
            "datapoints_to_alarm (6) must not exceed evaluation_periods",
        ),
        ({"alarms": [{**ALARM, "period": 45}]}, "period 45: CloudWatch allows 10, 20, 30 or a multiple of 60"),
        ({"alarms": [{**ALARM, "period": 600, "evaluation_periods": 200}]}, "at most 86400 s"),
        ({"alarms": [{**ALARM, "period": 3600, "evaluation_periods": 200}]}, "at most 604800 s (7 days)"),
        (
            {"alarms": [{**ALARM, "metric": {**ALARM["metric"], "extended_statistic": "p99"}}]},
            "exactly one of statistic and extended_statistic",
        ),
        ({"alarms": [{**ALARM, "actions": {"alarm": ["t"] * 6}}]}, "at most 5 items"),
        ({"alarms": [ALARM, ALARM]}, "alarm 'a' is declared twice"),
        ({"alarms": [{**ALARM, "name": "x" * 256}]}, "at most 255 characters"),
        ({"metric_filters": [{**FILTER, "name": "a:b"}]}, "may not contain ':' or '*'"),
        ({"metric_filters": [{**FILTER, "pattern": "x" * 1025}]}, "at most 1024 characters"),
        ({"metric_filters": [{**FILTER, "pattern": "{ $.a = }"}]}, "invalid filter pattern at position 9"),
        (
            {
                "metric_filters": [
                    {**FILTER, "pattern": "ERROR", "metric": {**FILTER["metric"], "dimensions": {"D": "$.d"}}}
                ]
            },
            "dimensions need a JSON",
        ),
        (
            {"metric_filters": [{**FILTER, "metric": {**FILTER["metric"], "name": "a$b"}}]},
            "may not contain ':', '*' or '$'",
        ),
        ({"metric_filters": [{**FILTER, "samples": {"match": ['{"status": 200}']}}]}, None),  # samples: CLI below
    ],
)
def test_validation_names_file_line_and_reason(tmp_path, change, reason):
    data = {**change}
    if reason is None:
        assert load(spec_file(tmp_path, data))  # the schema passes; the samples are the CLI's check
        r = cli("monitors", "validate", "--spec", spec_file(tmp_path, data))
        assert r.returncode == 2 and "metric filter f: samples.match[1] does not match: '{\"status\": 200}'" in r.stderr
        assert r.stderr.startswith(f"{tmp_path}/monitors.yaml:")
        return
    text = problems(tmp_path, data)
    assert reason in text, text
    assert text.startswith(f"{tmp_path}/monitors.yaml:")


def test_errors_point_at_the_line_of_the_item(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text(
        "alarms:\n"
        "  - name: fine\n    metric: {namespace: n, name: m, statistic: Sum}\n    period: 60\n"
        "    evaluation_periods: 1\n    comparison: GreaterThanThreshold\n    threshold: 1\n"
        "    treat_missing_data: ignore\n"
        "  - name: forgot-policy\n    metric: {namespace: n, name: m, statistic: Sum}\n    period: 60\n"
        "    evaluation_periods: 1\n    comparison: GreaterThanThreshold\n    threshold: 1\n"
    )
    r = cli("monitors", "validate", "--spec", str(p))
    assert r.returncode == 2
    assert r.stderr.startswith(f"{p}:9: alarms.1 (forgot-policy): treat_missing_data is required: choose one of")
    assert "notBreaching  - a missing point counts as good" in r.stderr
    p.write_text("alarms: [\n")
    r = cli("monitors", "validate", "--spec", str(p))
    assert r.returncode == 2 and "not valid YAML" in r.stderr


ONE_ALARM = (
    "  - name: {name}\n"
    "    metric: {{namespace: n, name: m, statistic: Sum}}\n"
    "    period: 60\n"
    "    evaluation_periods: 1\n"
    "    comparison: GreaterThanThreshold\n"
    "    threshold: 10\n"
    "    treat_missing_data: ignore\n"
)


def test_a_key_given_twice_is_an_error_at_its_line(tmp_path):
    # YAML forbids it; PyYAML would keep the last value silently (threshold 99, with 10 in plain sight).
    p = tmp_path / "m.yaml"
    p.write_text("alarms:\n" + ONE_ALARM.format(name="a") + "    threshold: 99\n")
    with pytest.raises(SpecError) as err:
        load(str(p))
    assert err.value.problems == [f"{p}:9: key 'threshold' is given twice in one mapping (first at line 7)"]
    r = cli("monitors", "validate", "--spec", str(p))
    assert r.returncode == 2
    assert r.stderr.splitlines() == [err.value.problems[0], f"opswatch: {p}: not a valid monitors spec (1 problem)"]
    p.write_text("alarms: []\nmetric_filters: []\nalarms: []\n")
    with pytest.raises(SpecError, match=r"m.yaml:3: key 'alarms' is given twice in one mapping \(first at line 1\)"):
        load(str(p))


def test_true_or_yes_where_a_number_belongs_is_an_error(tmp_path):
    # pydantic's lax mode would read true (and YAML 1.1's yes/on) as 1: threshold: true passed as valid.
    p = tmp_path / "m.yaml"
    p.write_text("alarms:\n" + ONE_ALARM.format(name="a").replace("threshold: 10", "threshold: true"))
    with pytest.raises(SpecError) as err:
        load(str(p))
    assert err.value.problems == [f"{p}:7: alarms.0.threshold (a): expected a number, not true"]
    p.write_text("dashboards:\n  - name: d\n    load_balancers: [app/shop/50dc6c495c0c9188]\n    routes: yes\n")
    with pytest.raises(SpecError) as err:
        load(str(p))
    assert err.value.problems == [f"{p}:4: dashboards.0 (d): routes: expected a number, not true"]


def test_an_alarm_declared_twice_is_reported_at_its_second_declaration(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("alarms:\n" + ONE_ALARM.format(name="a") + ONE_ALARM.format(name="b") + ONE_ALARM.format(name="a"))
    with pytest.raises(SpecError) as err:
        load(str(p))
    assert err.value.problems == [f"{p}:16: alarms.2 (a): alarm 'a' is declared twice (first: alarms.0)"]
    p.write_text(
        "metric_filters:\n"
        "  - {name: f, log_group: /g, pattern: ERROR, metric: {namespace: n, name: m}}\n"
        "  - {name: f, log_group: /h, pattern: WARN, metric: {namespace: n, name: m}}\n"
    )
    with pytest.raises(SpecError) as err:
        load(str(p))
    assert err.value.problems == [
        f"{p}:3: metric_filters.1 (f): metric filter 'f' is declared twice (first: metric_filters.0)"
    ]


def test_a_binary_spec_is_refused_naming_it(tmp_path):
    p = tmp_path / "monitors.yaml.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00binary")
    r = cli("monitors", "validate", "--spec", str(p))
    assert r.returncode == 2
    assert r.stderr.strip() == f"opswatch: {p}: not UTF-8 text (byte 1); is it compressed or binary?"


# PutMetricFilter's recorded answers. Rows a spec cannot express, and what stands for them:
# zero-transformations (a spec filter without metric: refused as missing); two-transformations (metric is
# one mapping: a list is refused); put-missing-group (a live fact: plan notes it, tested on moto below);
# the regex-bearing sequence (AWS's per-group quota: a spec with five such filters in one group is refused).
SPEC_CANNOT_SAY = {"zero-transformations", "two-transformations", "put-missing-group"}
QUOTA_ROWS = {f"regex-bearing-filter-{i}" for i in range(1, 7)} | {
    "regex-replace-existing-at-quota",
    "regex-after-deleting-two-term-filter",
}
EQUIVALENT = {  # AWS's wording where ours differs, reason for reason
    "invalid-unit": "is not a CloudWatch unit",
}


def _filter_from(row: dict) -> dict:
    [t] = row["metricTransformations"]
    metric = {"namespace": t["metricNamespace"], "name": t["metricName"], "value": t["metricValue"]}
    for src, dst in (("defaultValue", "default_value"), ("unit", "unit"), ("dimensions", "dimensions")):
        if src in t:
            metric[dst] = t[src]
    f = {"name": row["filterName"], "log_group": "/recorded", "pattern": row["pattern"], "metric": metric}
    if row.get("emitSystemFieldDimensions"):
        f["emit_system_field_dimensions"] = row["emitSystemFieldDimensions"]
    if row.get("fieldSelectionCriteria"):
        f["field_selection_criteria"] = row["fieldSelectionCriteria"]
    return f


@pytest.mark.parametrize(
    "row",
    [r for r in PUT_RECORDED if r["label"] not in SPEC_CANNOT_SAY | QUOTA_ROWS],
    ids=lambda r: f"{r['label']}-{r['result']}",
)
def test_put_metric_filter_recorded_answers(tmp_path, row):
    path = spec_file(tmp_path, {"metric_filters": [_filter_from(row)]})
    if row["result"] == "accepted":
        assert load(path)
        return
    with pytest.raises(SpecError) as err:
        load(path)
    reason = EQUIVALENT.get(row["label"]) or row["error"].split(": ", 1)[1]
    assert reason in str(err.value), (row["label"], str(err.value))


def test_what_the_spec_cannot_say_is_refused_too(tmp_path):
    f = {k: v for k, v in FILTER.items() if k != "metric"}
    assert "metric_filters.0.metric (f): Field required" in problems(tmp_path, {"metric_filters": [f]})
    two = problems(tmp_path, {"metric_filters": [{**FILTER, "metric": [FILTER["metric"]] * 2}]})
    assert "metric_filters.0.metric (f)" in two  # one metric per filter: a list of them is refused
    regex = [{**FILTER, "name": f"r{i}", "pattern": f"%NEVER_REGEX_{i}%"} for i in range(1, 7)]
    assert load(spec_file(tmp_path, {"metric_filters": regex[:5]}))  # five regex filters in a group: at quota
    text = problems(tmp_path, {"metric_filters": regex})
    assert "6 metric filters use regular expressions; AWS allows 5" in text and "Resource limit exceeded" in text


# --- plan, apply, prune, audit on moto --------------------------------------------------------------


@pytest.fixture
def account(aws, monkeypatch, tmp_path):
    logs, sns = boto3.client("logs"), boto3.client("sns")
    for g in ("/opswatch/local/alb", "/ecs/shop-api"):
        logs.create_log_group(logGroupName=g)
    sns.create_topic(Name="opswatch-local-alarms")
    spec = tmp_path / "monitors.yaml"
    spec.write_text(EXAMPLE.read_text().split("\ndashboards:")[0])  # filters and alarms; dashboards: test_dashboards
    return spec


def test_plan_apply_plan_change_and_prune(account):
    cw = boto3.client("cloudwatch")
    r = cli("monitors", "plan", "--spec", str(account))
    assert r.returncode == 3, r.stderr  # changes pending (3; 2 is a usage error)
    assert (
        "+ metric filter opswatch-alb-5xx (/opswatch/local/alb)" in r.stdout
        and "+ alarm shop-local-alb-5xx" in r.stdout
    )
    assert r.stdout.splitlines()[-1] == "Plan: 12 to create, 0 to change, 0 to delete."

    r = cli("monitors", "apply", "--spec", str(account), "--yes")
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "Applied: 12 changes.", r.stdout + r.stderr
    [a] = cw.describe_alarms(AlarmNames=["shop-local-alb-5xx"])["MetricAlarms"]
    assert a["TreatMissingData"] == "notBreaching" and a["DatapointsToAlarm"] == 3
    assert a["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:opswatch-local-alarms"]
    tags = cw.list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"]
    assert {"Key": "opswatch:managed", "Value": "true"} in tags
    oom = boto3.client("logs").describe_metric_filters(logGroupName="/ecs/shop-api")["metricFilters"]
    assert {f["filterName"] for f in oom} == {"opswatch-log-java-out-of-memory-1", "opswatch-log-java-out-of-memory-2"}

    r = cli("monitors", "plan", "--spec", str(account))
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "Plan: 0 to create, 0 to change, 0 to delete.", r.stdout
    assert cli("monitors", "apply", "--spec", str(account), "--yes").stdout.startswith("Nothing to do")

    account.write_text(account.read_text().replace("threshold: 10\n", "threshold: 20\n", 1))
    r = cli("monitors", "plan", "--spec", str(account), "--format", "json")
    assert r.returncode == 3
    [change] = json.loads(r.stdout)["changes"]
    assert change["action"] == "update" and change["name"] == "shop-local-alb-5xx"
    assert change["diffs"] == [{"attribute": "Threshold", "old": 10.0, "new": 20.0}]

    # A hand-made alarm, and a managed one that left the spec.
    cw.put_metric_alarm(
        AlarmName="hand-made", Namespace="n", MetricName="m", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    account.write_text(
        account.read_text().split("  # The load balancer turning requests away")[0] + "\nlog_alarms: []\n"
    )
    r = cli("monitors", "plan", "--spec", str(account))
    assert (
        "? alarm shop-local-alb-rejected   [managed by opswatch, not in the spec; apply --prune deletes it]" in r.stdout
    )
    assert "hand-made" not in r.stdout
    r = cli("monitors", "apply", "--spec", str(account), "--prune", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (
        "deleted alarm shop-local-alb-rejected" in r.stdout
        and "deleted alarm java-out-of-memory /ecs/shop-api" in r.stdout
    )
    names = {a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]}
    assert names == {"shop-local-alb-5xx", "shop-local-alb-latency-p99", "shop-local-checkout-latency-p99", "hand-made"}
    assert boto3.client("logs").describe_metric_filters(logGroupName="/ecs/shop-api")["metricFilters"] == []


def test_prune_stays_within_its_stage(aws, tmp_path, monkeypatch):
    """Two stages in one account: applying and pruning one never deletes the other's alarms or filters."""
    logs, sns, cw = boto3.client("logs"), boto3.client("sns"), boto3.client("cloudwatch")
    for stage in ("prod", "local"):
        logs.create_log_group(logGroupName=f"/opswatch/{stage}/alb")
        sns.create_topic(Name=f"opswatch-{stage}-alarms")
    spec = tmp_path / "monitors.yaml"
    spec.write_text(EXAMPLE.read_text().split("log_alarms:")[0])
    monkeypatch.setenv("OPSWATCH_STAGE", "prod")
    assert cli("monitors", "apply", "--spec", str(spec), "--yes").returncode == 0
    prod = {a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]}
    assert prod and all("-prod-" in n for n in prod)
    [a] = cw.describe_alarms(AlarmNames=[sorted(prod)[0]])["MetricAlarms"]
    assert {"Key": "opswatch:stage", "Value": "prod"} in cw.list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"]
    prod_filters = logs.describe_metric_filters(logGroupName="/opswatch/prod/alb")["metricFilters"]
    assert prod_filters

    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    assert cli("monitors", "apply", "--spec", str(spec), "--yes").returncode == 0
    empty = tmp_path / "empty.yaml"
    empty.write_text("metric_filters: []\nalarms: []\n")
    r = cli("monitors", "plan", "--spec", str(empty), "--prune")
    assert "-prod-" not in r.stdout and "/opswatch/prod/alb" not in r.stdout, r.stdout
    r = cli("monitors", "apply", "--spec", str(empty), "--prune", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]} == prod
    assert logs.describe_metric_filters(logGroupName="/opswatch/prod/alb")["metricFilters"] == prod_filters
    assert logs.describe_metric_filters(logGroupName="/opswatch/local/alb")["metricFilters"] == []


def test_an_empty_spec_never_plans_or_prunes_anything(aws, tmp_path, monkeypatch):
    """An empty or wrong file given with --prune used to plan (and apply) the deletion of every managed resource."""
    logs, cw = boto3.client("logs"), boto3.client("cloudwatch")
    logs.create_log_group(logGroupName="/opswatch/local/alb")
    boto3.client("sns").create_topic(Name="opswatch-local-alarms")
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    spec = tmp_path / "monitors.yaml"
    spec.write_text(EXAMPLE.read_text().split("log_alarms:")[0])
    assert cli("monitors", "apply", "--spec", str(spec), "--yes").returncode == 0
    alarms = {a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]}
    filters = logs.describe_metric_filters(logGroupName="/opswatch/local/alb")["metricFilters"]
    assert alarms and filters
    for empty in ("", "{}\n", "null\n", "# every line commented out\n"):
        spec.write_text(empty)
        r = cli("monitors", "plan", "--spec", str(spec), "--prune")
        assert r.returncode == 2 and r.stdout == "" and "the spec is empty: nothing to declare" in r.stderr, r
        r = cli("monitors", "apply", "--spec", str(spec), "--prune", "--yes")
        assert r.returncode == 2 and r.stdout == "" and "the spec is empty: nothing to declare" in r.stderr, r
    assert {a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]} == alarms
    assert logs.describe_metric_filters(logGroupName="/opswatch/local/alb")["metricFilters"] == filters


def test_plan_notes_a_missing_log_group(aws, tmp_path):
    r = cli("monitors", "plan", "--spec", spec_file(tmp_path, {"metric_filters": [FILTER]}))
    assert r.returncode == 3 and "note: log group /g does not exist" in r.stdout


def test_apply_reports_what_was_and_was_not_applied(aws, tmp_path):
    boto3.client("logs").create_log_group(logGroupName="/g")
    # tm99 is a valid extended statistic that moto refuses: a failure half-way through, for real.
    trimmed = {**ALARM, "name": "trimmed", "metric": {"namespace": "ns", "name": "m", "extended_statistic": "tm99"}}
    spec = spec_file(tmp_path, {"metric_filters": [FILTER], "alarms": [ALARM, trimmed]})
    r = cli("monitors", "apply", "--spec", spec, "--yes")
    assert r.returncode == 1
    assert "created metric filter opswatch-f (/g)" in r.stdout and "created alarm a" in r.stdout
    assert "FAILED alarm trimmed:" in r.stderr and "2 applied, 1 failed; run apply again once fixed." in r.stderr
    r = cli("monitors", "plan", "--spec", spec)
    assert r.stdout.splitlines()[-1] == "Plan: 1 to create, 0 to change, 0 to delete."


def test_audit_finds_each_kind(aws):
    cw, logs, sns = boto3.client("cloudwatch"), boto3.client("logs"), boto3.client("sns")
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    base = {"Namespace": "app", "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "GreaterThanThreshold"}  # fmt: skip
    cw.put_metric_alarm(AlarmName="implicit", MetricName="live", AlarmActions=[topic], **base)
    cw.put_metric_alarm(AlarmName="silent", MetricName="live", TreatMissingData="ignore", **base)
    cw.put_metric_alarm(
        AlarmName="gone-topic", MetricName="live", TreatMissingData="ignore",
        AlarmActions=[topic.replace(":alarms", ":deleted")], **base,
    )  # fmt: skip
    cw.put_metric_alarm(
        AlarmName="fine", MetricName="live", TreatMissingData="notBreaching", AlarmActions=[topic], **base
    )
    cw.put_metric_alarm(
        AlarmName="nothing-published", MetricName="typo", TreatMissingData="notBreaching", AlarmActions=[topic], **base
    )
    cw.set_alarm_state(AlarmName="silent", StateValue="INSUFFICIENT_DATA", StateReason="test")
    minute_ago = datetime.now(UTC) - timedelta(seconds=60)
    cw.put_metric_data(Namespace="app", MetricData=[{"MetricName": "live", "Value": 1, "Timestamp": minute_ago}])
    logs.create_log_group(logGroupName="/app")
    logs.put_metric_filter(
        logGroupName="/app", filterName="orphan", filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": "app", "metricValue": "1"}],
    )  # fmt: skip

    from chalicelib.monitors.audit import audit

    later = datetime.now(UTC) + timedelta(days=2)  # "silent" has now been INSUFFICIENT_DATA for two days
    found = {(f.kind, f.resource) for f in audit(cw, logs, sns, now=later)}
    assert ("implicit-missing", "alarm implicit") in found
    assert ("no-actions", "alarm silent") in found
    assert ("missing-topic", "alarm gone-topic") in found
    assert ("stuck-insufficient", "alarm silent") in found
    assert ("filter-without-alarm", "metric filter orphan (/app)") in found
    now = {(f.kind, f.resource) for f in audit(cw, logs, sns)}
    assert ("no-data", "alarm nothing-published") in now and ("no-data", "alarm fine") not in now
    assert not any(r == "alarm fine" for _, r in now)  # a well-kept alarm has nothing to say

    r = cli("alarms", "audit", "--format", "json")
    assert r.returncode == 1 and {json.loads(x)["kind"] for x in r.stdout.splitlines()} >= {"implicit-missing"}


def test_daily_digest_reaches_slack_only_when_something_is_found(aws, local_webhook):
    from chalicelib.monitors.handler import handle_schedule

    assert handle_schedule({}) == {"findings": 0, "posted": False}
    assert local_webhook.messages == []
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName="<!channel> implicit", Namespace="app", MetricName="m", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    result = handle_schedule({"account": "123456789012"})
    assert result["posted"] and result["by_kind"]["implicit-missing"] == 1
    [msg] = local_webhook.messages
    text = msg.readable()
    assert "opswatch audit: 3 findings in 123456789012" in text
    assert "*alarms on the implicit missing-data policy* (1)" in text and "<!channel>" not in json.dumps(msg.body)


def test_validate_summary_says_1_alarm_not_1_alarms(tmp_path):
    spec = spec_file(
        tmp_path, {"metric_filters": [{**FILTER, "samples": {"match": ['{"status": 502}']}}], "alarms": [ALARM]}
    )
    r = cli("monitors", "validate", "--spec", spec)
    assert r.returncode == 0
    assert "valid: 1 metric filter, 1 alarm, 0 log alarms; 1 sample behaves as declared; " in r.stdout


def test_a_spec_of_targets_alone_serves_the_audit_but_plans_nothing(tmp_path):
    """Only targets declares no resource: refused where it could prune, read where only the targets count."""
    example = yaml.safe_load((ROOT / "infra" / "monitors-targets.yaml").read_text())
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump({"targets": example["targets"]}))
    with pytest.raises(SpecError) as err:
        load(str(path))
    assert err.value.whole and "the spec is empty: nothing to declare" in err.value.problems[0]
    assert len(load(str(path), declares=False).spec.targets) == len(example["targets"])
