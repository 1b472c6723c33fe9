"""The alarm bridge: the topic reaches ``alarm_bridge``, the EventBridge rule reaches ``alarm_events``; the audit."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from chalicelib import settings
from chalicelib.doctor.check import Check, Context, fail, function_policy, ok, principal_of, source_arn_of, warn


def alarm_topic(ctx: Context) -> Check:
    name = "alarm-topic"
    topic = settings.slack().alarm_topic
    arn = ctx.arn("sns", topic)
    sns = ctx.client("sns")
    try:
        subs = []
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
            subs += page.get("Subscriptions", [])
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NotFound", "NotFoundException"):
            return fail(name, f"no topic {topic} in {ctx.region}", "create the stage's resources stack (see stack)")
        raise
    bridge = ctx.function("alarm_bridge")
    if bridge is None:
        return fail(name, f"no function {ctx.function_name('alarm_bridge')}", ctx.deploy_fix())
    to_bridge = [s for s in subs if s.get("Protocol") == "lambda" and s.get("Endpoint") == bridge["FunctionArn"]]
    if not to_bridge:
        return fail(
            name,
            f"{topic} has no subscription to {bridge['FunctionName']} ({len(subs)} other subscriptions)",
            ctx.deploy_fix() + " (it subscribes the function)",
        )
    if all(s.get("SubscriptionArn") in (None, "", "PendingConfirmation") for s in to_bridge):
        return fail(name, f"{topic}'s subscription to {bridge['FunctionName']} is not confirmed", ctx.deploy_fix())
    using = 0
    for page in ctx.client("cloudwatch").get_paginator("describe_alarms").paginate():
        for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            actions = [x for k in ("AlarmActions", "OKActions", "InsufficientDataActions") for x in a.get(k) or []]
            using += arn in actions
    found = f"{topic} -> {bridge['FunctionName']} (confirmed); {using} alarm{'s' if using != 1 else ''} use it"
    if using == 0:
        return warn(
            name,
            found + ": none of your alarms notify it",
            f"add {arn} to your alarms' ALARM and OK actions (`monitors apply` does it for the spec's), "
            "or rely on alarm-rule",
        )
    return ok(name, found)


def alarm_rule(ctx: Context) -> Check:
    name = "alarm-rule"
    rule_name = f"{ctx.function_name('alarm_events')}-event"  # Chalice names an event rule after its function
    events = ctx.client("events")
    try:
        rule = events.describe_rule(Name=rule_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return fail(name, f"no EventBridge rule {rule_name}", ctx.deploy_fix())
        raise
    if rule.get("State") != "ENABLED":
        return fail(name, f"{rule_name} is {rule.get('State')}", f"aws events enable-rule --name {rule_name}")
    fn = ctx.function("alarm_events")
    if fn is None:
        return fail(name, f"no function {ctx.function_name('alarm_events')}", ctx.deploy_fix())
    targets = events.list_targets_by_rule(Rule=rule_name).get("Targets", [])
    if not any(t.get("Arn") == fn["FunctionArn"] for t in targets):
        return fail(name, f"{rule_name} does not target {fn['FunctionName']}", ctx.deploy_fix())
    allowed = [
        st
        for st in function_policy(ctx, "alarm_events")
        if principal_of(st) == "events.amazonaws.com" and source_arn_of(st) in (None, rule.get("Arn"))
    ]
    if not allowed:
        return fail(name, f"{fn['FunctionName']} does not let EventBridge ({rule_name}) invoke it", ctx.deploy_fix())
    try:
        pattern = json.loads(rule.get("EventPattern") or "{}")
    except ValueError:
        pattern = None
    if pattern != settings.alarm_event_pattern():
        return warn(
            name,
            f"{rule_name}'s pattern is not the one the settings derive (OPSWATCH_ALARM_NAME_PREFIXES changed?)",
            ctx.deploy_fix(),
        )
    return ok(name, f"{rule_name} enabled, targets {fn['FunctionName']}, which it may invoke")


def alarms_audit(ctx: Context) -> Check:
    from chalicelib.monitors.audit import audit

    findings = audit(ctx.client("cloudwatch"), ctx.client("logs"), ctx.client("sns"))
    if not findings:
        return ok("alarms-audit", "no alarm or metric filter with a habit that makes it silent or noisy")
    kinds: dict[str, int] = {}
    for f in findings:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    summary = ", ".join(f"{n} x {k}" for k, n in sorted(kinds.items()))
    return warn("alarms-audit", f"{len(findings)} findings: {summary}", "opswatch alarms audit (each with its fix)")
