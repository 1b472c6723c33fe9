"""Member accounts' subscriptions to the monitoring account's CloudWatch Logs destination.

CloudWatch Logs cannot subscribe a Lambda function of another account: a member
account's log groups subscribe to a Logs destination (``AWS::Logs::Destination``
in ``infra/opswatch-resources.yaml``) that puts their payloads on a Kinesis stream,
which ``log_alerts_stream`` reads. The destination must be in the log group's
Region; its policy decides which accounts may subscribe.

>>> check_destination("arn:aws:logs:eu-west-1:111122223333:destination:opswatch-prod-logs", "eu-west-1")
'opswatch-prod-logs'
"""

from __future__ import annotations

import re

_DESTINATION = re.compile(
    r"arn:(aws[a-z-]*):(logs|kinesis):([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):(destination:|stream/)([\w.\-/#]{1,512})"
)
_ROLE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}")
MAX_GROUPS = 10_000  # log groups one prefix may bring; more is refused rather than half done


class DestinationError(ValueError):
    """The destination or role ARN cannot be used; the message says why."""


def check_destination(arn: str, region: str | None) -> str:
    """The destination's (or stream's) name; refuses an ARN of another shape, or of another Region."""
    m = _DESTINATION.fullmatch(arn)
    if not m:
        raise DestinationError(
            f"--destination-arn {arn[:120]!r} is not a CloudWatch Logs destination ARN "
            "(arn:aws:logs:REGION:ACCOUNT:destination:NAME) nor a Kinesis stream ARN"
        )
    if region and m.group(3) != region:
        raise DestinationError(
            f"the destination is in {m.group(3)} and these log groups in {region}: CloudWatch Logs delivers only "
            f"to a destination of the log group's Region (run with AWS_REGION={m.group(3)}, or use that Region's "
            "destination)"
        )
    return m.group(6)


def check_role(arn: str) -> str:
    if not _ROLE.fullmatch(arn):
        raise DestinationError(f"--role-arn {arn[:120]!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    return arn


def groups_under(logs, prefix: str) -> list[str]:
    """Every log group whose name starts with ``prefix``; raises ``DestinationError`` past ``MAX_GROUPS``."""
    if not prefix or len(prefix) > 512:
        raise DestinationError("--log-group-prefix must be 1 to 512 characters")
    out: list[str] = []
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
        out += [g["logGroupName"] for g in page.get("logGroups", [])]
        if len(out) > MAX_GROUPS:
            raise DestinationError(f"more than {MAX_GROUPS:,} log groups start with {prefix!r}: give a longer prefix")
    return out
