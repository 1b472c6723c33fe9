"""The ALB log Lambda's work: every record of an S3 event, one report per object.

Counts go to the structured log (Powertools Logger) and, per load balancer, to
CloudWatch metrics in embedded metric format (Powertools EphemeralMetrics: one
dimension set per object, flushed as soon as the object is done).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib import settings
from chalicelib.alb.keys import classify, event_key
from chalicelib.alb.pipeline import ObjectReport, ship_object
from chalicelib.alb.reader import CHUNK_BYTES
from chalicelib.alb.shipfilter import compile_filter
from chalicelib.aws import client

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
    for name, value in (
        ("LinesShipped", report.shipped),
        ("LinesFiltered", report.filtered),
        ("LinesRejected", report.rejected),
        ("LinesRefused", report.refused),
        ("ObjectErrors", 1 if report.object_error else 0),
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


def handle_s3_event(event: dict) -> list[dict]:
    """Ship every ALB access-log object named in the event; skip the rest with a reason."""
    cfg = settings.alb()
    ship_filter = compile_filter(cfg.ship_filter)
    out: list[dict] = []
    if "Records" not in event:  # s3:TestEvent, sent when the notification is configured
        logger.info("no records in the S3 event; nothing to ship", extra={"s3_event": event.get("Event")})
        return out
    # Plain dict access: Powertools' data_classes package costs ~30 ms of cold start.
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = event_key(record["s3"]["object"]["key"])
        obj, why = classify(bucket, key)
        if obj is None:
            logger.info(f"skipped s3://{bucket}/{key}: {why}", extra={"skipped": key, "reason": why})
            out.append({"source": f"s3://{bucket}/{key}", "skipped": why})
            continue
        report = ship_object(
            obj,
            object_chunks(bucket, key),
            client("logs"),
            cfg.log_group,
            cfg.format,
            ship_filter,
            metrics=settings.route_metrics(cfg),
        )
        log_report(report)
        emit_metrics(report)
        out.append(report.as_dict())
    return out
