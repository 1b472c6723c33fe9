"""A dashboard entry of the monitors spec, turned into a CloudWatch dashboard body (pure, no I/O).

Layout (AWS's 24-column grid, rows top to bottom; see "Dashboard Body Structure and Syntax"):

    links (text, 24 wide): the stage's alarms, Athena workgroup and log groups; the managed-by line
    traffic, per load balancer: requests | 4xx and 5xx | target latency | the ALB's own metrics
    alarms: alarm status (every alarm of the spec) | the first alarms with their threshold
    log_alerts: alerts posted and held back | the last alerts (Logs Insights)
    pipeline: ALB lines | object and checkpoint errors | route metrics published | failed-events queue
    functions: errors | throttles | duration p99 | concurrent executions
    logs: the Athena named queries' questions in Logs Insights (5xx by path, slowest targets, ...)

Route widgets use metric-math ``SEARCH`` expressions, so a route that appears later shows
on its own without a new body. Every widget has a title that is unique in the body: the
plan names changed widgets by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chalicelib import console
from chalicelib.dashboards.spec import Dashboard
from chalicelib.insights.questions import QUESTIONS

MANAGED_MARK = "opswatch:managed"  # in the top text widget: how plan recognises the dashboards it manages
GRID = 24
FUNCTIONS = ("alb_logs", "alarm_bridge", "alarm_events", "log_alerts", "monitors_audit", "athena_report")


@dataclass(frozen=True)
class Context:
    """Where the dashboard lives and what the rest of the spec declares."""

    stage: str
    partition: str
    region: str
    account: str
    alarms: tuple[str, ...] = ()  # every alarm name of the spec, in spec order
    alb_log_group: str = ""
    failed_queue: str = ""
    workgroup: str = ""
    spec_path: str = "monitors.yaml"
    app_name: str = "opswatch"
    matched: tuple[tuple[str, str], ...] = ()  # (log group, Logs Insights condition) of each log alarm

    def function(self, name: str) -> str:
        return f"{self.app_name}-{self.stage}-{name}"  # Chalice's function naming: app-stage-name

    def alarm_arn(self, name: str) -> str:
        return f"arn:{self.partition}:cloudwatch:{self.region}:{self.account}:alarm:{name}"


@dataclass
class _Grid:
    """Places rows of widgets left to right, top to bottom."""

    widgets: list[dict] = field(default_factory=list)
    y: int = 0

    def row(self, items: list[tuple[int, int, str, dict]]) -> None:
        """``items``: (width, height, type, properties); a row wider than the grid wraps."""
        x, height = 0, 0
        for width, h, kind, props in items:
            if x + width > GRID:
                self.y += height
                x, height = 0, 0
            self.widgets.append({"type": kind, "x": x, "y": self.y, "width": width, "height": h, "properties": props})
            x += width
            height = max(height, h)
        self.y += height


def _lb_name(lb: str) -> str:
    return lb.split("/")[1]


def _search(namespace: str, dims: str, metric: str, where: str, stat: str, period: int) -> str:
    schema = f"{{{namespace},{dims}}} " if dims else f'Namespace="{namespace}" '
    return f"SEARCH('{schema}MetricName=\"{metric}\"{where}', '{stat}', {period})"


def _route_filter(d: Dashboard, lb: str) -> str:
    where = f' LoadBalancer="{lb}"'
    if isinstance(d.routes, list):
        where += " (" + " OR ".join(f'Route="{r}"' for r in d.routes) + ")"
    return where


def _routes_expr(d: Dashboard, lb: str, metric: str, stat: str, order: str = "SUM") -> str:
    search = _search(d.route_namespace, "LoadBalancer,Route", metric, _route_filter(d, lb), stat, d.period)
    if isinstance(d.routes, int):
        return f"SORT({search}, {order}, DESC, {d.routes})"  # the busiest N routes, whichever they are now
    return search


def _metric_props(ctx: Context, d: Dashboard, title: str, metrics: list, **extra) -> dict:
    return {"title": title, "region": ctx.region, "view": "timeSeries", "period": d.period, "metrics": metrics, **extra}


def _traffic(d: Dashboard, ctx: Context, lb: str) -> list[tuple[int, int, str, dict]]:
    name = _lb_name(lb)
    which = f"busiest {d.routes} routes" if isinstance(d.routes, int) else "chosen routes"  # stable titles
    lat = [
        [d.route_namespace, "TargetLatency", "LoadBalancer", lb, {"stat": p, "label": f"{p} (all routes)"}]
        for p in ("p50", "p90", "p99")
    ]
    lat.append([{"expression": _routes_expr(d, lb, "TargetLatency", "p99", "MAX"), "id": "routes", "label": "p99"}])
    elb = "AWS/ApplicationELB"
    return [
        (
            6,
            6,
            "metric",
            _metric_props(
                ctx,
                d,
                f"Requests, {which}: {name}",
                [[{"expression": _routes_expr(d, lb, "Requests", "Sum"), "id": "requests", "label": ""}]],
                stat="Sum",
            ),
        ),
        (
            6,
            6,
            "metric",
            _metric_props(
                ctx,
                d,
                f"4xx and 5xx, {which}: {name}",
                [
                    [{"expression": _routes_expr(d, lb, "Status4xx", "Sum"), "id": "s4xx", "label": "4xx"}],
                    [{"expression": _routes_expr(d, lb, "Status5xx", "Sum"), "id": "s5xx", "label": "5xx"}],
                ],
                stat="Sum",
            ),
        ),
        (6, 6, "metric", _metric_props(ctx, d, f"Target latency p50/p90/p99: {name}", lat)),
        (
            6,
            6,
            "metric",
            _metric_props(
                ctx,
                d,
                f"Load balancer ({elb}): {name}",
                [
                    [elb, "RequestCount", "LoadBalancer", lb, {"stat": "Sum"}],
                    [elb, "HTTPCode_ELB_5XX_Count", "LoadBalancer", lb, {"stat": "Sum"}],
                    [elb, "RejectedConnectionCount", "LoadBalancer", lb, {"stat": "Sum"}],
                    [elb, "TargetResponseTime", "LoadBalancer", lb, {"stat": "p99", "yAxis": "right"}],
                ],
            ),
        ),
    ]


def _alarms(d: Dashboard, ctx: Context) -> list[tuple[int, int, str, dict]]:
    if not ctx.alarms:
        return [(24, 2, "text", {"markdown": "**Alarms**: the spec declares none."})]
    arns = [ctx.alarm_arn(a) for a in ctx.alarms]
    out = []
    chunks = [arns[i : i + 100] for i in range(0, len(arns), 100)]  # an alarm status widget shows at most 100
    graphs = list(ctx.alarms[: d.alarm_graphs])
    width = 24 - 6 * len(graphs) if len(chunks) == 1 and graphs else 24
    for i, chunk in enumerate(chunks):
        suffix = f" ({i + 1} of {len(chunks)})" if len(chunks) > 1 else ""
        out.append(
            (
                max(width, 6),
                6,
                "alarm",
                {"title": f"Alarms of the spec{suffix}", "alarms": chunk, "sortBy": "stateUpdatedTimestamp"},
            )
        )
    for name in graphs:  # one alarm annotation per metric widget: the graph shows its metric and threshold
        out.append(
            (
                6,
                6,
                "metric",
                {
                    "title": f"Alarm: {name}",
                    "region": ctx.region,
                    "view": "timeSeries",
                    "annotations": {"alarms": [ctx.alarm_arn(name)]},
                },
            )
        )
    return out


def _log_query(groups: list[str], query: str) -> str:
    return " | ".join([*(f"SOURCE '{g}'" for g in groups), query])


def _group_regex(group: str) -> str:
    """A log group name (letters, digits, . _ - / #) inside a /regex/: '.' and '/' escaped."""
    return group.replace(".", "\\.").replace("/", "\\/")


def _matched_query(ctx: Context) -> str:
    """The last lines the spec's log alarms matched, in their own groups."""
    groups = list(dict.fromkeys(g for g, _ in ctx.matched))
    if len(groups) == 1:
        where = " or ".join(c for _, c in ctx.matched)
    else:  # each rule in its own group: @log is ACCOUNT:GROUP
        where = " or ".join(f"(@log like /:{_group_regex(g)}$/ and ({c}))" for g, c in ctx.matched)
    body = f"fields @timestamp, @log, @message | filter {where} | sort @timestamp desc | limit 50"
    return _log_query(groups, body)


def _log_alerts(d: Dashboard, ctx: Context) -> list[tuple[int, int, str, dict]]:
    ns = d.metrics_namespace
    group = f"/aws/lambda/{ctx.function('log_alerts')}"
    query = (
        "fields @timestamp, rule, log_group, events, message"
        ' | filter message in ["delivered to Slack", "held back by the cooldown"]'
        " | sort @timestamp desc | limit 50"
    )
    width = 8 if ctx.matched else 12
    row = [
        (
            width,
            6,
            "metric",
            _metric_props(
                ctx,
                d,
                "Log alerts posted and held back",
                [
                    [{"expression": _search(ns, "", "AlertsPosted", "", "Sum", d.period), "id": "posted", "label": ""}],
                    [{"expression": _search(ns, "", "AlertsHeldBack", "", "Sum", d.period), "id": "held", "label": ""}],
                ],
                stat="Sum",
            ),
        ),
        (
            width,
            6,
            "log",
            {"title": "Last log alerts", "region": ctx.region, "view": "table", "query": _log_query([group], query)},
        ),
    ]
    if ctx.matched:
        row.append(
            (
                width,
                6,
                "log",
                {
                    "title": "Last lines the log alarms matched",
                    "region": ctx.region,
                    "view": "table",
                    "query": _matched_query(ctx),
                },
            )
        )
    return row


def _pipeline(d: Dashboard, ctx: Context) -> list[tuple[int, int, str, dict]]:
    ns = d.metrics_namespace

    def searches(*names: str) -> list:
        return [
            [{"expression": _search(ns, "", n, "", "Sum", d.period), "id": f"m{i}", "label": n}]
            for i, n in enumerate(names)
        ]

    sqs = "AWS/SQS"
    return [
        (
            6,
            6,
            "metric",
            _metric_props(
                ctx,
                d,
                "ALB log lines",
                searches("LinesShipped", "LinesFiltered", "LinesRejected", "LinesRefused"),
                stat="Sum",
            ),
        ),
        (
            6,
            6,
            "metric",
            _metric_props(ctx, d, "ALB object and checkpoint errors", searches("ObjectErrors", "CheckpointErrors")),
        ),
        (6, 6, "metric", _metric_props(ctx, d, "Route metrics published", searches("RouteMetricsPublished"))),
        (
            6,
            6,
            "metric",
            _metric_props(
                ctx,
                d,
                f"Failed-events queue: {ctx.failed_queue}",
                [
                    [sqs, "ApproximateNumberOfMessagesVisible", "QueueName", ctx.failed_queue, {"stat": "Maximum"}],
                    [
                        sqs,
                        "ApproximateAgeOfOldestMessage",
                        "QueueName",
                        ctx.failed_queue,
                        {"stat": "Maximum", "yAxis": "right"},
                    ],
                ],
            ),
        ),
    ]


def _functions(d: Dashboard, ctx: Context) -> list[tuple[int, int, str, dict]]:
    out = []
    shown = (("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "p99"), ("ConcurrentExecutions", "Maximum"))
    for metric, stat in shown:
        metrics = [
            ["AWS/Lambda", metric, "FunctionName", ctx.function(f), {"stat": stat, "label": f}] for f in FUNCTIONS
        ]
        title = f"Functions: {metric}" + (" p99" if stat == "p99" else "")
        out.append((6, 6, "metric", _metric_props(ctx, d, title, metrics)))
    return out


def log_groups(d: Dashboard, ctx: Context) -> list[str]:
    """The groups the logs section asks (and its saved queries name)."""
    return list(d.log_groups or [ctx.alb_log_group])


def _logs(d: Dashboard, ctx: Context) -> list[tuple[int, int, str, dict]]:
    groups = log_groups(d, ctx)
    return [
        (12, 6, "log", {"title": q.title, "region": ctx.region, "view": "table", "query": _log_query(groups, q.query)})
        for q in QUESTIONS
    ]


def _links(d: Dashboard, ctx: Context) -> str:
    def link(text: str, url: str | None) -> str:
        return f"[{text}]({url})" if url else text

    groups = [ctx.alb_log_group, *(g for g in d.log_groups or [] if g != ctx.alb_log_group)]
    groups.append(f"/aws/lambda/{ctx.function('log_alerts')}")
    parts = [
        link("Alarms", console.alarms_url(ctx.partition, ctx.region)),
        link(
            f"Athena workgroup {ctx.workgroup}",
            console.athena_workgroup_url(ctx.partition, ctx.region, ctx.workgroup),
        ),
        *(link(g, console.log_group_url(ctx.partition, ctx.region, g)) for g in groups),
    ]
    return (
        f"## {d.name} (stage {ctx.stage})\n"
        + " · ".join(parts)
        + f"\n\nGenerated from `{ctx.spec_path}` ({MANAGED_MARK}): changes made here are overwritten by"
        " `opswatch monitors apply`; change the spec instead."
    )


_SECTIONS = {
    "alarms": _alarms,
    "log_alerts": _log_alerts,
    "pipeline": _pipeline,
    "functions": _functions,
    "logs": _logs,
}


def build(d: Dashboard, ctx: Context) -> dict:
    """The dashboard body (a dict; PutDashboard takes it as JSON text)."""
    grid = _Grid()
    grid.row([(24, 2, "text", {"markdown": _links(d, ctx)})])
    for section in d.sections:
        if section == "traffic":
            for lb in d.load_balancers:
                grid.row(_traffic(d, ctx, lb))
        else:
            grid.row(_SECTIONS[section](d, ctx))
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": grid.widgets}


def widget_key(widget: dict) -> str:
    """How the plan names a widget: its title (or, for a text widget, 'links')."""
    props = widget.get("properties") or {}
    return str(props.get("title") or ("links" if widget.get("type") == "text" else widget.get("type")))


_STAGE_LINE = re.compile(r"^## .* \(stage ([^)\s]+)\)$", re.M)


def managed_stage(body: dict) -> str | None:
    """The stage a generated dashboard belongs to, from its links' heading (``## name (stage prod)``)."""
    for w in body.get("widgets") or []:
        if isinstance(w, dict) and w.get("type") == "text":
            found = _STAGE_LINE.search(str((w.get("properties") or {}).get("markdown", "")))
            if found:
                return found.group(1)
    return None


def is_managed(body: dict) -> bool:
    """A dashboard opswatch generated: its top text widget (the first, as ``build`` writes it) carries the mark.

    Only the top one: a hand-made dashboard with a note or a copied widget that mentions the mark further
    down is not opswatch's, and ``--prune`` would delete it.
    """
    widgets = body.get("widgets")
    w = widgets[0] if isinstance(widgets, list) and widgets else None
    return (
        isinstance(w, dict)
        and w.get("type") == "text"
        and MANAGED_MARK in str((w.get("properties") or {}).get("markdown", ""))
    )
