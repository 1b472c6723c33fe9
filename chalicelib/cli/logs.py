"""``opswatch logs``: the log-alert rules, tried on local files, and log groups subscribed to them."""

from __future__ import annotations

import json
import sys

import click

from chalicelib import settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
GZIP_MAGIC = b"\x1f\x8b"


@click.group()
def logs() -> None:
    """Log alerts: rules for CloudWatch Logs subscription filters (out of memory and friends)."""


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"opswatch: {message}", err=True)
    sys.exit(code)


def _ruleset(names: str | None, rules_file: str | None):
    from chalicelib.logalerts.messages import rules_for
    from chalicelib.logalerts.rules import RuleError

    cfg = settings.log_alerts()
    try:
        if rules_file:
            from chalicelib.logalerts.rules import active_rules

            rules = active_rules(cfg.rules_json, rules_file, cfg.disabled)
        else:
            rules = rules_for(cfg)
        if names:
            rules = rules.by_names([n.strip() for n in names.split(",") if n.strip()])
    except (RuleError, ValueError) as exc:
        _fail(str(exc))
    return rules


_rules_option = click.option("--rules", "names", help="Only these rules, comma-separated (default: all active).")
_file_option = click.option(
    "--rules-file",
    type=click.Path(dir_okay=False),
    help="A YAML or JSON rules file (default: OPSWATCH_LOG_ALERT_RULES_FILE).",
)


@logs.command("rules")
@_file_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_rules(rules_file: str | None, fmt: str) -> None:
    """The active rules (built-in and configured) with severity and pattern, and the derived subscription pattern."""
    from chalicelib.logalerts.prefilter import PrefilterError, derive

    rules = _ruleset(None, rules_file)
    if fmt == "json":
        for r in rules.rules:
            click.echo(json.dumps(r.as_dict(), ensure_ascii=False))
        return
    for r in rules.rules:
        click.echo(f"{r.name}  [{r.severity}]  ({r.source})")
        if r.description:
            click.echo(f"    {r.description}")
        for p in r.patterns:
            click.echo(f"    pattern: {p.text}")
        if r.check_doc:
            click.echo(f"    and:     {r.check_doc}")
        if r.channel or r.mention:
            click.echo(f"    to:      {r.channel or 'routed'} {('@' + r.mention) if r.mention else ''}".rstrip())
    try:
        derived = derive(rules)
        click.echo(
            f"\nsubscription filter pattern ({len(derived.pattern)} characters):\n{derived.pattern or '(every event)'}"
        )
    except PrefilterError as exc:
        click.echo(f"\nsubscription filter pattern: {exc}")


def _lines(path: str):
    """(line number, text) of a gzip or plain file, or stdin, streamed; undecodable bytes are replaced."""
    import gzip
    import io
    import zlib

    try:
        raw = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    number = 0
    try:
        stream = io.BufferedReader(raw) if path == "-" else raw
        if stream.peek(2)[:2] == GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=stream)
        for number, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8", errors="replace"), 1):
            yield number, line.rstrip("\r\n")
    except (OSError, EOFError, zlib.error) as exc:
        _fail(f"{path}: unreadable after line {number}: {exc}")
    finally:
        if path != "-":
            raw.close()


@logs.command("test-rules")
@click.argument("files", nargs=-1, required=True)
@_rules_option
@_file_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def test_rules(files: tuple[str, ...], names: str | None, rules_file: str | None, fmt: str) -> None:
    """Run the rules over local log files, one event per line (gzip or plain, - for stdin).

    Exit status: 0 something matched, 1 nothing did, 2 usage error or a malformed rule.
    """
    rules = _ruleset(names, rules_file)
    counts: dict[str, int] = {}
    lines = 0
    for path in files:
        for number, line in _lines(path):
            lines += 1
            for rule in rules.matching(line):
                counts[rule.name] = counts.get(rule.name, 0) + 1
                if fmt == "json":
                    record = {"file": path, "line": number, "rule": rule.name, "severity": rule.severity}
                    click.echo(json.dumps({**record, "message": line}, ensure_ascii=False))
                else:
                    click.echo(f"{path}:{number}: {rule.name} [{rule.severity}]: {line[:300]}")
    summary = ", ".join(f"{n} x {name}" for name, n in counts.items()) or "no rule matched"
    click.echo(f"{lines} lines: {summary}", err=fmt == "json")
    sys.exit(EXIT_OK if counts else EXIT_FAILED)


def _clients():
    from chalicelib.aws import client

    return client("logs"), client("lambda")


@logs.command("subscribe")
@click.argument("log_groups", nargs=-1, required=True)
@_rules_option
@_file_option
@click.option("--function", "function", help="The log_alerts function's name or ARN (default: the stage's).")
def subscribe(log_groups: tuple[str, ...], names: str | None, rules_file: str | None, function: str | None) -> None:
    """Subscribe LOG_GROUPS to the log_alerts function, with the pattern derived from the rules.

    Exit status: 0 all subscribed, 1 some log group could not be, 2 usage error.
    """
    from chalicelib.logalerts.prefilter import PrefilterError, derive
    from chalicelib.logalerts.subscription import SubscriptionError, resolve_function
    from chalicelib.logalerts.subscription import subscribe as put

    rules = _ruleset(names, rules_file)
    try:
        derived = derive(rules)
    except PrefilterError as exc:
        _fail(str(exc))
    if derived.broad_rules:
        click.echo(
            f"opswatch: warning: rule(s) {', '.join(derived.broad_rules)} have no text CloudWatch can prefilter on; "
            "the subscription selects every event (each costs a Lambda invocation)",
            err=True,
        )
    logs_client, lam = _clients()
    try:
        fn = resolve_function(lam, function or settings.log_alerts().function_name)
    except SubscriptionError as exc:
        _fail(str(exc))
    failed = 0
    for group in log_groups:
        try:
            outcome = put(logs_client, lam, group, fn, derived.pattern)
        except SubscriptionError as exc:
            failed += 1
            click.echo(f"NOT subscribed: {exc}", err=True)
            continue
        click.echo(f"{outcome}: {group} -> {fn.name} ({len(rules.rules)} rules, pattern {len(derived.pattern)} chars)")
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@logs.command("unsubscribe")
@click.argument("log_groups", nargs=-1, required=True)
@click.option("--function", "function", help="The log_alerts function's name or ARN (default: the stage's).")
def unsubscribe(log_groups: tuple[str, ...], function: str | None) -> None:
    """Remove opswatch's subscription filter and invoke permission from LOG_GROUPS."""
    from chalicelib.logalerts.subscription import SubscriptionError, resolve_function
    from chalicelib.logalerts.subscription import unsubscribe as remove

    logs_client, lam = _clients()
    try:
        fn = resolve_function(lam, function or settings.log_alerts().function_name)
    except SubscriptionError as exc:
        _fail(str(exc))
    for group in log_groups:
        removed = remove(logs_client, lam, group, fn)
        click.echo(f"{group}: removed {' and '.join(removed)}" if removed else f"{group}: nothing to remove")
