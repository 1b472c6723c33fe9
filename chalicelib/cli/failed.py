"""``opswatch failed``: the events Lambda gave up on, kept in the stage's queue: list, replay, set up."""

from __future__ import annotations

import json
import sys

import click

from chalicelib import failed as store
from chalicelib import kinds
from chalicelib.cli.errors import EXIT_FINDINGS as EXIT_SOME_FAILED
from chalicelib.cli.errors import EXIT_OK, EXIT_USAGE, OpswatchGroup, describe_aws
from chalicelib.printable import shown
from chalicelib.redact import redact


def _function_option(f):
    return click.option(
        "--function",
        "function",
        type=click.Choice(store.ASYNC_FUNCTIONS + store.STREAM_FUNCTIONS),
        help="Only the events of this function.",
    )(f)


@click.group(cls=OpswatchGroup)
def failed() -> None:
    """Events that failed all of Lambda's retries (the on-failure queue)."""


def _receive(function: str | None):
    try:
        return store.receive(function)
    except Exception as exc:  # no queue, no credentials: say which
        why = redact(describe_aws(exc) or str(exc))
        click.echo(f"opswatch: cannot read the queue {store.queue_name()}: {why}", err=True)
        sys.exit(EXIT_USAGE)


@failed.command("list")
@_function_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_(function: str | None, fmt: str) -> None:
    """Show what the queue holds: function, time, error and what the event was about."""
    items = _receive(function)
    for f in items:
        store.release(f)  # listing takes nothing away
    if fmt == "json":
        for f in items:
            click.echo(json.dumps(f.summary()))
        return
    if not items:
        click.echo(f"nothing in {store.queue_name()}" + (f" for {function}" if function else ""))
        return
    for f in items:
        click.echo(shown(f"{f.time}  {f.function:<13} {f.condition or '-':<17} {f.source}"))
        click.echo(f"    {shown(f.error)}")
    click.echo(f"{len(items)} event(s) in {store.queue_name()}; `opswatch failed replay` sends them back through")


@failed.command()
@_function_option
@click.option("--yes", is_flag=True, help="Replay without asking.")
def replay(function: str | None, yes: bool) -> None:
    """Send each kept event back through its function's handler; delete it only once that succeeded.

    The handlers run here, with this shell's AWS credentials and the stage's settings
    (as `opswatch alb ship` does). Exit status: 0 all replayed, 1 some failed again
    (they stay in the queue), 2 the queue cannot be read.
    """
    items = _receive(function)
    if not items:
        click.echo(f"nothing to replay in {store.queue_name()}")
        return
    for f in items:
        click.echo(f"  {f.function:<13} {shown(f.source)}")
    if not yes and not click.confirm(f"replay these {len(items)} event(s)?", default=False):
        for f in items:
            store.release(f)
        click.echo("nothing replayed")
        return
    ok = bad = 0
    for f in items:
        handle = kinds.handler(f.function)
        if handle is None:
            click.echo(f"  kept: {f.message_id}: no handler for function {f.function!r}")
            store.release(f)
            bad += 1
            continue
        try:
            event = f.payload
            if isinstance(event, dict) and isinstance(event.get("KinesisBatchInfo"), dict):
                event = store.stream_event(event["KinesisBatchInfo"])  # the records, read back from the stream
            why = store.unusable(handle(event))
        except Exception as exc:
            why = redact(f"{type(exc).__name__}: {exc}")
        if why:  # kept: a record is deleted only once its event did what it was for
            click.echo(f"  failed again, kept: {f.function} {shown(f.source)}: {shown(why)}")
            store.release(f)
            bad += 1
            continue
        store.delete(f)
        ok += 1
        click.echo(f"  replayed and deleted: {f.function} {shown(f.source)}")
    click.echo(f"{ok} replayed, {bad} kept")
    sys.exit(EXIT_SOME_FAILED if bad else EXIT_OK)


@failed.command()
def setup() -> None:
    """Point each asynchronous function's on-failure destination at the stage's queue (after `chalice deploy`)."""
    try:
        names = store.setup()
    except Exception as exc:
        why = redact(describe_aws(exc) or str(exc))
        click.echo(f"opswatch: could not set the on-failure destinations: {why}", err=True)
        sys.exit(EXIT_USAGE)
    streams = {store.function_name(s) for s in store.STREAM_FUNCTIONS}
    for n in names:
        if n in streams:
            click.echo(
                f"  {n}: partial batch responses, bisect, {store.STREAM_RETRIES} retries, "
                f"then the records' place in {store.queue_name()}"
            )
        else:
            click.echo(f"  {n}: {store.RETRIES} retries, then {store.queue_name()}")
