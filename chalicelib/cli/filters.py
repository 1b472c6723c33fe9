"""``opswatch filters``: test a CloudWatch Logs filter pattern locally, exactly as CloudWatch would."""

from __future__ import annotations

import json
import sys

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@click.group()
def filters() -> None:
    """CloudWatch Logs filter patterns (metric filters, subscription filters)."""


@filters.command("test")
@click.option(
    "--pattern", "pattern_text", required=True, help="The filter pattern, e.g. '{ $.elb_status_code >= 500 }'."
)
@click.option("--event", "events", multiple=True, help="A log event message (repeat for several).")
@click.option(
    "--events",
    "events_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="A file of log events, one per line (- for stdin).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json prints the TestMetricFilter API response.",
)
@click.option("--remote", is_flag=True, help="Ask CloudWatch Logs' TestMetricFilter API instead, to compare.")
def test_pattern(pattern_text: str, events: tuple[str, ...], events_file: str | None, fmt: str, remote: bool) -> None:
    """Which events a pattern matches, and what it extracts.

    Exit status: 0 at least one event matched, 1 none did, 2 a malformed pattern or bad arguments.
    """
    from chalicelib.filters import PatternError, compile_pattern

    messages = list(events)
    if events_file:
        try:
            with click.open_file(events_file, encoding="utf-8") as fh:
                messages += [line.rstrip("\r\n") for line in fh if line.rstrip("\r\n")]
        except OSError as exc:
            click.echo(f"opswatch: cannot read {events_file}: {exc.strerror}", err=True)
            sys.exit(EXIT_USAGE)
    if not messages:
        click.echo("opswatch: give events with --event TEXT or --events FILE", err=True)
        sys.exit(EXIT_USAGE)
    if remote:
        result = _remote(pattern_text, messages)
    else:
        try:
            result = compile_pattern(pattern_text).test(messages)
        except PatternError as exc:
            click.echo(f"opswatch: {exc}", err=True)
            sys.exit(EXIT_USAGE)
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        matched = {m["eventNumber"]: m for m in result["matches"]}
        for number, message in enumerate(messages, 1):
            hit = matched.get(number)
            click.echo(f"{'MATCH ' if hit else 'no    '} {number}: {message}")
            for k, v in (hit or {}).get("extractedValues", {}).items():
                click.echo(f"         {k} = {v}")
        click.echo(f"{len(matched)} of {len(messages)} events matched")
    sys.exit(EXIT_OK if result["matches"] else EXIT_FAILED)


def _remote(pattern_text: str, messages: list[str]) -> dict:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.aws import client

    try:
        resp = client("logs").test_metric_filter(filterPattern=pattern_text, logEventMessages=messages)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        click.echo(
            f"opswatch: CloudWatch Logs TestMetricFilter failed: {err.get('Code')}: {err.get('Message')}", err=True
        )
        sys.exit(EXIT_USAGE)
    except BotoCoreError as exc:
        click.echo(f"opswatch: CloudWatch Logs TestMetricFilter failed: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    return {"matches": resp.get("matches", [])}
