"""Hand a claimed click to the worker: an asynchronous Lambda invocation, or the same process.

Slack waits three seconds for the endpoint's answer; acknowledging, muting and above all a
Logs Insights query may take longer. So the endpoint enqueues the click and answers at once:

- ``lambda`` (default, deployed stages): ``Invoke`` of the ``slack_actions`` worker with
  ``InvocationType="Event"``, the click as its event. Lambda queues it (202) and retries a
  failed run twice; the worker's on-failure destination (``opswatch failed setup``) keeps what
  still fails.
- ``inline`` (the local stage, tests, the demo; ``OPSWATCH_SLACK_ACTIONS_DISPATCH=inline``):
  the worker runs in the endpoint's process before the answer, so a test or the demo sees the
  action done when the request returns. Its failure is told in the thread by the worker and
  logged here; the answer stays 200 (the click was taken). Not for a real Slack: a slow
  action would pass the three seconds.
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger

from chalicelib import settings
from chalicelib.slackactions.click import Click

logger = Logger(service="opswatch-slackactions")


class NotEnqueued(RuntimeError):
    """The worker could not be started; the message says why (no secret)."""


def enqueue(click: Click, cfg: settings.SlackActionSettings) -> str:
    """Start the worker on ``click``; returns how (``lambda`` or ``inline``). Raises ``NotEnqueued``."""
    if cfg.dispatch == "inline":
        from chalicelib.kinds import handle

        try:
            handle("slack_actions", click.to_dict())
        except Exception as exc:  # the worker told the user in the thread already
            from chalicelib.redact import redact

            logger.error(f"the Slack action failed inline: {type(exc).__name__}: {redact(str(exc))[:300]}")
        return "inline"
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.aws import client

    try:
        resp = client("lambda", attempts=2, timeout=2).invoke(
            FunctionName=cfg.worker_function,
            InvocationType="Event",
            Payload=json.dumps(click.to_dict()).encode(),
        )
    except (BotoCoreError, ClientError) as exc:
        raise NotEnqueued(f"invoking {cfg.worker_function} failed: {type(exc).__name__}") from None
    if resp.get("StatusCode") != 202:
        raise NotEnqueued(f"invoking {cfg.worker_function} answered {resp.get('StatusCode')}, not 202")
    return "lambda"
