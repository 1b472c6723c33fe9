"""Dashboards in the monitors plan: built from the spec, checked, compared widget by widget, applied.

What opswatch manages: a dashboard whose top text widget carries ``opswatch:managed``
(the line telling console users that the spec overwrites their edits, as AWS's PutDashboard
documentation recommends). ListDashboards and GetDashboard find them; ``--prune`` deletes
only those, and a hand-made dashboard is never touched (one with a spec dashboard's name
is taken over, and the plan says so). Dashboards are global to the account, so the mark,
not a Region, scopes them.
"""

from __future__ import annotations

import json
import os

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import console, settings
from chalicelib.dashboards import body as bodies
from chalicelib.dashboards import check
from chalicelib.monitors.changes import Change, Resource
from chalicelib.monitors.spec import Loaded, SpecError

KIND = "dashboard"


def context(loaded: Loaded, partition: str, region: str, account: str) -> bodies.Context:
    from chalicelib.insights.patterns import condition
    from chalicelib.logalerts.rules import active_rules

    spec = loaded.spec
    alarms = [a.name for a in spec.alarms] + [f"{la.rule} {la.log_group}" for la in spec.log_alarms]
    rules = {r.name: r for r in active_rules().rules} if spec.log_alarms else {}
    matched = []
    for la in spec.log_alarms:
        where = condition(rules[la.rule].patterns) if la.rule in rules else None
        if where:
            matched.append((la.log_group, where))
    return bodies.Context(
        stage=settings.stage(),
        partition=partition,
        region=region,
        account=account,
        alarms=tuple(alarms),
        alb_log_group=settings.alb_log_group(),
        failed_queue=settings.failed_queue(),
        workgroup=settings.athena().workgroup,
        spec_path=os.path.basename(loaded.path),  # the same body whichever directory apply runs from
        matched=tuple(matched),
    )


def desired(loaded: Loaded, ctx: bodies.Context) -> list[Resource]:
    """Every dashboard of the spec, built and checked; ``SpecError`` lists each body's problems."""
    out, problems = [], []
    for i, d in enumerate(loaded.spec.dashboards):
        body = bodies.build(d, ctx)
        line = loaded.line_of("dashboards", i)
        problems += [f"{loaded.path}:{line}: dashboards.{i} ({d.name}): {why}" for why in check.problems(body)]
        url = console.dashboard_url(ctx.partition, ctx.region, d.name)
        out.append(Resource(KIND, d.name, None, {"DashboardName": d.name, "DashboardBody": body}, line, url=url))
    if problems:
        raise SpecError(problems)
    return out


def problems(loaded: Loaded, region: str | None = None, account: str | None = None) -> list[str]:
    """The body problems of every dashboard, and clashing saved-query names, without any AWS call."""
    region = region or settings.region() or "us-east-1"
    ctx = context(loaded, console.partition_of(region), region, account or settings.account_id() or "123456789012")
    from chalicelib.insights import plan as insights

    try:
        desired(loaded, ctx)
        insights.desired(loaded, ctx)  # two saved queries of one name
    except SpecError as exc:
        return exc.problems
    return []


def live(cw) -> tuple[dict[str, dict], set[str]]:
    """The managed dashboards' bodies by name, and the names of the others (hand-made)."""
    managed, others = {}, set()
    for page in cw.get_paginator("list_dashboards").paginate():
        for entry in page.get("DashboardEntries", []):
            name = entry["DashboardName"]
            text = cw.get_dashboard(DashboardName=name).get("DashboardBody") or "{}"
            try:
                parsed = json.loads(text)
            except (ValueError, RecursionError):  # a hand-made body opswatch cannot read is not one of its own
                parsed = {}
            if isinstance(parsed, dict) and bodies.is_managed(parsed):
                managed[name] = parsed
            else:
                others.add(name)
    return managed, others


def widget_diffs(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """The widgets that differ, by title: ('widget TITLE', 'absent'|'as is', 'added'|'changed'|'removed')."""

    def keyed(body: dict) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for w in body.get("widgets") or []:
            if isinstance(w, dict):
                key = bodies.widget_key(w)
                while key in out:  # a duplicated title (hand edits): keep both apart
                    key += "'"
                out[key] = w
        return out

    a, b = keyed(old), keyed(new)
    diffs: list[tuple[str, object, object]] = []
    for key, w in b.items():
        if key not in a:
            diffs.append((f"widget {key}", "absent", "added"))
        elif a[key] != w:
            diffs.append((f"widget {key}", "as is", "changed"))
    diffs += [(f"widget {key}", "present", "removed") for key in a if key not in b]
    for k in sorted(set(old) | set(new)):
        if k != "widgets" and old.get(k) != new.get(k):
            diffs.append((k, old.get(k), new.get(k)))
    return diffs


def plan(want: list[Resource], cw, stage: str = "") -> tuple[list[Change], list[Resource]]:
    """Changes and stale dashboards; another stage's dashboard (its links name the stage) is never stale."""
    managed, others = live(cw)
    changes = []
    for r in want:
        old = managed.pop(r.name, None)
        if old is None:
            note = "hand-made dashboard of this name: apply takes it over" if r.name in others else ""
            changes.append(Change("update" if note else "create", r, [], note))
            continue
        d = widget_diffs(old, r.params["DashboardBody"])
        changes.append(Change("update" if d else "unchanged", r, d))
    stale = [
        Resource(KIND, name, None, {"DashboardName": name})
        for name in sorted(managed)
        if bodies.managed_stage(managed[name]) in (None, stage or settings.stage())
    ]
    return changes, stale


def put(cw, r: Resource) -> str:
    """PutDashboard; returns CloudWatch's warnings (DashboardValidationMessages), if any, as one line."""
    answer = cw.put_dashboard(DashboardName=r.name, DashboardBody=json.dumps(r.params["DashboardBody"]))
    return validation_text(answer.get("DashboardValidationMessages") or [])


def validation_text(messages: list[dict]) -> str:
    return "; ".join(f"{m.get('DataPath') or '(body)'}: {m.get('Message')}" for m in messages)


def reason(exc: Exception) -> str:
    """A refused PutDashboard's reason, with the validation messages AWS gives."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        extra = validation_text(exc.response.get("dashboardValidationMessages") or [])
        return f"{err.get('Code')}: {err.get('Message')}" + (f" ({extra})" if extra else "")
    if isinstance(exc, BotoCoreError):
        return str(exc)
    return repr(exc)
