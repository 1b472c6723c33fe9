"""``opswatch filters``: test a CloudWatch Logs filter pattern locally, exactly as CloudWatch would."""

from __future__ import annotations

import json
import sys

import click

from chalicelib.cli.errors import EXIT_FINDINGS as EXIT_FAILED
from chalicelib.cli.errors import EXIT_OK, EXIT_USAGE, OpswatchGroup, fail, plural
from chalicelib.cli.lines import numbered_lines
from chalicelib.printable import shown


@click.group(cls=OpswatchGroup)
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

    Events from --events FILE (gzip or plain) are numbered by their line in the file;
    blank lines are not events (CloudWatch refuses empty ones) but keep their numbers.
    Exit status: 0 at least one event matched, 1 none did, 2 a malformed pattern, bad
    arguments or an unreadable events file.
    """
    from chalicelib.filters import PatternError, compile_pattern

    if events and events_file:
        fail("give events with --event TEXT (repeat) or --events FILE, not both: file events are numbered by line")
    numbered = list(enumerate(events, 1))
    if events_file:
        numbered = [(n, line) for n, line in numbered_lines(events_file, strict=True) if line]
    if not numbered:
        fail(f"no events in {events_file}" if events_file else "give events with --event TEXT or --events FILE")
    numbers = [n for n, _ in numbered]
    messages = [m for _, m in numbered]
    pattern = None
    if remote:
        result = _remote(pattern_text, messages)
    else:
        try:
            pattern = compile_pattern(pattern_text)
        except PatternError as exc:
            fail(str(exc))
        result = pattern.test(messages)
    for m in result["matches"]:  # TestMetricFilter counts the events sent; the user counts lines
        m["eventNumber"] = numbers[m["eventNumber"] - 1]
    hint = _pattern_hint(pattern_text, pattern)
    if hint:
        click.echo(f"opswatch: hint: {hint}", err=True)
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False))
        matched = {m["eventNumber"] for m in result["matches"]}
        for number, message in numbered:  # the response stays TestMetricFilter's; the hints go to stderr
            why = None if number in matched or pattern is None else _miss_hint(pattern, message)
            if why:
                click.echo(f"opswatch: hint: event {number}: {why}", err=True)
    else:
        matched = {m["eventNumber"]: m for m in result["matches"]}
        for number, message in numbered:
            hit = matched.get(number)
            why = "" if hit or pattern is None else _miss_hint(pattern, message)
            text = shown(message)  # control characters as escapes: a lone CR would overwrite the line
            click.echo(f"{'MATCH ' if hit else 'no    '} {number}: {text}" + (f"   ({why})" if why else ""))
            for k, v in (hit or {}).get("extractedValues", {}).items():
                click.echo(f"         {k} = {v}")
        click.echo(f"{len(matched)} of {plural(len(messages), 'event')} matched")
    sys.exit(EXIT_OK if result["matches"] else EXIT_FAILED)


def _pattern_hint(text: str, pattern) -> str | None:
    """A hint when a pattern reads as unstructured terms but looks like a JSON one missing its braces."""
    body = text.strip()
    if (
        (pattern is None or pattern.kind == "terms")
        and not body.startswith("{")
        and (body.startswith("$.") or body.endswith("}"))
    ):
        inner = body.removesuffix("}").strip()
        return (
            f"this pattern is read as unstructured terms, not as a JSON pattern: "
            f"a JSON pattern is enclosed in braces, e.g. '{{ {inner} }}'"
        )
    return None


def _miss_hint(pattern, message: str) -> str | None:
    """Why a JSON pattern cannot match this event, when the reason is the event itself."""
    if pattern.kind != "json":
        return None
    try:
        doc = json.loads(message)
    except (ValueError, RecursionError) as exc:
        where = f" at character {exc.pos + 1}" if isinstance(exc, json.JSONDecodeError) else ""
        return f"not valid JSON{where}: a JSON pattern matches JSON objects only"
    if not isinstance(doc, dict):
        return "not a JSON object: a JSON pattern matches JSON objects only"
    return None


def _remote(pattern_text: str, messages: list[str]) -> dict:
    from botocore.exceptions import ClientError

    from chalicelib.aws import client

    try:
        resp = client("logs").test_metric_filter(filterPattern=pattern_text, logEventMessages=messages)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        click.echo(
            f"opswatch: CloudWatch Logs TestMetricFilter failed: {err.get('Code')}: {err.get('Message')}", err=True
        )
        sys.exit(EXIT_USAGE)
    return {"matches": resp.get("matches", [])}
