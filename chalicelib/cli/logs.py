"""``opswatch logs``: the log-alert rules, tried on local files, and log groups subscribed to them."""

from __future__ import annotations

import json
import sys

import click

from chalicelib import settings
from chalicelib.cli.errors import EXIT_FINDINGS as EXIT_FAILED
from chalicelib.cli.errors import EXIT_OK, OpswatchGroup, not_text, plural
from chalicelib.cli.errors import fail as _fail
from chalicelib.cli.lines import numbered_lines


@click.group(cls=OpswatchGroup)
def logs() -> None:
    """Log alerts: rules for CloudWatch Logs subscription filters (out of memory and friends)."""


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
        if names is not None:
            wanted = [n.strip() for n in names.split(",") if n.strip()]
            if not wanted:  # "" would otherwise mean every rule: the opposite of what an empty list says
                _fail(f"--rules {names!r} names no rule: give rule names, or leave --rules out for every active rule")
            rules = rules.by_names(wanted)
    except UnicodeDecodeError as exc:
        _fail(not_text(rules_file or "OPSWATCH_LOG_ALERT_RULES_FILE", exc))
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


@logs.command("test-rules")
@click.argument("files", nargs=-1, required=True)
@_rules_option
@_file_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def test_rules(files: tuple[str, ...], names: str | None, rules_file: str | None, fmt: str) -> None:
    """Run the rules over local log files, one event per line (gzip or plain, - for stdin).

    Exit status: 0 something matched, 1 nothing did, 2 usage error, a malformed rule or an unreadable file.
    """
    rules = _ruleset(names, rules_file)
    counts: dict[str, int] = {}
    lines = 0
    for path in files:
        for number, line in numbered_lines(path):
            lines += 1
            for rule in rules.matching(line):
                counts[rule.name] = counts.get(rule.name, 0) + 1
                if fmt == "json":
                    record = {"file": path, "line": number, "rule": rule.name, "severity": rule.severity}
                    click.echo(json.dumps({**record, "message": line}, ensure_ascii=False))
                else:
                    from chalicelib.printable import shown  # control characters as escapes

                    click.echo(f"{path}:{number}: {rule.name} [{rule.severity}]: {shown(line[:300])}")
    summary = ", ".join(f"{n} x {name}" for name, n in counts.items()) or "no rule matched"
    click.echo(f"{plural(lines, 'line')}: {summary}", err=fmt == "json")
    sys.exit(EXIT_OK if counts else EXIT_FAILED)


def _clients():
    from chalicelib.aws import client

    return client("logs"), client("lambda")


@logs.command("subscribe")
@click.argument("log_groups", nargs=-1)
@_rules_option
@_file_option
@click.option("--function", "function", help="The log_alerts function's name or ARN (default: the stage's).")
@click.option(
    "--destination-arn",
    help="Deliver to this CloudWatch Logs destination instead (the monitoring account's; run with the member "
    "account's credentials, in the destination's Region).",
)
@click.option("--role-arn", help="With --destination-arn naming a Kinesis stream of this account: the role Logs uses.")
@click.option(
    "--log-group-prefix",
    "prefixes",
    multiple=True,
    help="Also every log group whose name starts with this (repeatable).",
)
def subscribe(
    log_groups: tuple[str, ...],
    names: str | None,
    rules_file: str | None,
    function: str | None,
    destination_arn: str | None,
    role_arn: str | None,
    prefixes: tuple[str, ...],
) -> None:
    """Subscribe LOG_GROUPS to the log_alerts function, with the pattern derived from the rules.

    With --destination-arn, to the monitoring account's Logs destination instead (log_alerts_stream reads it).

    Exit status: 0 all subscribed, 1 some log group could not be, 2 usage error.
    """
    from chalicelib.logalerts.prefilter import PrefilterError, derive
    from chalicelib.logalerts.subscription import SubscriptionError, resolve_function
    from chalicelib.logalerts.subscription import subscribe as put

    if not log_groups and not prefixes:
        _fail("name the log groups to subscribe, or give --log-group-prefix")
    if function and destination_arn:
        _fail("--function and --destination-arn are two different deliveries: give one")
    if role_arn and not destination_arn:
        _fail("--role-arn goes with --destination-arn")
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
    if destination_arn:
        _subscribe_destination(log_groups, prefixes, destination_arn, role_arn, derived.pattern, len(rules.rules))
    logs_client, lam = _clients()
    try:
        fn = resolve_function(lam, function or settings.log_alerts().function_name)
    except SubscriptionError as exc:
        _fail(str(exc))
    groups = _groups(logs_client, log_groups, prefixes)
    _each(groups, lambda g: put(logs_client, lam, g, fn, derived.pattern), fn.name, len(rules.rules), derived.pattern)


def _each(groups: list[str], put_one, target: str, rule_count: int, pattern: str) -> None:
    """Subscribe every group (one failing never stops the others), say each outcome, and exit 0 or 1."""
    from chalicelib.logalerts.subscription import SubscriptionError

    failed = 0
    for group in groups:
        try:
            outcome = put_one(group)
        except SubscriptionError as exc:
            failed += 1
            click.echo(f"NOT subscribed: {exc}", err=True)
            continue
        click.echo(f"{outcome}: {group} -> {target} ({plural(rule_count, 'rule')}, pattern {len(pattern)} chars)")
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


def _groups(logs_client, log_groups: tuple[str, ...], prefixes: tuple[str, ...]) -> list[str]:
    """The named log groups, then those under each prefix (each once, in order)."""
    from chalicelib.logalerts.destination import DestinationError, groups_under

    out = dict.fromkeys(log_groups)
    for prefix in prefixes:
        try:
            found = groups_under(logs_client, prefix)
        except DestinationError as exc:
            _fail(str(exc))
        if not found:
            click.echo(f"opswatch: warning: no log group starts with {prefix!r}", err=True)
        out.update(dict.fromkeys(found))
    return list(out)


def _subscribe_destination(
    log_groups: tuple[str, ...],
    prefixes: tuple[str, ...],
    destination_arn: str,
    role_arn: str | None,
    pattern: str,
    rule_count: int,
) -> None:
    from chalicelib.logalerts.destination import DestinationError, check_destination, check_role
    from chalicelib.logalerts.subscription import subscribe_destination

    logs_client = _clients()[0]
    try:
        check_destination(destination_arn, logs_client.meta.region_name)
        if role_arn:
            check_role(role_arn)
    except DestinationError as exc:
        _fail(str(exc))
    groups = _groups(logs_client, log_groups, prefixes)
    _each(
        groups,
        lambda g: subscribe_destination(logs_client, g, destination_arn, pattern, role_arn),
        destination_arn,
        rule_count,
        pattern,
    )


@logs.command("unsubscribe")
@click.argument("log_groups", nargs=-1, required=True)
@click.option("--function", "function", help="The log_alerts function's name or ARN (default: the stage's).")
@click.option(
    "--destination-arn", help="Remove the filter that delivers to this Logs destination (a member account's)."
)
def unsubscribe(log_groups: tuple[str, ...], function: str | None, destination_arn: str | None) -> None:
    """Remove opswatch's subscription filter and invoke permission from LOG_GROUPS.

    With --destination-arn (in a member account): the filter only, and only where it delivers there.
    """
    from chalicelib.logalerts.subscription import SubscriptionError, resolve_function
    from chalicelib.logalerts.subscription import unsubscribe as remove

    if destination_arn:
        from chalicelib.logalerts.subscription import unsubscribe_destination

        if function:
            _fail("--function and --destination-arn are two different deliveries: give one")
        logs_client = _clients()[0]
        failed = 0
        for group in log_groups:
            try:
                click.echo(f"{group}: {unsubscribe_destination(logs_client, group, destination_arn)}")
            except SubscriptionError as exc:
                failed += 1
                click.echo(f"NOT unsubscribed: {exc}", err=True)
        sys.exit(EXIT_FAILED if failed else EXIT_OK)
    logs_client, lam = _clients()
    try:
        fn = resolve_function(lam, function or settings.log_alerts().function_name)
    except SubscriptionError as exc:
        _fail(str(exc))
    for group in log_groups:
        removed = remove(logs_client, lam, group, fn)
        click.echo(f"{group}: removed {' and '.join(removed)}" if removed else f"{group}: nothing to remove")
