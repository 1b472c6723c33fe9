"""Deeply nested JSON (``'[' * 100000 + ']' * 100000``) wherever opswatch decodes JSON from outside.

Before ``chalicelib/boundedjson.py`` each of these raised ``RecursionError`` past an
``except ValueError``: the alarm bridge failed on such an SNS message, log_alerts on a
568-byte awslogs payload, and one such record in the on-failure queue stopped
``failed list`` and ``failed replay`` for every record behind it. Now each is
undecodable: reported with the reason, counted, skipped.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json

import pytest

from chalicelib import boundedjson
from chalicelib.alarms.handler import handle_sns_event
from chalicelib.filters import compile_pattern
from chalicelib.logalerts.handler import handle_logs_event
from tests.bounded import run_code, run_opswatch
from tests.conftest import opswatch
from tests.faults.test_dead_letters import SNS_EVENT, alarm_event, lambda_async, stage  # noqa: F401 (fixture)
from tests.test_log_alerts_e2e import event as awslogs_event

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
NEAR_LIMIT = "[" * 900 + "]" * 900  # parses with json.loads, then breaks whatever recurses into it


def _awslogs(decoded: str) -> dict:
    return {"awslogs": {"data": base64.b64encode(gzip.compress(decoded.encode(), 9)).decode()}}


def _sns(message: str) -> dict:
    ev = copy.deepcopy(SNS_EVENT)
    ev["Records"][0]["Sns"]["Message"] = message
    return ev


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJECT, NEAR_LIMIT])
def test_bounded_loads_refuses_deep_json_as_a_value_error(text):
    with pytest.raises(ValueError, match=f"nested deeper than {boundedjson.MAX_DEPTH} levels") as caught:
        boundedjson.loads(text)
    assert isinstance(caught.value, boundedjson.UndecodableJSON)


def test_bounded_loads_keeps_memory_and_time_flat_on_megabytes_of_brackets():
    got = run_code(
        """
from chalicelib import boundedjson
for text in ("[" * 5_000_000 + "]" * 5_000_000, '{"a":' * 1_000_000 + "1" + "}" * 1_000_000):
    try:
        boundedjson.loads(text)
    except boundedjson.UndecodableJSON as exc:
        print(exc)
""",
        seconds=30,
        address_space_mb=1024,
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == [
        "JSON nested deeper than 64 levels (at character 65)",
        "JSON nested deeper than 64 levels (at character 321)",
    ]
    assert got.peak_rss_mb < 200, got.peak_rss_mb


@pytest.fixture(autouse=True)
def _moto_left_clean(request):
    """Later tests that do not reset moto expect no state table: leave the account as found."""
    yield
    if "aws" in request.fixturenames:
        request.getfixturevalue("moto_server").reset()


def test_log_alerts_reports_a_568_byte_deep_payload_as_undecodable(aws, local_webhook, monkeypatch, capsys):
    monkeypatch.setenv("OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS", "0")
    event = _awslogs('{"messageType":"DATA_MESSAGE","logEvents":' + DEEP + "}")
    assert len(json.dumps(event)) < 1000
    result = handle_logs_event(event)
    assert result["status"] == "undecodable"
    assert "nested deeper than 64 levels" in result["reason"]
    assert local_webhook.messages == []
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')]
    assert any(doc.get("PayloadsUndecodable") in (1, [1.0], 1.0) for doc in emf)


def test_alarm_bridge_posts_a_deep_sns_message_as_text_and_says_why(aws, local_webhook, caplog):
    [result] = handle_sns_event(_sns(DEEP))
    assert result["ok"] and "nested deeper than 64 levels" in result["undecodable"]
    [posted] = local_webhook.messages
    assert "undecodable: JSON nested deeper than 64 levels" in posted.readable()
    assert "undecodable JSON message, posted as text" in caplog.text


def test_filter_patterns_treat_a_deep_event_as_not_json():
    assert compile_pattern("{ $.a = 1 }").match(DEEP_OBJECT) is None
    assert compile_pattern('"a"').metric(DEEP_OBJECT, "$.a") is None  # a metric value read from the event


def test_slack_render_shows_a_deep_json_file_as_undecodable_text_within_bounds(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    got = run_opswatch("slack", "render", str(path), seconds=60, address_space_mb=1024)
    assert got.returncode == 0, got.stderr
    assert "undecodable: JSON nested deeper than 64 levels" in got.stdout
    assert "Traceback" not in got.stderr
    assert got.peak_rss_mb < 200, got.peak_rss_mb


def test_failed_list_and_replay_go_on_past_deep_records(stage, local_webhook):  # noqa: F811
    def down(_event):
        raise RuntimeError("Slack was down")

    lambda_async("alarm_bridge", down, _sns(DEEP), stage)
    lambda_async("log_alerts", down, _awslogs('{"messageType":"DATA_MESSAGE","logEvents":' + DEEP + "}"), stage)
    lambda_async("alarm_bridge", down, alarm_event("api latency", "ALARM", "OK", 1_700_000_000), stage)
    lambda_async("log_alerts", down, awslogs_event(["java.lang.OutOfMemoryError: Java heap space"]), stage)
    import boto3

    boto3.client("sqs").send_message(QueueUrl=stage, MessageBody=DEEP)  # not even an invocation record

    r = opswatch("failed", "list")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "5 event(s) in opswatch-local-failed" in r.stdout
    assert "alarm api latency" in r.stdout
    assert "undecodable record: JSON nested deeper than 64 levels" in r.stdout
    assert "an undecodable CloudWatch Logs payload (awslogs.data is refused after gunzip" in r.stdout

    r = opswatch("failed", "replay", "--yes")
    assert "Traceback" not in r.stderr
    assert r.returncode == 1, r.stdout + r.stderr  # the unusable ones stay
    assert "replayed and deleted: alarm_bridge SNS" in r.stdout and "alarm api latency" in r.stdout
    assert "not an event the function can use: awslogs.data is refused after gunzip" in r.stdout
    assert "no handler for function 'unknown'" in r.stdout
    assert "replayed and deleted: log_alerts log group /ecs/shop-api (1 events)" in r.stdout
    assert "3 replayed, 2 kept" in r.stdout  # the deep SNS message was posted as text, the alarm as an alarm


def test_not_a_number_and_out_of_range_numbers_are_undecodable_not_posted(tmp_path):
    """Python reads NaN, Infinity and 1e999; Slack refuses the payload they make: refused here, with the reason."""
    from chalicelib import boundedjson

    for text in ('{"AlarmName": 1e999}', '{"NewStateValue": NaN}', "[-Infinity]"):
        with pytest.raises(boundedjson.UndecodableJSON, match="out of range or not a number"):
            boundedjson.loads(text)
    path = tmp_path / "nan.json"
    path.write_text('{"AlarmName":1e999,"NewStateValue":NaN}')
    got = run_opswatch("slack", "render", str(path), seconds=60)
    assert got.returncode == 0, got.stderr
    boundedjson.loads(got.stdout)  # strict JSON, the message shows the raw text as a string
    assert "undecodable: JSON holds a number out of range or not a number" in got.stdout
