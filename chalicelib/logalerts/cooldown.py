"""Cooldown per (log group, rule) in the state table: post once, then hold repeats back and count them.

The claim is one conditional write, so two concurrent invocations never both
post. It is taken as a short lease first and extended to the full window only
once Slack has the message, so an alert is never swallowed by its own cooldown:

1. ``claim``: if the window is over (or there is no item), set ``until`` to
   now + ``LEASE_SECONDS`` with a fresh token; the old item's ``held`` count and
   ``held_since`` come back, for the message to report. Otherwise add this
   invocation's count to ``held`` and post nothing.
2. After delivery, ``confirm`` extends ``until`` to now + the window.
3. If delivery fails, ``release`` ends the lease and puts the held count back,
   so Lambda's retry posts. Should even the release fail, the lease runs out
   within ``LEASE_SECONDS``, before Lambda's first retry.

When the table cannot be reached the claim is granted with ``state_error``
set: the alert is posted and says that its cooldown state was unavailable.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import state

logger = Logger(service="opswatch-logalerts")

LEASE_SECONDS = 60
PREFIX = "cooldown#"
_NAMES = {
    "#id": state.KEY,
    "#until": "until",
    "#claim": "claim",
    "#held": "held",
    "#since": "held_since",
    "#exp": state.TTL_ATTRIBUTE,
}


@dataclass(frozen=True)
class Claim:
    key: str
    granted: bool  # post now
    token: str | None = None  # ours while the lease lasts; None when the state was unavailable
    held: int = 0  # occurrences held back by the previous window, to report
    held_since: int | None = None  # epoch ms of the first of them
    state_error: str | None = None  # why the cooldown state could not be used
    muted_by: str | None = None  # the Slack user whose Mute held the previous window's occurrences back


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") or "ClientError"
    return type(exc).__name__


class Cooldown:
    def __init__(self, window_seconds: int, table: str | None = None, clock: Callable[[], float] = time.time):
        self.window = window_seconds
        self.table = table or state.table_name()
        self.clock = clock

    def _update(self, key: str, expression: str, condition: str | None, values: dict, **kw) -> dict:
        names = {k: v for k, v in _NAMES.items() if k in expression or (condition and k in condition)}
        args = {
            "TableName": self.table,
            "Key": {state.KEY: {"S": PREFIX + key}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            **kw,
        }
        if condition:
            args["ConditionExpression"] = condition
        return state.dynamodb().update_item(**args)

    def claim(self, key: str, count: int, first_ms: int) -> Claim:
        now = int(self.clock())
        token = uuid.uuid4().hex
        try:
            resp = self._update(
                key,
                "SET #until = :until, #claim = :token, #held = :zero, #exp = :exp REMOVE #since",
                "attribute_not_exists(#id) OR #until <= :now",
                {
                    ":until": {"N": str(now + LEASE_SECONDS)},
                    ":token": {"S": token},
                    ":zero": {"N": "0"},
                    ":exp": {"N": str(now + self.window + 86400)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                self._hold(key, count, first_ms)
                return Claim(key, granted=False)
            return self._unavailable(key, exc)
        except BotoCoreError as exc:
            return self._unavailable(key, exc)
        old = resp.get("Attributes") or {}
        since = old.get("held_since", {}).get("N")
        held = int(old.get("held", {}).get("N", "0"))
        return Claim(key, True, token, held, int(since) if since else None, muted_by=old.get("muted_by", {}).get("S"))

    def _unavailable(self, key: str, exc: Exception) -> Claim:
        code = _error_code(exc)
        logger.error(f"cooldown state unavailable ({code}); posting without cooldown", extra={"cooldown_key": key})
        return Claim(key, granted=True, state_error=code)

    def _hold(self, key: str, count: int, first_ms: int) -> None:
        try:
            self._update(
                key,
                "ADD #held :n SET #since = if_not_exists(#since, :first)",
                None,
                {":n": {"N": str(count)}, ":first": {"N": str(first_ms)}},
            )
        except (ClientError, BotoCoreError) as exc:  # the alert is still held back; only the count is lost
            logger.error(f"could not count {count} held-back occurrences: {_error_code(exc)}", extra={"key": key})

    def confirm(self, claim: Claim, payload: dict | None = None, first_ms: int | None = None) -> None:
        """Delivered: the window starts now.

        With the Slack buttons on, the message posted (``payload``) and its first event (``first_ms``)
        are kept too: a click on it finds the message there (``chalicelib/slackactions/incident.py``).
        """
        if not claim.token:
            return
        now = int(self.clock())
        expression = "SET #until = :until"
        values = {":until": {"N": str(now + self.window)}, ":token": {"S": claim.token}}
        if payload is not None and first_ms is not None:
            import json

            expression += ", payload = :payload, first_ms = :first REMOVE acked_by, acked_at, muted_by, muted_until"
            values.update({":payload": {"S": json.dumps(payload)}, ":first": {"N": str(first_ms)}})
        try:
            self._update(claim.key, expression, "#claim = :token", values)
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":  # muted meanwhile: the mute's window stands
                logger.info("the cooldown was muted while this alert was posted", extra={"key": claim.key})
            else:  # the lease still holds repeats back for a minute
                logger.error(f"could not start the cooldown window: {_error_code(exc)}", extra={"key": claim.key})
        except BotoCoreError as exc:
            logger.error(f"could not start the cooldown window: {_error_code(exc)}", extra={"key": claim.key})

    def release(self, claim: Claim) -> None:
        """Not delivered: end the lease and give back the held count, so the retry posts and reports it."""
        if not claim.token:
            return
        expression, values = (
            "SET #until = :zero ADD #held :held",
            {
                ":zero": {"N": "0"},
                ":held": {"N": str(claim.held)},
                ":token": {"S": claim.token},
            },
        )
        if claim.held_since is not None:
            expression = "SET #until = :zero, #since = :since ADD #held :held"
            values[":since"] = {"N": str(claim.held_since)}
        try:
            self._update(claim.key, expression, "#claim = :token", values)
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":  # else: another invocation took over
                logger.error(f"could not release the cooldown claim: {_error_code(exc)}", extra={"key": claim.key})
        except BotoCoreError as exc:
            logger.error(f"could not release the cooldown claim: {_error_code(exc)}", extra={"key": claim.key})
