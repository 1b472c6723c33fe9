"""Run every check concurrently; a refusal becomes ``skip``, any other error a ``fail`` with its reason.

One check's trouble never stops the others: AccessDenied says which permission the
check needs, a malformed answer or an unexpected error is reported with its reason
(secrets redacted), never as a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from chalicelib.doctor import alarmflow, albflow, athenaflow, logflow, monitorsflow, setup, slackflow, storage
from chalicelib.doctor.check import FAIL, SKIP, Check, Context

DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
    "UnauthorizedException",
    "NotAuthorized",
}

# (flow, [(check name, function)]), in the order the report shows them; the names are fixed.
FLOWS: list[tuple[str, list[tuple[str, Callable[[Context], Check]]]]] = [
    ("setup", [("identity", setup.identity), ("stack", setup.stack)]),
    (
        "ALB access logs",
        [
            ("bucket-notification", albflow.bucket_notification),
            ("bucket-policy", albflow.bucket_policy),
            ("access-logs", albflow.access_logs),
            ("log-group", albflow.log_group),
        ],
    ),
    ("Slack", [("slack-secret", slackflow.slack_secret)]),
    (
        "alarms",
        [
            ("alarm-topic", alarmflow.alarm_topic),
            ("alarm-rule", alarmflow.alarm_rule),
            ("alarms-audit", alarmflow.alarms_audit),
        ],
    ),
    ("log alerts", [("log-subscriptions", logflow.log_subscriptions)]),
    (
        "state and failures",
        [
            ("state-table", storage.state_table),
            ("failed-queue", storage.failed_queue),
            ("function-errors", storage.function_errors),
        ],
    ),
    ("Athena", [("athena", athenaflow.athena)]),
    ("monitors as code", [("monitors", monitorsflow.monitors)]),
]
NAMES = [name for _, checks in FLOWS for name, _ in checks]
WORKERS = 16


def run_one(ctx: Context, name: str, fn: Callable[[Context], Check]) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.redact import redact

    started = time.monotonic()
    try:
        result = fn(ctx)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in DENIED:
            action = ctx.last_action() or exc.operation_name
            return Check(
                name,
                SKIP,
                f"cannot check, needs {action}",
                "grant it to these credentials (`opswatch policies --doctor` prints a read-only policy with it)",
            )
        message = redact(exc.response.get("Error", {}).get("Message", "") or str(exc))
        return Check(name, FAIL, f"{exc.operation_name} failed: {code}: {message}"[:500], "see the AWS error above")
    except BotoCoreError as exc:
        return Check(name, FAIL, redact(f"AWS call failed: {exc}")[:500], "check the network and the endpoint")
    except Exception as exc:  # a malformed answer must not stop the other checks
        return Check(
            name, FAIL, redact(f"unexpected answer: {type(exc).__name__}: {exc}")[:500], "see the reason above"
        )
    finally:
        ctx.timings[name] = time.monotonic() - started
    return result if result.check == name else Check(name, result.status, result.found, result.fix)


def run(ctx: Context) -> list[Check]:
    """Every check's result, in report order."""
    todo = [(name, fn) for _, checks in FLOWS for name, fn in checks]
    with ThreadPoolExecutor(min(WORKERS, len(todo))) as pool:
        return list(pool.map(lambda item: run_one(ctx, *item), todo))


def flow_of(name: str) -> str:
    return next(flow for flow, checks in FLOWS if any(n == name for n, _ in checks))
