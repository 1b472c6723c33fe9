"""Entry point of the ``opswatch`` command."""

from __future__ import annotations

import click

from chalicelib.cli.alarms import alarms
from chalicelib.cli.alb import alb
from chalicelib.cli.athena import athena
from chalicelib.cli.doctor import doctor
from chalicelib.cli.failed import failed
from chalicelib.cli.filters import filters
from chalicelib.cli.logs import logs
from chalicelib.cli.monitors import monitors
from chalicelib.cli.policies import policies
from chalicelib.cli.slack import slack


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """opswatch: monitoring and alerting for AWS workloads behind Application Load Balancers."""


cli.add_command(alb)
cli.add_command(filters)
cli.add_command(alarms)
cli.add_command(slack)
cli.add_command(logs)
cli.add_command(monitors)
cli.add_command(athena)
cli.add_command(failed)
cli.add_command(policies)
cli.add_command(doctor)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
