"""Dashboards from the monitors spec: the body and its documented rules, then plan/apply/prune on moto.

moto stores dashboard bodies without checking them (so every rule of "Dashboard Body Structure
and Syntax" is tested here, on the checker), and answers PutDashboard with no validation
messages: the fault proxy stands in for CloudWatch's refusals and warnings, over real HTTP.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import boto3
import pytest
import yaml

from chalicelib.aws import client
from chalicelib.dashboards import check
from chalicelib.dashboards.body import Context, build, is_managed
from chalicelib.dashboards.spec import Dashboard
from chalicelib.monitors.spec import SpecError, load
from tests.conftest import opswatch, opswatch_here
from tests.faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "infra" / "monitors.yaml"
LB = "app/shop-prod/50dc6c495c0c9188"
CTX = Context("local", "aws", "us-east-1", "123456789012", ("a", "b"), "/opswatch/local/alb", "q", "wg")
ALARM = {
    "name": "shop-5xx",
    "metric": {"namespace": "ns", "name": "m", "statistic": "Sum"},
    "period": 60,
    "evaluation_periods": 1,
    "comparison": "GreaterThanThreshold",
    "threshold": 1,
    "treat_missing_data": "notBreaching",
}


def body(**kw) -> dict:
    return build(Dashboard(name="shop", load_balancers=[LB], **kw), CTX)


def spec_file(tmp_path, data: dict) -> Path:
    p = tmp_path / "monitors.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


# --- the body ----------------------------------------------------------------------------------------


def test_the_example_dashboard_builds_a_valid_body_with_every_section():
    b = body()
    assert check.problems(b) == []
    titles = [w["properties"].get("title") for w in b["widgets"]]
    assert "Requests, busiest 10 routes: shop-prod" in titles and "Alarms of the spec" in titles
    assert {"ALB log lines", "Functions: Duration p99", "5xx by path", "Status codes"} <= set(titles)
    assert b["widgets"][0]["type"] == "text" and is_managed(b)
    # The route widgets follow routes as they appear: metric-math SEARCH, the busiest N kept by SORT.
    [[req]] = b["widgets"][1]["properties"]["metrics"]
    assert req["expression"].startswith("SORT(SEARCH('{opswatch/alb-routes,LoadBalancer,Route} ")
    assert req["expression"].endswith(", SUM, DESC, 10)")
    alarm = next(w for w in b["widgets"] if w["type"] == "alarm")
    assert alarm["properties"]["alarms"] == [
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:b",
    ]
    logs = [w for w in b["widgets"] if w["type"] == "log" and w["properties"]["title"] == "Status codes"]
    assert logs[0]["properties"]["query"].startswith("SOURCE '/opswatch/local/alb' | stats count(*)")


def test_a_list_of_routes_filters_the_search_and_sections_choose_rows():
    b = body(routes=["/api/orders", "/api/cart/{id}"], sections=["traffic"])
    assert check.problems(b) == []
    assert len(b["widgets"]) == 5  # the links, then one row per load balancer
    expr = b["widgets"][1]["properties"]["metrics"][0][0]["expression"]
    assert '(Route="/api/orders" OR Route="/api/cart/{id}")' in expr and "SORT" not in expr


def test_more_than_100_alarms_split_the_status_widget():
    ctx = Context("local", "aws", "us-east-1", "123456789012", tuple(f"a{i}" for i in range(150)), "/g", "q", "wg")
    b = build(Dashboard(name="x", load_balancers=[LB], sections=["alarms"]), ctx)
    assert check.problems(b) == []
    assert [len(w["properties"]["alarms"]) for w in b["widgets"] if w["type"] == "alarm"] == [100, 50]


def _broken(path: str, value) -> dict:
    """The example body with one value replaced (``widgets.1.properties.region``); ``None`` deletes it."""
    b = copy.deepcopy(body())
    *parents, last = path.split(".")
    node = b
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    key = int(last) if isinstance(node, list) else last
    if value is None:
        del node[key]
    else:
        node[key] = value
    return b


RULES = [
    # (where, new value, what the problem says)
    ("widgets", "x", "must include a widgets array"),
    ("start2", "-PT1H", "unknown top-level key 'start2'"),
    ("periodOverride", "always", "periodOverride 'always': auto or inherit"),
    ("widgets.1", "w", "widget 1: a widget is a JSON object"),
    ("widgets.1.colour", "red", "unknown key 'colour'"),
    ("widgets.1.type", "graph", "type 'graph' is not a widget type"),
    ("widgets.1.properties", None, "properties (an object) is required"),
    ("widgets.1.x", 24, "x 24: a whole number from 0 to 23"),
    ("widgets.1.y", -1, "y -1: a whole number, 0 or more"),
    ("widgets.1.width", 25, "width 25: a whole number from 1 to 24"),
    ("widgets.1.width", 0, "width 0: a whole number from 1 to 24"),
    ("widgets.1.height", 1001, "height 1001: a whole number from 1 to 1000"),
    ("widgets.4.width", 7, "x 18 + width 7 passes the 24-column grid"),
    ("widgets.2.x", 3, "overlaps widget 1 (Requests, busiest 10 routes: shop-prod)"),
    ("widgets.1.properties.region", None, "a metric widget names its region"),
    ("widgets.1.properties.period", 45, "period 45: 1, 5, 10, 30 or a multiple of 60 seconds"),
    ("widgets.1.properties.view", "line", "view 'line': one of timeSeries"),
    ("widgets.1.properties.stat", "Mean", "stat 'Mean' is not a CloudWatch statistic"),
    ("widgets.6.properties.annotations", {"alarms": ["arn:1", "arn:2"]}, "at most one alarm ARN per widget"),
    ("widgets.6.properties.annotations", None, "needs metrics, or an alarm in annotations.alarms"),
    ("widgets.1.properties.metrics", "m", "metrics is an array of arrays"),
    ("widgets.1.properties.metrics", [["ns", "m"]] * 501, "501 metrics; a widget holds at most 500"),
    ("widgets.1.properties.metrics", ["AWS/EC2"], "metrics[0]: each metric is a non-empty array"),
    ("widgets.1.properties.metrics", [["ns", "m", {"id": "M1"}]], "id 'M1' must start with a lower-case letter"),
    ("widgets.1.properties.metrics", [["ns", "m", {"id": "a"}], ["ns", "n", {"id": "a"}]], "id 'a' is used twice"),
    ("widgets.1.properties.metrics", [["ns", {"expression": "m1*2"}]], "an expression entry is [{expression"),
    ("widgets.1.properties.metrics", [[{"expression": " "}]], "expression is a non-empty string"),
    ("widgets.1.properties.metrics", [[{"expression": "SUM(m1"}]], "parentheses do not balance"),
    ("widgets.1.properties.metrics", [[{"expression": "x" * 2049}]], "2049 characters; at most 2048"),
    ("widgets.1.properties.metrics", [["ns", 5]], "rendering properties go last, as an object"),
    ("widgets.1.properties.metrics", [[".", "m"]], "repeats the previous metric, and there is none"),
    ("widgets.1.properties.metrics", [["ns"]], "names Namespace and MetricName"),
    ("widgets.1.properties.metrics", [["ns", "m", "Dim"]], "dimensions come in name, value pairs"),
    ("widgets.1.properties.metrics", [["ns", "m", *["d", "v"] * 31]], "at most 30 dimensions"),
    ("widgets.1.properties.metrics", [["ns", "m", {"stat": "avg"}]], "stat 'avg' is not a CloudWatch statistic"),
    ("widgets.5.properties.alarms", [], "lists 1 to 100 alarm ARNs"),
    ("widgets.5.properties.alarms", ["shop-5xx"], "alarms are alarm ARNs"),
    ("widgets.5.properties.sortBy", "name", "sortBy 'name'"),
    ("widgets.5.properties.states", ["FIRING"], "states among ALARM, INSUFFICIENT_DATA and OK"),
    ("widgets.0.properties.markdown", None, "a text widget has markdown"),
    ("widgets.0.properties.background", "blue", "background 'blue': solid or transparent"),
    ("widgets.9.properties.region", None, "a log widget names its region"),
    ("widgets.9.properties.view", "lines", "view 'lines': one of table"),
    ("widgets.9.properties.query", "fields @message", "starts with SOURCE 'log-group'"),
    ("widgets.9.properties.query", "SOURCE 'g' | feilds @message", "stage 2 starts with 'feilds'"),
    ("widgets.9.properties.query", "SOURCE 'g' | fields a || limit 5", "stage 3 of the query is empty"),
]


@pytest.mark.parametrize(("where", "value", "says"), RULES, ids=[f"{r[0]}={str(r[1])[:20]}" for r in RULES])
def test_each_documented_rule_is_checked(where, value, says):
    found = check.problems(_broken(where, value))
    assert any(says in p for p in found), found


def test_dashboard_wide_limits():
    many = {"widgets": [{"type": "text", "x": 0, "y": i, "width": 1, "height": 1, "properties": {"markdown": ""}}
                        for i in range(501)]}  # fmt: skip
    assert "501 widgets; a dashboard holds at most 500" in check.problems(many)
    metric = {"type": "metric", "width": 1, "height": 1,
              "properties": {"region": "r", "metrics": [["ns", "m", "d", str(i)] for i in range(500)]}}  # fmt: skip
    six = {"widgets": [{**metric, "x": i, "y": 0} for i in range(6)]}
    assert "3000 metrics across the widgets; a dashboard holds at most 2500" in check.problems(six)
    big = {"widgets": [{"type": "text", "x": 0, "y": 0, "properties": {"markdown": "x" * 1_000_001}}]}
    assert any("opswatch keeps a dashboard under 1000000 bytes" in p for p in check.problems(big))
    assert check.problems([]) == ["the body must be a JSON object with a widgets array"]
    assert check.problems({"widgets": []}) == []  # the array may be empty
    # A pipe inside quotes or a regex does not split a Logs Insights query.
    ok = "SOURCE 'g' | filter @message like /a|b/ | parse @message 'x|y' as z | fields z"
    assert (
        check.problems({"widgets": [{"type": "log", "x": 0, "y": 0, "properties": {"region": "r", "query": ok}}]}) == []
    )


# --- the spec ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"name": "shop prod"}, "dashboards.0 (shop prod): name: Value error, dashboard name 'shop prod'"),
        ({"load_balancers": ["shop-prod"]}, "dashboards.0 (shop): load_balancers: Value error, load balancer"),
        ({"load_balancers": []}, "dashboards.0 (shop): load_balancers: List should have at least 1 item"),
        ({"routes": 0}, "dashboards.0 (shop): routes: Value error, routes: the busiest N routes, N between 1 and 100"),
        ({"routes": ['/a"b']}, "route '/a\"b': 1 to 256 characters, no quote"),
        ({"period": 45}, "dashboards.0 (shop): period: Value error, period 45"),
        ({"sections": ["traffic", "graphs"]}, "dashboards.0 (shop): sections.1: Input should be 'traffic'"),
        ({"sections": ["logs", "logs"]}, "a section is listed twice"),
        ({"log_groups": ["/bad group"]}, "'/bad group' is not a log group name"),
        ({"colour": "red"}, "dashboards.0 (shop): colour: Extra inputs are not permitted"),
        ({"routes": ["/a", "/a"]}, "a route is listed twice"),
        ({"routes": [f"/r{i}" for i in range(101)]}, "routes: between 1 and 100 route names"),
        ({"load_balancers": [LB, LB]}, "a load balancer is listed twice"),
        ({"alarm_graphs": 9}, "alarm_graphs: Input should be less than or equal to 8"),
        ({"log_groups": []}, "log_groups: 1 to 50 log groups"),
    ],
)
def test_a_malformed_dashboard_entry_names_file_line_and_item(tmp_path, entry, says):
    path = spec_file(tmp_path, {"alarms": [ALARM], "dashboards": [{"name": "shop", "load_balancers": [LB], **entry}]})
    with pytest.raises(SpecError) as err:
        load(str(path))
    [problem] = [p for p in err.value.problems if "dashboards.0" in p]
    lines = path.read_text().splitlines()
    key = next(iter(entry))
    line = next(i for i, x in enumerate(lines, 1) if x.lstrip(" -").startswith(f"{key}:") and i > 10)
    at = int(problem.removeprefix(f"{path}:").split(":")[0])
    assert line <= at <= line + 2, problem  # the key's line, or its item's in a list
    assert f"{path}:{at}: dashboards.0 (" in problem and says.replace("Value error, ", "") in problem, problem


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"query": "feilds @message"}, "stage 1 starts with 'feilds', not a Logs Insights command"),
        ({"query": "SOURCE 'g' | fields @message"}, "a saved query names its groups in log_groups"),
        ({"query": "x" * 10_001}, "Logs Insights takes at most 10000"),
        ({"log_groups": []}, "insights.0 (errors): log_groups: List should have at least 1 item"),
        ({"name": "/abs"}, "query name '/abs'"),
    ],
)
def test_a_malformed_saved_query_is_refused(tmp_path, entry, says):
    q = {"name": "errors", "log_groups": ["/g"], "query": "fields @message | limit 5", **entry}
    with pytest.raises(SpecError) as err:
        load(str(spec_file(tmp_path, {"insights": [q]})))
    assert says in str(err.value) and re.search(r"monitors.yaml:[2-5]: insights.0 \(", str(err.value)), str(err.value)


def test_a_dashboard_whose_body_breaks_a_limit_is_refused_before_any_call(tmp_path):
    routes = [f"/api/route/number/{i:03d}/with/a/long/path" for i in range(100)]
    path = spec_file(tmp_path, {"dashboards": [{"name": "wide", "load_balancers": [LB], "routes": routes}]})
    # No moto here: every client points at a closed port, so any AWS call would fail differently.
    for command in ("validate", "plan", "apply"):
        r = opswatch_here("monitors", command, "--spec", str(path), *(["--yes"] if command == "apply" else []))
        assert r.returncode in (1, 2) and "Traceback" not in r.stderr, r.stderr
        assert f"{path}:2: dashboards.0 (wide): widget 1 (Requests, chosen routes: shop-prod): metrics[0]:" in r.stderr
        assert "characters; at most 2048" in r.stderr and "reading CloudWatch failed" not in r.stderr


def test_two_dashboards_or_saved_queries_of_one_name_are_refused(tmp_path):
    d = {"name": "shop", "load_balancers": [LB]}
    with pytest.raises(SpecError, match="dashboard 'shop' is declared twice"):
        load(str(spec_file(tmp_path, {"dashboards": [d, d]})))
    q = {"name": "shop/status_codes", "log_groups": ["/g"], "query": "fields @message"}
    path = spec_file(tmp_path, {"dashboards": [d], "insights": [q]})
    r = opswatch_here("monitors", "validate", "--spec", str(path))
    assert r.returncode == 2
    assert f"{path}:6: saved query opswatch/shop/status_codes is also made at line 2; rename one" in r.stderr


# --- plan, apply, prune on moto ----------------------------------------------------------------------


@pytest.fixture
def spec(aws, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    boto3.client("logs").create_log_group(logGroupName="/opswatch/local/alb")
    return spec_file(
        tmp_path,
        {
            "alarms": [ALARM],
            "dashboards": [
                {"name": "shop-local", "load_balancers": [LB], "routes": ["/api/orders"], "sections": ["traffic"]},
                {"name": "ops-local", "load_balancers": [LB], "sections": ["alarms", "pipeline", "logs"]},
            ],
        },
    )


def test_apply_creates_the_dashboards_and_a_second_plan_is_empty(spec):
    r = opswatch("monitors", "plan", "--spec", str(spec), "--format", "json")  # as a user runs it
    assert r.returncode == 3, r.stderr  # changes pending
    dash = [c for c in json.loads(r.stdout)["changes"] if c["kind"] == "dashboard"]
    assert [(c["action"], c["name"]) for c in dash] == [("create", "shop-local"), ("create", "ops-local")]
    assert dash[0]["url"] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/shop-local"
    )
    r = opswatch_here("monitors", "apply", "--spec", str(spec), "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "created dashboard shop-local" in r.stdout and "created dashboard ops-local" in r.stdout
    cw = boto3.client("cloudwatch")
    stored = json.loads(cw.get_dashboard(DashboardName="shop-local")["DashboardBody"])
    assert (
        stored
        == body(routes=["/api/orders"], sections=["traffic"])
        | {
            "widgets": [
                {**stored["widgets"][0]},  # the links name the spec file as given
                *body(routes=["/api/orders"], sections=["traffic"])["widgets"][1:],
            ]
        }
    )
    assert is_managed(stored) and "monitors.yaml" in stored["widgets"][0]["properties"]["markdown"]
    r = opswatch_here("monitors", "plan", "--spec", str(spec))
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "Plan: 0 to create, 0 to change, 0 to delete.", r.stdout
    assert "  dashboard shop-local   [unchanged]" in r.stdout and "#dashboards/dashboard/shop-local" in r.stdout


def test_a_route_added_shows_as_a_change_of_those_widgets_only(spec):
    assert opswatch_here("monitors", "apply", "--spec", str(spec), "--yes").returncode == 0
    data = yaml.safe_load(spec.read_text())
    data["dashboards"][0]["routes"].append("/api/cart")
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    r = opswatch_here("monitors", "plan", "--spec", str(spec))
    assert r.returncode == 3, r.stdout + r.stderr  # changes pending
    lines = r.stdout.splitlines()
    at = lines.index("~ dashboard shop-local")
    changed = [x.strip() for x in lines[at + 1 :] if x.startswith("    widget ")]
    assert changed == [
        "widget Requests, chosen routes: shop-prod: changed",
        "widget 4xx and 5xx, chosen routes: shop-prod: changed",
        "widget Target latency p50/p90/p99: shop-prod: changed",
    ]
    assert "DashboardBody" not in r.stdout  # never one giant JSON diff
    assert opswatch_here("monitors", "apply", "--spec", str(spec), "--yes").returncode == 0
    stored = json.loads(boto3.client("cloudwatch").get_dashboard(DashboardName="shop-local")["DashboardBody"])
    [[requests]] = stored["widgets"][1]["properties"]["metrics"]
    assert '(Route="/api/orders" OR Route="/api/cart")' in requests["expression"]


def test_only_the_top_widget_marks_a_dashboard_as_managed():
    # A hand-made dashboard with a copied header further down was taken as opswatch's, so --prune deleted it.
    mark = {"type": "text", "x": 0, "y": 9, "width": 6, "height": 2, "properties": {"markdown": "opswatch:managed"}}
    mine = {"type": "text", "x": 0, "y": 0, "width": 6, "height": 2, "properties": {"markdown": "mine"}}
    assert not is_managed({"widgets": [mine, mark]})
    assert is_managed({"widgets": [{**mark, "y": 0}, mine]})
    assert not is_managed({"widgets": []}) and not is_managed({"widgets": "x"}) and not is_managed({})


def test_prune_deletes_a_removed_dashboard_and_never_a_hand_made_one(spec):
    cw = boto3.client("cloudwatch")
    hand = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2, "properties": {"markdown": "mine"}}]}
    cw.put_dashboard(DashboardName="team-made", DashboardBody=json.dumps(hand))
    cw.put_dashboard(DashboardName="ops-local", DashboardBody=json.dumps(hand))  # a hand-made one of a spec name
    r = opswatch_here("monitors", "plan", "--spec", str(spec))
    assert "~ dashboard ops-local   [hand-made dashboard of this name: apply takes it over]" in r.stdout
    assert "team-made" not in r.stdout
    assert opswatch_here("monitors", "apply", "--spec", str(spec), "--yes").returncode == 0
    data = yaml.safe_load(spec.read_text())
    data["dashboards"] = data["dashboards"][:1]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    r = opswatch_here("monitors", "plan", "--spec", str(spec))
    assert "? dashboard ops-local   [managed by opswatch, not in the spec; apply --prune deletes it]" in r.stdout
    r = opswatch_here("monitors", "apply", "--spec", str(spec), "--prune", "--yes")
    assert r.returncode == 0 and "deleted dashboard ops-local" in r.stdout, r.stdout + r.stderr
    names = {d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]}
    assert names == {"shop-local", "team-made"}
    assert json.loads(cw.get_dashboard(DashboardName="team-made")["DashboardBody"]) == hand


# --- CloudWatch's answers to PutDashboard, which moto never gives ---------------------------------------

PUT = "GraniteServiceVersion20100801.PutDashboard"


@pytest.fixture
def cw_proxy(spec, monkeypatch):
    p = FaultProxy(client("sts").meta.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", p.endpoint)
    yield p
    p.close()


def _answer(status: int, payload: dict):
    """CloudWatch's answer in its JSON protocol (botocore speaks it to CloudWatch; errors keep their Query code)."""
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    if status >= 400:
        headers["x-amzn-query-error"] = "InvalidParameterInput;Sender"
    return lambda body: (status, headers, json.dumps(payload).encode())


def test_a_body_cloudwatch_refuses_fails_apply_with_its_messages(cw_proxy, spec):
    cw_proxy.answer[PUT] = _answer(
        400,
        {
            "__type": "com.amazonaws.cloudwatch#DashboardInvalidInputError",
            "message": "The field DashboardBody must be a valid JSON object",
            "dashboardValidationMessages": [{"DataPath": "/widgets/1/properties", "Message": "Should have region"}],
        },
    )
    r = opswatch_here("monitors", "apply", "--spec", str(spec), "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert (
        "FAILED dashboard shop-local: InvalidParameterInput: The field DashboardBody must be a valid JSON object "
        "(/widgets/1/properties: Should have region)" in r.stderr
    )
    assert "created alarm shop-5xx" in r.stdout and "applied, 2 failed; run apply again once fixed." in r.stderr


def test_putdashboard_warnings_are_shown(cw_proxy, spec):
    cw_proxy.answer[PUT] = _answer(
        200, {"DashboardValidationMessages": [{"DataPath": "/widgets/3", "Message": "Metric not found"}]}
    )
    r = opswatch_here("monitors", "apply", "--spec", str(spec), "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "created dashboard shop-local (CloudWatch warns: /widgets/3: Metric not found)" in r.stdout


def test_without_read_permission_a_spec_without_dashboards_still_plans(cw_proxy, spec, tmp_path):
    cw_proxy.fail_target, cw_proxy.fail_times = "GraniteServiceVersion20100801.ListDashboards", -1
    cw_proxy.status, cw_proxy.error_type = 403, "AccessDenied"
    r = opswatch_here("monitors", "plan", "--spec", str(spec))
    assert r.returncode == 2 and "reading CloudWatch failed" in r.stderr and "AccessDenied" in r.stderr  # AWS refused
    alarms_only = spec_file(tmp_path, {"alarms": [ALARM]})
    r = opswatch_here("monitors", "plan", "--spec", str(alarms_only))
    assert r.returncode == 3 and "+ alarm shop-5xx" in r.stdout, r.stdout + r.stderr  # changes pending
    assert "note: dashboards not read (AccessDenied: injected by the test)" in r.stdout


def test_the_lines_log_alarms_matched_are_listed_from_their_own_groups():
    from chalicelib.filters import compile_pattern
    from chalicelib.insights.patterns import condition

    oom = condition([compile_pattern('?"OutOfMemoryError" ?"Killed process"'), compile_pattern("%heap[/_]space%")])
    assert (
        oom == '(@message like "OutOfMemoryError" or @message like "Killed process") or @message like /heap[\\/_]space/'
    )
    assert condition([compile_pattern('{ $.level = "ERROR" }')]) is None  # JSON patterns have no translation
    ctx = Context(
        "local",
        "aws",
        "us-east-1",
        "1",
        (),
        "/g",
        "q",
        "wg",
        matched=(("/ecs/a.b", oom), ("/ecs/c", '@message like "x"')),
    )
    b = build(Dashboard(name="x", load_balancers=[LB], sections=["log_alerts"]), ctx)
    assert check.problems(b) == []
    [w] = [w for w in b["widgets"] if w["properties"].get("title") == "Last lines the log alarms matched"]
    query = w["properties"]["query"]
    assert query.startswith("SOURCE '/ecs/a.b' | SOURCE '/ecs/c' | fields @timestamp, @log, @message | filter ")
    assert '(@log like /:\\/ecs\\/a\\.b$/ and ((@message like "OutOfMemoryError"' in query
    assert [x["width"] for x in b["widgets"][1:]] == [8, 8, 8]
