"""Exit codes of every ``opswatch`` command, and the one handler that turns ordinary failures into one line.

A script reads the exit code, so each code means one thing in every command:

====  ==========================================================================
0     done; something matched; nothing to change
1     done, and the answer is "no" or "not all": a finding, no match, some items
      rejected or not delivered, a query that failed on the engine
2     bad input or usage: a usage error, bad or unreadable input, missing AWS
      configuration (Region, credentials), or an AWS call refused or unreachable;
      nothing was done, except in ``alb parse`` and ``alb ship``, which go on past
      a damaged file or object and exit 2 at the end
3     ``monitors plan``: changes are pending (kept apart from 2, a usage error)
130   interrupted (Ctrl-C); progress is saved where the command keeps any
====  ==========================================================================

Every command group is an :class:`OpswatchGroup`, so each of its commands runs inside
:meth:`OpswatchCommand.invoke`: an AWS configuration or call error, an unreadable file
or undecodable text that a command did not handle itself ends as ``opswatch: COMMAND:
reason`` on standard error and exit 2, never a traceback.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from chalicelib.settings import SettingsError

EXIT_OK = 0
EXIT_FINDINGS = 1  # also: no match, some items failed, query failed
EXIT_USAGE = 2  # also: bad or unreadable input, AWS configuration or call errors
EXIT_CHANGES = 3  # monitors plan: changes pending
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``opswatch: message`` on standard error and exit with ``code``."""
    click.echo(f"opswatch: {message}", err=True)
    sys.exit(code)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 line``, ``2 lines``, ``1,000 entries`` (``many`` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def not_text(name: str, exc: UnicodeDecodeError) -> str:
    """The message for a file that is not UTF-8 text (a gzip or binary file given where text is read)."""
    return f"{name}: not UTF-8 text (byte {exc.start}); is it compressed or binary?"


def describe_aws(exc: Exception) -> str | None:
    """One line for an AWS configuration or call error, or None when ``exc`` is not one.

    The wording names what to set or what refused, never a credential.
    """
    from botocore import exceptions as bc

    from chalicelib.redact import redact

    if isinstance(exc, bc.NoRegionError):
        return "no AWS Region: set AWS_REGION (or AWS_DEFAULT_REGION, or a region in your AWS profile)"
    if isinstance(exc, bc.NoCredentialsError | bc.PartialCredentialsError):
        return "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, bc.ProfileNotFound):
        return f"AWS profile not found: {exc.kwargs.get('profile')} (AWS_PROFILE)"
    if isinstance(exc, bc.EndpointConnectionError | bc.ConnectTimeoutError):
        return f"cannot reach the AWS endpoint {exc.kwargs.get('endpoint_url')}"
    if isinstance(exc, bc.ClientError):
        err = exc.response.get("Error", {})
        op = exc.operation_name
        return redact(f"AWS refused {op}: {err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": "))
    if isinstance(exc, bc.BotoCoreError):
        return redact(f"AWS call failed: {exc}")
    return None


def require_aws() -> None:
    """Raise botocore's own error when no Region or no credentials are configured.

    For commands that go through a library (pyathena) that would wrap it into its own
    error; the handler below then says what to set.
    """
    import boto3
    from botocore.exceptions import NoCredentialsError, NoRegionError

    session = boto3.session.Session()
    if not session.region_name:
        raise NoRegionError
    if session.get_credentials() is None:
        raise NoCredentialsError


class OpswatchCommand(click.Command):
    """A click command whose ordinary failures end as one line and exit 2 (see the module's table)."""

    def invoke(self, ctx: click.Context):
        name = ctx.command_path.partition(" ")[2] or ctx.command_path  # "logs subscribe", without the program
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except UnicodeDecodeError as exc:  # a command reading text that did not name its input itself
            fail(f"{name}: input is not UTF-8 text (byte {exc.start}); is it compressed or binary?")
        except OSError as exc:
            if exc.filename is None:
                raise
            fail(f"{name}: cannot open {exc.filename}: {exc.strerror}")
        except SettingsError as exc:  # a stage setting (environment, .chalice/config.json) that cannot be used
            fail(f"{name}: {exc}")
        except Exception as exc:
            message = describe_aws(exc)
            if message is None:
                raise
            fail(f"{name}: {message}")


class OpswatchGroup(click.Group):
    """A click group whose commands (and sub-groups) are :class:`OpswatchCommand`."""

    command_class = OpswatchCommand
    group_class = type  # sub-groups are OpswatchGroup too
