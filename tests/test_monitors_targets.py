"""Monitors as code across accounts: plan, apply and audit in two target accounts through AssumeRole, on moto.

moto keeps accounts apart, and the credentials AssumeRole gives act in the role's account (moto reads
the account from the access key it issued). moto lets any role be assumed ("the role does not need to
exist"), so the refusal AWS gives when a role's trust policy does not name the caller is answered by a
proxy in front of moto's STS, over real HTTP, with AWS's AccessDenied error document.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
import yaml

from chalicelib import aws as awsclients
from tests.conftest import opswatch
from tests.faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "infra" / "monitors-targets.yaml"
HOME = "123456789012"  # moto's default account: the shell's credentials
PROD = {"account": "111111111111", "region": "eu-west-1", "name": "shop-prod"}
DEV = {"account": "222222222222", "region": "us-east-1", "name": "shop-dev"}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{HOME}:root"}, "Action": "sts:AssumeRole"}],
}


def role(t: dict) -> str:
    return f"arn:aws:iam::{t['account']}:role/opswatch-monitors"


def target(t: dict) -> dict:
    return {**t, "role_arn": role(t)}


def in_account(t: dict, region: str | None = None) -> awsclients.Assumed:
    """Clients in the target's account and Region: the test's own view, through a role opswatch never uses."""
    return awsclients.assume(f"arn:aws:iam::{t['account']}:role/test-view", region or t["region"])


@pytest.fixture
def accounts(aws, tmp_path, monkeypatch):
    """Two workload accounts with the role, the log group and the alarm topic; the example spec for stage local."""
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    for t in (PROD, DEV):
        # The role opswatch assumes, made in its account (as a StackSet would), trusting the monitoring account.
        in_account(t).client("iam").create_role(
            RoleName="opswatch-monitors", AssumeRolePolicyDocument=json.dumps(TRUST)
        )
        acct = in_account(t)
        acct.client("logs").create_log_group(logGroupName="/ecs/shop-api")
        acct.client("sns").create_topic(Name="opswatch-local-alarms")
    spec = tmp_path / "monitors.yaml"
    spec.write_text(EXAMPLE.read_text())
    return spec


@pytest.fixture
def refusing_sts(aws, monkeypatch):
    """STS refuses AssumeRole on the dev account's role, as AWS does when the trust policy does not name us."""
    proxy = FaultProxy(aws.endpoint)
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>AccessDenied</Code><Message>User: arn:aws:sts::{HOME}:assumed-role/ops/me is not authorized to "
        f"perform: sts:AssumeRole on resource: {role(DEV)}</Message></Error><RequestId>r1</RequestId></ErrorResponse>"
    ).encode()
    proxy.answer_body[role(DEV).replace(":", "%3A").replace("/", "%2F").encode()] = lambda _: (
        403,
        {"Content-Type": "text/xml"},
        body,
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.endpoint)
    awsclients.client.cache_clear()
    yield proxy
    proxy.close()
    awsclients.client.cache_clear()


def alarms_of(t: dict) -> dict[str, dict]:
    return {a["AlarmName"]: a for a in in_account(t).client("cloudwatch").describe_alarms()["MetricAlarms"]}


def filters_of(t: dict) -> set[str]:
    found = in_account(t).client("logs").describe_metric_filters(logGroupName="/ecs/shop-api")["metricFilters"]
    return {f["filterName"] for f in found}


def test_plan_and_apply_into_two_accounts_each_through_its_role(accounts):
    r = opswatch("monitors", "plan", "--spec", str(accounts))
    assert r.returncode == 3, r.stdout + r.stderr
    out = r.stdout.splitlines()
    prod, dev = (
        out.index("== target 111111111111 (shop-prod), eu-west-1 =="),
        out.index("== target 222222222222 (shop-dev), us-east-1 =="),
    )
    assert prod < dev
    assert "+ metric filter opswatch-local-api-errors (/ecs/shop-api)" in out[prod:dev]
    assert "+ alarm shop-api-errors-local" in out[prod:dev] and "+ alarm shop-api-errors-local" in out[dev:]
    assert "Plan for 111111111111 (shop-prod), eu-west-1: 2 to create, 0 to change, 0 to delete." in out
    assert "Plan for 222222222222 (shop-dev), us-east-1: 2 to create, 0 to change, 0 to delete." in out
    assert out[-1] == "Plan: 4 to create, 0 to change, 0 to delete in 2 targets."

    r = opswatch("monitors", "apply", "--spec", str(accounts), "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "Applied: 4 changes in 2 targets."
    for t in (PROD, DEV):
        [a] = alarms_of(t).values()
        # A topic name resolves in the target's own account and Region.
        assert a["AlarmActions"] == [f"arn:aws:sns:{t['region']}:{t['account']}:opswatch-local-alarms"]
        assert a["AlarmArn"].startswith(f"arn:aws:cloudwatch:{t['region']}:{t['account']}:alarm:")
        tags = in_account(t).client("cloudwatch").list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"]
        assert {"Key": "opswatch:stage", "Value": "local"} in tags
        assert filters_of(t) == {"opswatch-local-api-errors"}
    # Nothing in the shell's own account, nor in a target account's other Region.
    assert boto3.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert boto3.client("logs").describe_metric_filters()["metricFilters"] == []
    other_region = in_account(PROD, "us-east-1").client("cloudwatch")
    assert other_region.describe_alarms()["MetricAlarms"] == []

    r = opswatch("monitors", "plan", "--spec", str(accounts))
    assert (
        r.returncode == 0 and r.stdout.splitlines()[-1] == "Plan: 0 to create, 0 to change, 0 to delete in 2 targets."
    )


def test_prune_stays_within_each_target(accounts):
    assert opswatch("monitors", "apply", "--spec", str(accounts), "--yes").returncode == 0
    # A managed alarm of the same stage in the shell's own account is no target's to prune.
    cw = boto3.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="home-alarm", Namespace="n", MetricName="m", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "opswatch:managed", "Value": "true"}, {"Key": "opswatch:stage", "Value": "local"}],
    )  # fmt: skip
    spec = yaml.safe_load(accounts.read_text())
    del spec["alarms"]
    accounts.write_text(yaml.safe_dump(spec))
    r = opswatch("monitors", "apply", "--spec", str(accounts), "--prune", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("deleted alarm shop-api-errors-local") == 2
    assert alarms_of(PROD) == {} and alarms_of(DEV) == {}
    assert filters_of(PROD) == filters_of(DEV) == {"opswatch-local-api-errors"}
    assert [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]] == ["home-alarm"]


def test_a_target_whose_role_cannot_be_assumed_fails_alone(accounts, refusing_sts):
    r = opswatch("monitors", "plan", "--spec", str(accounts))
    assert r.returncode == 2, r.stdout + r.stderr  # an error outranks "changes pending"
    [line] = r.stderr.splitlines()
    assert line.startswith(
        f"opswatch: target 222222222222 (shop-dev), us-east-1: cannot act through {role(DEV)}: AccessDenied: "
    )
    assert "Plan for 111111111111 (shop-prod), eu-west-1: 2 to create" in r.stdout
    assert (
        r.stdout.splitlines()[-1] == "Plan: 2 to create, 0 to change, 0 to delete in 2 targets; 1 could not be planned."
    )

    r = opswatch("monitors", "plan", "--spec", str(accounts), "--format", "json")
    assert r.returncode == 2
    prod, dev = json.loads(r.stdout)["targets"]
    assert prod["account"] == "111111111111" and len(prod["changes"]) == 2 and prod["error"] is None
    assert dev["account"] == "222222222222" and "AccessDenied" in dev["error"] and "changes" not in dev

    r = opswatch("monitors", "apply", "--spec", str(accounts), "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "created alarm shop-api-errors-local" in r.stdout
    assert r.stderr.splitlines()[1:] == ["2 applied, 0 failed, 1 target not reached; run apply again once fixed."]
    assert r.stderr.splitlines()[0].startswith("opswatch: target 222222222222 (shop-dev), us-east-1: cannot act")
    assert list(alarms_of(PROD)) == ["shop-api-errors-local"] and alarms_of(DEV) == {}
    for secret in ("SecretAccessKey", "SessionToken", "testing"):
        assert secret not in r.stdout + r.stderr


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"role_arn": "arn:aws:iam::111111111111:user/opswatch"},
            "targets.0 (shop-prod): role_arn 'arn:aws:iam::111111111111:user/opswatch': not an IAM role ARN",
        ),
        (
            {"role_arn": "arn:aws:iam::222222222222:role/opswatch-monitors"},
            "targets.0 (shop-prod): role_arn 'arn:aws:iam::222222222222:role/opswatch-monitors' is in account "
            "222222222222, not the target's account 111111111111",
        ),
        (
            {"role_arn": "arn:aws-cn:iam::111111111111:role/opswatch-monitors"},
            "is in partition aws-cn, but Region eu-west-1 is in aws",
        ),
        ({"role_arn": "arn:aws:iam::111111111111:role/" + "x" * 65}, "not an IAM role ARN"),
        ({"role_arn": "arn:aws:iam::111111111111:role/ünï"}, "not an IAM role ARN"),
        ({"account": 111111111111}, "account 111111111111 is a number in YAML: quote it"),
        ({"account": "11111111111"}, "account '11111111111': an AWS account id is 12 digits"),
        ({"account": "１１１１１１１１１１１１"}, "an AWS account id is 12 digits"),  # fullwidth digits
        ({"name": "shop\x1b[2J"}, "name 'shop\\x1b[2J': expected printable text"),
        ({"role_arn": "arn:aws:iam::111111111111:role/a\nb"}, "not an IAM role ARN"),
        ({"region": "Europe"}, "region 'Europe': not a Region name"),
        ({"external_id": "x"}, "unknown key 'external_id'"),
    ],
)
def test_a_malformed_target_is_refused_at_validate_naming_it(tmp_path, change, reason):
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["targets"][0].update(change)
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    r = opswatch("monitors", "validate", "--spec", str(path))
    assert r.returncode == 2 and r.stdout == ""
    line, *summary = r.stderr.splitlines()  # the problem, then at most a one-line summary
    assert line.startswith(f"{path}:") and reason in line, line
    assert len(summary) <= 1 and all(x.startswith(f"opswatch: {path}: ") for x in summary), summary


def test_the_same_target_twice_and_no_targets(tmp_path):
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["targets"].append(dict(spec["targets"][0], name="again"))
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(spec))
    r = opswatch("monitors", "validate", "--spec", str(path))
    assert r.returncode == 2 and "target account 111111111111 in eu-west-1 is declared twice" in r.stderr
    del spec["targets"]
    path.write_text(yaml.safe_dump(spec))
    r = opswatch("alarms", "audit", "--all-targets", "--spec", str(path))
    assert r.returncode == 2 and "declares no targets" in r.stderr


def _findings_in_each(accounts) -> None:
    """An alarm on the implicit missing-data policy in prod, a filter no alarm watches in dev."""
    in_account(PROD).client("cloudwatch").put_metric_alarm(
        AlarmName="<!channel> implicit", Namespace="n", MetricName="m", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[f"arn:aws:sns:eu-west-1:{PROD['account']}:opswatch-local-alarms"],
    )  # fmt: skip
    in_account(DEV).client("logs").put_metric_filter(
        logGroupName="/ecs/shop-api", filterName="orphan", filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": "app", "metricValue": "1"}],
    )  # fmt: skip


def test_audit_across_all_targets_finds_each_accounts_own(accounts):
    _findings_in_each(accounts)
    boto3.client("cloudwatch").put_metric_alarm(  # the shell's own account: not a target, not audited
        AlarmName="home-only", Namespace="n", MetricName="m", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    r = opswatch("alarms", "audit", "--all-targets", "--spec", str(accounts), "--format", "json")
    assert r.returncode == 1, r.stdout + r.stderr
    found = {(f["account"], f["region"], f["kind"], f["resource"]) for f in map(json.loads, r.stdout.splitlines())}
    assert ("111111111111", "eu-west-1", "implicit-missing", "alarm <!channel> implicit") in found
    assert ("222222222222", "us-east-1", "filter-without-alarm", "metric filter orphan (/ecs/shop-api)") in found
    assert not any(f[0] == "222222222222" and "implicit" in f[3] for f in found)
    assert not any(f[0] == "111111111111" and "orphan" in f[3] for f in found)
    assert not any("home-only" in f[3] for f in found)

    r = opswatch("alarms", "audit", "--all-targets", "--spec", str(accounts))
    assert "== target 111111111111 (shop-prod), eu-west-1 ==" in r.stdout
    assert r.stdout.splitlines()[-1].endswith("in 2 targets")


def test_audit_across_targets_goes_on_past_one_it_cannot_reach(accounts, refusing_sts):
    _findings_in_each(accounts)
    r = opswatch("alarms", "audit", "--all-targets", "--spec", str(accounts))
    assert r.returncode == 2, r.stdout + r.stderr
    [line] = r.stderr.splitlines()
    assert line.startswith(f"opswatch: target 222222222222 (shop-dev), us-east-1: cannot act through {role(DEV)}")
    assert "alarm <!channel> implicit: no explicit missing-data policy" in r.stdout
    assert r.stdout.splitlines()[-1].endswith("in 2 targets; 1 could not be reached")


def test_daily_digest_groups_findings_by_account(accounts, local_webhook, monkeypatch):
    from chalicelib.monitors.handler import handle_schedule

    r = opswatch("monitors", "targets", "--spec", str(accounts))
    monkeypatch.setenv("OPSWATCH_AUDIT_TARGETS", r.stdout.strip())  # the setting, as the command prints it
    assert handle_schedule({}) == {
        "findings": 0,
        "posted": False,
        "by_account": {f"{HOME}/us-east-1": 0, "111111111111/eu-west-1": 0, "222222222222/us-east-1": 0},
    }
    assert local_webhook.messages == []

    _findings_in_each(accounts)
    result = handle_schedule({"account": HOME})
    assert result["posted"] and result["findings"] == 3  # prod: implicit + no data; dev: the orphan filter
    assert result["by_account"] == {f"{HOME}/us-east-1": 0, "111111111111/eu-west-1": 2, "222222222222/us-east-1": 1}
    [msg] = local_webhook.messages
    text = msg.readable()
    assert "opswatch audit: 3 findings in 2 accounts" in text
    prod, dev = (
        text.index("*111111111111 (shop-prod), eu-west-1*: 2 findings"),
        text.index("*222222222222 (shop-dev), us-east-1*: 1 finding"),
    )
    assert "alarms on the implicit missing-data policy (1): alarm &lt;!channel&gt; implicit" in text[prod:dev]
    assert "metric filters whose metric no alarm watches (1): metric filter orphan (/ecs/shop-api)" in text[dev:]
    assert "1 account without findings" in text and "<!channel>" not in json.dumps(msg.body)


def test_digest_reports_a_target_it_cannot_reach_and_audits_the_rest(
    accounts, local_webhook, monkeypatch, refusing_sts
):
    from chalicelib.monitors.handler import handle_schedule

    monkeypatch.setenv("OPSWATCH_AUDIT_TARGETS", json.dumps([target(PROD), target(DEV)]))
    _findings_in_each(accounts)
    result = handle_schedule({})
    assert result["unreachable"] == ["222222222222 (shop-dev), us-east-1"]
    assert result["by_account"]["111111111111/eu-west-1"] == 2
    [msg] = local_webhook.messages
    text = msg.readable()
    assert "targets the audit could not reach (1): target 222222222222 (shop-dev), us-east-1" in text
    assert "AccessDenied" in text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("[{]", "OPSWATCH_AUDIT_TARGETS is not a JSON list of targets"),
        ('{"account": "111111111111"}', "OPSWATCH_AUDIT_TARGETS: expected a list of targets"),
        (
            json.dumps([{**target(PROD), "role_arn": role(DEV)}]),
            "OPSWATCH_AUDIT_TARGETS.0: role_arn 'arn:aws:iam::222222222222:role/opswatch-monitors' is in account",
        ),
        ("[" * 5000 + "]" * 5000, "OPSWATCH_AUDIT_TARGETS is not a JSON list of targets"),
        ("[" + ",".join(["1"] * 30000) + "]", "OPSWATCH_AUDIT_TARGETS is not a JSON list of targets"),
    ],
)
def test_a_bad_audit_targets_setting_is_refused_naming_it(monkeypatch, value, reason):
    from chalicelib import settings

    monkeypatch.setenv("OPSWATCH_AUDIT_TARGETS", value)
    with pytest.raises(ValueError) as err:
        settings.audit_targets()
    assert reason in str(err.value) and len(str(err.value)) < 400


def test_the_audit_function_may_assume_exactly_the_targets_roles():
    from chalicelib import policies

    setting = json.dumps([target(PROD), target(DEV)])
    with policies.stage_environment("local", OPSWATCH_AUDIT_TARGETS=setting):
        statements = policies.statements("monitors", "local", policies.where("local"))
    [st] = [s for s in statements if "sts:AssumeRole" in s["Action"]]
    assert st["Action"] == ["sts:AssumeRole"] and st["Resource"] == sorted([role(PROD), role(DEV)])
    with policies.stage_environment("local"):
        statements = policies.statements("monitors", "local", policies.where("local"))
    assert not any("sts:AssumeRole" in s["Action"] for s in statements)  # no targets: no AssumeRole at all


ROLE_TEMPLATE = ROOT / "infra" / "monitors-target-role.yaml"


def _actions_called(proxy: FaultProxy) -> set[str]:
    """``service:Action`` of every call the proxy saw made with a target's credentials (moto's are ASIA...)."""
    import re
    from urllib.parse import parse_qs

    out = set()
    for path, headers, body in proxy.requests:
        auth = headers.get("Authorization", "")
        m = re.search(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/", auth)
        if not m or not m.group(1).startswith("ASIA"):
            continue  # the shell's own credentials (STS AssumeRole itself)
        service = {"monitoring": "cloudwatch"}.get(m.group(2), m.group(2))
        if headers.get("X-Amz-Target"):
            action = headers["X-Amz-Target"].rsplit(".", 1)[1]
        elif "/operation/" in path:
            action = path.rsplit("/operation/", 1)[1]
        else:
            action = parse_qs(body.decode())["Action"][0]
        out.add(f"{service}:{action}")
    return out


def test_the_target_role_template_allows_what_plan_apply_and_audit_call_and_lints_clean(accounts):
    import subprocess
    import sys

    from chalicelib import boundedyaml

    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(ROLE_TEMPLATE)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    _, tpl = boundedyaml.load(ROLE_TEMPLATE.read_text().replace("!", ""))  # short-form tags read as plain text
    role = tpl["Resources"]["MonitorsRole"]["Properties"]
    allowed = {a for st in role["Policies"][0]["PolicyDocument"]["Statement"] for a in st["Action"]}
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"StringEquals": {"sts:RoleSessionName": "opswatch"}}

    proxy = FaultProxy(os.environ["AWS_ENDPOINT_URL"])
    try:
        env = {"AWS_ENDPOINT_URL": proxy.endpoint}
        assert opswatch("monitors", "apply", "--spec", str(accounts), "--yes", **env).returncode == 0
        spec_without_alarm = yaml.safe_load(accounts.read_text())
        del spec_without_alarm["alarms"]
        pruned = accounts.parent / "pruned.yaml"
        pruned.write_text(yaml.safe_dump(spec_without_alarm))
        assert opswatch("monitors", "apply", "--spec", str(pruned), "--prune", "--yes", **env).returncode == 0
        assert opswatch("alarms", "audit", "--all-targets", "--spec", str(accounts), **env).returncode in (0, 1)
    finally:
        proxy.close()
    called = _actions_called(proxy)
    assert {"cloudwatch:PutMetricAlarm", "logs:PutMetricFilter", "cloudwatch:DeleteAlarms", "sns:ListTopics"} <= called
    assert called - allowed == set(), "the target role must allow every call opswatch makes with it"


def test_a_digest_of_many_accounts_stays_within_slacks_limits_and_says_what_it_left_out():
    from chalicelib.monitors.audit import Audited, Finding, digest_accounts
    from chalicelib.slack.message import BLOCKS_MAX, SECTION_MAX, TOTAL_TEXT_MAX

    audited = [
        Audited(
            f"{i:012d} (team-{i}), eu-west-1",
            f"{i:012d}",
            "eu-west-1",
            [Finding("no-data", f"alarm {'x' * 200}-{j}", "no data", "fix it") for j in range(30)],
        )
        for i in range(40)
    ] + [Audited("999999999999, eu-west-1", "999999999999", "eu-west-1", [])]
    payload = digest_accounts(audited).payload()
    blocks = payload["attachments"][0]["blocks"] if "attachments" in payload else payload["blocks"]
    texts = [b["text"]["text"] for b in blocks if b.get("type") == "section"]
    assert len(blocks) <= BLOCKS_MAX and all(len(t) <= SECTION_MAX for t in texts)
    assert sum(len(json.dumps(b)) for b in blocks) < 2 * TOTAL_TEXT_MAX
    assert "opswatch audit: 1,200 findings in 40 accounts" in json.dumps(payload)
    assert any(t.startswith("… and 25 more accounts with 750 findings: 000000000015, ") for t in texts), texts[-1]
    assert "and 25 more" in texts[0]  # 30 findings of one kind: five named, the rest counted


def test_a_target_without_a_name_is_named_from_the_account_names_setting(accounts):
    spec = yaml.safe_load(accounts.read_text())
    del spec["targets"][1]["name"]
    accounts.write_text(yaml.safe_dump(spec))
    r = opswatch("monitors", "plan", "--spec", str(accounts))
    assert "== target 222222222222, us-east-1 ==" in r.stdout.splitlines()
    names = json.dumps({"222222222222": "payments", "111111111111": "not used: the spec names it"})
    r = opswatch("monitors", "plan", "--spec", str(accounts), OPSWATCH_ACCOUNT_NAMES=names)
    assert "== target 222222222222 (payments), us-east-1 ==" in r.stdout.splitlines()
    assert "== target 111111111111 (shop-prod), eu-west-1 ==" in r.stdout.splitlines()


def test_credentials_that_act_in_another_account_are_never_used(accounts):
    """STS answering with a session in another account than the target's: nothing is read or written there."""
    proxy = FaultProxy(os.environ["AWS_ENDPOINT_URL"])
    answer = (
        b'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>'
        b"<AccessKeyId>ASIAOTHERACCOUNT0001</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t"
        b"</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser>"
        b"<AssumedRoleId>AROA:opswatch</AssumedRoleId><Arn>arn:aws:sts::333333333333:assumed-role/x/opswatch</Arn>"
        b"</AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
        b"</AssumeRoleResponse>"
    )
    proxy.answer_body[b"222222222222%3Arole"] = lambda _: (200, {"Content-Type": "text/xml"}, answer)
    try:
        r = opswatch("monitors", "apply", "--spec", str(accounts), "--yes", AWS_ENDPOINT_URL_STS=proxy.endpoint)
    finally:
        proxy.close()
    assert r.returncode == 1
    assert (
        "opswatch: target 222222222222 (shop-dev), us-east-1: cannot act through "
        f"{role(DEV)}: the role's credentials act in account 333333333333, not 222222222222"
    ) in r.stderr.splitlines()
    assert alarms_of(DEV) == {} and list(alarms_of(PROD)) == ["shop-api-errors-local"]
