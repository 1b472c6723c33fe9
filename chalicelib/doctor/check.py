"""The result of one check, and what every check reads: the stage's settings, its place, its clients.

Checks only read (the one exception is ``--send-test``). Clients get few attempts and
short timeouts, so a missing or unreachable piece costs seconds, not minutes. Each client
records the IAM action of the call it is making, per thread: when AWS refuses a call, the
runner can say exactly which permission the check needs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from chalicelib import settings

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
STATUSES = (OK, WARN, FAIL, SKIP)
ATTEMPTS = 2
TIMEOUT_SECONDS = 8

# API operations whose IAM action has another name; the rest are service:Operation.
_ACTION_NAMES = {
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
}
_PREFIXES = {"monitoring": "cloudwatch"}  # CloudWatch's endpoint is "monitoring"; its actions "cloudwatch:"


@dataclass(frozen=True)
class Check:
    """One line of the report: a fixed name, a status, what was found, and the step that fixes it."""

    check: str
    status: str
    found: str
    fix: str = ""

    def as_dict(self) -> dict:
        return {"check": self.check, "status": self.status, "found": self.found, "fix": self.fix}


def ok(name: str, found: str) -> Check:
    return Check(name, OK, found)


def warn(name: str, found: str, fix: str) -> Check:
    return Check(name, WARN, found, fix)


def fail(name: str, found: str, fix: str) -> Check:
    return Check(name, FAIL, found, fix)


def skip(name: str, why: str, fix: str = "") -> Check:
    return Check(name, SKIP, why, fix)


def action_of(service: str, operation: str) -> str:
    """The IAM action an API call needs (``logs``, ``DescribeLogGroups`` -> ``logs:DescribeLogGroups``)."""
    prefix = _PREFIXES.get(service, service)
    return _ACTION_NAMES.get((prefix, operation), f"{prefix}:{operation}")


_current = threading.local()  # the context whose check runs in this thread
_clients: dict[tuple, object] = {}
_sessions: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def _record(model, **_kwargs) -> None:
    ctx = getattr(_current, "ctx", None)
    if ctx is not None:
        meta = model.service_model.metadata
        ctx.record(action_of(meta.get("signingName") or meta["endpointPrefix"], model.name))


def _client(service: str, region: str):
    """One client per service, Region, endpoint and key for the process: building one costs a few tenths
    of a second (its service model), so repeated runs in one process (tests, the demo) pay it once."""
    import os

    import boto3
    from botocore.config import Config

    where = (region, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_ACCESS_KEY_ID"))
    key = (service, *where)
    with _clients_lock:
        if key not in _clients:
            if where not in _sessions:  # a session caches the models it loaded: one per place
                _sessions[where] = boto3.session.Session()
            c = _sessions[where].client(
                service,
                region_name=region,
                config=Config(
                    retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
                    connect_timeout=3,
                    read_timeout=TIMEOUT_SECONDS,
                ),
            )
            c.meta.events.register("before-call", _record)
            _clients[key] = c
        return _clients[key]


@dataclass
class Context:
    """The stage being checked, where it is, and the clients that read it."""

    stage: str
    account: str
    region: str
    partition: str
    caller: str  # the caller's ARN
    load_balancers: list[dict] | None = None  # as DescribeLoadBalancers returns them; None: every ALB in the Region
    load_balancer_refs: list[str] = field(default_factory=list)  # named, not yet resolved (the lookup was refused)
    spec: object | None = None  # a loaded monitors spec (``monitors.spec.Loaded``)
    spec_path: str | None = None
    send_test: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)
    _functions: dict = field(default_factory=dict)
    actions: set[str] = field(default_factory=set)  # every IAM action the checks used
    timings: dict[str, float] = field(default_factory=dict)  # seconds per check

    def client(self, service: str):
        """A client that records, per thread, the action of the call it makes (for this context)."""
        _current.ctx = self
        return _client(service, self.region)

    def record(self, action: str) -> None:
        self._local.action = action
        with self._lock:
            self.actions.add(action)

    def last_action(self) -> str | None:
        return getattr(self._local, "action", None)

    def function_name(self, short: str) -> str:
        return f"opswatch-{self.stage}-{short}"

    def function(self, short: str, name: str | None = None) -> dict | None:
        """The deployed function's configuration (``GetFunction``), None when it does not exist; cached.

        ``name`` (a name or ARN) overrides the stage's ``opswatch-<stage>-<short>``."""
        from botocore.exceptions import ClientError

        name = name or self.function_name(short)
        with self._lock:
            if name in self._functions:
                return self._functions[name]
        try:
            conf = self.client("lambda").get_function(FunctionName=name)["Configuration"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            conf = None
        with self._lock:
            self._functions[name] = conf
        return conf

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def deploy_fix(self) -> str:
        return f"chalice deploy --stage {self.stage}"

    def env_prefix(self) -> str:
        """How a command line names the stage (``OPSWATCH_STAGE=prod opswatch ...``)."""
        return f"OPSWATCH_STAGE={self.stage} "


def function_policy(ctx: Context, short: str, name: str | None = None) -> list[dict]:
    """The statements of a function's resource policy (none when it has none)."""
    import json

    from botocore.exceptions import ClientError

    try:
        raw = ctx.client("lambda").get_policy(FunctionName=name or ctx.function_name(short))["Policy"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise
    statements = json.loads(raw).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def principal_of(statement: dict) -> str:
    p = statement.get("Principal")
    if isinstance(p, dict):
        p = p.get("Service") or p.get("AWS") or ""
    return p if isinstance(p, str) else ",".join(p or [])


def source_arn_of(statement: dict) -> str | None:
    for cond in (statement.get("Condition") or {}).values():
        if isinstance(cond, dict) and "AWS:SourceArn" in cond:
            return cond["AWS:SourceArn"]
        if isinstance(cond, dict) and "aws:SourceArn" in cond:
            return cond["aws:SourceArn"]
    return None


def stage_settings_line() -> str:
    """The stage's resolved resource names, one line, no secret value (only where the secret is kept)."""
    alb, slack, athena = settings.alb(), settings.slack(), settings.athena()
    secret = slack.secret or ("a plain value in the environment" if slack.webhook_url or slack.bot_token else "none")
    return (
        f"bucket {alb.bucket}, log group {alb.log_group}, topic {slack.alarm_topic}, "
        f"state table {settings.state_table()}, queue {settings.failed_queue()}, "
        f"Slack {slack.mode} secret {secret}, Athena {athena.workgroup}/{athena.database}"
    )
