"""What an organization costs: 50 accounts x 3 Regions x 10 load balancers at 100 requests a second each.

Every figure comes from this run: one object's worth of generated traffic (what one load
balancer node writes in 5 minutes) is shipped through ``ship_object`` in each mode to a
loopback CloudWatch Logs endpoint that counts the events and bytes it receives; the time
per object, the bytes per request, the distinct route metrics and the gzip bytes per line
are measured there and multiplied out. The prices are AWS's list prices for us-east-1,
looked up on the date in ``PRICES_AS_OF`` (sources in ``PRICE_SOURCES``).

``python -m bench organization`` runs this section alone (a few seconds).
"""

from __future__ import annotations

import gzip
import os
import time

from bench.sink import LogsSink, start_sink

ACCOUNTS = int(os.environ.get("BENCH_ORG_ACCOUNTS", "50"))
REGIONS = int(os.environ.get("BENCH_ORG_REGIONS", "3"))
LBS_PER_REGION = int(os.environ.get("BENCH_ORG_LBS", "10"))
RATE = float(os.environ.get("BENCH_ORG_RATE", "100"))  # requests a second per load balancer
# ELB publishes a log file for each load balancer node every 5 minutes (AWS, "Access log files");
# an ALB has a node in each of its Availability Zones, at least two.
NODES = int(os.environ.get("BENCH_ORG_NODES", "2"))
INTERVAL_S = 300
MEMORY_GB = 0.5  # alb_logs' lambda_memory_size in .chalice/config.json
SECONDS_PER_MONTH = 30 * 24 * 3600

PRICES_AS_OF = "2026-12-02"
PRICE_SOURCES = (
    "https://aws.amazon.com/cloudwatch/pricing/ (Logs: Standard ingestion 0.50 USD per GB; custom metrics "
    "0.30, 0.10, 0.05, 0.02 USD per metric-month by tier)",
    "https://aws.amazon.com/athena/pricing/ (5 USD per TB scanned, rounded up to the MB, 10 MB minimum)",
    "https://aws.amazon.com/lambda/pricing/ (x86: 0.0000166667 USD per GB-second, 0.20 USD per 1M requests)",
)
USD_PER_GB_INGESTED = 0.50
USD_PER_GB_SECOND = 0.0000166667
USD_PER_MILLION_REQUESTS = 0.20
METRIC_TIERS = ((10_000, 0.30), (240_000, 0.10), (750_000, 0.05), (float("inf"), 0.02))


def metrics_usd(count: int) -> float:
    """Custom metrics a month, by CloudWatch's tiers."""
    usd, left = 0.0, count
    for size, price in METRIC_TIERS:
        take = min(left, size)
        usd += take * price
        left -= take
        if left <= 0:
            break
    return usd


def _object(lines_per_object: int) -> tuple[bytes, list[str]]:
    from chalicelib.embedded import albtraffic

    start = time.time() - INTERVAL_S - 60  # recent: the loopback endpoint refuses nothing, as CloudWatch would
    lines = list(albtraffic.lines(lines_per_object, start, spread_seconds=INTERVAL_S, seed=11))
    return gzip.compress(("\n".join(lines) + "\n").encode()), lines


def measure(lines_per_object: int, runs: int = 3) -> dict:
    """Ship one object's worth of traffic in each mode; the best of ``runs`` for the time."""
    import boto3

    from chalicelib.alb import routemetrics
    from chalicelib.alb.keys import classify
    from chalicelib.alb.parser import parse_line
    from chalicelib.alb.pipeline import LineCounts, render_lines, ship_object
    from chalicelib.settings import AlbSettings

    body, lines = _object(lines_per_object)
    key = (
        "AWSLogs/111122223333/elasticloadbalancing/us-east-1/2026/12/02/"
        "111122223333_elasticloadbalancing_us-east-1_app.shop-prod.50dc6c495c0c9188_20261202T0000Z_10.0.0.1_b.log.gz"
    )
    obj, _ = classify("bench", key)
    server = start_sink()
    logs = boto3.client(
        "logs",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    out: dict = {"lines": len(lines), "gzip_bytes": len(body)}
    try:
        for mode in ("json", "alb", "metrics"):
            cfg = AlbSettings("bench", "/opswatch/alb/{account}", mode, None, None)
            best = None
            for _ in range(runs):
                LogsSink.reset()
                metrics = routemetrics.for_stage(cfg, mode, account=obj.account)
                t0 = time.perf_counter()
                report = ship_object(obj, [body], logs, "/opswatch/alb/111122223333", mode, metrics=metrics)
                seconds = time.perf_counter() - t0
                assert report.balanced and report.lines == len(lines), report
                if best is None or seconds < best["seconds"]:
                    best = {
                        "seconds": seconds,
                        "billed": LogsSink.billed,
                        "calls": LogsSink.calls,
                        "metrics": report.metrics_published,
                    }
            out[mode] = best
    finally:
        server.shutdown()
    # The parser alone, json mode: the per-line cost inside the shipping time.
    sink = LineCounts()
    t0 = time.perf_counter()
    render_lines(iter(x.encode() for x in lines), "json", None, lambda *a: None, lambda *a: None, sink)
    out["parse_us_per_line"] = (time.perf_counter() - t0) / len(lines) * 1e6
    assert sink.accepted == len(lines)
    parse_line(lines[0])  # the same parser the pipeline ran
    return out


def report() -> bool:
    """Print the organization's table; True when the measured object balanced in every mode."""
    from chalicelib.athena.catalog import load_catalog
    from chalicelib.athena.results import cost_usd

    lbs = ACCOUNTS * REGIONS * LBS_PER_REGION
    per_object = int(RATE * INTERVAL_S / NODES)
    m = measure(per_object)
    requests_s = lbs * RATE
    objects_h = lbs * NODES * 3600 // INTERVAL_S
    invocations_month = objects_h * 24 * 30
    print(
        f"  {ACCOUNTS} accounts x {REGIONS} Regions x {LBS_PER_REGION} load balancers = {lbs:,} load balancers "
        f"at {RATE:g} requests/s: {requests_s:,.0f} requests/s"
    )
    print(
        f"  measured on one object ({NODES} nodes per load balancer, one object per node every 5 minutes): "
        f"{m['lines']:,} lines, {m['gzip_bytes'] / 1e6:.2f} MB gzip, parse {m['parse_us_per_line']:.1f} us/line (json)"
    )
    print(f"  objects and Lambda invocations: {objects_h:,} per hour, {invocations_month:,} per month")
    print(
        f"  {'mode':<8} {'s/object':>9} {'PutLogEvents':>13} {'GB-s/month':>12} {'Lambda USD':>11} "
        f"{'GB ingested/month':>18} {'ingest USD':>11} {'metrics':>9} {'metrics USD':>12}"
    )
    for mode in ("json", "alb", "metrics"):
        r = m[mode]
        gbs = invocations_month * r["seconds"] * MEMORY_GB
        lambda_usd = gbs * USD_PER_GB_SECOND + invocations_month / 1e6 * USD_PER_MILLION_REQUESTS
        bytes_per_request = r["billed"] / m["lines"]
        gb_month = bytes_per_request * requests_s * SECONDS_PER_MONTH / 1e9
        # Route metrics: the measured object's distinct metrics per load balancer (its account's 3 or 4
        # included once), for every load balancer; then the account totals of the other accounts.
        per_lb = r["metrics"] - 4 if r["metrics"] else 0
        metrics = per_lb * lbs + 4 * ACCOUNTS if r["metrics"] else 0
        print(
            f"  {mode:<8} {r['seconds']:>9.3f} {r['calls']:>13} {gbs:>12,.0f} {lambda_usd:>11,.2f} "
            f"{gb_month:>18,.1f} {gb_month * USD_PER_GB_INGESTED:>11,.2f} {metrics:>9,} {metrics_usd(metrics):>12,.2f}"
        )
    day_bytes = m["gzip_bytes"] / m["lines"] * requests_s * 86400
    one_account = day_bytes / ACCOUNTS
    print(
        "  Athena, every named query (a text table with a regular expression: each reads every byte of the "
        "partitions it selects, whatever its columns):"
    )
    print(
        f"  {'query':<24} {'day, all':>10} {'USD':>8} {'month, all':>11} {'USD':>9} {'day, 1 account':>15} {'USD':>7}"
    )
    for name in load_catalog():
        print(
            f"  {name:<24} {day_bytes / 1e9:>8,.1f}GB {cost_usd(int(day_bytes)):>8,.2f} "
            f"{day_bytes * 30 / 1e12:>9,.2f}TB {cost_usd(int(day_bytes * 30)):>9,.2f} "
            f"{one_account / 1e9:>13,.2f}GB {cost_usd(int(one_account)):>7,.3f}"
        )
    print(f"  prices: us-east-1 list prices as of {PRICES_AS_OF}; " + "; ".join(PRICE_SOURCES))
    print(
        "  s/object is measured against a loopback endpoint: in AWS add each PutLogEvents call's round trip "
        "(tens of ms) and the S3 GET"
    )
    return all(m[mode]["billed"] > 0 or mode == "metrics" for mode in ("json", "alb", "metrics"))
