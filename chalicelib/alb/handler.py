"""The ALB log Lambda's work: every record of an S3 event, one report per object.

Counts go to the structured log (Powertools Logger) and, per load balancer, to
CloudWatch metrics in embedded metric format (Powertools EphemeralMetrics: one
dimension set per object, flushed as soon as the object is done).
"""

from __future__ import annotations

import json
import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib import settings
from chalicelib.alb import routemetrics
from chalicelib.alb.checkpoint import AlreadyShipped, Checkpoint, ObjectBusy, Progress
from chalicelib.alb.destination import group_for
from chalicelib.alb.keys import KeyRefused, classify, event_key
from chalicelib.alb.pipeline import RESERVE_MS, ObjectReport, ship_object
from chalicelib.alb.reader import CHUNK_BYTES
from chalicelib.alb.shipfilter import compile_filter
from chalicelib.aws import client
from chalicelib.redact import redact

logger = Logger(service="opswatch-alb")


def object_chunks(bucket: str, key: str):
    """Stream an S3 object's body in chunks (never the whole object in memory)."""
    body = client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


def emit_metrics(report: ObjectReport) -> None:
    metrics = EphemeralMetrics(namespace=settings.metrics_namespace(), service="opswatch-alb")
    metrics.add_dimension(name="LoadBalancer", value=report.load_balancer or "unknown")
    if report.account:  # the account is in the report and the log line; as a property it costs no metric
        metrics.add_metadata(key="account", value=report.account)
    for name, value in (
        ("LinesShipped", report.shipped),
        ("LinesFiltered", report.filtered),
        ("LinesRejected", report.rejected),
        ("LinesRefused", report.refused),
        ("ObjectErrors", 1 if report.object_error else 0),
        ("CheckpointErrors", 1 if report.checkpoint_error else 0),  # shipped at least once, not exactly once
        *(
            (("RouteMetricDocuments", report.metric_documents), ("RouteMetricsPublished", report.metrics_published))
            if report.aggregated
            else ()
        ),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()


def log_report(report: ObjectReport) -> None:
    summary = report.as_dict()
    if report.object_error:
        logger.error(f"read {report.source} only in part: {report.object_error}", extra=summary)
    elif report.rejected or report.refused:
        logger.warning(
            f"{report.source}: {report.shipped} shipped, {report.rejected} rejected, {report.refused} refused",
            extra=summary,
        )
    else:
        logger.info(f"{report.source}: {report.shipped} shipped", extra=summary)
    if report.aggregated:
        logger.info(
            f"{report.source}: {report.aggregated} lines in route metrics, {report.metric_documents} EMF documents, "
            f"{report.metrics_published} distinct metrics",
            extra={"source": report.source, "routes_overflowed": report.routes_overflowed},
        )
    if report.metric_documents_refused:
        logger.warning(
            f"{report.source}: CloudWatch refused {report.metric_documents_refused} route-metric documents "
            "(older than 14 days or the group's retention)",
            extra=summary,
        )
    if not report.balanced:  # a bug, never expected: say so loudly
        logger.error("line counts do not add up", extra=summary)


CONTINUATION_KEY = "opswatch"  # a record carrying this was sent by alb_logs itself: the rest of an object


def _claim(obj, log_group: str, etag: str | None, context, carried: dict | None) -> tuple[Checkpoint, Progress]:
    """Claim the object's checkpoint; raises AlreadyShipped or ObjectBusy."""
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else 900
    # The lease ends when this invocation must (plus a margin), however often progress is saved.
    cp = Checkpoint(log_group, obj.uri, etag, lease_seconds=remaining + 30, deadline=time.time() + remaining + 30)
    progress = cp.claim()
    if cp.error and carried:
        # The state table is unreachable, but the continuation event says where the last one stopped.
        progress = Progress.from_item(carried)
    return cp, progress


def reserve_ms(context) -> int:
    """Time to keep for saving and handing on: a quarter of what is left, at most a minute."""
    if context is None:
        return RESERVE_MS
    return min(RESERVE_MS, context.get_remaining_time_in_millis() // 4)


def continue_elsewhere(context, records: list[dict], progress: Progress) -> None:
    """Hand the rest of the object (and the event's remaining records) to a new invocation of this function."""
    first = {**records[0], CONTINUATION_KEY: {"line": progress.line, "progress": progress.as_item()}}
    payload = {"Records": [first, *records[1:]]}
    client("lambda").invoke(
        FunctionName=context.invoked_function_arn,
        InvocationType="Event",
        Payload=json.dumps(payload).encode(),
    )


def record_problem(record) -> str | None:
    """Why a record is not an S3 object notification opswatch can act on (None when it is)."""
    if not isinstance(record, dict):
        return f"a record must be an object, not {type(record).__name__}"
    s3 = record.get("s3")
    if not isinstance(s3, dict):
        return "the record has no s3 section: not an S3 event notification"
    bucket = s3.get("bucket")
    obj = s3.get("object")
    if not isinstance(bucket, dict) or not isinstance(bucket.get("name"), str) or not bucket["name"]:
        return "s3.bucket.name is missing or not text"
    if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not obj["key"]:
        return "s3.object.key is missing or not text"
    return None


def malformed(event, reason: str) -> dict:
    """Log the event (shortened, secrets redacted) with the reason and count it; a retry cannot mend it."""
    shown = redact(json.dumps(event, default=str)[:2000])
    logger.error(f"not an S3 event opswatch can ship from: {reason}", extra={"reason": reason, "event": shown})
    metrics = EphemeralMetrics(namespace=settings.metrics_namespace(), service="opswatch-alb")
    metrics.add_metric(name="RecordsMalformed", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    return {"malformed": reason}


def refused(source: str, reason: str) -> dict:
    """An ALB log whose key names a bad account or Region: logged, counted, never shipped; a retry cannot mend it."""
    logger.error(f"refused {source}: {reason}", extra={"refused": source, "reason": reason})
    metrics = EphemeralMetrics(namespace=settings.metrics_namespace(), service="opswatch-alb")
    metrics.add_metric(name="ObjectsRefused", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    return {"source": source, "key_refused": reason}


def ship_record(record, cfg, ship_filter, context) -> tuple[dict, ObjectReport | None, Progress | None]:
    """One record of the event: its answer, and the report and progress when its object was shipped.

    Everything but shipping ends here with a reason in the answer: a malformed record, a key
    that is not an ALB log, an object already shipped (a redelivered event) or being shipped
    by another invocation (the answer says ``busy``; the caller fails the event at its end).
    """
    problem = record_problem(record)
    if problem:
        return malformed(record, problem), None, None
    # Plain dict access: Powertools' data_classes package costs ~30 ms of cold start.
    bucket = record["s3"]["bucket"]["name"]
    key = event_key(record["s3"]["object"]["key"])
    try:
        obj, why = classify(bucket, key)
        group = group_for(cfg.log_group, obj) if obj is not None else cfg.log_group
    except KeyRefused as exc:
        return refused(f"s3://{bucket}/{key}", str(exc)), None, None
    if obj is None:
        logger.info(f"skipped s3://{bucket}/{key}: {why}", extra={"skipped": key, "reason": why})
        return {"source": f"s3://{bucket}/{key}", "skipped": why}, None, None
    s3obj = record["s3"]["object"]
    cont = record.get(CONTINUATION_KEY)
    carried = cont.get("progress") if isinstance(cont, dict) and isinstance(cont.get("progress"), dict) else None
    try:
        version = s3obj.get("eTag") or s3obj.get("versionId")
        cp, progress = _claim(obj, group, str(version) if version else None, context, carried)
    except AlreadyShipped as exc:
        logger.info(f"skipped {obj.uri}: {exc} (a redelivered event)", extra={"skipped": key, "reason": str(exc)})
        return {"source": obj.uri, "skipped": str(exc)}, None, None
    except ObjectBusy as exc:
        logger.warning(f"{obj.uri}: {exc}", extra={"busy": key})
        return {"source": obj.uri, "busy": str(exc)}, None, None
    if cp.error:
        logger.warning(
            f"{obj.uri}: shipping without checkpoints, the state table is unavailable ({cp.error}); "
            "a retry would ship this object again from its start",
            extra={"checkpoint_error": cp.error},
        )
    report = ship_object(
        obj,
        object_chunks(bucket, key),
        client("logs"),
        group,
        cfg.format,
        ship_filter,
        metrics=routemetrics.for_stage(cfg, account=obj.account),
        checkpoint=cp,
        remaining_ms=context.get_remaining_time_in_millis if context is not None else None,
        reserve_ms=reserve_ms(context),
        resume=progress,
    )
    log_report(report)
    emit_metrics(report)
    return report.as_dict(), report, progress


def handle_s3_event(event: dict, context=None) -> list[dict]:
    """Ship every ALB access-log object named in the event, each line once; skip the rest with a reason.

    A redelivered event for an object already shipped is skipped. An object another
    invocation is shipping makes this one fail at the end, after the event's other
    objects, so Lambda retries it later. When time runs short, the rest goes to a new
    invocation (``continue_elsewhere``).
    """
    cfg = settings.alb()
    ship_filter = compile_filter(cfg.ship_filter)
    out: list[dict] = []
    if not isinstance(event, dict):
        return [malformed(event, f"the event must be an object, not {type(event).__name__}")]
    if "Records" not in event:
        if event.get("Event") == "s3:TestEvent":  # sent when the notification is configured
            logger.info("S3 test event: the notification works; nothing to ship", extra={"s3_event": "s3:TestEvent"})
            return out
        return [malformed(event, "no Records: not an S3 event notification")]
    busy: list[str] = []
    records = event["Records"]
    if not isinstance(records, list):
        return [malformed(event, "Records must be a list")]
    for i, record in enumerate(records):
        answer, report, progress = ship_record(record, cfg, ship_filter, context)
        out.append(answer)
        if "busy" in answer:
            busy.append(answer["source"])
        if report is not None and progress is not None and report.continue_from is not None:
            progress.line = report.continue_from
            continue_elsewhere(context, records[i:], progress)
            logger.info(
                f"{report.source}: continued in a new invocation from line {report.continue_from}",
                extra={"continue_from": report.continue_from, "records_handed_on": len(records) - i},
            )
            break
    if busy:
        raise ObjectBusy(f"{len(busy)} object(s) being shipped by another invocation: {', '.join(busy)}")
    return out
