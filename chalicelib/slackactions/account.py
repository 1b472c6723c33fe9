"""The account and Region the worker acts in: a button naming any other is refused before any call.

The stage's ``OPSWATCH_ACCOUNT_ID`` when set (the generated policies name it too), else STS's
GetCallerIdentity (it needs no permission); the Region is the clients' own.
"""

from __future__ import annotations

from functools import cache

from chalicelib import settings
from chalicelib.aws import client
from chalicelib.slackactions.incident import ActionRefused
from chalicelib.slackactions.value import AlarmRef


@cache
def _caller_account() -> str:
    return client("sts").get_caller_identity()["Account"]


def own_account() -> str:
    return settings.account_id() or _caller_account()


def own_region() -> str:
    return client("cloudwatch").meta.region_name


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def check_alarm(ref: AlarmRef) -> None:
    """``ActionRefused`` unless the alarm is in this account and Region (a forged or foreign button)."""
    partition, region, account, _ = ref.parts
    if account != own_account() or region != own_region() or partition != partition_of(region):
        raise ActionRefused(
            f"the alarm is in account {account}, {region}; opswatch here acts in {own_account()}, {own_region()}: "
            "nothing changed"
        )


def function_arn(name: str) -> str:
    region = own_region()
    return f"arn:{partition_of(region)}:lambda:{region}:{own_account()}:function:{name}"
