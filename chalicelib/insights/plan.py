"""Saved Logs Insights queries (query definitions) in the monitors plan.

Every query opswatch saves is named under the ``opswatch/`` folder, which the console
shows as a folder of saved queries: ``opswatch/<dashboard>/<question>`` for a dashboard's
``logs`` section (the Athena named queries' questions), ``opswatch/<name>`` for an entry of
``insights:``. The folder is how opswatch recognises them: ``--prune`` deletes only
definitions under it. DescribeQueryDefinitions, PutQueryDefinition (with the definition's
id, to change it in place) and DeleteQueryDefinition do the work.
"""

from __future__ import annotations

from chalicelib.dashboards import body as bodies
from chalicelib.insights.questions import QUESTIONS
from chalicelib.monitors.changes import Change, Resource, other_stage_group
from chalicelib.monitors.spec import Loaded, SpecError

FOLDER = "opswatch/"
KIND = "query definition"


def desired(loaded: Loaded, ctx: bodies.Context) -> list[Resource]:
    spec = loaded.spec
    out: list[Resource] = []
    for i, d in enumerate(spec.dashboards):
        if "logs" not in d.sections:
            continue
        groups = bodies.log_groups(d, ctx)
        line = loaded.line_of("dashboards", i)
        for q in QUESTIONS:
            out.append(_resource(f"{FOLDER}{d.name}/{q.name}", q.query, groups, line))
    for i, q in enumerate(spec.insights):
        out.append(_resource(FOLDER + q.name, q.query, q.log_groups, loaded.line_of("insights", i)))
    seen: dict[str, int] = {}
    for r in out:
        if r.name in seen:
            raise SpecError(
                [f"{loaded.path}:{r.line}: saved query {r.name} is also made at line {seen[r.name]}; rename one"]
            )
        seen[r.name] = r.line
    return out


def _resource(name: str, query: str, groups: list[str], line: int) -> Resource:
    params = {"name": name, "queryString": query, "logGroupNames": list(groups)}
    return Resource(KIND, name, None, params, line)


def live(logs) -> dict[str, dict]:
    """Every query definition under the folder, by name."""
    out: dict[str, dict] = {}
    token = None
    while True:
        kwargs = {"queryDefinitionNamePrefix": FOLDER, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = logs.describe_query_definitions(**kwargs)
        for q in page.get("queryDefinitions", []):
            if q.get("name", "").startswith(FOLDER):
                out[q["name"]] = q
        token = page.get("nextToken")
        if not token:
            return out


def _shape(q: dict) -> dict:
    return {"queryString": q.get("queryString", ""), "logGroupNames": sorted(q.get("logGroupNames") or [])}


def plan(want: list[Resource], logs, stage: str = "") -> tuple[list[Change], list[Resource]]:
    """Changes and stale queries; a query over another stage's ALB log group only is that stage's, never stale."""
    current = live(logs)
    changes = []
    for r in want:
        old = current.pop(r.name, None)
        if old is None:
            changes.append(Change("create", r))
            continue
        r.params["queryDefinitionId"] = old["queryDefinitionId"]  # PutQueryDefinition changes it in place
        old_shape, new_shape = _shape(old), _shape(r.params)
        d = [(k, old_shape[k], new_shape[k]) for k in new_shape if old_shape[k] != new_shape[k]]
        changes.append(Change("update" if d else "unchanged", r, d))
    stale = [
        Resource(KIND, name, None, {"name": name, "queryDefinitionId": q["queryDefinitionId"]})
        for name, q in sorted(current.items())
        if not (q.get("logGroupNames") and all(other_stage_group(g, stage) for g in q["logGroupNames"]))
    ]
    return changes, stale


def put(logs, r: Resource) -> None:
    logs.put_query_definition(**r.params)


def delete(logs, r: Resource) -> None:
    logs.delete_query_definition(queryDefinitionId=r.params["queryDefinitionId"])
