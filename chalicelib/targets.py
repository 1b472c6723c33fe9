"""The accounts monitors are planned, applied and audited in: ``{account, region, role_arn}`` each.

Plain Python (no pydantic): the spec (``targets:``, CLI) and the daily audit Lambda
(``OPSWATCH_AUDIT_TARGETS``, a JSON list of the same mappings) check a target with the same
rules, so a role ARN the CLI refuses is refused by the Lambda too.

A target acts through STS AssumeRole (session name ``opswatch``) with its clients in the
target's Region: ``chalicelib.aws.assume``. The role must be in the target's account (a role
ARN naming another account is almost always a copy-paste slip that would apply one team's
alarms into another's account) and in the Region's partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACCOUNT = re.compile(r"\d{12}", re.ASCII)  # ASCII: "１１１…" (fullwidth) is \d to Python, not to AWS
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", re.ASCII)
# arn:PARTITION:iam::ACCOUNT:role/PATH/NAME: IAM's own limits: a path up to 512, a name up to 64 of [\w+=,.@-].
ROLE_ARN = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(\d{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})", re.ASCII
)
MAX_ROLE_ARN = 2048  # AssumeRole's RoleArn: 20 to 2048 characters
MAX_NAME = 64
MAX_TARGETS = 200


class TargetError(ValueError):
    """A target is not usable; the message names what is wrong."""


def partition_of(region: str) -> str:
    """The partition of a Region name by its prefix (no botocore: the Lambda path calls this too)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    return "aws"


@dataclass(frozen=True)
class Target:
    account: str
    region: str
    role_arn: str
    name: str = ""  # a readable name for the plan's headers and the digest (optional)

    @property
    def label(self) -> str:
        """``111111111111 (shop-prod), eu-west-1``: how plans, audits and digests name the target."""
        return f"{self.account}{f' ({self.name})' if self.name else ''}, {self.region}"


def check_account(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise TargetError(f"account {value} is a number in YAML: quote it ('...'), or a leading 0 is lost")
    if not isinstance(value, str) or not ACCOUNT.fullmatch(value):
        raise TargetError(f"account {_show(value)}: an AWS account id is 12 digits (quote it in YAML)")
    return value


def check_region(value: object) -> str:
    if not isinstance(value, str) or not REGION.fullmatch(value):
        raise TargetError(f"region {_show(value)}: not a Region name (e.g. eu-west-1)")
    return value


def check_role_arn(value: object, account: str, region: str) -> str:
    """The role ARN, well formed, in ``account`` and in ``region``'s partition; else why not."""
    if not isinstance(value, str) or not value:
        raise TargetError(f"role_arn {_show(value)}: expected an IAM role ARN, arn:aws:iam::{account}:role/NAME")
    if len(value) > MAX_ROLE_ARN:
        raise TargetError(f"role_arn is {len(value):,} characters; AssumeRole takes at most {MAX_ROLE_ARN}")
    m = ROLE_ARN.fullmatch(value)
    if m is None:
        raise TargetError(
            f"role_arn {_show(value)}: not an IAM role ARN (expected arn:aws:iam::{account}:role/NAME, "
            "a name of letters, digits and +=,.@_-, at most 64)"
        )
    partition, role_account = m.group(1), m.group(2)
    if role_account != account:
        raise TargetError(f"role_arn {_show(value)} is in account {role_account}, not the target's account {account}")
    if partition != partition_of(region):
        raise TargetError(
            f"role_arn {_show(value)} is in partition {partition}, but Region {region} is in {partition_of(region)}"
        )
    return value


def check_name(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_NAME or not value.isprintable():
        raise TargetError(f"name {_show(value)}: expected printable text of at most {MAX_NAME} characters")
    return value


def target(data: object) -> Target:
    """A :class:`Target` from a mapping ``{account, region, role_arn[, name]}``, checked."""
    if not isinstance(data, dict):
        raise TargetError("a target is a mapping with account, region and role_arn")
    unknown = sorted(str(k) for k in data if k not in ("account", "region", "role_arn", "name"))
    if unknown:
        raise TargetError(f"unknown key {unknown[0][:40]!r}: a target has account, region, role_arn and name")
    account = check_account(data.get("account"))
    region = check_region(data.get("region"))
    return Target(account, region, check_role_arn(data.get("role_arn"), account, region), check_name(data.get("name")))


def targets(items: object, where: str) -> list[Target]:
    """Every target of a list, each checked; errors read ``WHERE.N: reason``. The same target twice is an error."""
    if not isinstance(items, list):
        raise TargetError(f"{where}: expected a list of targets")
    if len(items) > MAX_TARGETS:
        raise TargetError(f"{where}: {len(items)} targets; at most {MAX_TARGETS}")
    out: list[Target] = []
    for i, item in enumerate(items):
        try:
            t = target(item)
        except TargetError as exc:
            raise TargetError(f"{where}.{i}: {exc}") from None
        if any((o.account, o.region) == (t.account, t.region) for o in out):
            raise TargetError(f"{where}.{i}: account {t.account} in {t.region} is a target twice")
        out.append(t)
    return out


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
