"""Audit live alarms and metric filters for the habits that make alarms silent or noisy.

Each finding names the resource, the reason and the fix. Read-only: DescribeAlarms,
GetMetricData, DescribeMetricFilters and ListTopics. Used by ``opswatch alarms
audit`` and by the daily ``monitors_audit`` Lambda, which posts a digest to Slack
only when something is found (so this module imports nothing CLI-only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.monitors.backtest import metric_queries
from chalicelib.slack.message import SECTION_MAX, TOTAL_TEXT_MAX, SlackMessage
from chalicelib.slack.text import escape, truncate

STUCK_AFTER = timedelta(days=1)
KINDS = {
    "implicit-missing": "alarms on the implicit missing-data policy",
    "muted": "alarms muted from Slack",
    "no-actions": "alarms that notify nobody",
    "missing-topic": "actions pointing at topics that do not exist",
    "stuck-insufficient": "alarms in INSUFFICIENT_DATA for more than a day",
    "no-data": "alarms on metrics nothing published in their window",
    "filter-without-alarm": "metric filters whose metric no alarm watches",
    "unreachable-target": "targets the audit could not reach",
}
MAX_ACCOUNTS_SHOWN = 15  # a digest section per account; past this, the digest says how many more
DIGEST_RESERVE = 1500  # characters kept for the header, the accounts left out and the context


@dataclass(frozen=True)
class Finding:
    kind: str
    resource: str
    reason: str
    fix: str
    slack_user: str | None = None  # who muted it from Slack (a Slack user id, mentioned in the digest)

    def as_dict(self) -> dict:
        return asdict(self)


def metric_alarms(cw) -> list[dict]:
    """Every metric alarm of the account and region (DescribeAlarms, all pages)."""
    out = []
    for page in cw.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
        out += page.get("MetricAlarms", [])
    return out


def _topics(sns) -> set[str]:
    out = set()
    for page in sns.get_paginator("list_topics").paginate():
        out |= {t["TopicArn"] for t in page.get("Topics", [])}
    return out


def _has_data(cw, a: dict, now: datetime) -> bool:
    period = a.get("Period") or next((q["MetricStat"]["Period"] for q in a.get("Metrics", []) if "MetricStat" in q), 60)
    window = timedelta(seconds=period * (a["EvaluationPeriods"] + 2))
    resp = cw.get_metric_data(MetricDataQueries=metric_queries(a), StartTime=now - window, EndTime=now)
    return any(r.get("Values") for r in resp.get("MetricDataResults", []))


def _muted(name: str, mute: dict, now: datetime) -> Finding:
    until = mute.get("until") or 0
    if not until:
        when = "until its next OK"
    else:
        when = "until " + datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M UTC")
        if until < now.timestamp():
            when += ", past: its actions should be enabled again"
    if not mute.get("by_opswatch"):
        when += "; its actions were already disabled before, so opswatch will not re-enable them"
    return Finding(
        "muted",
        name,
        f"actions disabled from Slack {when}",
        "wait for the mute to end, or `aws cloudwatch enable-alarm-actions` to end it now",
        mute.get("user_id"),
    )


def audit(
    cw, logs, sns, now: datetime | None = None, mutes: Callable[[str], dict | None] | None = None
) -> list[Finding]:
    """Every finding; ``mutes`` (alarm ARN -> the Slack mute kept for it, or None) names who muted what."""
    now = now or datetime.now(UTC)
    alarms = metric_alarms(cw)
    topics = _topics(sns)
    found: list[Finding] = []
    watched: set[tuple[str, str]] = set()
    for a in alarms:
        name = f"alarm {a['AlarmName']}"
        for q in metric_queries(a):
            if "MetricStat" in q:
                m = q["MetricStat"]["Metric"]
                watched.add((m["Namespace"], m["MetricName"]))
        if a.get("TreatMissingData", "missing") == "missing":
            found.append(
                Finding(
                    "implicit-missing",
                    name,
                    "no explicit missing-data policy: when data stops it goes to INSUFFICIENT_DATA, or flaps",
                    "set treat_missing_data: notBreaching for counts of rare events, breaching where silence "
                    "is itself bad, ignore to keep the state",
                )
            )
        actions = [x for k in ("AlarmActions", "OKActions", "InsufficientDataActions") for x in a.get(k) or []]
        mute = mutes(a["AlarmArn"]) if mutes and a.get("ActionsEnabled") is False and a.get("AlarmArn") else None
        if mute is not None:
            found.append(_muted(name, mute, now))
        elif not actions or a.get("ActionsEnabled") is False:
            why = "actions are disabled" if actions else "no actions: it changes state and tells nobody"
            found.append(Finding("no-actions", name, why, "add the alarm topic to its ALARM and OK actions"))
        for arn in actions:
            if ":sns:" in arn and arn not in topics:
                found.append(
                    Finding(
                        "missing-topic",
                        name,
                        f"action {arn} is a topic that does not exist",
                        "fix the ARN or create the topic",
                    )
                )
        since = a.get("StateUpdatedTimestamp")
        if a.get("StateValue") == "INSUFFICIENT_DATA" and since and now - since > STUCK_AFTER:
            days = (now - since).days
            found.append(
                Finding(
                    "stuck-insufficient",
                    name,
                    f"in INSUFFICIENT_DATA for {days} day{'s' if days != 1 else ''}",
                    "check that its metric (name, namespace, dimensions) is the one published, or delete the alarm",
                )
            )
        if not _has_data(cw, a, now):
            found.append(
                Finding(
                    "no-data",
                    name,
                    "nothing was published to its metric in its evaluation range",
                    "check the metric name, namespace and dimensions against what the publisher (or metric "
                    "filter) emits",
                )
            )
    for page in logs.get_paginator("describe_metric_filters").paginate():
        for f in page.get("metricFilters", []):
            for t in f.get("metricTransformations", []):
                if (t["metricNamespace"], t["metricName"]) not in watched:
                    found.append(
                        Finding(
                            "filter-without-alarm",
                            f"metric filter {f['filterName']} ({f['logGroupName']})",
                            f"no alarm watches {t['metricNamespace']}/{t['metricName']}",
                            "add an alarm on it (monitors.yaml), or delete the filter",
                        )
                    )
    return found


def _by(user: str | None) -> str:
    if not user:
        return ""
    from chalicelib.slackactions.buttons import mention

    return f" (muted by {mention(user)})"


@dataclass
class Audited:
    """One account's (and Region's) findings, for the audit across targets and its digest."""

    label: str  # "111111111111 (shop-prod), eu-west-1"
    account: str
    region: str
    findings: list[Finding]


def audit_all(
    targets: list, home: bool, now: datetime | None = None, mutes: Callable[[str], dict | None] | None = None
) -> list[Audited]:
    """The audit in the caller's own account (with ``home``) and in each target through its role.

    A target that cannot be reached is an ``unreachable-target`` finding of its own, never a crash,
    so the others are audited and the digest still goes out.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.monitors.places import caller_not_configured, named, reach, why_not
    from chalicelib.monitors.places import home as home_place
    from chalicelib.targets import TargetError

    out: list[Audited] = []
    if home:
        p = home_place()
        out.append(
            Audited(
                p.label,
                p.account,
                p.region,
                audit(p.client("cloudwatch"), p.client("logs"), p.client("sns"), now, mutes),  # mutes: this stage's
            )
        )
    for t in named(targets):
        try:
            p = reach(t)
            found = audit(p.client("cloudwatch"), p.client("logs"), p.client("sns"), now)
        except (ClientError, BotoCoreError, TargetError) as exc:
            if caller_not_configured(exc):
                raise
            why = why_not(t, exc).removeprefix(f"target {t.label}: ")  # the finding's resource names it
            fix = (
                f"check that {t.role_arn} exists, that its trust policy names this account's caller, and that it "
                "allows the audit's reads (README: Metric filters and alarms as code, targets)"
            )
            found = [Finding("unreachable-target", f"target {t.label}", why, fix)]
        out.append(Audited(t.label, t.account, t.region, found))
    return out


def digest_accounts(audited: list[Audited]) -> SlackMessage:
    """One Slack message for several accounts' findings: a section per account with findings, by kind."""
    with_findings = [a for a in audited if a.findings]
    n = sum(len(a.findings) for a in with_findings)
    accounts = len({a.account for a in with_findings})
    title = f"opswatch audit: {n:,} finding{'s' if n != 1 else ''} in {accounts} account{'s' if accounts != 1 else ''}"
    msg = SlackMessage(text=title, color="#ff7f0e")
    msg.header(f":mag: {title}")
    shown = with_findings[:MAX_ACCOUNTS_SHOWN]
    # Each account gets an equal share of Slack's text budget, so the accounts left out and the
    # context below are always said (a long first account would otherwise crowd them out).
    share = min(SECTION_MAX, (TOTAL_TEXT_MAX - DIGEST_RESERVE) // max(1, len(shown)))
    for a in shown:
        lines = [f"*{escape(a.label)}*: {len(a.findings)} finding{'s' if len(a.findings) != 1 else ''}"]
        for kind, kind_title in KINDS.items():
            items = [f for f in a.findings if f.kind == kind]
            if not items:
                continue
            names = ", ".join(escape(truncate(f.resource, 80)) for f in items[:5])
            more = f" and {len(items) - 5} more" if len(items) > 5 else ""
            lines.append(f"• {kind_title} ({len(items)}): {names}{more}")
            if kind == "unreachable-target":
                lines.append(f"  _{escape(truncate(items[0].reason, 300))}_")
        msg.section(truncate("\n".join(lines), share))
    if len(with_findings) > MAX_ACCOUNTS_SHOWN:
        rest = with_findings[MAX_ACCOUNTS_SHOWN:]
        msg.section(
            f"… and {len(rest)} more accounts with {sum(len(a.findings) for a in rest)} findings: "
            + ", ".join(escape(a.account) for a in rest[:40])
        )
    clean = len(audited) - len(with_findings)
    msg.context(
        [
            (f"{clean} account{'s' if clean != 1 else ''} without findings. " if clean else "")
            + "`opswatch alarms audit --all-targets` lists every finding with its fix"
        ]
    )
    return msg


def digest(findings: list[Finding], account: str | None = None, region: str | None = None) -> SlackMessage:
    """One Slack message for the day's findings, grouped by kind."""
    n = len(findings)
    msg = SlackMessage(text=f"opswatch audit: {n} finding{'s' if n != 1 else ''}", color="#ff7f0e")
    where = " in " + " ".join(x for x in (account, region) if x) if account or region else ""
    msg.header(f":mag: opswatch audit: {n} finding{'s' if n != 1 else ''}{where}")
    for kind, title in KINDS.items():
        items = [f for f in findings if f.kind == kind]
        if not items:
            continue
        lines = [f"• *{escape(f.resource)}*: {escape(f.reason)}{_by(f.slack_user)}" for f in items[:10]]
        if len(items) > 10:
            lines.append(f"… and {len(items) - 10} more")
        msg.section(f"*{title}* ({len(items)})\n" + "\n".join(lines) + f"\n_fix: {escape(items[0].fix)}_")
    msg.context(["`opswatch alarms audit` lists every finding; `opswatch monitors plan` shows the fixes as code"])
    return msg
