"""Each function's IAM policy, generated per stage from one description: least privilege that stays so.

``.chalice/policy-<stage>-<kind>.json`` are outputs of this module, not sources:
``opswatch policies --write`` regenerates them and a test fails when one is out
of date. Resource names come from the stage's own settings (``.chalice/config.json``
read through ``chalicelib.settings``), so a renamed bucket or queue changes the
policies with it.

Every ARN names the stage's account and Region (``OPSWATCH_ACCOUNT_ID`` and
``OPSWATCH_REGION`` in the stage's settings, recorded by ``opswatch policies
--write --stage S --account ID --region R``): a policy file is static JSON that
``chalice deploy`` reads as it is. A stage without them gets no policy files,
so ``chalice deploy`` refuses it instead of deploying roles that name no account.

The functions share the stage's state table; a ``dynamodb:LeadingKeys`` condition
keeps each to the key prefixes it writes, so an alarm function can never touch
an ALB shipping checkpoint, nor the ALB function an alarm's thread.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
    "log_alerts_stream": "logstream",
    "monitors_audit": "monitors",
    "athena_report": "athena",
    "slack_actions": "slackactions",
}
# The REST API's function (Chalice's ``api_handler``, named ``opswatch-<stage>``): the Slack actions route.
API_HANDLER, API_KIND = "api_handler", "slackapi"
KINDS = tuple(sorted({*KIND_OF.values(), API_KIND}))
_ACCOUNT = settings.ACCOUNT_ID
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def kind_of(function: str) -> str:
    """The policy kind of a function of ``.chalice/config.json`` (``api_handler`` included)."""
    return API_KIND if function == API_HANDLER else KIND_OF[function]


class PolicyError(ValueError):
    """A stage's account or Region is not usable; the message names the stage and the setting."""


@dataclass(frozen=True)
class Where:
    """The account and Region a stage is deployed to, and their partition (``aws``, ``aws-cn``...)."""

    account: str
    region: str
    partition: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


def check_account(account: str) -> str:
    if not _ACCOUNT.fullmatch(account):
        raise PolicyError(f"an AWS account id is 12 digits, not {account!r}")
    return account


def check_region(region: str) -> str:
    """The Region's partition; refuses a name that is not a Region AWS knows."""
    from boto3.session import Session
    from botocore.exceptions import UnknownRegionError

    if not _REGION.fullmatch(region):
        raise PolicyError(f"{region!r} is not a Region name (e.g. eu-west-1)")
    try:
        return Session().get_partition_for_region(region)
    except UnknownRegionError:
        raise PolicyError(f"{region!r} is not a Region AWS knows") from None


def where(stage: str) -> Where | None:
    """Where the stage whose environment is set is deployed; None when neither setting is there."""
    account, region = settings.account_id(), settings.region()
    if account is None and region is None:
        return None
    for name, value in (("OPSWATCH_ACCOUNT_ID", account), ("OPSWATCH_REGION", region)):
        if value is None:
            raise PolicyError(f"stage {stage}: {name} is missing in .chalice/config.json (both are needed)")
    try:
        check_account(account)
    except PolicyError as exc:
        raise PolicyError(f"stage {stage}: OPSWATCH_ACCOUNT_ID in .chalice/config.json: {exc}") from None
    try:
        partition = check_region(region)
    except PolicyError as exc:
        raise PolicyError(f"stage {stage}: OPSWATCH_REGION in .chalice/config.json: {exc}") from None
    return Where(account, region, partition)


@contextmanager
def stage_environment(stage: str, **overrides: str) -> Iterator[dict]:
    """The environment Chalice gives the stage's functions (and ``overrides``), set while the block runs."""
    config = json.loads((CHALICE / "config.json").read_text())
    env = {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}
    env.setdefault("OPSWATCH_STAGE", stage)
    env.update(overrides)
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


def _statement(sid: str, actions: list[str], resources: list[str], condition: dict | None = None) -> dict:
    st = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        st["Condition"] = condition
    return st


def key_prefixes(kind: str) -> tuple[str, ...]:
    """The state-table key prefixes a kind of function writes, from the modules that write them."""
    from chalicelib.alarms import accounts, dedup, threads
    from chalicelib.alb import checkpoint
    from chalicelib.logalerts import cooldown, shardprogress
    from chalicelib.slackactions import mute, once

    return {
        "alb": (checkpoint.PREFIX,),  # shipping checkpoints
        # Powertools idempotency records; incident threads; account names and membership from Organizations;
        # Slack mutes (an "until OK" one is ended by the OK)
        "alarms": (dedup.KEY_PREFIX + "#", threads.PREFIX, accounts.PREFIX, mute.PREFIX),
        "logalerts": (cooldown.PREFIX,),  # cooldowns per (account, log group, rule)
        "logstream": (cooldown.PREFIX, shardprogress.PREFIX),  # the same cooldowns; what each shard handled
        "slackapi": (once.PREFIX,),  # the clicks' once-records
        # once-records; the incident's acknowledgement and mute (its thread); a log alert held back (cooldown);
        # an alarm's mute (who, until when, whether opswatch disabled its actions)
        "slackactions": (once.PREFIX, threads.PREFIX, cooldown.PREFIX, mute.PREFIX),
        "monitors": (mute.PREFIX,),  # the audit reads who muted an alarm from Slack, and until when
    }.get(kind, ())


def _state_table(w: Where, kind: str, sid: str, actions: list[str]) -> dict:
    # LeadingKeys is the partition key of the item a GetItem, PutItem, UpdateItem or DeleteItem names (each
    # call names one); AWS requires ForAllValues with it. ForAllValues is also true when the key is absent, so
    # the Null test makes the key mandatory: a call that names no item is refused.
    return _statement(
        sid,
        actions,
        [w.arn("dynamodb", f"table/{settings.state_table()}")],
        {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [p + "*" for p in key_prefixes(kind)]},
            "Null": {"dynamodb:LeadingKeys": "false"},
        },
    )


def _in_region(w: Where) -> dict:
    # For "*" resources: the account is the role's own (these services have no resource policies to reach
    # another), and this pins the Region.
    return {"StringEquals": {"aws:RequestedRegion": w.region}}


def _owned(w: Where) -> dict:
    # S3 ARNs carry no account: a bucket of the same name in another account is refused by this.
    return {"StringEquals": {"aws:ResourceAccount": w.account}}


def _audit_targets() -> list[dict]:
    """AssumeRole on exactly the roles of the stage's ``OPSWATCH_AUDIT_TARGETS``, none without it."""
    try:
        targets = settings.audit_targets()
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
    roles = sorted({t.role_arn for t in targets})
    return [_statement("AuditTargets", ["sts:AssumeRole"], roles)] if roles else []


def _slack_statements(w: Where, stage: str) -> list[dict]:
    """Read the stage's Slack secret: the configured one, and the default name in the other store."""
    default = f"opswatch/{stage}/slack"
    kind, _, ref = (settings.slack().secret or f"secretsmanager:{default}").partition(":")
    ref = ref if kind == "secretsmanager" or ref.startswith("arn:") else ref.lstrip("/")
    names = {"secretsmanager": default, "ssm": default, kind: ref}
    # Secrets Manager ends a secret's ARN with "-" and six random characters: "??????" matches exactly
    # those, where "*" would also match every secret whose name starts with this one's.
    sm, ssm = names["secretsmanager"], names["ssm"]
    return [
        _statement(
            "ReadSlackSecret",
            ["secretsmanager:GetSecretValue"],
            [sm if sm.startswith("arn:") else w.arn("secretsmanager", f"secret:{sm}-??????")],
        ),
        _statement(
            "ReadSlackParameter",
            ["ssm:GetParameter"],
            [ssm if ssm.startswith("arn:") else w.arn("ssm", f"parameter/{ssm}")],
        ),
    ]


def _own_logs(w: Where, stage: str, kind: str) -> dict:
    groups = [f"log-group:/aws/lambda/opswatch-{stage}-{fn}" for fn, k in sorted(KIND_OF.items()) if k == kind]
    if kind == API_KIND:  # Chalice names the API's function after the app and the stage alone
        groups = [f"log-group:/aws/lambda/opswatch-{stage}"]
    return _statement(
        "OwnLambdaLogs",
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        [w.arn("logs", g + suffix) for g in groups for suffix in ("", ":*")],
    )


def _organization_statements(w: Where) -> list[dict]:
    """Alarms of other accounts: their names (and membership) from Organizations, whether this account is a sink.

    DescribeAccount only with an organization id in the stage's settings (the call answers only in the
    management account or a delegated administrator); ListSinks only when the stage does not say
    whether it is a sink (``OPSWATCH_OBSERVABILITY_SINK``). Cross-account GetMetricData needs nothing more:
    a sink reads its source accounts' metrics with the MetricShape statement.
    """
    org = settings.org()
    out = []
    if org.organization_id:
        out.append(
            _statement(
                "AccountNames",
                ["organizations:DescribeAccount"],
                [f"arn:{w.partition}:organizations::*:account/{org.organization_id}/*"],
            )
        )
    if org.observability_sink is None:
        out.append(_statement("IsMonitoringSink", ["oam:ListSinks"], ["*"], _in_region(w)))
    return out


def _failed_queue(w: Where) -> dict:
    # Lambda sends an event that failed every retry to the on-failure destination with the function's role.
    return _statement("KeepFailedEvents", ["sqs:SendMessage"], [w.arn("sqs", settings.failed_queue())])


def statements(kind: str, stage: str, w: Where) -> list[dict]:
    """The policy statements of one kind of function, for the stage whose environment is set."""
    if kind == "alb":
        from chalicelib.settings import policy_pattern

        alb = settings.alb()
        group = policy_pattern(alb.log_group)
        return [
            _statement("ReadAlbLogObjects", ["s3:GetObject"], [f"arn:{w.partition}:s3:::{alb.bucket}/*"], _owned(w)),
            _state_table(w, kind, "ShippingProgress", ["dynamodb:GetItem", "dynamodb:UpdateItem"]),
            _statement(
                "ContinueLargeObjects",
                ["lambda:InvokeFunction"],
                [w.arn("lambda", f"function:opswatch-{stage}-alb_logs")],
            ),
            # A templated group (/opswatch/alb/{account}) is a pattern: each placeholder becomes "*". Groups are
            # created on first use with the stage's tag, which CreateLogGroup checks as logs:TagResource.
            _statement(
                "ShipAlbLogs",
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:TagResource"],
                [w.arn("logs", f"log-group:{group}"), w.arn("logs", f"log-group:{group}:*")],
            ),
            _failed_queue(w),
            _own_logs(w, stage, kind),
        ]
    if kind == "alarms":
        return [
            _state_table(
                w,
                kind,
                "DedupAndThreads",
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            ),
            # Read-only, and neither call takes a resource-level permission.
            _statement(
                "MetricShape", ["cloudwatch:GetMetricData", "cloudwatch:GetMetricWidgetImage"], ["*"], _in_region(w)
            ),
            # The OK of an alarm muted "until OK" from Slack re-enables its actions (only if opswatch disabled them).
            _statement(
                "EndMuteUntilOk",
                ["cloudwatch:DescribeAlarms", "cloudwatch:EnableAlarmActions"],
                _mutable_alarms(w),
            ),
            *_organization_statements(w),
            *_slack_statements(w, stage),
            _failed_queue(w),
            _own_logs(w, stage, kind),
        ]
    if kind == "logalerts":
        return [
            _state_table(w, kind, "CooldownState", ["dynamodb:UpdateItem"]),
            *_slack_statements(w, stage),
            _failed_queue(w),
            _own_logs(w, stage, kind),
        ]
    if kind == "logstream":
        return [
            # What Lambda's event source mapping does with the function's role (AWSLambdaKinesisExecutionRole's
            # actions), on the stage's stream only; ListStreams takes no resource.
            _statement(
                "ReadLogStream",
                [
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                    "kinesis:SubscribeToShard",
                ],
                [w.arn("kinesis", f"stream/{settings.log_stream()}")],
            ),
            _statement("ListStreams", ["kinesis:ListStreams"], ["*"], _in_region(w)),
            _state_table(
                w,
                kind,
                "CooldownAndShardProgress",
                ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
            ),
            *_slack_statements(w, stage),
            _failed_queue(w),  # the event source mapping's on-failure destination
            _own_logs(w, stage, kind),
        ]
    if kind == "monitors":
        return [
            # The audit reads every alarm and metric filter of the account in the Region.
            _statement(
                "ReadAlarmsAndFilters",
                ["cloudwatch:DescribeAlarms", "logs:DescribeMetricFilters"],
                [w.arn("cloudwatch", "alarm:*"), w.arn("logs", "log-group:*")],
            ),
            # Neither takes a resource-level permission.
            _statement("ReadMetricsAndTopics", ["cloudwatch:GetMetricData", "sns:ListTopics"], ["*"], _in_region(w)),
            _state_table(w, kind, "ReadSlackMutes", ["dynamodb:GetItem"]),
            *_audit_targets(),
            *_slack_statements(w, stage),
            _own_logs(w, stage, kind),
        ]
    if kind == "athena":
        a, alb = settings.athena(), settings.alb()
        results = a.output.removeprefix("s3://").split("/", 1)[0]
        s3 = f"arn:{w.partition}:s3:::"
        return [
            _statement(
                "RunQueriesInOwnWorkgroup",
                [
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                ],
                [w.arn("athena", f"workgroup/{a.workgroup}")],
            ),
            _statement(
                "ReadTheTable",
                ["glue:GetDatabase", "glue:GetTable"],
                [
                    w.arn("glue", "catalog"),
                    w.arn("glue", f"database/{a.database}"),
                    w.arn("glue", f"table/{a.database}/alb_access_logs"),
                ],
            ),
            _statement(
                "ResultsBucket",
                ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
                [f"{s3}{results}", f"{s3}{results}/*"],
                _owned(w),
            ),
            _statement(
                "ReadLogBucket",
                ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                [f"{s3}{alb.bucket}", f"{s3}{alb.bucket}/*"],
                _owned(w),
            ),
            *_slack_statements(w, stage),
            _own_logs(w, stage, kind),
        ]
    if kind == API_KIND:
        return [
            *_slack_statements(w, stage),  # the signing secret; the bot token to look user groups up
            _state_table(w, kind, "ClaimClicksOnce", ["dynamodb:PutItem", "dynamodb:UpdateItem"]),
            _statement(
                "StartTheWorker",
                ["lambda:InvokeFunction"],
                [w.arn("lambda", f"function:{settings.slack_actions().worker_function}")],
            ),
            _own_logs(w, stage, kind),
        ]
    if kind == "slackactions":
        return _slack_actions_statements(w, stage)
    raise ValueError(f"unknown kind of function {kind!r}")


def _mutable_alarms(w: Where) -> list[str]:
    """The alarms opswatch posts about, so may mute: all of the account and Region, or OPSWATCH_ALARM_NAME_PREFIXES."""
    prefixes = [p.strip() for p in os.environ.get("OPSWATCH_ALARM_NAME_PREFIXES", "").split(",") if p.strip()]
    return [w.arn("cloudwatch", f"alarm:{p}*") for p in prefixes] or [w.arn("cloudwatch", "alarm:*")]


def scheduler_role_name(stage: str) -> str:
    """The role the re-enabling schedules run as (``infra/opswatch-resources.yaml``): it may only invoke the worker."""
    return f"opswatch-{stage}-scheduler"


def _slack_actions_statements(w: Where, stage: str) -> list[dict]:
    cfg = settings.slack_actions()
    role = cfg.scheduler_role_arn or f"arn:{w.partition}:iam::{w.account}:role/{scheduler_role_name(stage)}"
    groups = [w.arn("logs", f"log-group:{g}") for g in cfg.log_groups]
    return [
        # Mute and its re-enabling: the alarms opswatch posts about (all of the account and Region, or those
        # named with OPSWATCH_ALARM_NAME_PREFIXES) may be muted from their message.
        _statement(
            "MuteAlarms",
            ["cloudwatch:DisableAlarmActions", "cloudwatch:EnableAlarmActions", "cloudwatch:DescribeAlarms"],
            _mutable_alarms(w),
        ),
        _statement(
            "ReenableLater",
            # Update: a new mute of the same alarm moves its schedule.
            [
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                "scheduler:DeleteSchedule",
                "scheduler:GetSchedule",
            ],
            [w.arn("scheduler", f"schedule/{cfg.schedule_group}/*")],
        ),
        _statement(
            "PassTheSchedulerRole",
            ["iam:PassRole"],
            [role],
            {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        ),
        # Recent logs: StartQuery and GetQueryResults name the log groups; StopQuery takes no resource.
        _statement("QueryLogs", ["logs:StartQuery", "logs:GetQueryResults"], groups),
        _statement("StopOwnQueries", ["logs:StopQuery"], ["*"], _in_region(w)),
        # The metric filters behind an alarm; a log group whose name a button had to cut, found by its prefix.
        _statement(
            "ReadFilterOfAlarm",
            ["logs:DescribeMetricFilters", "logs:DescribeLogGroups"],
            [w.arn("logs", "log-group:*")],
        ),
        _state_table(
            w,
            "slackactions",
            "ClicksAndIncidents",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        ),
        *_slack_statements(w, stage),
        _failed_queue(w),
        _own_logs(w, stage, "slackactions"),
    ]


def stages() -> list[str]:
    return sorted(json.loads((CHALICE / "config.json").read_text())["stages"])


def path_of(stage: str, kind: str) -> Path:
    return CHALICE / f"policy-{stage}-{kind}.json"


def stage_files(stage: str) -> dict[Path, str] | None:
    """The stage's policy files and their text; None when its account and Region are not set."""
    with stage_environment(stage):
        w = where(stage)
        if w is None:
            return None
        return {
            path_of(stage, kind): json.dumps(
                {"Version": "2012-10-17", "Statement": statements(kind, stage, w)}, indent=2
            )
            + "\n"
            for kind in KINDS
        }


def generate() -> dict[Path, str]:
    """Every policy file's path and text, for the stages whose account and Region are set."""
    out: dict[Path, str] = {}
    for stage in stages():
        out.update(stage_files(stage) or {})
    return out


def unplaced() -> list[str]:
    """The stages with no account and Region yet: no policy files, so no deploy."""
    out = []
    for stage in stages():
        with stage_environment(stage):
            if settings.account_id() is None and settings.region() is None:
                out.append(stage)
    return out


def _how_to_place(stage: str) -> str:
    return f"opswatch policies --write --stage {stage} --account ACCOUNT_ID --region REGION"


def stale() -> list[str]:
    """What differs between the generated policies and the files (and config.json's references)."""
    problems = []
    for stage in stages():
        try:
            files = stage_files(stage)
        except PolicyError as exc:
            problems.append(str(exc))
            continue
        if files is None:
            problems += [
                f"{p.name}: stage {stage} has no account and Region; `{_how_to_place(stage)}`"
                for p in (path_of(stage, kind) for kind in KINDS)
                if p.exists()
            ]
            continue
        for path, text in files.items():
            if not path.exists():
                problems.append(f"{path.name}: missing")
            elif path.read_text() != text:
                problems.append(f"{path.name}: out of date")
    config = json.loads((CHALICE / "config.json").read_text())
    for stage, cfg in config["stages"].items():
        for fn in [*KIND_OF, API_HANDLER]:
            kind = kind_of(fn)
            want = f"policy-{stage}-{kind}.json"
            got = (cfg.get("lambda_functions", {}).get(fn) or {}).get("iam_policy_file")
            if got != want:
                problems.append(f"config.json: stage {stage}, function {fn} uses {got}, expected {want}")
    return problems


def write() -> list[str]:
    """Write the files that differ; remove those of a stage without account and Region. Returns what changed."""
    changed = []
    for stage in stages():
        files = stage_files(stage)
        if files is None:
            for kind in KINDS:
                if path_of(stage, kind).exists():
                    path_of(stage, kind).unlink()
                    changed.append(f"{path_of(stage, kind).name} (removed: stage {stage} has no account and Region)")
            continue
        for path, text in files.items():
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                changed.append(path.name)
    return changed


def place(stage: str, account: str, region: str) -> None:
    """Record where ``stage`` is deployed (``OPSWATCH_ACCOUNT_ID``, ``OPSWATCH_REGION``) in config.json."""
    check_account(account)
    check_region(region)
    path = CHALICE / "config.json"
    config = json.loads(path.read_text())
    if stage not in config["stages"]:
        raise PolicyError(f"no stage {stage!r} in .chalice/config.json (stages: {', '.join(sorted(config['stages']))})")
    env = config["stages"][stage].setdefault("environment_variables", {})
    env["OPSWATCH_ACCOUNT_ID"] = account
    env["OPSWATCH_REGION"] = region
    path.write_text(json.dumps(config, indent=2) + "\n")
