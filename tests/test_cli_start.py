"""Local commands start at once: each loads its own module, and no AWS client, DuckDB, pyathena or pydantic.

Each command runs as ``opswatch`` does, in a fresh interpreter; at exit it
writes the names in ``sys.modules``, which must hold none of the libraries
that only AWS calls, the local Athena engine or the monitors spec need.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest

from chalicelib.cli.main import SUBCOMMANDS, cli
from chalicelib.logalerts.payload import encode
from tests.conftest import DATA

HEAVY = ("boto3", "botocore", "s3transfer", "pydantic", "duckdb", "pyathena", "sqlglot")

_PROBE = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "opswatch"
from chalicelib.cli.main import main
main()
"""


def loaded(tmp_path, *args: str, stdin: str | None = None, **env: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``opswatch ARGS`` in a fresh interpreter: (the process, the top-level packages it imported)."""
    out = tmp_path / "modules.json"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPSWATCH_")}, **env}
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args], capture_output=True, text=True, input=stdin, env=env
    )
    return r, {m.split(".")[0] for m in json.loads(out.read_text())}


OOM_EVENT = {
    "messageType": "DATA_MESSAGE",
    "owner": "123456789012",
    "logGroup": "/ecs/web",
    "logStream": "web/1",
    "subscriptionFilters": ["opswatch-log-alerts"],
    "logEvents": [{"id": "1", "timestamp": 1764213129000, "message": "JavaScript heap out of memory"}],
}
SNS_ALARM = DATA / "events" / "aws-lambda-go__cloudwatch-alarm-sns-payload-single-metric.json"
EVENTBRIDGE = DATA / "events" / "awsdocs-cloudwatch-eventbridge__state_change_for_a_single_metric_alarm.json"
ALB_LOG = DATA / "alb" / "aws_doc_examples_2023-04.log"

COMMANDS = {
    "help": (("--help",), 0, None),
    "filters test": (("filters", "test", "--pattern", "{ $.elb_status_code >= 500 }", "--events", "-"), 0,
                     '{"elb_status_code": 502}\n{"elb_status_code": 200}\n'),
    "alarms simulate": (("alarms", "simulate", "--points", "0 X X X", "--evaluation-periods", "3"), 0, None),
    "logs test-rules": (("logs", "test-rules", "-"), 0, "java.lang.OutOfMemoryError: Java heap space\n"),
    "slack render sns": (("slack", "render", str(SNS_ALARM)), 0, None),
    "slack render eventbridge": (("slack", "render", str(EVENTBRIDGE)), 0, None),
    "slack render awslogs": (("slack", "render", "-"), 0, json.dumps(encode(OOM_EVENT))),
    "alb parse json": (("alb", "parse", "--format", "json", str(ALB_LOG)), 0, None),
    "alb parse metrics": (("alb", "parse", "--format", "metrics", str(ALB_LOG)), 0, None),
}  # fmt: skip


@pytest.mark.parametrize("name", COMMANDS)
def test_local_command_loads_no_aws_client_nor_query_engine(tmp_path, name):
    args, code, stdin = COMMANDS[name]
    r, modules = loaded(tmp_path, *args, stdin=stdin)
    assert r.returncode == code, r.stderr
    assert r.stdout.strip()  # it did its work
    assert sorted(modules & set(HEAVY)) == []


def test_help_imports_no_subcommand(tmp_path):
    r, _ = loaded(tmp_path, "--help")
    out = tmp_path / "modules.json"
    names = set(json.loads(out.read_text()))
    assert {f"chalicelib.cli.{n}" for n in SUBCOMMANDS} & names == set()
    for name in SUBCOMMANDS:
        assert f"  {name} " in r.stdout


def test_the_listed_help_is_each_groups_own():
    """``opswatch --help`` lists from a table; it must say what each group's own help says."""
    ctx = click.Context(cli)
    for name, (_, short) in SUBCOMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command.name == name
        assert command.get_short_help_str(10**6) == short


def test_a_command_that_calls_aws_still_loads_boto3(tmp_path):
    """The check can fail: a command that calls AWS imports boto3 (here it finds no endpoint: a closed port)."""
    r, modules = loaded(
        tmp_path,
        "failed",
        "list",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        OPSWATCH_AWS_MAX_ATTEMPTS="1",
    )
    assert r.returncode == 2 and "cannot read the queue" in r.stderr
    assert "boto3" in modules
