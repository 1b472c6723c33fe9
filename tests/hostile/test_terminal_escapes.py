"""Control characters from log lines in the CLI's result tables (`athena run`/`sql`, `insights run`).

A user agent or URL is the client's text. Printed raw on a terminal, ``ESC ] 0;...BEL`` would set the
window title and ``ESC [ 2J`` clear the screen; a newline would break the table. Shown as escapes instead.
"""

from __future__ import annotations

from tests.bounded import run_opswatch
from tests.conftest import DATA

HOSTILE_AGENT = "curl\x1b]0;pwned\x07\x1b[2J\x0bx"  # a vertical tab: a newline would end the log line


def test_a_hostile_user_agent_is_shown_escaped_in_the_table(tmp_path):
    line = (DATA / "alb" / "aws_doc_examples_2023-04.log").read_text().splitlines()[0]
    assert '"curl/7.46.0"' in line
    log = tmp_path / "esc.log"
    log.write_text(line.replace("curl/7.46.0", HOSTILE_AGENT) + "\n")
    r = run_opswatch(
        "athena", "sql", "SELECT user_agent FROM alb_access_logs WHERE day >= '2000/01/01'",
        "--engine", "local", "--logs", str(log),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == ["user_agent", "curl\\x1b]0;pwned\\x07\\x1b[2J\\x0bx", "(1 row)"], r.stdout


def test_hostile_log_lines_are_shown_escaped_by_test_rules_and_filters_test(tmp_path):
    log = tmp_path / "app.log"
    log.write_text(f"java.lang.OutOfMemoryError: Java heap space {HOSTILE_AGENT}\n")
    escaped = "java.lang.OutOfMemoryError: Java heap space curl\\x1b]0;pwned\\x07\\x1b[2J\\x0bx"
    r = run_opswatch("logs", "test-rules", str(log))
    assert r.returncode == 0 and r.stdout.splitlines()[0].endswith(f": {escaped}"), r.stdout + r.stderr
    r = run_opswatch("filters", "test", "--pattern", "OutOfMemoryError", "--events", str(log))
    assert r.returncode == 0 and r.stdout.splitlines()[0] == f"MATCH  1: {escaped}", r.stdout + r.stderr


def test_failed_list_shows_the_records_text_escaped(aws):
    import json

    import boto3

    from tests.conftest import opswatch

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="opswatch-local-failed")["QueueUrl"]
    record = {
        "requestContext": {
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:opswatch-local-alarm_bridge:$LATEST",
            "condition": "RetriesExhausted",
        },
        "responsePayload": {"errorType": "Boom", "errorMessage": f"bad line {HOSTILE_AGENT}"},
        "timestamp": "2026-12-01T00:00:00Z",
        "requestPayload": {"Records": [{"Sns": {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "{}"}}]},
    }
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    r = opswatch("failed", "list", OPSWATCH_STAGE="local")
    assert r.returncode == 0 and "\x1b" not in r.stdout, r.stdout + r.stderr
    assert "    Boom: bad line curl\\x1b]0;pwned\\x07\\x1b[2J\\x0bx" in r.stdout.splitlines(), r.stdout
