"""``opswatch alb``: parse local ALB log files, backfill S3 objects into CloudWatch Logs."""

from __future__ import annotations

import re
import signal
import sys
import threading
from datetime import date, timedelta

import click

from chalicelib import settings
from chalicelib.alb import routemetrics
from chalicelib.alb.checkpoint import AlreadyShipped, Checkpoint, ObjectBusy
from chalicelib.alb.destination import check_template, group_for, is_template
from chalicelib.alb.keys import KeyRefused, classify
from chalicelib.alb.pipeline import FORMATS, MAX_REJECTS_SHIPPED, LineCounts, ObjectReport, render_lines, ship_object
from chalicelib.alb.reader import StreamStatus, file_chunks, iter_lines
from chalicelib.alb.shipfilter import FilterError, compile_filter
from chalicelib.cli.errors import EXIT_FINDINGS as EXIT_REJECTED
from chalicelib.cli.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, OpswatchGroup, describe_aws, plural
from chalicelib.printable import shown

CLI_LEASE_SECONDS = 120  # renewed at every sync point (5 s): a crashed run's objects are free again within it


@click.group(cls=OpswatchGroup)
def alb() -> None:
    """ALB access logs: parse, ship, backfill."""


@alb.command()
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="json: one object per line with the Athena column names; alb: the line as written; "
    "metrics: the route metrics that would be published, one object per minute, load balancer and route.",
)
def parse(files: tuple[str, ...], fmt: str) -> None:
    """Parse local ALB log FILES (gzip or plain; - is stdin) to standard output.

    Rejected lines go to standard error with file, line number and reason (the
    first 1,000 of a file; the rest are counted in one closing line).
    With --format metrics, the stage's route settings (OPSWATCH_ALB_ROUTES,
    OPSWATCH_ALB_ROUTE_LIMIT) apply, and a cost summary goes to standard error.
    Exit status: 0 every line parsed, 1 some were rejected, 2 usage error or a file that
    cannot be read whole (missing, truncated or corrupt gzip: the lines before the damage
    are still printed, and the other files parsed).
    """
    out = sys.stdout.buffer
    try:
        metrics = routemetrics.for_stage(settings.alb(), fmt)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    rejected = lines = unreadable = 0
    pending: list[bytes] = []

    def emit(_ts: int, message: bytes, _size: int) -> None:
        # Joined and written 64 at a time: measured faster than a write per line or larger batches.
        pending.append(message)
        if len(pending) >= 64:
            write_lines()

    def write_lines() -> None:
        if pending:
            out.write(b"\n".join(pending) + b"\n")
            pending.clear()

    for name in files:
        label = "<stdin>" if name == "-" else name

        def reject(lineno: int, _text: str, reason: str, label: str = label) -> None:
            write_lines()  # keep standard output and standard error in line order
            click.echo(f"{label}:{lineno}: {reason}", err=True)

        try:
            fh = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
        except OSError as exc:
            click.echo(f"opswatch: cannot read {label}: {exc.strerror}", err=True)
            sys.exit(EXIT_USAGE)
        status = StreamStatus()
        try:
            counts = render_lines(
                iter_lines(file_chunks(fh), status, runs=True),
                fmt,
                None,
                emit,
                reject,
                LineCounts(),
                encoded=True,
                metrics=metrics,
                reject_limit=MAX_REJECTS_SHIPPED,  # a file of junk is summed up, not listed
            )
            write_lines()
        except OSError as exc:
            click.echo(f"opswatch: error reading {label}: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()
        rejected += counts.rejected
        lines += counts.lines
        if counts.rejected > MAX_REJECTS_SHIPPED:
            click.echo(
                f"{label}: {counts.rejected - MAX_REJECTS_SHIPPED:,} more rejected lines not listed "
                f"(at most {MAX_REJECTS_SHIPPED:,} are listed per file)",
                err=True,
            )
        if status.error:
            click.echo(f"{label}: {status.error}", err=True)
            unreadable += 1
    if metrics is not None:
        print_metrics(metrics, out, lines, rejected)
    out.flush()
    sys.exit(EXIT_USAGE if unreadable else EXIT_REJECTED if rejected else EXIT_OK)


def print_metrics(metrics, out, lines: int, rejected: int) -> None:
    """One JSON object per published aggregate, then what publishing them would cost.

    The summary counts the lines read and rejected too: a file of rejected lines makes
    no metrics, and should say why rather than "0 lines".
    """
    import orjson

    from chalicelib.alb.routemetrics import emf_document

    docs = 0
    doc_bytes = 0
    for agg in metrics.aggregates():
        out.write(orjson.dumps(agg.summary()) + b"\n")
        docs += 1
        doc_bytes += len(orjson.dumps(emf_document(metrics.namespace, agg)[1])) + 26
    out.flush()
    n = metrics.metric_count()
    folded = f"; {metrics.overflowed:,} rarely seen routes folded into 'other' while reading"
    read = f"{plural(lines, 'line')} read, {rejected:,} rejected; " if rejected or lines != metrics.lines else ""
    click.echo(
        f"{read}{plural(metrics.lines, 'line')} -> {plural(docs, 'EMF document')} "
        f"({doc_bytes / 1e6:.3f} MB of ingestion), "
        f"{plural(n, 'distinct metric')} (about {n * 0.30:.2f} USD a month at 0.30 USD per metric)"
        + (folded if metrics.overflowed else ""),
        err=True,
    )


_S3_URI = re.compile(r"s3://([^/]+)/?(.*)")
_DAY_DIR = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/")
_REGION_DIR = re.compile(r"elasticloadbalancing/[a-z0-9-]+/$")


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint=name) from None


def install_interrupt() -> threading.Event:
    """First Ctrl-C: stop at the next line boundary, after saving progress. A second one stops at once."""
    flag = threading.Event()

    def on_interrupt(_sig, _frame) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()
        click.echo("\nopswatch: stopping after the current batch (Ctrl-C again to stop at once)", err=True)

    signal.signal(signal.SIGINT, on_interrupt)
    return flag


MAX_DAY_LISTINGS = 366
MAX_REGION_FOLDERS = 1000  # accounts x Regions walked in a central bucket before listing it whole instead


def _folders(s3, bucket: str, prefix: str) -> list[str]:
    """The sub-folders of ``prefix`` (one delimiter listing, paginated)."""
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        out += [c["Prefix"] for c in page.get("CommonPrefixes", [])]
        if len(out) > MAX_REGION_FOLDERS:
            break
    return out


def region_folders(s3, bucket: str, prefix: str) -> list[str] | None:
    """The ``AWSLogs/ACCOUNT/elasticloadbalancing/REGION/`` folders under a central bucket's prefix.

    For a prefix ending at ``AWSLogs/`` or at one account's folder; None for any other prefix, or
    past ``MAX_REGION_FOLDERS`` (then the prefix is listed whole, which is slower but finds the
    same objects).
    """
    if _REGION_DIR.search(prefix):
        return [prefix]
    if re.search(r"(?:^|/)AWSLogs/[^/]+/$", prefix):
        accounts = [prefix]
    elif re.search(r"(?:^|/)AWSLogs/$", prefix):
        accounts = _folders(s3, bucket, prefix)
    else:
        return None
    out: list[str] = []
    for account in accounts:
        out += _folders(s3, bucket, account + "elasticloadbalancing/")
        if len(out) > MAX_REGION_FOLDERS:
            return None
    return out


def list_keys(s3, bucket: str, prefix: str, since: date | None, until: date | None):
    """Keys under prefix whose ALB day folder lies in [since, until].

    When both days are given and the prefix ends at a region folder, at a central
    bucket's ``AWSLogs/`` or at an account's folder (each account's and Region's
    folders are found first), only those days' folders are listed, which keeps a
    backfill of a busy bucket cheap.
    """
    prefixes = [prefix]
    # One listing per day, up to a year of days; a wider range (0001-01-01 to 9999-12-31 built 3.65 million
    # prefixes and listed them one by one) lists the prefix once, keeping the days in range.
    if since and until and (until - since).days < MAX_DAY_LISTINGS:
        regions = region_folders(s3, bucket, prefix)
        if regions is not None:
            days = [f"{since + timedelta(days=i):%Y/%m/%d}/" for i in range((until - since).days + 1)]
            prefixes = [r + d for r in regions for d in days]
    pages = s3.get_paginator("list_objects_v2")
    for p in prefixes:
        for page in pages.paginate(Bucket=bucket, Prefix=p):
            for item in page.get("Contents", []):
                key = item["Key"]
                m = _DAY_DIR.search(key)
                if m and (since or until):
                    d = date(int(m[1]), int(m[2]), int(m[3]))
                    if (since and d < since) or (until and d > until):
                        continue
                yield key, item["Size"], item.get("ETag")


@alb.command()
@click.argument("uri")
@click.option("--since", help="First day to ship (YYYY-MM-DD, from the key's date folders).")
@click.option("--until", help="Last day to ship, inclusive.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Overrides the stage's OPSWATCH_ALB_FORMAT.")
@click.option("--log-group", help="Overrides the stage's OPSWATCH_ALB_LOG_GROUP.")
@click.option("--filter", "ship_filter", help="Ship filter, e.g. 'elb_status_code >= 500'.")
def ship(
    uri: str, since: str | None, until: str | None, fmt: str | None, log_group: str | None, ship_filter: str | None
) -> None:
    """Backfill ALB log objects under s3://BUCKET/PREFIX through the Lambda's own code.

    A central bucket's prefix (e.g. AWSLogs/) covers every account and Region in it; the
    progress shows objects and lines per account, and a log group template
    (/opswatch/alb/{account}) sends each account's lines to its own group. An object
    whose key names a malformed account or Region is refused with the reason.

    Progress is kept per object in the stage's state table, as the Lambda keeps it:
    after Ctrl-C or a crash, the same command resumes where it stopped, and objects
    already shipped whole to the log group are skipped. Without the table it ships
    everything (a re-run then ships again).

    Exit status: 0 every line shipped or filtered, 1 some lines were rejected or
    refused, 2 usage or AWS errors or an object that could not be read whole (a
    truncated gzip: its lines before the damage are shipped, and the other objects
    too), 130 interrupted (progress saved).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.aws import client

    m = _S3_URI.fullmatch(uri)
    if not m:
        raise click.BadParameter("expected s3://BUCKET/PREFIX", param_hint="URI")
    bucket, prefix = m.groups()
    first, last = _day(since, "--since"), _day(until, "--until")
    if first and last and first > last:  # it shipped nothing and said done
        raise click.BadParameter(f"{until} is before --since {since}", param_hint="--until")
    cfg = settings.alb()
    try:
        predicate = compile_filter(ship_filter if ship_filter is not None else cfg.ship_filter)
    except FilterError as exc:
        raise click.BadParameter(str(exc), param_hint="--filter") from None
    if log_group is not None:
        try:
            check_template(log_group, "--log-group")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--log-group") from None
    s3, logs = client("s3"), client("logs")
    from chalicelib.alb.handler import object_chunks

    try:
        keys = list(list_keys(s3, bucket, prefix, first, last))
    except ClientError as exc:  # no such bucket, access denied; configuration errors go to the shared handler
        click.echo(f"opswatch: cannot list {uri}: {describe_aws(exc)}", err=True)
        sys.exit(EXIT_USAGE)
    reports: list[ObjectReport] = []
    skipped: dict[str, int] = {}
    refused_keys: list[str] = []  # keys naming a malformed account or Region
    busy: list[str] = []
    template = log_group or cfg.log_group
    per_account: dict[str, list[int]] = {}  # account -> [objects, lines] so far
    state_warned = False
    interrupted = install_interrupt()
    try:
        with click.progressbar(
            keys,
            label=f"shipping {plural(len(keys), 'object')}",
            file=sys.stderr,
            item_show_func=lambda _k: _progress(per_account),
        ) as bar:
            for key, _size, etag in bar:
                try:
                    obj, why = classify(bucket, key)
                    group = group_for(template, obj) if obj is not None else template
                except KeyRefused as exc:
                    refused_keys.append(f"s3://{bucket}/{key}: {exc}")
                    continue
                if obj is None:
                    skipped[why] = skipped.get(why, 0) + 1
                    continue
                cp = Checkpoint(group, obj.uri, etag, lease_seconds=CLI_LEASE_SECONDS)
                try:
                    progress = cp.claim()
                except AlreadyShipped:
                    skipped[f"already shipped whole to {group}"] = (
                        skipped.get(f"already shipped whole to {group}", 0) + 1
                    )
                    continue
                except ObjectBusy as exc:
                    busy.append(f"{obj.uri}: {exc}")
                    continue
                if cp.error and not state_warned:
                    click.echo(f"opswatch: no checkpoints ({cp.error}); a re-run would ship again", err=True)
                    state_warned = True
                try:
                    report = ship_object(
                        obj,
                        object_chunks(bucket, key),
                        logs,
                        group,
                        fmt or cfg.format,
                        predicate,
                        metrics=routemetrics.for_stage(cfg, fmt, account=obj.account),
                        checkpoint=cp,
                        resume=progress,
                        stop=interrupted.is_set,
                    )
                except (ClientError, BotoCoreError, ObjectBusy) as exc:
                    saved = "progress is saved: " if not cp.error else ""
                    click.echo(
                        f"\nopswatch: shipping {obj.uri} failed: {exc}\n{saved}run the same command again to resume",
                        err=True,
                    )
                    sys.exit(EXIT_USAGE)
                reports.append(report)
                seen = per_account.setdefault(obj.account or "?", [0, 0])
                seen[0] += 1
                seen[1] += report.lines
                if interrupted.is_set():
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        click.echo(
            "\nopswatch: interrupted; progress is saved per object: run the same command again to resume", err=True
        )
        sys.exit(EXIT_INTERRUPTED)
    total = {k: sum(getattr(r, k) for r in reports) for k in ("lines", "shipped", "filtered", "rejected", "refused")}
    click.echo(f"objects: {len(reports)} shipped from, {sum(skipped.values())} skipped")
    for why, n in sorted(skipped.items()):
        click.echo(f"  skipped {n}: {why}")
    click.echo("lines: " + ", ".join(f"{v} {k}" for k, v in total.items()))
    if any(r.aggregated for r in reports):
        click.echo(
            f"route metrics: {plural(sum(r.aggregated for r in reports), 'line')}, "
            f"{sum(r.metric_documents for r in reports)} EMF documents, "
            f"{sum(r.metric_documents_refused for r in reports)} refused by CloudWatch"
        )
    refused: dict[str, int] = {}
    rejected: dict[str, int] = {}
    for r in reports:
        for why, n in r.refused_reasons.items():
            refused[why] = refused.get(why, 0) + n
        for why, n in r.reject_reasons.items():
            rejected[why] = rejected.get(why, 0) + n
        if r.object_error:
            click.echo(f"  {r.source}: {r.object_error}")
    for why, n in sorted(rejected.items()):
        click.echo(f"  rejected {n}: {why}")
    for why, n in refused.items():
        click.echo(f"  refused by CloudWatch {n}: {why}")
    for r in reports:
        if r.rejects_over_cap:
            click.echo(
                f"  {r.source}: {r.rejects_over_cap} rejected lines counted but not shipped to the rejected/ "
                f"stream (at most {r.rejects_cap} are shipped per object)"
            )
    for b in busy:
        click.echo(f"  not shipped now, another process holds it: {b}")
    if len(per_account) > 1 or is_template(template):
        for account, line in by_account(reports).items():
            click.echo(f"account {account}: {line}")
    for r in refused_keys:  # a key is someone else's text: its control characters are shown, not obeyed
        click.echo(f"  refused (not shipped): {shown(r)}")
    if any(r.object_error for r in reports):  # an unreadable input: 2, as in every command (after the others)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_REJECTED if total["rejected"] or total["refused"] or busy or refused_keys else EXIT_OK)


def _progress(per_account: dict[str, list[int]]) -> str:
    """The progress bar's text: objects and lines so far per account (the busiest first, a few shown)."""
    top = sorted(per_account.items(), key=lambda kv: -kv[1][1])[:3]
    more = f" +{len(per_account) - 3} accounts" if len(per_account) > 3 else ""
    return ", ".join(f"{a}: {o} obj {n:,} lines" for a, (o, n) in top) + more


def by_account(reports: list[ObjectReport]) -> dict[str, str]:
    """One summary line per account: objects, lines and what became of them, and the log groups they went to."""
    out: dict[str, dict] = {}
    for r in reports:
        a = out.setdefault(r.account or "?", {"objects": 0, "groups": set(), **dict.fromkeys(_KINDS, 0)})
        a["objects"] += 1
        a["groups"].add(r.log_group)
        for k in _KINDS:
            a[k] += getattr(r, k)
    return {
        account: f"{plural(a['objects'], 'object')}, "
        + ", ".join(f"{a[k]} {k}" for k in _KINDS)
        + f" -> {', '.join(sorted(a['groups']))}"
        for account, a in sorted(out.items())
    }


_KINDS = ("lines", "shipped", "filtered", "rejected", "refused")
