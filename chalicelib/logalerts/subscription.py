"""Subscribe log groups to the log_alerts function, and unsubscribe them.

Subscribing adds the invoke permission for ``logs.amazonaws.com`` scoped to the
log group's ARN (CloudWatch checks it can invoke the function when the filter
is put), then creates or updates the filter ``opswatch-log-alerts`` with the
pattern derived from the rules. AWS allows two subscription filters per log
group: when both are taken by others, nothing is changed and the error says
which they are. Running it again with the same rules changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

FILTER_NAME = "opswatch-log-alerts"
MAX_FILTERS = 2  # subscription filters per log group (AWS quota)


class SubscriptionError(RuntimeError):
    """The subscription could not be made as asked; nothing was changed for this log group."""


@dataclass(frozen=True)
class Function:
    name: str
    arn: str
    account: str
    region: str
    partition: str


def resolve_function(lam, name_or_arn: str) -> Function:
    try:
        arn = lam.get_function(FunctionName=name_or_arn)["Configuration"]["FunctionArn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            raise SubscriptionError(
                f"no Lambda function {name_or_arn!r}: deploy opswatch (chalice deploy --stage STAGE) or pass --function"
            ) from None
        raise
    parts = arn.split(":")
    return Function(parts[6], arn, parts[4], parts[3], parts[1])


def statement_id(group: str) -> str:
    """One permission statement per log group (ids allow letters, digits, - and _)."""
    return "opswatch-logs-" + hashlib.sha256(group.encode()).hexdigest()[:24]


def group_arn(fn: Function, group: str) -> str:
    return f"arn:{fn.partition}:logs:{fn.region}:{fn.account}:log-group:{group}:*"


def _has_permission(lam, fn: Function, sid: str) -> bool:
    try:
        policy = json.loads(lam.get_policy(FunctionName=fn.arn)["Policy"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return any(st.get("Sid") == sid for st in policy.get("Statement", []))


def _filters(logs, group: str) -> tuple[dict | None, list[str]]:
    """opswatch's subscription filter on ``group`` (or None) and the names of the others there."""
    try:
        filters = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            raise SubscriptionError(f"log group {group!r} does not exist") from None
        raise
    ours = next((f for f in filters if f["filterName"] == FILTER_NAME), None)
    return ours, [f["filterName"] for f in filters if f["filterName"] != FILTER_NAME]


def _ours(logs, group: str) -> dict | None:
    """opswatch's filter on ``group`` (None: none yet, and there is room for it); raises ``SubscriptionError``."""
    ours, others = _filters(logs, group)
    if ours is None and len(others) >= MAX_FILTERS:
        raise SubscriptionError(
            f"log group {group!r} already has {len(others)} subscription filters ({', '.join(others)}) and AWS "
            f"allows {MAX_FILTERS}: remove one, or deliver that one to opswatch too; nothing was changed"
        )
    return ours


def subscribe_destination(logs, group: str, destination_arn: str, pattern: str, role_arn: str | None = None) -> str:
    """Subscribe ``group`` to a Logs destination (another account's) or a Kinesis stream: ``created``...

    No invoke permission here: the destination's own policy says which accounts may subscribe to it.
    """
    ours = _ours(logs, group)
    if (
        ours
        and ours.get("filterPattern", "") == pattern
        and ours.get("destinationArn") == destination_arn
        and (ours.get("roleArn") or None) == role_arn
    ):
        return "unchanged"
    args = {
        "logGroupName": group,
        "filterName": FILTER_NAME,
        "filterPattern": pattern,
        "destinationArn": destination_arn,
    }
    if role_arn:
        args["roleArn"] = role_arn
    try:
        logs.put_subscription_filter(**args)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        if err.get("Code") in ("InvalidParameterException", "AccessDeniedException", "ResourceNotFoundException"):
            raise SubscriptionError(
                f"log group {group!r}: {err.get('Code')}: {err.get('Message', '')[:300]} (does the destination's "
                "policy take this account, and is it in this Region?)"
            ) from None
        raise
    return "updated" if ours else "created"


def unsubscribe_destination(logs, group: str, destination_arn: str) -> str:
    """Remove opswatch's filter from ``group`` if it delivers to ``destination_arn``; says what was done."""
    ours, _ = _filters(logs, group)
    if ours is None:
        return "nothing to remove"
    if ours.get("destinationArn") != destination_arn:
        return f"kept: its filter delivers to {ours.get('destinationArn')}, not to the destination given"
    logs.delete_subscription_filter(logGroupName=group, filterName=FILTER_NAME)
    return "removed subscription filter"


def subscribe(logs, lam, group: str, fn: Function, pattern: str) -> str:
    """``created``, ``updated`` or ``unchanged``; raises ``SubscriptionError``."""
    ours = _ours(logs, group)
    sid = statement_id(group)
    if not _has_permission(lam, fn, sid):
        lam.add_permission(
            FunctionName=fn.arn,
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal="logs.amazonaws.com",
            SourceArn=group_arn(fn, group),
            SourceAccount=fn.account,
        )
    if ours and ours.get("filterPattern", "") == pattern and ours.get("destinationArn") == fn.arn:
        return "unchanged"
    logs.put_subscription_filter(
        logGroupName=group, filterName=FILTER_NAME, filterPattern=pattern, destinationArn=fn.arn
    )
    return "updated" if ours else "created"


def unsubscribe(logs, lam, group: str, fn: Function) -> list[str]:
    """Remove the filter and the permission; returns what was removed (nothing is not an error)."""
    removed = []
    try:
        logs.delete_subscription_filter(logGroupName=group, filterName=FILTER_NAME)
        removed.append("subscription filter")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    try:
        lam.remove_permission(FunctionName=fn.arn, StatementId=statement_id(group))
        removed.append("invoke permission")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    return removed
