"""What the functions keep: the state table (with TTL), the failed-events queue, and how the functions fare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from chalicelib import settings
from chalicelib.doctor.check import Check, Context, fail, ok, warn

# Every function of the registry (chalicelib/kinds.py; a test keeps the two the same).
FUNCTIONS = (
    "alb_logs",
    "log_alerts",
    "log_alerts_stream",
    "alarm_bridge",
    "alarm_events",
    "monitors_audit",
    "athena_report",
    "slack_actions",
)


def state_table(ctx: Context) -> Check:
    from chalicelib.state import TTL_ATTRIBUTE

    name, table = "state-table", settings.state_table()
    ddb = ctx.client("dynamodb")
    try:
        status = ddb.describe_table(TableName=table)["Table"].get("TableStatus")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return fail(name, f"no table {table}", "create the stage's resources stack (see stack)")
        raise
    ttl = ddb.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    enable = (
        f"aws dynamodb update-time-to-live --table-name {table} "
        f"--time-to-live-specification Enabled=true,AttributeName={TTL_ATTRIBUTE}"
    )
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        return fail(name, f"{table}: TTL is {ttl.get('TimeToLiveStatus', 'DISABLED')}: its items never expire", enable)
    if ttl.get("AttributeName") != TTL_ATTRIBUTE:
        return fail(
            name,
            f"{table}: TTL is on {ttl.get('AttributeName')!r}, but opswatch writes {TTL_ATTRIBUTE!r}",
            f"aws dynamodb update-time-to-live --table-name {table} --time-to-live-specification "
            f"Enabled=false,AttributeName={ttl.get('AttributeName')}; then (after an hour) {enable}",
        )
    return ok(name, f"{table} {status}, TTL on {TTL_ATTRIBUTE}")


def failed_queue(ctx: Context) -> Check:
    from chalicelib.failed import ASYNC_FUNCTIONS

    name, queue = "failed-queue", settings.failed_queue()
    sqs = ctx.client("sqs")
    try:
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    except ClientError as exc:
        if "NonExistentQueue" in exc.response["Error"]["Code"]:
            return fail(name, f"no queue {queue}", "create the stage's resources stack (see stack)")
        raise
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "ApproximateNumberOfMessages"])[
        "Attributes"
    ]
    arn, waiting = attrs["QueueArn"], int(attrs.get("ApproximateNumberOfMessages", "0"))
    lam = ctx.client("lambda")
    unset = []
    for short in ASYNC_FUNCTIONS:
        try:
            conf = lam.get_function_event_invoke_config(FunctionName=ctx.function_name(short))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            conf = {}
        dest = ((conf.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if dest != arn:
            unset.append(short)
    if not _stream_mapping_set(ctx, lam, arn):
        unset.append("log_alerts_stream's stream mapping (partial batch responses, bounded retries)")
    if unset:
        return fail(
            name,
            f"{queue} is not the on-failure destination of {', '.join(unset)}: their failed events are lost",
            f"{ctx.env_prefix()}opswatch failed setup",
        )
    if waiting:
        return warn(
            name,
            f"{waiting} failed event{'s' if waiting != 1 else ''} waiting in {queue}",
            f"{ctx.env_prefix()}opswatch failed list; fix the cause, then {ctx.env_prefix()}opswatch failed replay",
        )
    return ok(name, f"{queue} is the on-failure destination of the {len(ASYNC_FUNCTIONS)} functions, and empty")


def function_errors(ctx: Context) -> Check:
    name = "function-errors"
    missing = [s for s in FUNCTIONS if ctx.function(s) is None]
    if missing:
        return fail(name, f"not deployed: {', '.join(ctx.function_name(s) for s in missing)}", ctx.deploy_fix())
    end = datetime.now(UTC)
    queries = [
        {
            "Id": f"m{i}{j}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": ctx.function_name(short)}],
                },
                "Period": 86400,
                "Stat": "Sum",
            },
            "Label": f"{short} {metric}",
        }
        for i, short in enumerate(FUNCTIONS)
        for j, metric in enumerate(("Errors", "Throttles"))
    ]
    resp = ctx.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=end - timedelta(hours=24), EndTime=end
    )
    counts = {r["Label"]: int(sum(r.get("Values", []))) for r in resp.get("MetricDataResults", [])}
    bad = {k: v for k, v in counts.items() if v}
    if bad:
        worst = max(bad, key=bad.get).split(" ", 1)[0]
        return warn(
            name,
            "last 24 hours: " + ", ".join(f"{k} {v}" for k, v in sorted(bad.items())),
            f"aws logs tail /aws/lambda/{ctx.function_name(worst)} --since 24h; {ctx.env_prefix()}opswatch failed list",
        )
    return ok(name, f"no errors or throttles in the last 24 hours ({len(FUNCTIONS)} functions)")


def _stream_mapping_set(ctx: Context, lam, queue_arn: str) -> bool:
    """Whether ``failed setup`` configured the stream function's mapping (Chalice cannot).

    Without it Lambda ignores the function's partial batch responses and retries whole batches
    until the records expire. No mapping at all (the function not deployed) is function-errors' to say.
    """
    from chalicelib.failed import STREAM_FUNCTIONS

    for short in STREAM_FUNCTIONS:
        name = ctx.function_name(short)
        mappings = lam.list_event_source_mappings(FunctionName=name).get("EventSourceMappings") or []
        if not mappings:  # some endpoints find a mapping only by the form it was made with (the ARN)
            fn = ctx.function(short)
            if fn is None:
                continue
            mappings = lam.list_event_source_mappings(FunctionName=fn["FunctionArn"]).get("EventSourceMappings") or []
        for m in mappings:
            dest = ((m.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            if "ReportBatchItemFailures" not in (m.get("FunctionResponseTypes") or []) or dest != queue_arn:
                return False
    return True
