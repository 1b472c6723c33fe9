"""Alarms of every account: member accounts' state changes forwarded to the monitoring account's default bus.

The forwarded event is AWS's documented "state change for a single metric alarm" (tests/data/events,
SOURCES.md) with the member's account in ``account`` and in the alarm ARN: EventBridge forwards an event
across accounts unchanged, so that is the shape the monitoring account's rule receives.
"""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib import state
from chalicelib.alarms.handler import handle_eventbridge_event
from tests.conftest import DATA, opswatch_here

MONITORING, SHOP, OUTSIDER = "123456789012", "111122223333", "999988887777"  # moto's own account monitors
EVENT = DATA / "events" / "awsdocs-cloudwatch-eventbridge__state_change_for_a_single_metric_alarm.json"


def forwarded(account: str, name: str = "ServerCpuTooHigh") -> dict:
    event = json.loads(EVENT.read_text())
    event["account"] = account
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:{account}:alarm:{name}"]
    event["detail"]["alarmName"] = name
    return event


class Context:
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{MONITORING}:function:opswatch-local-alarm_events"
    function_name = "opswatch-local-alarm_events"
    memory_limit_in_mb = 128
    aws_request_id = "r1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def org(aws, local_webhook, monkeypatch):
    for k in ("OPSWATCH_MEMBER_ACCOUNTS", "OPSWATCH_ORGANIZATION_ID", "OPSWATCH_ACCOUNT_NAMES", "OPSWATCH_ACCOUNT_ID"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OPSWATCH_OBSERVABILITY_SINK", "false")
    state.create_table("opswatch-local-state")
    return local_webhook


def test_a_member_accounts_alarm_is_posted_with_its_name_routed_by_account_and_deduplicated(org, monkeypatch):
    monkeypatch.setenv("OPSWATCH_MEMBER_ACCOUNTS", f"{SHOP}, 444455556666")
    monkeypatch.setenv("OPSWATCH_ACCOUNT_NAMES", json.dumps({SHOP: "shop-prod"}))
    monkeypatch.setenv("OPSWATCH_SLACK_ROUTES", json.dumps([{"account": "shop-*", "channel": "#shop"}]))
    first = handle_eventbridge_event(forwarded(SHOP), Context())
    again = handle_eventbridge_event(forwarded(SHOP), Context())  # EventBridge delivers at least once
    assert first[0]["channel"] == "#shop" and again[0]["duplicate"] is True
    [posted] = org.messages
    text = json.dumps(posted.body)
    assert posted.body["text"].startswith("ALARM: ServerCpuTooHigh in shop-prod")
    assert f"account shop-prod ({SHOP})" in text
    # Not a monitoring sink: the shape is left out, and the message says why.
    assert f"account {SHOP}'s metrics need CloudWatch cross-account observability" in text


def test_an_event_from_an_account_outside_the_list_is_refused_counted_and_never_posted(
    org, monkeypatch, capsys, caplog
):
    monkeypatch.setenv("OPSWATCH_MEMBER_ACCOUNTS", SHOP)
    [result] = handle_eventbridge_event(forwarded(OUTSIDER), Context())
    assert result["refused"] is True and OUTSIDER in result["reason"]
    assert org.messages == []
    assert f"alarm event refused: account {OUTSIDER} is not this account" in caplog.text
    assert '"AlarmEventsRefused":[1.0]' in capsys.readouterr().out.replace(" ", "")
    # Nor is an event whose account is not an account id at all.
    bad = forwarded(SHOP)
    bad["account"] = "<!channel>"
    [result] = handle_eventbridge_event(bad, Context())
    assert result["refused"] is True and "not a 12-digit account id" in result["reason"] and org.messages == []


def test_with_no_list_and_no_organization_only_the_own_account_is_taken(org):
    assert handle_eventbridge_event(forwarded(SHOP), Context())[0]["refused"] is True
    # Outside Lambda (failed replay) the own account comes from STS: moto's.
    [own] = handle_eventbridge_event(forwarded(MONITORING))
    assert "refused" not in own and len(org.messages) == 1
    assert f"account {MONITORING}" in json.dumps(org.messages[0].body)


def test_an_organizations_member_is_named_by_describe_account_and_cached(org, monkeypatch):
    orgs = boto3.client("organizations")
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    member = orgs.create_account(AccountName="payments-prod", Email="p@example.com")["CreateAccountStatus"]
    member_id = (
        member.get("AccountId")
        or orgs.describe_create_account_status(CreateAccountRequestId=member["Id"])["CreateAccountStatus"]["AccountId"]
    )
    monkeypatch.setenv("OPSWATCH_ORGANIZATION_ID", org_id)
    [posted] = handle_eventbridge_event(forwarded(member_id), Context())
    assert "refused" not in posted
    assert org.messages[0].body["text"].startswith("ALARM: ServerCpuTooHigh in payments-prod")
    item = boto3.client("dynamodb").get_item(
        TableName="opswatch-local-state", Key={"id": {"S": f"account#{member_id}"}}
    )["Item"]
    assert item["name"]["S"] == "payments-prod" and item["organization"]["S"] == org_id
    # An account Organizations does not know is refused.
    [refused] = handle_eventbridge_event(forwarded(OUTSIDER), Context())
    assert refused["refused"] is True and f"not in organization {org_id}" in refused["reason"]
    assert len(org.messages) == 1


def test_when_organizations_cannot_answer_the_id_stands_for_the_name_and_it_is_counted(org, monkeypatch, capsys):
    monkeypatch.setenv("OPSWATCH_ORGANIZATION_ID", "o-a1b2c3d4e5")
    monkeypatch.setenv("AWS_ENDPOINT_URL_ORGANIZATIONS", "http://127.0.0.1:9")  # Organizations unreachable
    [posted] = handle_eventbridge_event(forwarded(SHOP), Context())
    assert "refused" not in posted  # taken on the bus policy's word (it enforces aws:PrincipalOrgID)
    body = org.messages[0].body
    assert body["text"].startswith("ALARM: ServerCpuTooHigh (") and f"account {SHOP}" in json.dumps(body)
    out = capsys.readouterr().out.replace(" ", "")
    assert '"AccountMembershipUnverified":[1.0]' in out and '"AccountNamesUnavailable":[1.0]' in out


def test_a_monitoring_sink_reads_the_member_accounts_metric_with_account_id(org, monkeypatch):
    from chalicelib.alarms.notification import parse_alarm
    from chalicelib.alarms.shape import _queries

    alarm = parse_alarm(forwarded(SHOP))
    [query] = _queries(alarm, 300, SHOP)
    assert query["AccountId"] == SHOP and query["MetricStat"]["Metric"]["MetricName"] == "CPUUtilization"
    assert "AccountId" not in _queries(alarm, 300)[0]
    monkeypatch.setenv("OPSWATCH_OBSERVABILITY_SINK", "true")
    monkeypatch.setenv("OPSWATCH_MEMBER_ACCOUNTS", SHOP)
    handle_eventbridge_event(forwarded(SHOP), Context())
    text = json.dumps(org.messages[0].body)
    assert "*Recent shape:* no data in the last" in text  # read (moto keeps no data for it), not left out
    assert "cross-account observability" not in text


def test_slack_render_names_the_account_from_the_map(org, monkeypatch, tmp_path):
    monkeypatch.setenv("OPSWATCH_ACCOUNT_NAMES", json.dumps({SHOP: "shop-prod"}))
    path = tmp_path / "forwarded.json"
    path.write_text(json.dumps(forwarded(SHOP)))
    r = opswatch_here("slack", "render", str(path))
    assert r.returncode == 0, r.stderr
    assert "ALARM: ServerCpuTooHigh in shop-prod" in r.stdout and f"account shop-prod ({SHOP})" in r.stdout


@pytest.mark.parametrize(
    ("names", "why"),
    [
        ("[1]", "must be a JSON object of account id to name"),
        ('{"1234": "x"}', "'1234' is not an account id"),
        ('{"111122223333": ""}', "must be printable text of 1 to 50 characters"),
        ('{"111122223333": "' + "x" * 51 + '"}', "must be printable text of 1 to 50 characters"),
        ('{"111122223333": "shop\\u001b[2J"}', "must be printable text of 1 to 50 characters"),
        ("{" * 5000, "OPSWATCH_ACCOUNT_NAMES is not JSON"),
    ],
)
def test_a_malformed_account_names_map_is_refused_naming_the_setting(org, monkeypatch, tmp_path, names, why):
    monkeypatch.setenv("OPSWATCH_ACCOUNT_NAMES", names)
    path = tmp_path / "forwarded.json"
    path.write_text(json.dumps(forwarded(SHOP)))
    r = opswatch_here("slack", "render", str(path))
    assert r.returncode == 2 and r.stderr.startswith("opswatch: ") and why in r.stderr, r.stderr
    with pytest.raises(ValueError, match="OPSWATCH_ACCOUNT_NAMES"):
        handle_eventbridge_event(forwarded(SHOP), Context())


def test_member_accounts_and_organization_id_are_validated(monkeypatch):
    from chalicelib import settings

    monkeypatch.setenv("OPSWATCH_MEMBER_ACCOUNTS", "111122223333,12")
    with pytest.raises(ValueError, match="OPSWATCH_MEMBER_ACCOUNTS: '12' is not an account id"):
        settings.org()
    monkeypatch.setenv("OPSWATCH_MEMBER_ACCOUNTS", "")
    monkeypatch.setenv("OPSWATCH_ORGANIZATION_ID", "org-1")
    with pytest.raises(ValueError, match="OPSWATCH_ORGANIZATION_ID must look like o-"):
        settings.org()


def test_an_event_whose_alarm_arn_names_another_account_is_refused(org, monkeypatch, capsys):
    # The ARN is what dedup, threads and the buttons act on: a member's event naming this account's alarm
    # would thread into it and offer Mute on it.
    monkeypatch.setenv("OPSWATCH_MEMBER_ACCOUNTS", SHOP)
    forged = forwarded(SHOP)
    forged["resources"] = [f"arn:aws:cloudwatch:us-east-1:{MONITORING}:alarm:ServerCpuTooHigh"]
    [result] = handle_eventbridge_event(forged, Context())
    assert result["refused"] is True and org.messages == []
    assert f"its alarm ARN names account '{MONITORING}'" in result["reason"]
    assert '"AlarmEventsRefused":[1.0]' in capsys.readouterr().out.replace(" ", "")
    # The member's own alarm still posts.
    assert handle_eventbridge_event(forwarded(SHOP), Context())[0]["ok"] is True


def test_an_alarm_event_with_malformed_state_is_posted_as_it_is_not_a_crash(org):
    event = forwarded(MONITORING)
    event["detail"]["state"] = "ALARM"
    event["detail"]["previousState"] = ["OK"]
    event["detail"]["configuration"] = []
    [result] = handle_eventbridge_event(event, Context())
    assert result["ok"] is True
    [posted] = org.messages
    assert "ServerCpuTooHigh" in posted.body["text"]
