"""``make demo``: ALB logs shipped to CloudWatch Logs, an alarm to Slack, out-of-memory lines to Slack.

Everything runs on the embedded default: a moto server on a free loopback port,
reached over HTTP through ``AWS_ENDPOINT_URL``. Each step checks its result and
the demo exits non-zero when one fails.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import quote_plus

SAMPLE = Path(__file__).parent / "sample"
BUCKET = "opswatch-local-alb-logs"
GROUP = "/opswatch/local/alb"  # the local stage's ALB log group (settings.alb_log_group())
PREFIX = "AWSLogs/123456789012/elasticloadbalancing/us-east-2"


class DemoFailed(Exception):
    pass


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def check(ok: bool, what: str) -> None:
    if not ok:
        raise DemoFailed(what)
    print(f"   ok: {what}")


def key_for(lb: str, name: str, when: float) -> str:
    day = time.strftime("%Y/%m/%d", time.gmtime(when))
    stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(when))
    return f"{PREFIX}/{day}/123456789012_elasticloadbalancing_us-east-2_app.{lb}_{stamp}_10.0.0.1_{name}.log.gz"


def recent(lines: list[str], when: float) -> list[str]:
    """Move a sample line's times to ``when`` (the request time and the creation time)."""
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when))
    return [re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", iso, ln) for ln in lines]


def s3_event(keys: list[str], bucket: str = BUCKET) -> dict:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "awsRegion": "us-east-2",
                "s3": {
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(k, safe="/"), "size": 0},
                },
            }
            for k in keys
        ]
    }


def run(server) -> None:
    os.environ.update(server.environment("us-east-2"))
    os.environ.update(
        {
            "OPSWATCH_ALB_BUCKET": BUCKET,
            "OPSWATCH_ALB_LOG_GROUP": GROUP,
            "OPSWATCH_ALB_FORMAT": "json",
            "POWERTOOLS_METRICS_NAMESPACE": "opswatch",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    import boto3

    from chalicelib.alb.handler import handle_s3_event
    from chalicelib.embedded.albtraffic import lines as traffic

    s3, logs = boto3.client("s3"), boto3.client("logs")
    from chalicelib import state

    step(f"moto server on {server.endpoint}: create the log bucket, the log group and the state table")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
    logs.create_log_group(logGroupName=GROUP)
    table = state.create_table()
    check(True, f"bucket {BUCKET}, log group {GROUP}, state table {table} (shipping checkpoints)")

    step("upload ALB log objects (gzip): real sample lines, generated traffic, and some trouble")
    now = time.time() - 120
    real = recent((SAMPLE / "aws-doc-examples.log").read_text().splitlines(), now)
    real += recent((SAMPLE / "classified-requests.log").read_text().splitlines(), now)
    objects = {
        key_for("my-loadbalancer.50dc6c495c0c9188", "sample", now): "\n".join(real) + "\n",
        key_for("shop-prod.50dc6c495c0c9188", "traffic", now): "\n".join(traffic(5000, now - 300)) + "\n",
        key_for("shop-prod.50dc6c495c0c9188", "trouble", now): "\n".join(
            [*traffic(3, now, seed=1), "this line is not an ALB entry", *traffic(1, now - 40 * 86400, seed=2)]
        )
        + "\n",
        key_for("shop-prod.50dc6c495c0c9188", "conn", now).replace("_app.", "_conn_log."): "connection log\n",
        f"{PREFIX}/../ELBAccessLogTestFile".replace("/elasticloadbalancing/us-east-2/..", ""): "test\n",
    }
    for k, text in objects.items():
        s3.put_object(Bucket=BUCKET, Key=k, Body=gzip.compress(text.encode()))
        print(f"   s3://{BUCKET}/{k}  ({text.count(chr(10))} lines)")

    step("run the ALB Lambda handler on the S3 event")
    emf = io.StringIO()
    with contextlib.redirect_stdout(emf):  # the metrics, as CloudWatch would receive them
        reports = handle_s3_event(s3_event(list(objects)))
    print(f"   {'object':<34} {'lines':>6} {'shipped':>8} {'filtered':>8} {'rejected':>8} {'refused':>8}")
    for r in reports:
        name = r["source"].rsplit("/", 1)[-1][-34:]
        if "skipped" in r:
            print(f"   {name:<34} skipped: {r['skipped']}")
            continue
        print(
            f"   {name:<34} {r['lines']:>6} {r['shipped']:>8} {r['filtered']:>8} {r['rejected']:>8} {r['refused']:>8}"
        )
        for why, n in {**r["reject_reasons"], **r["refused_reasons"]}.items():
            print(f"   {'':<34} {n} x {why}")
    for doc in (json.loads(x) for x in emf.getvalue().splitlines() if x.startswith('{"_aws"')):
        names = [m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
        print(f"   metrics LoadBalancer={doc['LoadBalancer']}: " + ", ".join(f"{n}={doc[n][0]:g}" for n in names))
    shipped = [r for r in reports if "skipped" not in r]
    check(all(r["balanced"] for r in shipped), "every line is shipped, filtered, rejected or refused; counts add up")
    check(sum(r["shipped"] for r in shipped) == len(real) + 5000 + 3, "all good lines shipped")
    check(
        sum(r["rejected"] for r in shipped) == 1 and sum(r["refused"] for r in shipped) == 1,
        "the bad line rejected, the 40-day-old line refused by CloudWatch",
    )
    check(sum(1 for r in reports if "skipped" in r) == 2, "connection log and test object skipped")
    with contextlib.redirect_stdout(io.StringIO()):
        again = handle_s3_event(s3_event(list(objects)))  # S3 delivers at least once: the same event again
    done = [r for r in again if str(r.get("skipped", "")).startswith("already shipped whole")]
    check(
        len(done) == len(shipped) and not any("shipped" in r for r in again),
        f"the same S3 event again: all {len(done)} objects skipped as already shipped, nothing twice",
    )

    step("what landed in CloudWatch Logs")
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    total = 0
    for st in streams:
        name = st["logStreamName"]
        events = logs.get_log_events(logGroupName=GROUP, logStreamName=name, startFromHead=True, limit=10000)["events"]
        total += len(events) if not name.startswith("rejected/") else 0
        print(f"   ...{name[-70:]}: {len(events)} events")
    check(total == len(real) + 5000 + 3, "every shipped line is an event")
    sample_stream = next(s["logStreamName"] for s in streams if s["logStreamName"].endswith("_sample"))
    events = logs.get_log_events(logGroupName=GROUP, logStreamName=sample_stream, startFromHead=True)["events"]
    for e in events[:2]:
        rec = json.loads(e["message"])
        print(
            "   "
            + json.dumps(
                {
                    k: rec[k]
                    for k in (
                        "type",
                        "time",
                        "elb_status_code",
                        "request_url",
                        "target_processing_time",
                        "classification",
                    )
                }
            )
        )
    rejected = next(s["logStreamName"] for s in streams if s["logStreamName"].startswith("rejected/"))
    [rej] = logs.get_log_events(logGroupName=GROUP, logStreamName=rejected, startFromHead=True)["events"]
    print(f"   rejected: {rej['message']}")

    step("route metrics instead of lines (OPSWATCH_ALB_FORMAT=metrics): the 5,000 generated requests again")
    from chalicelib import settings
    from chalicelib.alb import routemetrics
    from chalicelib.alb.handler import object_chunks
    from chalicelib.alb.keys import classify
    from chalicelib.alb.pipeline import ship_object
    from chalicelib.alb.routemetrics import percentile

    traffic_key = next(k for k in objects if k.endswith("_traffic.log.gz"))
    obj, _ = classify(BUCKET, traffic_key)
    cfg = settings.alb()
    report = ship_object(
        obj, object_chunks(BUCKET, traffic_key), logs, "/opswatch/local/alb-metrics", "metrics",
        metrics=routemetrics.for_stage(cfg, "metrics"),
    )  # fmt: skip
    docs = [
        json.loads(e["message"])
        for e in logs.get_log_events(
            logGroupName="/opswatch/local/alb-metrics", logStreamName="metrics/" + obj.stream_name, startFromHead=True
        )["events"]
    ]
    json_bytes = sum(
        len(e["message"]) + 26
        for e in logs.get_log_events(logGroupName=GROUP, logStreamName=obj.stream_name, limit=10000)["events"]
    )
    emf_bytes = sum(len(json.dumps(d, separators=(",", ":"))) + 26 for d in docs)
    by_route: dict[str, list[dict]] = {}
    for d in docs:
        by_route.setdefault(d["Route"], []).append(d)
    print(f"   {'route':<26} {'requests':>8} {'5xx':>5} {'p99 (s), busiest minute':>24}")
    for r, ds in sorted(by_route.items(), key=lambda x: -sum(d["Requests"] for d in x[1]))[:4]:
        top = max(ds, key=lambda d: d["Requests"])
        lat = top.get("TargetLatency")
        p99 = percentile(lat["Values"], lat["Counts"], 99) if lat else None
        print(
            f"   {r:<26} {sum(d['Requests'] for d in ds):>8} {sum(d['Status5xx'] for d in ds):>5} "
            f"{p99 if p99 is not None else '-':>24}"
        )
    check(
        report.shipped == 0 and sum(d["Requests"] for d in docs) == report.aggregated == 5000,
        f"no line shipped; {len(docs)} EMF documents count all 5,000 requests, {report.metrics_published} metrics",
    )
    check(
        emf_bytes < json_bytes * 0.02,
        f"{emf_bytes:,} bytes ingested instead of {json_bytes:,} as JSON lines ({emf_bytes / json_bytes:.1%})",
    )


def alarm_to_slack(server) -> None:
    """An alarm changes state; SNS and EventBridge both bring it; Slack (bot mode) gets one thread per incident."""
    import boto3

    from chalicelib import state
    from chalicelib.alarms.handler import handle_eventbridge_event, handle_sns_event
    from chalicelib.embedded.alarmnotify import eventbridge_event, publish_state_change, subscribe_inbox
    from chalicelib.embedded.slackserver import TOKEN, SlackServer

    slack = SlackServer()
    os.environ.update(
        {
            "OPSWATCH_STAGE": "local",
            "OPSWATCH_SLACK_MODE": "bot",
            "OPSWATCH_SLACK_BOT_TOKEN": TOKEN,
            "OPSWATCH_SLACK_API_URL": slack.api_url,
            "OPSWATCH_SLACK_CHANNEL": "#alerts",
            "OPSWATCH_SLACK_WEBHOOK_URL": slack.webhook_url,
            "OPSWATCH_SLACK_MENTION": "here",
        }
    )
    name = "shop-prod ALB 5xx <!channel> test"
    try:
        cw, sns, sqs = boto3.client("cloudwatch"), boto3.client("sns"), boto3.client("sqs")
        step(f"alarm bridge: an alarm on the ALB's 5xx count, its SNS topic and EventBridge, Slack on {slack.base}")
        table = state.table_name()  # created in the first step
        topic = sns.create_topic(Name="opswatch-local-alarms")["TopicArn"]
        inbox = subscribe_inbox(sns, sqs, topic, "alarm-bridge-inbox")
        now = time.time()
        cw.put_metric_data(  # the metric's last hour, for the message's sparkline
            Namespace="AWS/ApplicationELB",
            MetricData=[
                {
                    "MetricName": "HTTPCode_ELB_5XX_Count",
                    "Dimensions": [{"Name": "LoadBalancer", "Value": "app/shop-prod/50dc6c495c0c9188"}],
                    "Timestamp": now - 60 * (minute + 1),
                    "Value": value,
                }
                for minute, value in enumerate([41, 37, 30, 26, 12, 4, 2, 1, 0, 1, 0, 2, 1, 0, 0])
            ],
        )
        cw.put_metric_alarm(
            AlarmName=name,
            AlarmDescription="5xx answers from the shop's load balancer",
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_ELB_5XX_Count",
            Statistic="Sum",
            Dimensions=[{"Name": "LoadBalancer", "Value": "app/shop-prod/50dc6c495c0c9188"}],
            Period=60,
            EvaluationPeriods=5,
            DatapointsToAlarm=3,
            Threshold=25,
            TreatMissingData="notBreaching",
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[topic],
            OKActions=[topic],
        )
        check(True, f"alarm created (its name holds <!channel>); state table {table} for deduplication and threads")
        for old, new, reason in (
            (
                "OK",
                "ALARM",
                "Threshold Crossed: 3 out of the last 5 datapoints [41.0 (26/11/26 19:02:00), 37.0 "
                "(26/11/26 19:01:00)] were greater than or equal to the threshold (25.0).",
            ),
            (
                "ALARM",
                "OK",
                "Threshold Crossed: 0 out of the last 5 datapoints were greater than or equal to the threshold (25.0).",
            ),
        ):
            cw.set_alarm_state(AlarmName=name, StateValue=new, StateReason=reason)
            publish_state_change(cw, sns, name, old, "US East (Ohio)")
            before = len(slack.messages)
            handle_sns_event(inbox.next_lambda_event())
            alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
            [again] = handle_eventbridge_event(eventbridge_event(alarm, old))  # the same change, by EventBridge
            check(again.get("duplicate") is True, f"{old} -> {new} arrived by SNS and by EventBridge: posted once")
            for posted in slack.messages[before:]:
                where = "reply in the thread" if posted.body.get("thread_ts") else posted.kind
                print(f"\n   {old} -> {new}: Slack {where}\n")
                print("\n".join("   | " + ln for ln in posted.readable().splitlines()))
        parent, reply, updated = slack.messages
        check(reply.body.get("thread_ts") == parent.body["ts"], "the OK is a reply in the ALARM's thread")
        check(
            updated.kind == "chat.update" and "Resolved after" in updated.readable(),
            "the ALARM message now says resolved",
        )
        alarm_json, ok_json = json.dumps(parent.body), json.dumps(reply.body)
        check(
            "<!channel>" not in alarm_json and "&lt;!channel&gt;" in alarm_json,
            "the alarm name's <!channel> pings nobody",
        )
        check(alarm_json.count("<!here>") >= 1 and "<!here>" not in ok_json, "@here on ALARM only")
        check("Recent shape" in parent.readable(), "the message shows the metric's recent shape")
    finally:
        slack.close()


def slack_buttons(server) -> None:
    """A click on Mute 1 h, signed as Slack signs it, through the route: actions off, a schedule, then back on."""
    import hashlib
    import hmac

    import boto3
    from chalice.test import Client

    from chalicelib.alarms.handler import handle_eventbridge_event
    from chalicelib.embedded.alarmnotify import eventbridge_event
    from chalicelib.embedded.slackserver import TOKEN, SlackServer
    from chalicelib.kinds import handle
    from chalicelib.slackactions.click import MUTE

    slack = SlackServer()
    secret = "demo-signing-secret-0123456789ab"
    os.environ.update(
        {
            "OPSWATCH_STAGE": "local",
            "OPSWATCH_SLACK_MODE": "bot",
            "OPSWATCH_SLACK_BOT_TOKEN": TOKEN,
            "OPSWATCH_SLACK_API_URL": slack.api_url,
            "OPSWATCH_SLACK_CHANNEL": "C0ALERTS1",
            "OPSWATCH_SLACK_ACTIONS": "true",
            "OPSWATCH_SLACK_ACTIONS_DISPATCH": "inline",  # the worker runs in the route's process
            "OPSWATCH_SLACK_SIGNING_SECRET": secret,
            "OPSWATCH_SLACK_RESPONDERS": "U0ONCALL1",
            "OPSWATCH_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/opswatch-local-scheduler",
            "OPSWATCH_ACCOUNT_ID": "123456789012",
        }
    )
    os.environ.pop("OPSWATCH_SLACK_MENTION", None)
    name = "checkout latency"
    try:
        step(
            f"Slack buttons: an ALARM with Acknowledge, Mute and Recent logs; a signed click on Mute 1 h ({slack.base})"
        )
        cw, scheduler = boto3.client("cloudwatch"), boto3.client("scheduler")
        scheduler.create_schedule_group(Name="opswatch-local")  # the infra stack's, on a real stage
        cw.put_metric_alarm(
            AlarmName=name, Namespace="shop", MetricName="LatencyP99", Statistic="Maximum", Period=60,
            EvaluationPeriods=1, Threshold=2, ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore",
            AlarmActions=["arn:aws:sns:us-east-1:123456789012:opswatch-local-alarms"],
        )  # fmt: skip
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="p99 over 2 s for a minute")
        handle_eventbridge_event(eventbridge_event(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0], "OK"))
        posted = slack.messages[-1]
        blocks = [b for a in posted.body["attachments"] for b in a["blocks"] if b["type"] == "actions"]
        mute = next(e for e in blocks[0]["elements"] if e["action_id"] == MUTE)
        print(
            "   buttons: "
            + ", ".join(e.get("text", {}).get("text") or e["placeholder"]["text"] for e in blocks[0]["elements"])
        )
        click = {
            "type": "block_actions",
            "user": {"id": "U0ONCALL1", "username": "ana", "team_id": "T0000000"},
            "team": {"id": "T0000000"},
            "channel": {"id": posted.body["channel"]},
            "container": {"type": "message", "message_ts": posted.body["ts"], "channel_id": posted.body["channel"]},
            "message": {"type": "message", "ts": posted.body["ts"]},
            "response_url": slack.response_url(),
            "actions": [
                {
                    "action_id": MUTE,
                    "block_id": "opswatch_actions",
                    "type": "static_select",
                    "selected_option": mute["options"][0],  # 1 hour
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = f"payload={quote_plus(json.dumps(click))}".encode()
        ts = str(int(time.time()))
        signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
        }
        from app import app

        quiet = contextlib.redirect_stdout(io.StringIO())  # the functions' EMF metric lines
        with quiet, Client(app, stage_name="local", project_dir=str(Path(__file__).resolve().parent.parent)) as c:
            answer = c.http.post("/slack/actions", body=body, headers=headers)
        check(answer.status_code == 200, "POST /slack/actions, signed with the app's signing secret: 200")
        alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        check(alarm["ActionsEnabled"] is False, f"{name}: actions disabled on moto (DisableAlarmActions)")
        [listed] = scheduler.list_schedules(GroupName="opswatch-local")["Schedules"]
        sch = scheduler.get_schedule(Name=listed["Name"], GroupName="opswatch-local")
        print(f"   schedule {sch['Name']} in {sch['GroupName']}: {sch['ScheduleExpression']} UTC, "
              f"then {sch['ActionAfterCompletion']}, target {sch['Target']['Arn'].split(':')[-1]}")  # fmt: skip
        updated = slack.messages[-1]
        check(
            updated.kind == "chat.update" and "Muted by <@U0ONCALL1> until" in json.dumps(updated.body),
            "message updated",
        )
        print(
            "\n".join("   | " + ln for ln in updated.readable().splitlines() if "Muted by" in ln or ln.startswith("["))
        )
        with contextlib.redirect_stdout(io.StringIO()):  # what Scheduler sends the worker at that time
            handle("slack_actions", json.loads(sch["Target"]["Input"]))
        alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        check(alarm["ActionsEnabled"] is True, "the schedule's run re-enabled the actions (EnableAlarmActions)")
        print("   | " + slack.messages[-1].readable().splitlines()[-1])
    finally:
        slack.close()
        for k in ("OPSWATCH_SLACK_ACTIONS", "OPSWATCH_SLACK_ACTIONS_DISPATCH", "OPSWATCH_SLACK_RESPONDERS"):
            os.environ.pop(k, None)


def log_alerts(server) -> None:
    """An application log group gets an OOM kill, a Java heap error, a near miss and a repeat; Slack gets two."""
    import boto3

    from chalicelib import state
    from chalicelib.embedded.slackserver import SlackServer
    from chalicelib.filters import compile_pattern
    from chalicelib.logalerts.handler import handle_logs_event, rules_for
    from chalicelib.logalerts.payload import encode
    from chalicelib.logalerts.prefilter import derive
    from chalicelib.settings import log_alerts as settings

    slack = SlackServer()
    os.environ.update(
        {
            "OPSWATCH_SLACK_MODE": "webhook",
            "OPSWATCH_SLACK_WEBHOOK_URL": slack.webhook_url,
            "OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS": "900",
        }
    )
    group, stream = "/ecs/shop-api", "web/7f3c"
    try:
        logs, ddb = boto3.client("logs"), boto3.client("dynamodb")
        step(f"log alerts: an application log group, the state table, Slack on {slack.base}")
        table = state.table_name()  # created in the alarm bridge step
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        derived = derive(rules_for(settings()))
        subscription = compile_pattern(derived.pattern)
        check(
            True,
            f"table {table}; subscription pattern from {len(rules_for(settings()).rules)} rules, "
            f"{len(derived.pattern)} characters",
        )

        def deliver(lines: list[str]) -> dict:
            """Write the lines, then hand the subscription's selection to the handler as CloudWatch Logs would."""
            now = int(time.time() * 1000)
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(lines)],
            )
            stored = logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=now)["events"]
            selected = [e for e in stored if subscription.match(e["message"]) is not None]
            for e in stored:
                print(f"   {'selected' if e in selected else 'not sent'}: {e['message'][:90]}")
            payload = {
                "messageType": "DATA_MESSAGE",
                "owner": "123456789012",
                "logGroup": group,
                "logStream": stream,
                "subscriptionFilters": ["opswatch-log-alerts"],
                "logEvents": [
                    {"id": e.get("eventId", str(i)), "timestamp": e["timestamp"], "message": e["message"]}
                    for i, e in enumerate(selected)
                ],
            }
            emf = io.StringIO()
            with contextlib.redirect_stdout(emf):  # the metrics, as CloudWatch would receive them
                result = handle_logs_event(encode(payload))
            for doc in (json.loads(x) for x in emf.getvalue().splitlines() if x.startswith('{"_aws"')):
                names = [m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
                print("   metrics: " + ", ".join(f"{n}={doc[n][0]:g}" for n in names))
            return result

        kill = "kernel: Out of memory: Killed process 4211 (java) total-vm:8388608kB, anon-rss:7340032kB"
        heap = 'Exception in thread "http-nio-8080-exec-3" java.lang.OutOfMemoryError: Java heap space'
        near = "kubelet: set oom_score_adj to -997 for container web (near miss: must not alert)"
        first = deliver([kill, heap, near])
        for m in slack.messages:
            print()
            print("\n".join("   | " + ln for ln in m.readable().splitlines()))
        check(len(slack.messages) == 2, "Slack received two messages: the OOM kill and the Java heap error")
        check(first["matched"] == 2, "the near miss reached no rule (the subscription did not even send it)")

        step("the Java heap error again, within the 15-minute cooldown: held back, and counted")
        second = deliver([heap])
        key = "cooldown#123456789012|/ecs/shop-api|java-out-of-memory"
        item = ddb.get_item(TableName=table, Key={"id": {"S": key}})["Item"]
        check(second["posted"] == [] and len(slack.messages) == 2, "nothing posted for the repeat")
        check(item["held"]["N"] == "1", "1 occurrence held back, to be reported in the next message for this rule")
    finally:
        slack.close()


def monitors_as_code(server) -> None:
    """infra/monitors.yaml: validated, planned, applied; the plan is empty after; then the audit."""
    from click.testing import CliRunner

    from chalicelib.cli.main import cli

    spec = str(Path(__file__).resolve().parent.parent / "infra" / "monitors.yaml")
    runner = CliRunner()

    def opswatch(*args: str, only: str | None = None) -> tuple[int, list[str]]:
        r = runner.invoke(cli, list(args))
        print(f"   $ opswatch {' '.join(a if a != spec else 'infra/monitors.yaml' for a in args)}")
        lines = r.output.splitlines()
        for line in lines:
            if only is None or line.startswith(only):
                print(f"   | {line}")
        return r.exit_code, lines

    step("monitors as code: infra/monitors.yaml validated, planned and applied (with its dashboard); the audit")
    code, _ = opswatch("monitors", "validate", "--spec", spec)
    check(code == 0, "the spec is valid and every filter's samples behave as declared")
    code, lines = opswatch("monitors", "plan", "--spec", spec)
    check(
        code == 3 and lines[-1].startswith("Plan: 17 to create"),
        "the plan: 6 metric filters, 6 alarms, the shop's dashboard and its 4 saved Logs Insights queries",
    )
    code, lines = opswatch("monitors", "apply", "--spec", spec, "--yes", only="Applied")
    check(code == 0 and lines[-1] == "Applied: 17 changes.", "applied")
    show_dashboard("shop-local")
    code, lines = opswatch("monitors", "plan", "--spec", spec)
    check(
        code == 0 and lines[-1] == "Plan: 0 to create, 0 to change, 0 to delete.", "a second plan finds nothing to do"
    )
    import boto3

    boto3.client("cloudwatch").put_metric_alarm(  # made by hand, the usual way: no policy, no actions
        AlarmName="api-errors (by hand)",
        Namespace="shop",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    print("   (moto runs no metric filters, so nothing reaches the new alarms' metrics here: 'nothing was published')")
    code, lines = opswatch("alarms", "audit")
    check(
        code == 1 and "api-errors (by hand): no explicit missing-data policy" in "\n".join(lines),
        "the audit names each finding with its fix",
    )


def show_dashboard(name: str) -> None:
    """The applied dashboard, row by row, as GetDashboard returns it, with its console link."""
    import boto3

    from chalicelib import console

    body = json.loads(boto3.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    rows: dict[int, list[str]] = {}
    for w in body["widgets"]:
        title = w["properties"].get("title") or "links to alarms, Athena workgroup, log groups"
        title = title if len(title) <= 30 else title[:27] + "..."
        rows.setdefault(w["y"], []).append(f"{w['type']}: {title}")
    print(f"   dashboard {name}: {len(body['widgets'])} widgets in {len(rows)} rows")
    for _, widgets in sorted(rows.items()):
        print(f"   | {' | '.join(widgets)}")
    print(f"   {console.dashboard_url('aws', os.environ.get('AWS_REGION'), name)}")
    check(len(rows) == 8, "links; traffic, alarms, log alerts, pipeline, functions; two rows of logs questions")


def athena_queries(server) -> None:
    """The ALB logs uploaded in the first step, queried locally (DuckDB) and through pyathena on the moto server."""
    import urllib.request

    import boto3
    from click.testing import CliRunner

    from chalicelib.cli.main import cli

    runner = CliRunner()

    def opswatch(*args: str) -> tuple[int, str]:
        r = runner.invoke(cli, list(args))
        print(f"   $ opswatch {' '.join(args)}")
        print("\n".join(f"   | {line}" for line in r.output.splitlines()))
        return r.exit_code, r.output

    step("Athena: the uploaded ALB logs, two named queries on the local engine, then the same query on Athena")
    logs = f"s3://{BUCKET}/AWSLogs/"
    code, out = opswatch("athena", "run", "status_codes", "--engine", "local", "--logs", logs)
    check(code == 0 and "200" in out, "status_codes on the local engine (DuckDB), straight from the bucket")
    code, out = opswatch("athena", "run", "top_5xx_paths", "--engine", "local", "--logs", logs, "--param", "limit=3")
    check(code == 0, "top_5xx_paths with a parameter, bound (never pasted into the SQL)")
    boto3.client("s3").create_bucket(
        Bucket="opswatch-local-athena-results", CreateBucketConfiguration={"LocationConstraint": "us-east-2"}
    )
    code, _ = opswatch("athena", "setup")
    check(code == 0, "database, partition-projected table and workgroup created through pyathena")
    # moto runs no SQL: hand it the rows the local engine found, as Athena would return them.
    csv_rows = runner.invoke(
        cli, ["athena", "run", "status_codes", "--engine", "local", "--logs", logs, "--format", "csv"]
    ).output.splitlines()
    rows = [r.split(",") for r in csv_rows if r and r[0].isdigit()]
    info = [{"Name": n, "Label": n, "Type": t, "CatalogName": "hive", "SchemaName": "", "TableName": "",
             "Precision": 10, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False}
            for n, t in (("elb_status_code", "integer"), ("requests", "bigint"))]  # fmt: skip
    data = [{"Data": [{"VarCharValue": v} for v in row]} for row in [["elb_status_code", "requests"], *rows]]
    body = json.dumps({"region": "us-east-2", "results": [{"rows": data, "column_info": info}]}).encode()
    urllib.request.urlopen(
        urllib.request.Request(f"{server.endpoint}/moto-api/static/athena/query-results", data=body, method="POST")
    ).read()
    code, out = opswatch("athena", "run", "status_codes", "--engine", "athena")
    check(code == 0 and "200" in out, "the same query through pyathena: workgroup, results location, parameters")


def doctor_on_what_it_built(server) -> None:
    """``opswatch doctor`` on the demo's moto account: what the demo made passes; what it never deployed (the
    stack, the functions, the wiring between them) fails, each with the step that fixes it."""
    from click.testing import CliRunner

    from chalicelib.cli.main import cli

    step("opswatch doctor on what the demo built (no stack and no `chalice deploy` here: those fail, honestly)")
    r = CliRunner().invoke(cli, ["doctor"], env={"OPSWATCH_ALARM_TOPIC": "opswatch-local-alarms"})  # the one it made
    print("   $ opswatch doctor")
    lines = r.output.splitlines()
    print("\n".join(f"   | {line[:150]}" for line in lines))
    status = {ln.split()[1].rstrip(":"): ln.split()[0] for ln in lines if ln.startswith("  ") and ":" in ln}
    check(lines[-1].startswith("16 checks: ") and r.exit_code == 1, "every check ran; the missing pieces fail (exit 1)")
    check(status.get("state-table") == "ok", "the state table the demo created passes (with TTL on expiration)")
    check(status.get("stack") == "FAIL" and status.get("function-errors") == "FAIL", "no stack, no functions: named")


ORG_BUCKET = "opswatch-local-org-logs"  # a central log-archive bucket: every account's load balancers write here
ORG_TEMPLATE = "/opswatch/alb/{account}"


def org_key(account: str, region: str, lb: str, when: float) -> str:
    day = time.strftime("%Y/%m/%d", time.gmtime(when))
    stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(when))
    return (
        f"AWSLogs/{account}/elasticloadbalancing/{region}/{day}/"
        f"{account}_elasticloadbalancing_{region}_app.{lb}_{stamp}_10.0.0.1_org.log.gz"
    )


def organization(server) -> None:
    """One central bucket holding two accounts' ALB logs: each object shipped to its own account's log group."""
    import boto3

    from chalicelib.alb.handler import handle_s3_event
    from chalicelib.alb.handler import logger as alb_logger
    from chalicelib.embedded.albtraffic import lines as traffic

    step(
        f"organization: two accounts' ALB logs in one bucket, shipped with OPSWATCH_ALB_LOG_GROUP={ORG_TEMPLATE}; "
        "a member account's alarm, posted with its name"
    )
    s3, logs = boto3.client("s3"), boto3.client("logs")
    s3.create_bucket(Bucket=ORG_BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
    now = time.time() - 300
    accounts = {
        "111122223333": ("us-east-2", "shop-prod.50dc6c495c0c9188", 300),
        "444455556666": ("eu-west-1", "billing.6a3bc0ffee000001", 200),
    }
    keys = []
    for account, (region, lb, n) in accounts.items():
        k = org_key(account, region, lb, now)
        elb = "app/" + lb.replace(".", "/")
        s3.put_object(
            Bucket=ORG_BUCKET, Key=k, Body=gzip.compress(("\n".join(traffic(n, now, elb=elb)) + "\n").encode())
        )
        keys.append(k)
        print(f"   s3://{ORG_BUCKET}/{k}  ({n} lines)")
    bad = keys[0].replace("111122223333", "1111", 2)  # the folder and the file name both say "1111"
    s3.put_object(Bucket=ORG_BUCKET, Key=bad, Body=gzip.compress(b"x\n"))
    print(f"   s3://{ORG_BUCKET}/{bad}  (an account id that is not 12 digits)")
    saved = os.environ.get("OPSWATCH_ALB_LOG_GROUP")
    os.environ["OPSWATCH_ALB_LOG_GROUP"] = ORG_TEMPLATE
    level = alb_logger.log_level
    alb_logger.setLevel("CRITICAL")  # the refusal's log line is shown below, shorter
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the EMF metrics, as CloudWatch would receive them
            reports = handle_s3_event(s3_event([*keys, bad], ORG_BUCKET))
    finally:
        os.environ["OPSWATCH_ALB_LOG_GROUP"] = saved or GROUP
        alb_logger.setLevel(level)
    for account, (_, _, n) in accounts.items():
        group = ORG_TEMPLATE.format(account=account)
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        events = sum(
            len(logs.get_log_events(logGroupName=group, logStreamName=st["logStreamName"], limit=10000)["events"])
            for st in streams
        )
        print(f"   {group:<28} {events:>4} events in {len(streams)} stream(s)")
        check(events == n, f"account {account}'s {n} lines in its own group {group}")
    refused = [r["key_refused"] for r in reports if "key_refused" in r]
    check(refused == [refused[0]] and "12-digit" in refused[0], f"refused and counted, not shipped: {refused[0]}")
    check(
        [r.get("account") for r in reports if "shipped" in r] == list(accounts),
        "each object's report names its account",
    )
    member_alarm()


MEMBER_NAMES = {"111122223333": "shop-prod", "444455556666": "billing"}


def member_alarm() -> None:
    """A member account's alarm, forwarded to this (monitoring) account's bus: posted with the account's name."""
    import boto3

    from chalicelib.alarms.handler import handle_eventbridge_event
    from chalicelib.alarms.handler import logger as alarm_logger
    from chalicelib.embedded.alarmnotify import eventbridge_event
    from chalicelib.embedded.slackserver import SlackServer

    member = "111122223333"
    creds = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{member}:role/demo", RoleSessionName="opswatch")
    c = creds["Credentials"]
    cw = boto3.client(  # moto: these credentials act in the member account
        "cloudwatch",
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )
    name = "checkout-latency-p99"
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="TargetResponseTime",
        ExtendedStatistic="p99",
        Dimensions=[{"Name": "LoadBalancer", "Value": "app/shop-prod/50dc6c495c0c9188"}],
        Period=60,
        EvaluationPeriods=3,
        Threshold=1.5,
        ComparisonOperator="GreaterThanThreshold",
    )
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: 3 datapoints > 1.5")
    event = eventbridge_event(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0], "OK")
    slack = SlackServer()
    saved = {k: os.environ.get(k) for k in ("OPSWATCH_SLACK_MODE", "OPSWATCH_SLACK_WEBHOOK_URL",
                                            "OPSWATCH_SLACK_MENTION", "OPSWATCH_MEMBER_ACCOUNTS",
                                            "OPSWATCH_ACCOUNT_NAMES", "OPSWATCH_OBSERVABILITY_SINK")}  # fmt: skip
    os.environ.update(
        {
            "OPSWATCH_SLACK_MODE": "webhook",
            "OPSWATCH_SLACK_WEBHOOK_URL": slack.webhook_url,
            "OPSWATCH_SLACK_MENTION": "",
            "OPSWATCH_MEMBER_ACCOUNTS": ",".join(MEMBER_NAMES),
            "OPSWATCH_ACCOUNT_NAMES": json.dumps(MEMBER_NAMES),
            "OPSWATCH_OBSERVABILITY_SINK": "false",
        }
    )
    level = alarm_logger.log_level
    alarm_logger.setLevel("CRITICAL")  # the refusal's log line is shown below, shorter
    try:
        print(f"   alarm {name} of account {member} forwarded to this account's default bus (EventBridge)")
        with contextlib.redirect_stdout(io.StringIO()):  # the EMF metrics
            handle_eventbridge_event(event)
            outsider = {**event, "account": "999988887777"}
            [refused] = handle_eventbridge_event(outsider)
        [posted] = slack.messages
        print("\n".join("   | " + ln for ln in posted.readable().splitlines()))
        check(f"in {MEMBER_NAMES[member]}" in posted.body["text"], "a member account's alarm, posted with its name")
        check(
            refused.get("refused") is True, f"an account outside OPSWATCH_MEMBER_ACCOUNTS refused: {refused['reason']}"
        )
    finally:
        alarm_logger.setLevel(level)
        slack.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> int:
    from chalicelib.embedded import motoserver

    server = motoserver.start()
    try:
        run(server)
        alarm_to_slack(server)
        slack_buttons(server)
        log_alerts(server)
        monitors_as_code(server)
        athena_queries(server)
        doctor_on_what_it_built(server)
        organization(server)
    except DemoFailed as exc:
        print(f"\ndemo FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"\ndemo FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    print(
        "\ndemo finished: ALB logs shipped from S3 into CloudWatch Logs; alarms delivered to Slack, "
        "muted from a signed click and re-enabled; "
        "out-of-memory lines alerted once, the repeat held back; monitors applied from YAML and audited; "
        "the logs queried locally and on Athena; doctor named what a real stage still needs; "
        "two accounts' logs from one bucket landed in their own log groups, and a member account's alarm came named."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
