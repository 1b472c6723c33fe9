"""Compare the spec with live CloudWatch, and apply the difference, like Terraform.

Desired resources are built from the spec (``log_alarms`` become one metric filter
per rule pattern and one alarm). Live ones are read with DescribeMetricFilters and
DescribeAlarms. A change lists each attribute that differs, old -> new.

What opswatch manages: alarms it created carry the tag ``opswatch:managed=true``
(tags passed to PutMetricAlarm on an update are ignored by AWS, so the tag is set
with TagResource); metric filters cannot be tagged, so they carry the spec's name
prefix (``filter_prefix``, default ``opswatch-``). ``--prune`` deletes only those,
never hand-made resources.

Stages share an account and Region, so prune stays within the spec's stage: alarms
also carry ``opswatch:stage=<stage>``, and one tagged for another stage is never
stale; a metric filter in another stage's own ALB log group (``/opswatch/<other>/alb``)
is never stale either. Filters in a log group several stages watch are told apart by
``filter_prefix`` only, so such specs give each stage its own prefix.
Dashboards and saved Logs Insights queries are planned here too
(``chalicelib/dashboards/plan.py`` and ``chalicelib/insights/plan.py`` say how they are recognised).
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.monitors.audit import metric_alarms
from chalicelib.monitors.changes import Change, Plan, Resource, other_stage_group
from chalicelib.monitors.spec import MANAGED_TAG, STAGE_TAG, Loaded, Spec


def _topic_arn(target: str, partition: str, region: str, account: str) -> str:
    return target if target.startswith("arn:") else f"arn:{partition}:sns:{region}:{account}:{target}"


def desired(loaded: Loaded, partition: str, region: str, account: str) -> list[Resource]:
    """Every filter and alarm the spec asks for, as the Put calls' arguments."""
    spec: Spec = loaded.spec
    out: list[Resource] = []
    for i, f in enumerate(spec.metric_filters):
        m = f.metric
        t = {"metricName": m.name, "metricNamespace": m.namespace, "metricValue": m.value}
        if m.default_value is not None:
            t["defaultValue"] = m.default_value
        if m.unit:
            t["unit"] = m.unit
        if m.dimensions:
            t["dimensions"] = dict(m.dimensions)
        params = {
            "logGroupName": f.log_group,
            "filterName": spec.filter_prefix + f.name,
            "filterPattern": f.pattern,
            "metricTransformations": [t],
        }
        if f.emit_system_field_dimensions:
            params["emitSystemFieldDimensions"] = list(f.emit_system_field_dimensions)
        if f.field_selection_criteria:
            params["fieldSelectionCriteria"] = f.field_selection_criteria
        out.append(
            Resource("metric filter", params["filterName"], f.log_group, params, loaded.line_of("metric_filters", i))
        )

    def actions(a) -> dict:
        return {
            "AlarmActions": [_topic_arn(x, partition, region, account) for x in a.alarm],
            "OKActions": [_topic_arn(x, partition, region, account) for x in a.ok],
            "InsufficientDataActions": [_topic_arn(x, partition, region, account) for x in a.insufficient_data],
        }

    for i, a in enumerate(spec.alarms):
        params = {
            "AlarmName": a.name,
            "AlarmDescription": a.description or "",
            "EvaluationPeriods": a.evaluation_periods,
            "DatapointsToAlarm": a.datapoints_to_alarm or a.evaluation_periods,
            "Threshold": float(a.threshold),
            "ComparisonOperator": a.comparison,
            "TreatMissingData": a.treat_missing_data,
            **actions(a.actions),
        }
        if a.metric is not None:
            params.update(_metric_params(a.metric))
            params["Period"] = a.period
        else:
            params["Metrics"] = [_query(q, a.period) for q in a.metrics or []]
        out.append(
            Resource(
                "alarm", a.name, None, params, loaded.line_of("alarms", i), a.backtest.hours if a.backtest else None
            )
        )
    out += _log_alarms(loaded, actions)
    return out


def _metric_params(m) -> dict:
    p = {"Namespace": m.namespace, "MetricName": m.name, "Dimensions": _dims(m.dimensions)}
    if m.statistic:
        p["Statistic"] = m.statistic
    else:
        p["ExtendedStatistic"] = m.extended_statistic
    if m.unit:
        p["Unit"] = m.unit
    return p


def _dims(d: dict[str, str]) -> list[dict]:
    return [{"Name": k, "Value": v} for k, v in sorted(d.items())]


def _query(q, period: int | None) -> dict:
    out: dict = {"Id": q.id}
    if q.expression:
        out["Expression"] = q.expression
    else:
        out["MetricStat"] = {
            "Metric": {
                "Namespace": q.metric.namespace,
                "MetricName": q.metric.name,
                "Dimensions": _dims(q.metric.dimensions),
            },
            "Period": q.period or period,
            "Stat": q.metric.statistic or q.metric.extended_statistic,
        }
    if q.label:
        out["Label"] = q.label
    out["ReturnData"] = q.return_data if q.return_data is not None else bool(q.expression)
    return out


def _log_alarms(loaded: Loaded, actions) -> list[Resource]:
    """A log-alert rule as metric filters (one per pattern) counting into one metric, and an alarm on it."""
    from chalicelib.logalerts.rules import active_rules

    spec = loaded.spec
    if not spec.log_alarms:
        return []
    rules = {r.name: r for r in active_rules().rules}
    out = []
    for i, la in enumerate(spec.log_alarms):
        line = loaded.line_of("log_alarms", i)
        rule = rules.get(la.rule)
        if rule is None:
            raise ValueError(f"{loaded.path}:{line}: log_alarms.{i}: no log-alert rule named {la.rule!r}")
        if rule.check is not None:
            raise ValueError(
                f"{loaded.path}:{line}: log_alarms.{i}: rule {la.rule!r} also needs a check in code "
                f"({rule.check_doc}) that a metric filter cannot make; use the log_alerts subscription for it"
            )
        namespace = la.namespace.rstrip("/") + "/" + la.log_group.strip("/")
        for j, p in enumerate(rule.patterns, 1):
            name = f"{spec.filter_prefix}log-{la.rule}-{j}"
            t = {"metricName": la.rule, "metricNamespace": namespace, "metricValue": "1", "defaultValue": 0.0}
            params = {
                "logGroupName": la.log_group,
                "filterName": name,
                "filterPattern": p.text,
                "metricTransformations": [t],
            }
            out.append(Resource("metric filter", name, la.log_group, params, line))
        params = {
            "AlarmName": f"{la.rule} {la.log_group}",
            "AlarmDescription": rule.description,
            "Namespace": namespace,
            "MetricName": la.rule,
            "Dimensions": [],
            "Statistic": "Sum",
            "Period": la.period,
            "EvaluationPeriods": la.evaluation_periods,
            "DatapointsToAlarm": la.datapoints_to_alarm or la.evaluation_periods,
            "Threshold": float(la.threshold),
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": la.treat_missing_data,
            **actions(la.actions),
        }
        out.append(Resource("alarm", params["AlarmName"], None, params, line))
    return out


_ALARM_KEYS = (
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Unit",
    "Period",
    "Metrics",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
)


def _live_alarm(a: dict) -> dict:
    """A DescribeAlarms entry in the shape of PutMetricAlarm's arguments, with AWS's defaults made explicit."""
    out = {k: a.get(k) for k in _ALARM_KEYS}
    out["AlarmDescription"] = a.get("AlarmDescription") or ""
    out["DatapointsToAlarm"] = a.get("DatapointsToAlarm") or a.get("EvaluationPeriods")
    out["TreatMissingData"] = a.get("TreatMissingData") or "missing"
    out["Dimensions"] = sorted(a.get("Dimensions") or [], key=lambda d: d["Name"]) if a.get("MetricName") else None
    for k in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        out[k] = sorted(a.get(k) or [])
    out["Metrics"] = None  # a single-metric alarm: absent in AWS's answer, an empty list in some
    if a.get("Metrics"):
        out["Metrics"] = [
            {k: v for k, v in q.items() if k in ("Id", "Expression", "MetricStat", "Label", "ReturnData")}
            for q in a["Metrics"]
        ]
    return out


def _normal(params: dict) -> dict:
    out = {k: params.get(k) for k in _ALARM_KEYS}
    for k in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        out[k] = sorted(params.get(k) or [])
    if out["Dimensions"] is not None:
        out["Dimensions"] = sorted(out["Dimensions"], key=lambda d: d["Name"])
    return out


def _filter_shape(f: dict) -> dict:
    t = [
        {
            k: v
            for k, v in x.items()
            if k in ("metricName", "metricNamespace", "metricValue", "defaultValue", "unit", "dimensions")
        }
        for x in f.get("metricTransformations") or []
    ]
    for x in t:
        if x.get("unit") in (None, "None"):
            x.pop("unit", None)
        if not x.get("dimensions"):
            x.pop("dimensions", None)
        if "defaultValue" in x:
            x["defaultValue"] = float(x["defaultValue"])
    return {
        "filterPattern": f.get("filterPattern", ""),
        "metricTransformations": t,
        "emitSystemFieldDimensions": sorted(f.get("emitSystemFieldDimensions") or []),
        "fieldSelectionCriteria": f.get("fieldSelectionCriteria") or None,
    }


def _diffs(old: dict, new: dict) -> list[tuple[str, object, object]]:
    return [(k, old.get(k), new.get(k)) for k in new if old.get(k) != new.get(k)]


def live_filters(logs, prefix: str) -> dict[tuple[str, str], dict]:
    """Every metric filter of the account whose name has the prefix, by (log group, name)."""
    out = {}
    for page in logs.get_paginator("describe_metric_filters").paginate():
        for f in page.get("metricFilters", []):
            if f["filterName"].startswith(prefix):
                out[(f["logGroupName"], f["filterName"])] = f
    return out


def live_alarms(cw) -> dict[str, dict]:
    return {a["AlarmName"]: a for a in metric_alarms(cw)}


def _tags(cw, alarm_arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in cw.list_tags_for_resource(ResourceARN=alarm_arn).get("Tags", [])}


def is_managed(cw, alarm_arn: str) -> bool:
    return _tags(cw, alarm_arn).get(MANAGED_TAG) == "true"


def is_ours(cw, alarm_arn: str, stage: str) -> bool:
    """Managed by opswatch for this stage (an alarm made before stage tags counts as this stage's)."""
    tags = _tags(cw, alarm_arn)
    return tags.get(MANAGED_TAG) == "true" and tags.get(STAGE_TAG, stage) == stage


def _takeover(tags: dict[str, str], stage: str) -> str:
    if tags.get(MANAGED_TAG) != "true":
        return "hand-made alarm of this name: apply takes it over"
    other = tags.get(STAGE_TAG, stage)
    return f"alarm of stage {other}: apply gives it to stage {stage}" if other != stage else ""


def make_plan(loaded: Loaded, logs, cw, partition: str, region: str, account: str) -> Plan:
    want = desired(loaded, partition, region, account)
    filters = live_filters(logs, loaded.spec.filter_prefix)
    alarms = live_alarms(cw)
    changes: list[Change] = []
    notes: list[str] = []
    groups = {r.log_group for r in want if r.kind == "metric filter"}
    existing_groups = set()
    for g in sorted(groups):
        found = logs.describe_log_groups(logGroupNamePrefix=g).get("logGroups", [])
        if any(x["logGroupName"] == g for x in found):
            existing_groups.add(g)
        else:
            notes.append(f"log group {g} does not exist: its metric filters cannot be created until it does")
    for r in want:
        if r.kind == "metric filter":
            live = filters.pop((r.log_group, r.name), None)
            if live is None:
                changes.append(Change("create", r))
                continue
            d = _diffs(_filter_shape(live), _filter_shape(r.params))
            changes.append(Change("update" if d else "unchanged", r, d))
        else:
            live = alarms.pop(r.name, None)
            if live is None:
                changes.append(Change("create", r))
                continue
            d = _diffs(_live_alarm(live), _normal(r.params))
            note = _takeover(_tags(cw, live["AlarmArn"]), loaded.stage)
            changes.append(Change("update" if d or note else "unchanged", r, d, note))
    stale = [
        Resource("metric filter", name, group, {"logGroupName": group, "filterName": name})
        for (group, name) in sorted(filters)
        if not other_stage_group(group, loaded.stage)
    ]
    stale += [
        Resource("alarm", name, None, {"AlarmName": name})
        for name, a in sorted(alarms.items())
        if is_ours(cw, a["AlarmArn"], loaded.stage)
    ]
    _dashboards_and_queries(loaded, logs, cw, partition, region, account, changes, stale, notes)
    return Plan(changes, stale, notes)


def _dashboards_and_queries(
    loaded, logs, cw, partition, region, account, changes: list, stale: list, notes: list[str]
) -> None:
    """Dashboards and saved Logs Insights queries (``chalicelib/dashboards``, ``chalicelib/insights``)."""
    from chalicelib.dashboards import plan as dashboards
    from chalicelib.insights import plan as insights

    ctx = dashboards.context(loaded, partition, region, account)
    for module in (dashboards, insights):
        want = module.desired(loaded, ctx)
        try:
            more, old = module.plan(want, cw if module is dashboards else logs, loaded.stage)
        except (ClientError, BotoCoreError) as exc:
            if want:
                raise
            # The spec declares none: a caller without the read permissions still plans its filters and alarms.
            notes.append(f"{module.KIND}s not read ({_reason(exc)}): managed ones left by an older spec are not listed")
            continue
        changes += more
        stale += old


@dataclass
class Applied:
    done: list[str]
    failed: list[tuple[str, str]]


def apply_plan(plan: Plan, logs, cw, prune: bool, stage: str = "") -> Applied:
    """Carry out every pending change (and, with ``prune``, delete the stale managed resources)."""
    from chalicelib.dashboards import plan as dashboards
    from chalicelib.insights import plan as insights

    done, failed = [], []
    tag = [{"Key": MANAGED_TAG, "Value": "true"}] + ([{"Key": STAGE_TAG, "Value": stage}] if stage else [])
    for c in plan.pending:
        r = c.resource
        try:
            warning = ""
            if r.kind == "metric filter":
                logs.put_metric_filter(**r.params)
            elif r.kind == "dashboard":
                warning = dashboards.put(cw, r)
            elif r.kind == "query definition":
                insights.put(logs, r)
            else:
                cw.put_metric_alarm(**r.params)
                arn = cw.describe_alarms(AlarmNames=[r.name])["MetricAlarms"][0]["AlarmArn"]
                cw.tag_resource(ResourceARN=arn, Tags=tag)  # tags on PutMetricAlarm are ignored on updates
            done.append(
                f"{'created' if c.action == 'create' else 'updated'} {c.label}"
                + (f" (CloudWatch warns: {warning})" if warning else "")
            )
        except (ClientError, BotoCoreError) as exc:
            failed.append((c.label, dashboards.reason(exc) if r.kind == "dashboard" else _reason(exc)))
    if prune:
        for r in plan.stale:
            label = f"{r.kind} {r.name}" + (f" ({r.log_group})" if r.log_group else "")
            try:
                if r.kind == "metric filter":
                    logs.delete_metric_filter(logGroupName=r.log_group, filterName=r.name)
                elif r.kind == "dashboard":
                    cw.delete_dashboards(DashboardNames=[r.name])
                elif r.kind == "query definition":
                    insights.delete(logs, r)
                else:
                    cw.delete_alarms(AlarmNames=[r.name])
                done.append(f"deleted {label}")
            except (ClientError, BotoCoreError) as exc:
                failed.append((label, _reason(exc)))
    return Applied(done, failed)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code')}: {err.get('Message')}"
    return str(exc)
