"""Entry point of the ``opswatch`` command.

Subcommands load lazily (click's documented ``LazyGroup`` pattern): a command
imports its own module, and boto3, DuckDB, pyathena or pydantic only when it
calls AWS or needs that library, so local commands (``filters test``,
``alarms simulate``, ``slack render``...) start at once, even run in a loop.
``opswatch --help`` lists each group's one-line help from ``SUBCOMMANDS``,
without importing any of them.
"""

from __future__ import annotations

import importlib
import os

import click

# name -> (module:attribute of the click group, its help's first sentence as `--help` lists it; a test keeps both equal)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "alb": ("chalicelib.cli.alb:alb", "ALB access logs: parse, ship, backfill."),
    "filters": (
        "chalicelib.cli.filters:filters",
        "CloudWatch Logs filter patterns (metric filters, subscription filters).",
    ),
    "alarms": ("chalicelib.cli.alarms:alarms", "CloudWatch alarm evaluation, reproduced locally."),
    "slack": ("chalicelib.cli.slack:slack", "Slack messages: render events without sending, or send them."),
    "logs": (
        "chalicelib.cli.logs:logs",
        "Log alerts: rules for CloudWatch Logs subscription filters (out of memory and friends).",
    ),
    "monitors": (
        "chalicelib.cli.monitors:monitors",
        "Metric filters, alarms, dashboards and saved Logs Insights queries declared in YAML: validate, plan, apply.",
    ),
    "athena": (
        "chalicelib.cli.athena:athena",
        "Query the ALB logs in S3: Athena (partition-projected table) or the local engine (DuckDB).",
    ),
    "failed": ("chalicelib.cli.failed:failed", "Events that failed all of Lambda's retries (the on-failure queue)."),
    "insights": (
        "chalicelib.cli.insights:insights",
        "Saved Logs Insights queries (made by `opswatch monitors apply`): list, show, run.",
    ),
    "doctor": (
        "chalicelib.cli.doctor:doctor",
        "Check every piece of a deployed stage, read-only, and print the fix of each that is not right.",
    ),
    "policies": (
        "chalicelib.cli.policies:policies",
        "Check (or --write) .chalice/policy-<stage>-<kind>.json against their one description per function.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when one is run (or its own help is asked for)."""

    def __init__(self, *args, lazy_subcommands: dict[str, tuple[str, str]] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_subcommands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._lazy_load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _lazy_load(self, cmd_name: str) -> click.Command:
        module, _, attr = self.lazy_subcommands[cmd_name][0].partition(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise ValueError(f"lazy loading of {module}:{attr} gave {type(command).__name__}, not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands' one-line help from the table, so ``opswatch --help`` imports none of them."""
        names = sorted(self.lazy_subcommands)
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        rows = [(n, click.utils.make_default_short_help(self.lazy_subcommands[n][1], limit)) for n in names]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy_subcommands=SUBCOMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
def cli() -> None:
    """opswatch: monitoring and alerting for AWS workloads behind Application Load Balancers."""
    # boto3 reads the Region from AWS_DEFAULT_REGION only; the AWS CLI, the other SDKs and Lambda also set
    # AWS_REGION, which the "no AWS Region" message names, so opswatch honours it too.
    if os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"]


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
