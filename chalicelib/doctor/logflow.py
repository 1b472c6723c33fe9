"""Log alerts: every ``opswatch-log-alerts`` subscription filter reaches the stage's function, with today's pattern."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib import settings
from chalicelib.doctor.check import Check, Context, fail, function_policy, ok, warn

NAME = "log-subscriptions"
MAX_GROUPS = 2000  # log groups scanned; an account with more is told so
WORKERS = 8


def _groups(ctx: Context) -> tuple[list[str], bool]:
    groups: list[str] = []
    for page in ctx.client("logs").get_paginator("describe_log_groups").paginate():
        groups += [g["logGroupName"] for g in page.get("logGroups", [])]
        if len(groups) >= MAX_GROUPS:
            return groups[:MAX_GROUPS], True
    return groups, False


def _ours(ctx: Context, group: str) -> dict | None:
    from botocore.exceptions import ClientError

    from chalicelib.logalerts.subscription import FILTER_NAME

    try:
        filters = ctx.client("logs").describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":  # deleted while we looked
            return None
        raise
    return next((f for f in filters if f.get("filterName") == FILTER_NAME), None)


def log_subscriptions(ctx: Context) -> Check:
    from chalicelib.logalerts.messages import rules_for
    from chalicelib.logalerts.prefilter import derive
    from chalicelib.logalerts.subscription import statement_id

    function = settings.log_alerts().function_name
    groups, truncated = _groups(ctx)
    with ThreadPoolExecutor(WORKERS) as pool:
        found = [(g, f) for g, f in zip(groups, pool.map(lambda g: _ours(ctx, g), groups), strict=True) if f]
    more = f" (the first {MAX_GROUPS} log groups)" if truncated else ""
    subscribe = f"{ctx.env_prefix()}opswatch logs subscribe"
    if not found:
        return warn(
            NAME, f"no log group is subscribed to log alerts{more}", f"{subscribe} LOG_GROUP... (your app's groups)"
        )
    fn = ctx.function("log_alerts", function)  # OPSWATCH_LOG_ALERT_FUNCTION, a name or an ARN
    fn_arn = (fn or {}).get("FunctionArn")
    sids = {st.get("Sid") for st in function_policy(ctx, "log_alerts", function)} if fn else set()
    broken, drifted = [], []
    try:
        pattern = derive(rules_for(settings.log_alerts())).pattern
    except ValueError as exc:  # a malformed rule: the pattern cannot be derived
        return fail(NAME, f"the log-alert rules do not load: {exc}", "fix OPSWATCH_LOG_ALERT_RULES(_FILE)")
    for group, f in found:
        if fn_arn is None or f.get("destinationArn") != fn_arn:
            broken.append(f"{group} -> {str(f.get('destinationArn', '?')).rsplit(':', 1)[-1]}")
        elif fn and statement_id(group) not in sids:
            broken.append(f"{group}: {function} has no permission for it")
        elif f.get("filterPattern", "") != pattern:
            drifted.append(group)
    if broken:
        where = "" if fn_arn else f" ({function} does not exist)"
        return fail(
            NAME,
            f"{len(broken)} of {len(found)} subscriptions do not reach {function}{where}: " + "; ".join(broken[:5]),
            (ctx.deploy_fix() + ", then " if not fn_arn else "")
            + f"{subscribe} "
            + " ".join(b.split(" ", 1)[0].rstrip(":") for b in broken[:5]),
        )
    if drifted:
        return warn(
            NAME,
            f"{len(drifted)} of {len(found)} subscriptions have a pattern the rules no longer derive (the rules "
            f"changed since subscribe): {', '.join(drifted[:5])}",
            f"{subscribe} {' '.join(drifted[:5])}",
        )
    return ok(NAME, f"{len(found)} log groups subscribed to {function}{more}, with today's pattern")
