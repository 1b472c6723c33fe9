"""Post each alarm state change once, however it arrives: SNS and EventBridge, redeliveries, retries.

Powertools idempotency (DynamoDB persistence on the stage's state table) keys a
change on the alarm ARN, the new state and the moment of the change (epoch
milliseconds, so SNS's ``StateChangeTime`` and EventBridge's ``state.timestamp``
agree). A post that fails is not recorded as done: Powertools deletes the record
when the function raises, so the retry posts.

When the state table cannot be used before posting, the change is posted anyway
(an alert is worth more than a duplicate) and the error is logged; once posted,
nothing posts it again in this invocation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools import Logger

from chalicelib import state
from chalicelib.alarms.notification import Alarm

logger = Logger(service="opswatch-alarms")
KEEP_SECONDS = 3 * 86400  # SNS and EventBridge redeliver within hours; Lambda retries within minutes
KEY_PREFIX = "alarm-change"  # Powertools keys a record "<prefix>#<hash>"; the alarm functions' policy allows only it


def change_key(alarm: Alarm) -> dict | None:
    """What identifies one state change, or ``None`` for messages that are not state changes."""
    if not alarm.arn or not alarm.new_state or not alarm.time or alarm.operation:
        return None
    try:
        at = datetime.fromisoformat(alarm.time.replace("Z", "+00:00"))
    except ValueError:
        return None
    return {"alarm": alarm.arn, "state": alarm.new_state, "at": int(at.timestamp() * 1000)}


def once(key: dict | None, post: Callable[[], dict], context=None) -> tuple[dict, bool]:
    """Run ``post`` unless this change was posted already; returns (answer, posted now).

    ``context`` is the Lambda context: with it, a record left in progress by an invocation that timed out
    expires with that invocation instead of blocking the retry.
    """
    if key is None:
        return post(), True
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
    )

    ran: list[dict] = []

    def deliver(change: dict) -> dict:
        ran.append(post())
        return {k: v for k, v in ran[-1].items() if k != "payload"}  # the record keeps Slack's answer, not the message

    config = IdempotencyConfig(expires_after_seconds=KEEP_SECONDS)
    if context is not None:
        config.register_lambda_context(context)
    guarded = idempotent_function(
        deliver,
        data_keyword_argument="change",
        persistence_store=DynamoDBPersistenceLayer(table_name=state.table_name(), boto3_client=state.dynamodb()),
        config=config,
        key_prefix=KEY_PREFIX,
    )
    try:
        with warnings.catch_warnings():
            if context is None:  # outside Lambda (tests, the CLI) there is no remaining time to register
                warnings.filterwarnings("ignore", message="Couldn't determine the remaining time left")
            answer = guarded(change=key)
    except IdempotencyAlreadyInProgressError:
        logger.info("the same state change is being posted by another delivery", extra=key)
        return {"duplicate": True, "in_progress": True}, False
    except IdempotencyPersistenceLayerError as exc:
        if ran:  # posted; only the record of it failed
            logger.error(f"posted, but could not record it: {exc}", extra=key)
            return ran[-1], True
        logger.error(f"deduplication state unavailable, posting anyway: {exc}", extra=key)
        return post(), True
    if ran:
        return answer, True
    logger.info("already posted: a redelivery, a retry, or the same change by SNS and EventBridge", extra=key)
    return {**(answer or {}), "duplicate": True}, False
