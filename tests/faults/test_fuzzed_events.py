"""Random and malformed events fed to every handler: a clear answer, never a crash, never a secret.

A handler that crashes on an event it can never handle makes Lambda retry it for
nothing and then keep it as failed; one that prints a secret leaks it into the
logs. Hypothesis generates JSON of every shape, and near-misses of each real
event shape; each handler must answer (skip, count, report) without raising an
unexpected exception, and no output may contain the Slack secrets.
"""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.alarms.handler import handle_eventbridge_event, handle_sns_event
from chalicelib.alb.handler import handle_s3_event
from chalicelib.logalerts.handler import handle_logs_event

WEBHOOK_SECRET = "T0SECRET/B0SECRET/webhookSECRETpath"
BOT_SECRET = "xoxb-0000-SECRETTOKEN"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
anything = st.one_of(json_values, st.dictionaries(st.sampled_from(["Records", "awslogs", "detail", "detail-type",
                                                                   "source", "Event"]), json_values, max_size=3))  # fmt: skip


def s3_like(value):
    return {"Records": [{"eventSource": "aws:s3", "s3": value}]}


def sns_like(message):
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message, "TopicArn": "arn:aws:sns:x:1:t"}}]}


def awslogs_like(doc):
    raw = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}


near_misses = st.one_of(
    json_values.map(s3_like),
    st.fixed_dictionaries({"bucket": json_values, "object": json_values}).map(s3_like),
    st.one_of(st.text(max_size=60), json_values.map(json.dumps)).map(sns_like),
    json_values.map(awslogs_like),
    st.binary(max_size=60).map(awslogs_like),
    st.fixed_dictionaries(
        {
            "detail-type": st.just("CloudWatch Alarm State Change"),
            "source": st.just("aws.cloudwatch"),
            "detail": json_values,
        }
    ),
)


@pytest.fixture
def quiet_slack(aws, local_webhook, monkeypatch):
    """Slack reachable (the loopback endpoint) behind a webhook URL whose path is secret; AWS on moto."""
    monkeypatch.setenv("OPSWATCH_SLACK_WEBHOOK_URL", local_webhook.webhook_url.rsplit("/", 3)[0] + "/" + WEBHOOK_SECRET)
    monkeypatch.setenv("OPSWATCH_SLACK_BOT_TOKEN", BOT_SECRET)
    monkeypatch.setenv("OPSWATCH_AWS_MAX_ATTEMPTS", "1")
    return local_webhook


HANDLERS = {
    "alb_logs": handle_s3_event,
    "log_alerts": handle_logs_event,
    "alarm_bridge": handle_sns_event,
    "alarm_events": handle_eventbridge_event,
}


def check(handler, event, capsys) -> None:
    try:
        handler(event)
    except Exception as exc:  # the only error allowed: Slack refusing delivery, which a retry can mend
        from chalicelib.slack.delivery import SlackDeliveryError

        assert isinstance(exc, SlackDeliveryError), f"{type(exc).__name__}: {exc}"
        text = str(exc)
    else:
        text = ""
    out = capsys.readouterr()
    for secret in ("SECRET", BOT_SECRET):
        assert secret not in text + out.out + out.err


@pytest.mark.parametrize("name", list(HANDLERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.one_of(anything, near_misses))
def test_every_handler_answers_any_event_without_crashing_or_leaking(quiet_slack, capsys, name, event):
    check(HANDLERS[name], event, capsys)


def test_a_malformed_s3_record_is_reported_and_the_others_still_ship(quiet_slack, capsys, caplog, s3, monkeypatch):
    from tests.alb_lines import key, line
    from tests.test_alb_shipping import BUCKET, s3_event

    monkeypatch.setenv("OPSWATCH_ALB_BUCKET", BUCKET)
    s3.create_bucket(Bucket=BUCKET)
    k = key("fine")
    s3.put_object(Bucket=BUCKET, Key=k, Body=gzip.compress(line().encode()))
    event = s3_event(k)
    event["Records"].insert(0, {"s3": {"bucket": {"name": BUCKET}, "object": {"key": None}}})
    bad, good = handle_s3_event(event)
    assert bad == {"malformed": "s3.object.key is missing or not text"}
    assert good["shipped"] == 1
    assert '"RecordsMalformed":[1.0]' in capsys.readouterr().out  # counted, as a metric
    assert any("s3.object.key is missing" in r.getMessage() for r in caplog.records)  # and logged with the record
