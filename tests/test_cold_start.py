"""Each Lambda function's cold start loads only what that function runs.

A fresh interpreter imports ``app`` and the one handler module the function's body imports
on its first event (``bench/coldstart.py``'s list, which ``make bench`` times), then reports
``sys.modules``. The CLI's libraries, slack-sdk (loaded when a message is built), and the
other flows' modules must not be there: each is time a cold start pays for nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from bench.coldstart import FUNCTIONS, ROOT, environment, statement

# Libraries no function needs at import: the CLI's (click, DuckDB, sqlglot, pydantic, pyathena),
# YAML (only a YAML rules file needs it, read on the first event), and slack-sdk until a message is made.
NEVER = ("duckdb", "sqlglot", "pydantic", "click", "yaml", "pyathena", "fsspec", "slack_sdk", "asyncio")
FLOWS = {
    "alb": "chalicelib.alb",
    "alarms": "chalicelib.alarms",
    "logalerts": "chalicelib.logalerts",
    "filters": "chalicelib.filters",
    "monitors": "chalicelib.monitors",
    "athena": "chalicelib.athena",
    "cli": "chalicelib.cli",
    "embedded": "chalicelib.embedded",
    "failed": "chalicelib.failed",
    "cwlogs": "chalicelib.cwlogs",
    "policies": "chalicelib.policies",
    "slackactions": "chalicelib.slackactions",
}
# What each function's path may load of the flows above; everything else in FLOWS is another flow's.
OWN = {
    "alb_logs": {"alb", "cwlogs"},
    "alarm_bridge": {"alarms"},
    "alarm_events": {"alarms"},
    "log_alerts": {"logalerts", "filters"},
    "log_alerts_stream": {"logalerts", "filters"},
    "monitors_audit": {"monitors"},
    "athena_report": {"athena"},
    "slack_actions": {"slackactions"},
}

# Modules of a function's own flow that only some configurations run, left for when they do.
ONLY_WHEN_USED = {
    "alarm_bridge": {"chalicelib.alarms.threads", "chalicelib.alarms.graph"},  # bot mode; graphs on
    "alarm_events": {"chalicelib.alarms.threads", "chalicelib.alarms.graph"},
    "log_alerts": set(),
    "log_alerts_stream": set(),
    "alb_logs": set(),
    "monitors_audit": set(),
    "athena_report": {"chalicelib.athena.remote", "chalicelib.athena.table"},  # the CLI's client; the DDL
    "slack_actions": set(),
}


def loaded(function: str) -> set[str]:
    code = f"import json, sys; {statement(function)}; print(json.dumps(sorted(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return set(json.loads(r.stdout))


def _top(modules: set[str]) -> set[str]:
    return {m.split(".", 1)[0] for m in modules}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_function_loads_no_library_it_does_not_run(function):
    modules = loaded(function)
    assert FUNCTIONS[function] in modules  # the path was really taken
    assert sorted(_top(modules) & set(NEVER)) == []


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_function_loads_no_other_flows_modules(function):
    modules = loaded(function)
    others = {flow: prefix for flow, prefix in FLOWS.items() if flow not in OWN[function]}
    strays = sorted(m for m in modules for p in others.values() if m == p or m.startswith(p + "."))
    assert strays == []
    assert sorted(modules & ONLY_WHEN_USED[function]) == []


def test_the_list_covers_every_function_in_app():
    """A function added to app.py without an entry here would go unmeasured and unchecked."""
    source = (ROOT / "app.py").read_text()
    names = set(re.findall(r'\bname="(\w+)"', source))  # the triggers' name=, not app_name=
    assert names == set(FUNCTIONS) == set(OWN) == set(ONLY_WHEN_USED)
    from chalicelib import kinds

    for function, module in FUNCTIONS.items():
        body = source.split(f'name="{function}"', 1)[1].split("\n\n\n", 1)[0]
        assert "from chalicelib.kinds import handle" in body and f'handle("{function}"' in body, function
        [entry] = [f for f in kinds.FUNCTIONS if f.name == function]  # the registry sends it to the module measured
        assert entry.handler.partition(":")[0] == module, function


def test_the_slack_actions_route_loads_only_its_endpoint():
    """The API's view (``api_handler``): ``app`` and the endpoint module; the signature check loads slack-sdk later.

    Slack waits three seconds for the answer, a cold start included.
    """
    code = "import json, sys; import app, chalicelib.slackactions.endpoint; print(json.dumps(sorted(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    modules = set(json.loads(r.stdout))
    assert sorted(_top(modules) & set(NEVER)) == []
    others = [p for flow, p in FLOWS.items() if flow != "slackactions"]
    assert sorted(m for m in modules for p in others if m == p or m.startswith(p + ".")) == []


_NO_MATCH = """
import base64, gzip, json, sys, time
import app
from chalicelib.logalerts.handler import handle_logs_event
data = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/ecs/shop-api", "logStream": "web/1",
        "subscriptionFilters": ["opswatch"],
        "logEvents": [{"id": "1", "timestamp": int(time.time() * 1000), "message": "GET /health 200 3ms"}]}
result = handle_logs_event({"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()}})
print(json.dumps({"result": result, "modules": sorted(sys.modules)}))
"""


def test_a_log_event_that_matches_no_rule_runs_without_slack_sdk():
    """The whole invocation, not only the imports: nothing to post, so slack-sdk is never loaded."""
    env = {**environment(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1"}
    r = subprocess.run([sys.executable, "-c", _NO_MATCH], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["result"]["events"] == 1 and out["result"]["matched"] == 0 and out["result"]["posted"] == []
    assert not _top(set(out["modules"])) & set(NEVER)
