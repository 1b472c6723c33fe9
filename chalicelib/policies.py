"""Each function's IAM policy, generated per stage from one description: least privilege that stays so.

``.chalice/policy-<stage>-<kind>.json`` are outputs of this module, not sources:
``opswatch policies --write`` regenerates them and a test fails when one is out
of date. Resource names come from the stage's own settings (``.chalice/config.json``
read through ``chalicelib.settings``), so a renamed bucket or queue changes the
policies with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chalicelib import settings

ROOT = Path(__file__).resolve().parent.parent
CHALICE = ROOT / ".chalice"

# Which policy file each function uses; two alarm functions share one.
KIND_OF = {
    "alb_logs": "alb",
    "alarm_bridge": "alarms",
    "alarm_events": "alarms",
    "log_alerts": "logalerts",
    "monitors_audit": "monitors",
    "athena_report": "athena",
}


@contextmanager
def stage_environment(stage: str) -> Iterator[dict]:
    """The environment Chalice gives the stage's functions, set while the block runs."""
    config = json.loads((CHALICE / "config.json").read_text())
    env = {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}
    env.setdefault("OPSWATCH_STAGE", stage)
    saved = {k: os.environ.get(k) for k in env}
    cleared = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("OPSWATCH_") and k not in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        os.environ.update(cleared)


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def _slack_statements(stage: str) -> list[dict]:
    name = f"opswatch/{stage}/slack"
    secret = settings.slack().secret or f"secretsmanager:{name}"
    kind, _, ref = secret.partition(":")
    if kind == "ssm":
        name = ref.lstrip("/")
    elif kind == "secretsmanager":
        name = ref
    return [
        _statement(
            "ReadSlackSecret", ["secretsmanager:GetSecretValue"], [f"arn:aws:secretsmanager:*:*:secret:{name}-*"]
        ),
        _statement("ReadSlackParameter", ["ssm:GetParameter"], [f"arn:aws:ssm:*:*:parameter/{name}"]),
    ]


def _own_logs(stage: str) -> dict:
    return _statement(
        "OwnLambdaLogs",
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        [
            f"arn:aws:logs:*:*:log-group:/aws/lambda/opswatch-{stage}-*",
            f"arn:aws:logs:*:*:log-group:/aws/lambda/opswatch-{stage}-*:*",
        ],
    )


def _failed_queue() -> dict:
    # Lambda sends an event that failed every retry to the on-failure destination with the function's role.
    return _statement("KeepFailedEvents", ["sqs:SendMessage"], [f"arn:aws:sqs:*:*:{settings.failed_queue()}"])


def _table() -> str:
    return f"arn:aws:dynamodb:*:*:table/{settings.state_table()}"


def statements(kind: str, stage: str) -> list[dict]:
    """The policy statements of one kind of function, for the stage whose environment is set."""
    if kind == "alb":
        alb = settings.alb()
        return [
            _statement("ReadAlbLogObjects", ["s3:GetObject"], [f"arn:aws:s3:::{alb.bucket}/*"]),
            _statement("ShippingProgress", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [_table()]),
            _statement(
                "ContinueLargeObjects",
                ["lambda:InvokeFunction"],
                [f"arn:aws:lambda:*:*:function:opswatch-{stage}-alb_logs"],
            ),
            _statement(
                "ShipAlbLogs",
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                [f"arn:aws:logs:*:*:log-group:{alb.log_group}", f"arn:aws:logs:*:*:log-group:{alb.log_group}:*"],
            ),
            _failed_queue(),
            _own_logs(stage),
        ]
    if kind == "alarms":
        return [
            _statement(
                "DedupAndThreads",
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                [_table()],
            ),
            # Read-only, and neither call takes resource-level permissions.
            _statement("MetricShape", ["cloudwatch:GetMetricData", "cloudwatch:GetMetricWidgetImage"], ["*"]),
            *_slack_statements(stage),
            _failed_queue(),
            _own_logs(stage),
        ]
    if kind == "logalerts":
        return [
            _statement("CooldownState", ["dynamodb:UpdateItem"], [_table()]),
            *_slack_statements(stage),
            _failed_queue(),
            _own_logs(stage),
        ]
    if kind == "monitors":
        return [
            _statement(
                "ReadAlarmsAndFilters",
                [
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:GetMetricData",
                    "logs:DescribeMetricFilters",
                    "sns:ListTopics",
                ],
                ["*"],
            ),
            *_slack_statements(stage),
            _own_logs(stage),
        ]
    if kind == "athena":
        a, alb = settings.athena(), settings.alb()
        results = a.output.removeprefix("s3://").split("/", 1)[0]
        return [
            _statement(
                "RunQueriesInOwnWorkgroup",
                [
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                ],
                [f"arn:aws:athena:*:*:workgroup/{a.workgroup}"],
            ),
            _statement(
                "ReadTheTable",
                ["glue:GetDatabase", "glue:GetTable"],
                [
                    "arn:aws:glue:*:*:catalog",
                    f"arn:aws:glue:*:*:database/{a.database}",
                    f"arn:aws:glue:*:*:table/{a.database}/alb_access_logs",
                ],
            ),
            _statement(
                "ResultsBucket",
                ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
                [f"arn:aws:s3:::{results}", f"arn:aws:s3:::{results}/*"],
            ),
            _statement(
                "ReadLogBucket",
                ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                [f"arn:aws:s3:::{alb.bucket}", f"arn:aws:s3:::{alb.bucket}/*"],
            ),
            *_slack_statements(stage),
            _own_logs(stage),
        ]
    raise ValueError(f"unknown kind of function {kind!r}")


def stages() -> list[str]:
    return sorted(json.loads((CHALICE / "config.json").read_text())["stages"])


def generate() -> dict[Path, str]:
    """Every policy file's path and text."""
    out: dict[Path, str] = {}
    for stage in stages():
        with stage_environment(stage):
            for kind in sorted(set(KIND_OF.values())):
                doc = {"Version": "2012-10-17", "Statement": statements(kind, stage)}
                out[CHALICE / f"policy-{stage}-{kind}.json"] = json.dumps(doc, indent=2) + "\n"
    return out


def stale() -> list[str]:
    """What differs between the generated policies and the files (and config.json's references)."""
    problems = []
    for path, text in generate().items():
        if not path.exists():
            problems.append(f"{path.name}: missing")
        elif path.read_text() != text:
            problems.append(f"{path.name}: out of date")
    config = json.loads((CHALICE / "config.json").read_text())
    for stage, cfg in config["stages"].items():
        for fn, kind in KIND_OF.items():
            want = f"policy-{stage}-{kind}.json"
            got = (cfg.get("lambda_functions", {}).get(fn) or {}).get("iam_policy_file")
            if got != want:
                problems.append(f"config.json: stage {stage}, function {fn} uses {got}, expected {want}")
    return problems


def write() -> list[str]:
    changed = []
    for path, text in generate().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path.name)
    return changed
