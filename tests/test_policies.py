"""The functions' IAM policy files are generated from one description each, and kept up to date."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from chalicelib import policies, settings
from tests.conftest import opswatch
from tests.test_infra_template import render, template

ACCOUNT, REGION = "111122223333", "eu-west-1"
READ_ONLY = ("Describe", "Get", "List")


def iam_match(pattern: str, text: str) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` exactly one, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.S) is not None


def rendered(stage: str, account: str = ACCOUNT, region: str = REGION) -> dict[str, dict[str, dict]]:
    """kind -> Sid -> statement, for ``stage`` placed in ``account`` and ``region``."""
    with policies.stage_environment(stage, OPSWATCH_ACCOUNT_ID=account, OPSWATCH_REGION=region):
        w = policies.where(stage)
        return {k: {s["Sid"]: s for s in policies.statements(k, stage, w)} for k in policies.KINDS}


def owned(stage: str, account: str = ACCOUNT, region: str = REGION) -> list[str]:
    """ARNs of resources that belong to ``stage`` alone, as AWS names them in a request."""
    a = f"{region}:{account}"
    with policies.stage_environment(stage):
        alb, ath = settings.alb(), settings.athena()
        results = ath.output.removeprefix("s3://").split("/", 1)[0]
        fns = [f"opswatch-{stage}-{fn}" for fn in policies.KIND_OF]
        return [
            f"arn:aws:s3:::{alb.bucket}",
            f"arn:aws:s3:::{alb.bucket}/AWSLogs/{account}/elasticloadbalancing/x.log.gz",
            f"arn:aws:s3:::{results}",
            f"arn:aws:s3:::{results}/q.csv",
            f"arn:aws:dynamodb:{a}:table/{settings.state_table()}",
            f"arn:aws:sqs:{a}:{settings.failed_queue()}",
            f"arn:aws:logs:{a}:log-group:{alb.log_group}",
            f"arn:aws:logs:{a}:log-group:{alb.log_group}:log-stream:2025/01/01/app",
            *[f"arn:aws:logs:{a}:log-group:/aws/lambda/{fn}:log-stream:x" for fn in fns],
            *[f"arn:aws:lambda:{a}:function:{fn}" for fn in fns],
            f"arn:aws:secretsmanager:{a}:secret:opswatch/{stage}/slack-AbC123",
            f"arn:aws:ssm:{a}:parameter/opswatch/{stage}/slack",
            f"arn:aws:athena:{a}:workgroup/{ath.workgroup}",
            f"arn:aws:glue:{a}:database/{ath.database}",
            f"arn:aws:glue:{a}:table/{ath.database}/alb_access_logs",
        ]


def test_every_policy_file_is_what_the_description_generates():
    assert policies.stale() == [], "run `opswatch policies --write`"


def test_resources_follow_the_stage_settings():
    files = {p.name: json.loads(t) for p, t in policies.generate().items()}
    docs = {"local": {k: files[f"policy-local-{k}.json"]["Statement"] for k in policies.KINDS}}
    places = {"local": ("123456789012", "us-east-1"), "dev": (ACCOUNT, "eu-west-1"), "prod": (ACCOUNT, "us-west-2")}
    for stage in ("dev", "prod"):
        docs[stage] = {k: list(v.values()) for k, v in rendered(stage, *places[stage]).items()}
    for stage in ("local", "dev", "prod"):
        account, region = places[stage]
        a = f"{region}:{account}"
        alb = {s["Sid"]: s for s in docs[stage]["alb"]}
        assert alb["ReadAlbLogObjects"]["Resource"] == [f"arn:aws:s3:::opswatch-{stage}-alb-logs/*"]
        assert alb["ShippingProgress"]["Resource"] == [f"arn:aws:dynamodb:{a}:table/opswatch-{stage}-state"]
        assert alb["KeepFailedEvents"]["Resource"] == [f"arn:aws:sqs:{a}:opswatch-{stage}-failed"]
        assert alb["ShipAlbLogs"]["Resource"] == [
            f"arn:aws:logs:{a}:log-group:/opswatch/{stage}/alb",
            f"arn:aws:logs:{a}:log-group:/opswatch/{stage}/alb:*",
        ]
        # No function may touch another stage's resources, nor anything beyond what it names, save the
        # Glue catalog (one per account) and the daily audit's read-only listing of the account's alarms
        # and metric filters; on alarms, the one change allowed is a Slack mute's (actions off, and back on).
        shared = (
            f"arn:aws:glue:{a}:catalog",
            f"arn:aws:cloudwatch:{a}:alarm:*",
            f"arn:aws:logs:{a}:log-group:*",
        )
        for kind in policies.KINDS:
            for st in docs[stage][kind]:
                for r in st["Resource"]:
                    assert r == "*" or stage in r or r in shared, (kind, r)
                    # Mute disables and re-enables the actions of whichever alarm its message is about (narrowed to
                    # OPSWATCH_ALARM_NAME_PREFIXES when set), and the OK of a mute "until OK" re-enables them;
                    # StopQuery takes no resource (it stops a query by the id its StartQuery, on the stage's log
                    # groups, gave).
                    acting = (kind, st["Sid"]) in {
                        ("slackactions", "MuteAlarms"),
                        ("slackactions", "StopOwnQueries"),
                        ("alarms", "EndMuteUntilOk"),
                    }
                    if (r == "*" or r in shared[1:]) and not acting:
                        assert all(x.split(":")[1].startswith(READ_ONLY) for x in st["Action"])
                    if r == "*":  # no resource to pin: the Region is, by condition
                        assert st["Condition"] == {"StringEquals": {"aws:RequestedRegion": region}}
                    elif r.startswith("arn:aws:s3:::"):  # S3 ARNs carry no account: the condition does
                        assert st["Condition"] == {"StringEquals": {"aws:ResourceAccount": account}}
                    elif r.startswith("arn:aws:iam::"):  # IAM is global: the scheduler's role, passed to it only
                        assert r == f"arn:aws:iam::{account}:role/opswatch-{stage}-scheduler"
                        assert st["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
                    else:
                        assert r.startswith(f"arn:aws:{r.split(':')[2]}:{a}:"), (kind, r)


def test_no_policy_of_one_stage_names_a_resource_of_another(tmp_path, monkeypatch):
    """Four stages in one account and Region, one named like another's prefix (prod, prod-eu)."""
    chalice = tmp_path / ".chalice"
    chalice.mkdir()
    config = json.loads((policies.CHALICE / "config.json").read_text())
    prod = json.loads(json.dumps(config["stages"]["prod"]))
    for fn, cfg in prod["lambda_functions"].items():
        cfg["iam_policy_file"] = f"policy-prod-eu-{policies.kind_of(fn)}.json"
    prod["environment_variables"].update(
        OPSWATCH_STAGE="prod-eu",
        OPSWATCH_ALB_BUCKET="opswatch-prod-eu-alb-logs",
        OPSWATCH_SLACK_SECRET="secretsmanager:opswatch/prod-eu/slack",
        OPSWATCH_ALARM_TOPIC="opswatch-prod-eu-alarms",
    )
    config["stages"]["prod-eu"] = prod
    (chalice / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(policies, "CHALICE", chalice)
    stages = ["local", "dev", "prod", "prod-eu"]
    for stage in stages:
        policies.place(stage, ACCOUNT, REGION)
    docs = {p.name: json.loads(t) for p, t in policies.generate().items()}
    assert len(docs) == 4 * len(policies.KINDS)
    listing = {f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"}
    for stage in stages:
        others = [arn for other in stages if other != stage for arn in owned(other)]
        mine = [m for m in owned(stage) if ":function:" not in m or m.endswith("-alb_logs")]  # only it invokes
        for kind in policies.KINDS:
            for st in docs[f"policy-{stage}-{kind}.json"]["Statement"]:
                for pattern in st["Resource"]:
                    if pattern == "*" or pattern in listing:
                        continue
                    assert not [o for o in others if iam_match(pattern, o)], (stage, kind, pattern)
        # ... while each stage's own resources are all named by its policies.
        patterns = [
            r for k in policies.KINDS for st in docs[f"policy-{stage}-{k}.json"]["Statement"] for r in st["Resource"]
        ]
        assert [m for m in mine if not any(iam_match(p, m) for p in patterns if p != "*")] == []


def test_each_stage_ships_to_its_own_log_group_in_settings_template_and_policies():
    tpl = template()
    groups = {}
    for stage in ("local", "dev", "prod"):
        with policies.stage_environment(stage):
            group = settings.alb().log_group
        in_template = render(tpl["Resources"]["AlbLogGroup"]["Properties"]["LogGroupName"], tpl, REGION, stage)
        ship = rendered(stage)["alb"]["ShipAlbLogs"]["Resource"]
        assert group == in_template == f"/opswatch/{stage}/alb"
        assert ship == [
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}",
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*",
        ]
        groups[stage] = group
    assert len(set(groups.values())) == 3


def test_the_slack_secret_is_named_with_its_six_character_suffix():
    for stage in ("local", "prod"):
        [arn] = rendered(stage)["alarms"]["ReadSlackSecret"]["Resource"]
        assert arn == f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:opswatch/{stage}/slack-??????"
        base = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:opswatch/{stage}/slack"
        assert iam_match(arn, base + "-Xy12Zq")
        for other in ("-anything", "-backup-Xy12Zq", "-Xy12Z", "-Xy12Zq9", "2-Xy12Zq"):
            assert not iam_match(arn, base + other), other
    with policies.stage_environment("prod", OPSWATCH_SLACK_SECRET="ssm:/team/opswatch-webhook"):
        w = policies.Where(ACCOUNT, REGION, "aws")
        param = {s["Sid"]: s for s in policies.statements("logalerts", "prod", w)}["ReadSlackParameter"]
    assert param["Resource"] == [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/team/opswatch-webhook"]
    full = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:team/slack-Xy12Zq"  # an ARN names exactly one
    with policies.stage_environment("prod", OPSWATCH_SLACK_SECRET=f"secretsmanager:{full}"):
        secret = {s["Sid"]: s for s in policies.statements("alarms", "prod", w)}["ReadSlackSecret"]
    assert secret["Resource"] == [full]


# --- the state table: each function only its own key prefixes ------------------------------------------------


def leading_keys(statement: dict) -> list[str]:
    cond = statement.get("Condition", {})
    assert cond.get("Null") == {"dynamodb:LeadingKeys": "false"}, statement["Sid"]  # a call must name its item
    return cond["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]


def state_patterns(doc: list[dict]) -> list[str]:
    """The key patterns a policy allows on the state table; every DynamoDB statement must carry them."""
    out = []
    for st in doc:
        if any(a.startswith("dynamodb:") for a in st["Action"]):
            assert all(a.startswith("dynamodb:") for a in st["Action"])
            out += leading_keys(st)
    return out


def may_name(pattern: str, prefix: str) -> bool:
    """Whether some key starting with ``prefix`` matches ``pattern``: their literal heads must agree."""
    head = re.split(r"[*?]", pattern, maxsplit=1)[0]
    return head.startswith(prefix) or prefix.startswith(head)


def test_the_alarm_functions_cannot_name_alb_checkpoints_nor_the_alb_function_the_others():
    from chalicelib.alarms import dedup, threads
    from chalicelib.alb import checkpoint
    from chalicelib.logalerts import cooldown

    for stage in ("local", "dev", "prod"):
        place = ("123456789012", "us-east-1") if stage == "local" else (ACCOUNT, REGION)
        docs = {k: list(v.values()) for k, v in rendered(stage, *place).items()}
        if stage == "local":  # the files say the same
            assert docs == {
                k: json.loads(policies.path_of("local", k).read_text())["Statement"] for k in policies.KINDS
            }
        alb, alarms, alerts = (state_patterns(docs[k]) for k in ("alb", "alarms", "logalerts"))
        assert alb and alarms and alerts
        from chalicelib.slackactions import mute

        # The audit reads Slack mutes and nothing else; the report, nothing.
        assert state_patterns(docs["monitors"]) == [mute.PREFIX + "*"] and state_patterns(docs["athena"]) == []
        assert not any(may_name(p, checkpoint.PREFIX) for p in alarms + alerts)
        for other in (cooldown.PREFIX, threads.PREFIX, dedup.KEY_PREFIX + "#"):
            assert not any(may_name(p, other) for p in alb), other
        assert not any(may_name(p, threads.PREFIX) or may_name(p, dedup.KEY_PREFIX) for p in alerts)
        assert not any(may_name(p, cooldown.PREFIX) for p in alarms)


def test_every_key_the_functions_write_is_allowed_to_its_writers_alone(aws, monkeypatch):
    """The keys the code really writes (moto), matched against the generated conditions."""
    import boto3

    from chalicelib import state
    from chalicelib.alarms import accounts, dedup, threads
    from chalicelib.alb.checkpoint import Checkpoint
    from chalicelib.logalerts import shardprogress
    from chalicelib.logalerts.cooldown import Cooldown
    from chalicelib.slackactions import once
    from chalicelib.slackactions.click import ACK, Click

    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    table = state.create_table()
    try:
        alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop 5xx"
        dedup.once({"alarm": alarm, "state": "ALARM", "at": 1735689600000}, lambda: {"ok": True})  # Powertools
        threads.remember(alarm, "C123", "1735689600.000100", {"text": "ALARM"}, 1735689600000)
        Cooldown(900).claim("123456789012|/ecs/shop-api|java-out-of-memory", 1, 1735689600000)
        group = settings.alb().log_group
        Checkpoint(group, "s3://opswatch-local-alb-logs/k.log.gz", '"e1"', lease_seconds=60).claim()
        once.claim(Click(ACK, "alarm:shop 5xx", "U1", "ana", "T1", "C123", "1.2", "1.2", None, "3.4"))
        progress = shardprogress.ShardProgress("shard#opswatch-local-logs#shardId-000000000000")
        shardprogress.advance(progress, {49590338271490256608559692538361571095921575989136588801}, set())
        accounts._remember("111122223333", accounts._Described(True, "shop", "o-a1b2c3d4e5"))
        from chalicelib.slackactions import mute

        mute._put(mute.Mute(alarm, "U0ANA1", "1h", 1735693200, True, "0" * 32))
        once.claim(Click(ACK, "alarm:shop 5xx", "U1", "ana", "T1", "C123", "1.2", "1.2", None, "3.4"))
        ids = [i["id"]["S"] for i in boto3.client("dynamodb").scan(TableName=table)["Items"]]
    finally:  # later tests that do not reset moto expect no state table
        boto3.client("dynamodb").delete_table(TableName=table)
    assert len(ids) == 8, ids
    docs = {k: json.loads(policies.path_of("local", k).read_text())["Statement"] for k in policies.KINDS}
    writers = {
        "alarm-change#": {"alarms"},
        "thread#": {"alarms", "slackactions"},  # the Slack actions worker keeps the acknowledgement with the thread
        "account#": {"alarms"},
        # one cooldown per (account, log group, rule), whichever way; a Slack mute holds it back
        "cooldown#": {"logalerts", "logstream", "slackactions"},
        "mute#": {"slackactions", "alarms", "monitors"},  # written from Slack; the OK ends it; the audit reads it
        "shard#": {"logstream"},
        "alb#": {"alb"},
        "slackaction#": {"slackapi", "slackactions"},  # the endpoint claims a click; the worker settles it
    }
    for key in ids:
        [want] = [kinds for prefix, kinds in writers.items() if key.startswith(prefix)]
        allowed = {k for k in policies.KINDS if any(iam_match(p, key) for p in state_patterns(docs[k]))}
        assert allowed == want, (key, allowed)


# --- the account and Region, and the command --------------------------------------------------------------------


def test_a_stage_without_account_and_region_gets_no_policies_and_a_bad_one_is_refused(tmp_path, monkeypatch):
    assert sorted(policies.unplaced()) == ["dev", "prod"]
    assert not any(p.name.startswith(("policy-dev-", "policy-prod-")) for p in policies.generate())
    with (
        policies.stage_environment("prod", OPSWATCH_ACCOUNT_ID="12345", OPSWATCH_REGION=REGION),
        pytest.raises(
            policies.PolicyError,
            match=r"stage prod: OPSWATCH_ACCOUNT_ID in .chalice/config.json: .*12 digits, not '12345'",
        ),
    ):
        policies.where("prod")
    with (
        policies.stage_environment("prod", OPSWATCH_ACCOUNT_ID=ACCOUNT, OPSWATCH_REGION="xx-nowhere-9"),
        pytest.raises(
            policies.PolicyError,
            match=r"stage prod: OPSWATCH_REGION in \.chalice/config\.json: 'xx-nowhere-9' is not a Region AWS knows",
        ),
    ):
        policies.where("prod")
    with (
        policies.stage_environment("prod", OPSWATCH_ACCOUNT_ID=ACCOUNT),
        pytest.raises(policies.PolicyError, match="stage prod: OPSWATCH_REGION is missing"),
    ):
        policies.where("prod")
    with policies.stage_environment("prod", OPSWATCH_ACCOUNT_ID=ACCOUNT, OPSWATCH_REGION="cn-north-1"):
        w = policies.where("prod")
        arn = {s["Sid"]: s for s in policies.statements("alb", "prod", w)}["ReadAlbLogObjects"]["Resource"][0]
    assert (w.partition, arn) == ("aws-cn", "arn:aws-cn:s3:::opswatch-prod-alb-logs/*")


def test_a_stale_file_is_reported_and_rewritten(tmp_path, monkeypatch):
    chalice = tmp_path / ".chalice"
    chalice.mkdir()
    for p in policies.CHALICE.glob("*.json"):  # not deployments/, chalice's package cache
        (chalice / p.name).write_text(p.read_text())
    monkeypatch.setattr(policies, "CHALICE", chalice)
    path = chalice / "policy-local-alb.json"
    doc = json.loads(path.read_text())
    doc["Statement"][0]["Action"].append("s3:DeleteObject")  # a hand edit widening the policy
    path.write_text(json.dumps(doc))
    assert policies.stale() == ["policy-local-alb.json: out of date"]
    assert policies.write() == ["policy-local-alb.json"]
    assert policies.stale() == []


def test_the_cli_checks():
    r = opswatch("policies")
    assert r.returncode == 0 and "every policy file is up to date" in r.stdout
    assert "stage prod: no account and Region yet" in r.stdout  # and how to give them


def test_the_cli_reports_files_out_of_date_and_places_a_stage(tmp_path, monkeypatch):
    from chalicelib.cli.main import cli

    chalice = tmp_path / ".chalice"
    chalice.mkdir()
    for p in policies.CHALICE.glob("*.json"):  # not deployments/, chalice's package cache
        (chalice / p.name).write_text(p.read_text())
    monkeypatch.setattr(policies, "CHALICE", chalice)
    (chalice / "policy-local-monitors.json").write_text("{}\n")
    (chalice / "policy-prod-alb.json").write_text('{"Statement": [{"Resource": "arn:aws:s3:::*"}]}\n')  # an old one
    runner = CliRunner()
    r = runner.invoke(cli, ["policies"])
    assert r.exit_code == 1
    assert "policy-local-monitors.json: out of date" in r.output
    assert "policy-prod-alb.json: stage prod has no account and Region" in r.output
    assert "run `opswatch policies --write`" in r.output

    r = runner.invoke(cli, ["policies", "--write", "--stage", "prod", "--account", "1234", "--region", REGION])
    assert r.exit_code == 2 and "an AWS account id is 12 digits, not '1234'" in r.output
    r = runner.invoke(cli, ["policies", "--stage", "prod", "--account", ACCOUNT, "--region", REGION])
    assert r.exit_code == 2 and "add --write" in r.output
    assert "OPSWATCH_ACCOUNT_ID" not in (chalice / "config.json").read_text().split('"prod"')[1]  # nothing recorded

    r = runner.invoke(cli, ["policies", "--write", "--stage", "prod", "--account", ACCOUNT, "--region", REGION])
    assert r.exit_code == 0, r.output
    env = json.loads((chalice / "config.json").read_text())["stages"]["prod"]["environment_variables"]
    assert (env["OPSWATCH_ACCOUNT_ID"], env["OPSWATCH_REGION"]) == (ACCOUNT, REGION)
    assert "policy-local-monitors.json" in r.output and "policy-prod-alb.json" in r.output
    doc = json.loads((chalice / "policy-prod-alb.json").read_text())
    assert f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/opswatch-prod-state" in json.dumps(doc)
    r = runner.invoke(cli, ["policies"])
    assert r.exit_code == 0 and "every policy file is up to date" in r.output
    assert "stage dev: no account and Region yet" in r.output and "stage prod:" not in r.output
