"""Per-stage settings, read from the environment Chalice sets from ``.chalice/config.json``.

Chalice also sets a stage's environment variables while it loads ``app.py``
for ``chalice deploy``, so trigger settings (the bucket) are known at deploy time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass


class SettingsError(ValueError):
    """A stage setting that cannot be used; the message names the setting and why (the CLI says it in one line)."""


@dataclass(frozen=True)
class AlbSettings:
    bucket: str
    # One per stage, so one stage's traffic never feeds another's metric filters; may be a template
    # with {account}, {region} and {elb}, filled from each object's key (alb/destination.py).
    log_group: str
    format: str  # json | alb | metrics
    ship_filter: str | None
    key_suffix: str | None
    route_metrics: bool = False  # on with the metrics format, or OPSWATCH_ALB_ROUTE_METRICS=true
    route_limit: int = 50  # routes kept apart per load balancer and object; the rest are "other"
    route_templates: tuple[str, ...] = ()
    metrics_namespace: str = "opswatch/alb-routes"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def alb() -> AlbSettings:
    fmt = os.environ.get("OPSWATCH_ALB_FORMAT", "json")
    if fmt not in ("json", "alb", "metrics"):
        raise SettingsError(f"OPSWATCH_ALB_FORMAT must be json, alb or metrics, not {fmt!r}")
    raw_limit = os.environ.get("OPSWATCH_ALB_ROUTE_LIMIT", "50")
    try:
        limit = int(raw_limit)
    except ValueError:
        raise SettingsError(f"OPSWATCH_ALB_ROUTE_LIMIT must be a whole number, not {raw_limit!r}") from None
    if not 1 <= limit <= 1000:
        raise SettingsError(f"OPSWATCH_ALB_ROUTE_LIMIT must be between 1 and 1000, not {limit}")
    templates = os.environ.get("OPSWATCH_ALB_ROUTES", "")
    try:
        log_group = check_template(os.environ.get("OPSWATCH_ALB_LOG_GROUP") or alb_log_group())
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return AlbSettings(
        bucket=os.environ.get("OPSWATCH_ALB_BUCKET", "opswatch-alb-logs"),
        log_group=log_group,
        format=fmt,
        ship_filter=os.environ.get("OPSWATCH_ALB_SHIP_FILTER") or None,
        key_suffix=os.environ.get("OPSWATCH_ALB_KEY_SUFFIX") or None,
        route_metrics=fmt == "metrics" or _flag("OPSWATCH_ALB_ROUTE_METRICS"),
        route_limit=limit,
        route_templates=tuple(t.strip() for t in templates.split(",") if t.strip()),
        metrics_namespace=os.environ.get("OPSWATCH_ALB_METRICS_NAMESPACE") or "opswatch/alb-routes",
    )


def metrics_namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "opswatch")


@dataclass(frozen=True)
class SlackSettings:
    stage: str
    mode: str  # webhook | bot
    secret: str | None  # "secretsmanager:NAME" or "ssm:/NAME"
    webhook_url: str | None  # plain URL: the local stage only
    bot_token: str | None  # plain token: the local stage only
    api_url: str | None  # Web API base URL (the loopback Slack endpoint in local runs)
    channel: str | None
    routes: str | None  # JSON list of routes
    mention: str | None  # here | channel | a user-group id, for ALARM only
    alarm_topic: str
    graphs: bool = False  # bot mode: attach the metric's graph in the incident's thread


def slack() -> SlackSettings:
    mode = os.environ.get("OPSWATCH_SLACK_MODE", "webhook")
    if mode not in ("webhook", "bot"):
        raise SettingsError(f"OPSWATCH_SLACK_MODE must be webhook or bot, not {mode!r}")
    return SlackSettings(
        stage=stage(),
        mode=mode,
        secret=os.environ.get("OPSWATCH_SLACK_SECRET") or None,
        webhook_url=os.environ.get("OPSWATCH_SLACK_WEBHOOK_URL") or None,
        bot_token=os.environ.get("OPSWATCH_SLACK_BOT_TOKEN") or None,
        api_url=os.environ.get("OPSWATCH_SLACK_API_URL") or None,
        channel=os.environ.get("OPSWATCH_SLACK_CHANNEL") or None,
        routes=os.environ.get("OPSWATCH_SLACK_ROUTES") or None,
        mention=os.environ.get("OPSWATCH_SLACK_MENTION") or None,
        alarm_topic=os.environ.get("OPSWATCH_ALARM_TOPIC", "opswatch-alarms"),
        graphs=_flag("OPSWATCH_SLACK_GRAPHS"),
    )


def stage() -> str:
    return os.environ.get("OPSWATCH_STAGE", "local")


def alb_log_group() -> str:
    """The stage's default destination log group, ``/opswatch/<stage>/alb`` (the infra template's name)."""
    return f"/opswatch/{stage()}/alb"


def account_id() -> str | None:
    """The AWS account the stage is deployed to (``OPSWATCH_ACCOUNT_ID``): the generated policies name it."""
    return os.environ.get("OPSWATCH_ACCOUNT_ID") or None


def region() -> str | None:
    """The Region the stage is deployed to (``OPSWATCH_REGION``): the generated policies name it."""
    return os.environ.get("OPSWATCH_REGION") or None


def failed_queue() -> str:
    """The stage's SQS queue of events that failed all retries (the functions' on-failure destination)."""
    return os.environ.get("OPSWATCH_FAILED_QUEUE") or f"opswatch-{stage()}-failed"


def state_table() -> str:
    """The stage's DynamoDB state table: cooldowns, alarm deduplication and threads, ALB shipping checkpoints."""
    return os.environ.get("OPSWATCH_STATE_TABLE") or f"opswatch-{stage()}-state"


@dataclass(frozen=True)
class LogAlertSettings:
    rules_json: str | None  # OPSWATCH_LOG_ALERT_RULES: a JSON list of rules
    rules_file: str | None  # OPSWATCH_LOG_ALERT_RULES_FILE: a YAML or JSON file of rules
    disabled: tuple[str, ...]  # OPSWATCH_LOG_ALERT_DISABLE: built-in rule names, comma-separated
    cooldown_seconds: int  # OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS
    function_name: str  # the deployed log_alerts function, for `opswatch logs subscribe`
    stream: str = ""  # OPSWATCH_LOG_STREAM: the Kinesis stream behind the Logs destination (log_alerts_stream)


def log_alerts() -> LogAlertSettings:
    raw = os.environ.get("OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS", "900")
    try:
        cooldown = int(raw)
    except ValueError:
        raise SettingsError(
            f"OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS must be a whole number of seconds, not {raw!r}"
        ) from None
    if cooldown < 0:
        raise SettingsError(f"OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS must be 0 or more, not {cooldown}")
    disabled = os.environ.get("OPSWATCH_LOG_ALERT_DISABLE", "")
    return LogAlertSettings(
        rules_json=os.environ.get("OPSWATCH_LOG_ALERT_RULES") or None,
        rules_file=os.environ.get("OPSWATCH_LOG_ALERT_RULES_FILE") or None,
        disabled=tuple(n.strip() for n in disabled.split(",") if n.strip()),
        cooldown_seconds=cooldown,
        function_name=os.environ.get("OPSWATCH_LOG_ALERT_FUNCTION") or f"opswatch-{stage()}-log_alerts",
        stream=log_stream(),
    )


def log_stream() -> str:
    """The Kinesis stream member accounts' log events arrive on (the infra template's ``opswatch-<stage>-logs``)."""
    return os.environ.get("OPSWATCH_LOG_STREAM") or f"opswatch-{stage()}-logs"


@dataclass(frozen=True)
class AthenaSettings:
    database: str
    workgroup: str
    output: str  # s3:// results location
    log_prefix: str  # the ALB log prefix inside the bucket ("" when AWSLogs/ is at the top)
    report_queries: tuple[str, ...]  # the scheduled report's named queries
    # The table's account and region partitions: "enum" projects the listed values (OPSWATCH_ACCOUNTS,
    # OPSWATCH_REGIONS; default the stage's own), "injected" needs no list but every query must name both.
    projection: str = "enum"
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


def _list(name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in os.environ.get(name, "").split(",") if v.strip()))


def athena() -> AthenaSettings:
    st = stage()
    report = os.environ.get("OPSWATCH_ATHENA_REPORT", "top_5xx_paths,slowest_targets")
    projection = os.environ.get("OPSWATCH_ATHENA_PROJECTION") or "enum"
    if projection not in ("enum", "injected"):
        raise SettingsError(f"OPSWATCH_ATHENA_PROJECTION must be enum or injected, not {projection!r}")
    return AthenaSettings(
        database=os.environ.get("OPSWATCH_ATHENA_DATABASE") or f"opswatch_{st}",
        workgroup=os.environ.get("OPSWATCH_ATHENA_WORKGROUP") or f"opswatch-{st}",
        output=os.environ.get("OPSWATCH_ATHENA_OUTPUT") or f"s3://opswatch-{st}-athena-results/",
        log_prefix=os.environ.get("OPSWATCH_ALB_PREFIX", ""),
        report_queries=tuple(q.strip() for q in report.split(",") if q.strip()),
        projection=projection,
        # Without a list of its own, the table projects the accounts the stage already knows.
        accounts=_list("OPSWATCH_ACCOUNTS")
        or tuple(dict.fromkeys(a for a in (account_id(), *_list("OPSWATCH_MEMBER_ACCOUNTS")) if a)),
        regions=_list("OPSWATCH_REGIONS"),
    )


def alarm_event_pattern() -> dict:
    """The EventBridge rule for alarm state changes, narrowed to ``OPSWATCH_ALARM_NAME_PREFIXES`` if set."""
    pattern: dict = {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}
    prefixes = [p.strip() for p in os.environ.get("OPSWATCH_ALARM_NAME_PREFIXES", "").split(",") if p.strip()]
    if prefixes:
        pattern["detail"] = {"alarmName": [{"prefix": p} for p in prefixes]}
    return pattern


MAX_AUDIT_TARGETS_CHARS = 64 * 1024  # 200 targets take about 25 KB; Lambda's environment holds 4 KB in all


def audit_targets() -> list:
    """The accounts the daily audit reaches through their roles (``OPSWATCH_AUDIT_TARGETS``), checked.

    A JSON list of ``{"account", "region", "role_arn", "name"}``, the spec's ``targets:``
    (``opswatch monitors targets --spec FILE`` prints it). Unset: the function's own account only.
    The generated policy grants ``sts:AssumeRole`` on exactly these role ARNs.
    """
    from chalicelib import boundedjson
    from chalicelib.targets import TargetError, targets

    raw = os.environ.get("OPSWATCH_AUDIT_TARGETS", "").strip()
    if not raw:
        return []
    try:
        data = boundedjson.loads(raw, max_chars=MAX_AUDIT_TARGETS_CHARS, max_values=2000, max_depth=4)
        return targets(data, "OPSWATCH_AUDIT_TARGETS")
    except TargetError:
        raise
    except ValueError as exc:
        raise ValueError(f"OPSWATCH_AUDIT_TARGETS is not a JSON list of targets: {str(exc)[:200]}") from None


@dataclass(frozen=True)
class OrgSettings:
    """Which accounts' alarm events are accepted, and what each account is called."""

    member_accounts: frozenset[str]  # OPSWATCH_MEMBER_ACCOUNTS: 12-digit ids, comma-separated
    organization_id: str | None  # OPSWATCH_ORGANIZATION_ID: o-xxxxxxxxxx
    account_names: dict[str, str]  # OPSWATCH_ACCOUNT_NAMES: a JSON map of account id to name
    observability_sink: bool | None  # OPSWATCH_OBSERVABILITY_SINK: true/false; unset: ask OAM (ListSinks)


ACCOUNT_ID = re.compile(r"[0-9]{12}")  # ASCII digits: \d takes any script's
_ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")
MAX_ACCOUNT_NAMES = 10_000  # an organization's default quota is 10 accounts; the largest hold a few thousand
MAX_ACCOUNT_NAME = 50  # AWS Organizations' account names are at most 50 characters


def _account_names(raw: str) -> dict[str, str]:
    from chalicelib import boundedjson

    if len(raw) > MAX_ACCOUNT_NAMES * 100:
        raise ValueError(f"OPSWATCH_ACCOUNT_NAMES is longer than {MAX_ACCOUNT_NAMES * 100:,} characters")
    try:
        names = boundedjson.loads(raw, max_values=2 * MAX_ACCOUNT_NAMES + 1)
    except ValueError as exc:
        raise ValueError(f"OPSWATCH_ACCOUNT_NAMES is not JSON: {exc}") from None
    if not isinstance(names, dict):
        raise ValueError('OPSWATCH_ACCOUNT_NAMES must be a JSON object of account id to name, {"111122223333": "shop"}')
    for k, v in names.items():
        if not ACCOUNT_ID.fullmatch(k):
            raise ValueError(f"OPSWATCH_ACCOUNT_NAMES: {k[:40]!r} is not an account id (12 digits)")
        if not isinstance(v, str) or not v.strip() or len(v) > MAX_ACCOUNT_NAME or not v.isprintable():
            raise ValueError(
                f"OPSWATCH_ACCOUNT_NAMES: the name of {k} must be printable text of 1 to {MAX_ACCOUNT_NAME} characters"
            )
    return {k: v.strip() for k, v in names.items()}


def org() -> OrgSettings:
    members = [a.strip() for a in os.environ.get("OPSWATCH_MEMBER_ACCOUNTS", "").split(",") if a.strip()]
    for a in members:
        if not ACCOUNT_ID.fullmatch(a):
            raise ValueError(f"OPSWATCH_MEMBER_ACCOUNTS: {a[:40]!r} is not an account id (12 digits)")
    org_id = os.environ.get("OPSWATCH_ORGANIZATION_ID", "").strip() or None
    if org_id and not _ORG_ID.fullmatch(org_id):
        raise ValueError(f"OPSWATCH_ORGANIZATION_ID must look like o-a1b2c3d4e5, not {org_id[:40]!r}")
    sink = os.environ.get("OPSWATCH_OBSERVABILITY_SINK", "").strip().lower()
    if sink not in ("", "true", "false"):
        raise ValueError(f"OPSWATCH_OBSERVABILITY_SINK must be true or false (unset: ask OAM), not {sink[:40]!r}")
    raw_names = os.environ.get("OPSWATCH_ACCOUNT_NAMES", "").strip()
    return OrgSettings(
        member_accounts=frozenset(members),
        organization_id=org_id,
        account_names=_account_names(raw_names) if raw_names else {},
        observability_sink={"true": True, "false": False}.get(sink),
    )


@dataclass(frozen=True)
class SlackActionSettings:
    responders: tuple[str, ...]  # OPSWATCH_SLACK_RESPONDERS: user ids (U…, W…) and user-group ids (S…)
    dispatch: str  # OPSWATCH_SLACK_ACTIONS_DISPATCH: lambda (an asynchronous invocation) | inline (same process)
    worker_function: str  # the slack_actions worker the endpoint invokes
    signing_secret: str | None  # OPSWATCH_SLACK_SIGNING_SECRET: the local stage only
    scheduler_role_arn: str | None  # OPSWATCH_SCHEDULER_ROLE_ARN: the role the re-enabling schedules run as
    schedule_group: str  # opswatch-<stage>: the EventBridge Scheduler group of the re-enabling schedules
    log_groups: tuple[str, ...]  # OPSWATCH_SLACK_LOG_GROUPS: what Recent logs may query (names, or prefixes*)


_SLACK_ID = re.compile(r"[UWS][A-Z0-9]{2,20}")


def slack_actions() -> SlackActionSettings:
    raw = os.environ.get("OPSWATCH_SLACK_RESPONDERS", "")
    responders = tuple(r.strip() for r in raw.split(",") if r.strip())
    for r in responders:
        if not _SLACK_ID.fullmatch(r):
            raise ValueError(
                "OPSWATCH_SLACK_RESPONDERS lists Slack user ids (U…, W…) and user-group ids (S…), "
                f"comma-separated; {r[:40]!r} is neither"
            )
    dispatch = os.environ.get("OPSWATCH_SLACK_ACTIONS_DISPATCH", "lambda")
    if dispatch not in ("lambda", "inline"):
        raise ValueError(f"OPSWATCH_SLACK_ACTIONS_DISPATCH must be lambda or inline, not {dispatch!r}")
    st = stage()
    groups = os.environ.get("OPSWATCH_SLACK_LOG_GROUPS") or f"/opswatch/{st}/*"
    return SlackActionSettings(
        responders=responders,
        dispatch=dispatch,
        worker_function=os.environ.get("OPSWATCH_SLACK_ACTIONS_FUNCTION") or f"opswatch-{st}-slack_actions",
        signing_secret=os.environ.get("OPSWATCH_SLACK_SIGNING_SECRET") or None,
        scheduler_role_arn=os.environ.get("OPSWATCH_SCHEDULER_ROLE_ARN") or None,
        schedule_group=f"opswatch-{st}",
        log_groups=tuple(g.strip() for g in groups.split(",") if g.strip()),
    )


def slack_buttons() -> bool:
    """``OPSWATCH_SLACK_ACTIONS``: ALARM and log-alert messages carry the Acknowledge, Mute and Recent logs buttons."""
    return _flag("OPSWATCH_SLACK_ACTIONS")


# The ALB destination: one log group, or a template filled from each object's key (alb/destination.py).
# Here, beside the setting, so every function checks it at start without loading the ALB flow.
PLACEHOLDERS = ("account", "region", "elb")
MAX_NAME = 512
LOG_GROUP_NAME = re.compile(r"[._/#A-Za-z0-9-]{1,512}")  # CreateLogGroup's pattern
_FIELD = re.compile(r"\{([^{}]*)\}")
_NOT_IN_A_NAME = re.compile(r"[^._/#A-Za-z0-9-]")


def placeholders(template: str) -> list[str]:
    return _FIELD.findall(template)


def is_template(template: str) -> bool:
    return bool(placeholders(template))


def check_template(template: str, setting: str = "OPSWATCH_ALB_LOG_GROUP") -> str:
    """The template when every placeholder is known and the rest is a log group name's text; else ValueError."""
    unknown = [p for p in placeholders(template) if p not in PLACEHOLDERS]
    if unknown:
        raise ValueError(
            f"{setting} {template[:600]!r}: unknown placeholder {{{unknown[0][:40]}}}; "
            f"only {', '.join('{' + p + '}' for p in PLACEHOLDERS)} are filled in (from the object's key)"
        )
    fixed = _FIELD.sub("", template)
    if not template or "{" in fixed or "}" in fixed or (fixed and not LOG_GROUP_NAME.fullmatch(fixed)):
        raise ValueError(
            f"{setting} {template[:600]!r} is not a log group name: letters, digits and . _ - / # only, "
            "at most 512, with {account}, {region} or {elb} in braces"
        )
    if is_template(template) and not any(c.isalnum() for c in template.split("{", 1)[0]):
        raise ValueError(
            f"{setting} {template[:600]!r} needs a fixed prefix before the first placeholder, such as "
            "/opswatch/alb/{account}: each placeholder is * in the function's policy, which would take every log group"
        )
    return template


def fill(template: str, values: dict[str, str]) -> str:
    """The template with each placeholder's value (characters no log group takes become ``_``); ValueError when
    the result is no log group name (empty, or over 512 characters)."""
    name = _FIELD.sub(lambda m: _NOT_IN_A_NAME.sub("_", values.get(m.group(1)) or ""), template)
    if not LOG_GROUP_NAME.fullmatch(name):
        raise ValueError(f"the log group {name[:80]!r} filled in from the key is not a log group name (at most 512)")
    return name


def policy_pattern(template: str) -> str:
    """The template as an IAM resource pattern: each placeholder becomes ``*``."""
    return _FIELD.sub("*", template)
