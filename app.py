"""opswatch's Lambda functions: triggers wired to handlers, nothing else.

Logic lives in ``chalicelib``; the same services back the ``opswatch`` CLI. Each
function runs its handler from the registry of event kinds (``chalicelib.kinds``),
which imports that handler's path on the function's first event, and nothing else.
"""

from chalice import Chalice, Rate

from chalicelib import settings

app = Chalice(app_name="opswatch")

_alb = settings.alb()
_suffix = {"suffix": _alb.key_suffix} if _alb.key_suffix else {}


@app.on_s3_event(bucket=_alb.bucket, events=["s3:ObjectCreated:*"], name="alb_logs", **_suffix)
def alb_logs(event):
    """ALB access-log objects landing in S3 -> CloudWatch Logs, with counts as metrics."""
    from chalicelib.kinds import handle  # each function imports only its own path, on its first event

    return handle("alb_logs", event.to_dict(), event.context)


_slack = settings.slack()


@app.on_sns_message(topic=_slack.alarm_topic, name="alarm_bridge")
def alarm_bridge(event):
    """CloudWatch alarms (and any other message) on the SNS topic -> Slack."""
    from chalicelib.kinds import handle

    return handle("alarm_bridge", event.to_dict(), event.context)


@app.on_cw_event(settings.alarm_event_pattern(), name="alarm_events")
def alarm_events(event):
    """Every CloudWatch alarm state change in the account and region (EventBridge) -> Slack, no SNS action needed."""
    from chalicelib.kinds import handle

    return handle("alarm_events", event.to_dict(), event.context)


@app.lambda_function(name="log_alerts")
def log_alerts(event, context):
    """CloudWatch Logs subscription filters -> log-alert rules -> one Slack message per (log group, rule)."""
    from chalicelib.kinds import handle

    return handle("log_alerts", event, context)


@app.on_kinesis_record(
    stream=settings.log_stream(), name="log_alerts_stream", batch_size=100, starting_position="TRIM_HORIZON"
)
def log_alerts_stream(event):
    """Member accounts' CloudWatch Logs (a Logs destination's Kinesis stream) -> the same rules -> Slack.

    Returns a partial batch response (``batchItemFailures``); Chalice passes it through as it is.
    """
    from chalicelib.kinds import handle

    return handle("log_alerts_stream", event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.DAYS), name="monitors_audit")
def monitors_audit(event):
    """Daily: alarms left on the implicit missing-data policy, without actions, stuck, or watching nothing."""
    from chalicelib.kinds import handle

    return handle("monitors_audit", event.to_dict())


@app.schedule(Rate(1, unit=Rate.DAYS), name="athena_report")
def athena_report(event):
    """Daily: yesterday's named queries (top 5xx paths, slowest targets) on Athena, summed up in Slack."""
    from chalicelib.kinds import handle

    return handle("athena_report", event.to_dict())


# The Slack actions route: everything from the internet is refused unless Slack signed it. Any method and
# content type reach the handler, so that each refusal is counted and answered by opswatch (405, 400), not
# by Chalice. The route's function is the API's Lambda (``api_handler``), with its own policy.
@app.route("/slack/actions", methods=["POST", "GET", "PUT", "PATCH", "DELETE"], content_types=["*/*"])
def slack_actions_endpoint():
    """Slack button clicks (signed): verified, authorized, claimed once, handed to the slack_actions worker."""
    from chalicelib.slackactions.endpoint import respond

    return respond(app.current_request)


@app.lambda_function(name="slack_actions")
def slack_actions(event, context):
    """One Slack button click's action (acknowledge, mute, recent logs), or a Mute's scheduled re-enabling."""
    from chalicelib.kinds import handle

    return handle("slack_actions", event, context)
