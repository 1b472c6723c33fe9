"""Where plan, apply and the audit act: the caller's own account, or a target reached through its role.

Shared by the CLI (``monitors plan/apply``, ``alarms audit --all-targets``) and the daily audit
Lambda, so it imports only ``aws.py`` and the plain target rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import aws
from chalicelib.targets import Target, partition_of


@dataclass
class Place:
    account: str
    region: str
    partition: str
    label: str  # how output names it: "111111111111 (shop-prod), eu-west-1"
    name: str = ""
    clients: Any = None  # an aws.Assumed for a target; None for the caller's own credentials

    def client(self, service: str):
        return self.clients.client(service) if self.clients is not None else aws.client(service)


def known_name(account: str) -> str:
    """The account's name in ``OPSWATCH_ACCOUNT_NAMES`` (the map alarm messages use too), or ``""``."""
    from chalicelib import settings

    try:
        return settings.org().account_names.get(account, "")
    except ValueError:  # a bad organization setting is refused by the flows it drives; here it is only a label
        return ""


def named(targets: list[Target]) -> list[Target]:
    """The targets, each without a ``name`` in the spec given its name from ``OPSWATCH_ACCOUNT_NAMES``."""
    from dataclasses import replace

    return [t if t.name else replace(t, name=known_name(t.account)) for t in targets]


def home() -> Place:
    """The caller's own account and Region (the shell's or the function's credentials)."""
    sts = aws.client("sts")
    account = sts.get_caller_identity()["Account"]
    region = sts.meta.region_name
    name = known_name(account)
    return Place(account, region, partition_of(region), f"{account}{f' ({name})' if name else ''}, {region}", name)


def reach(target: Target) -> Place:
    """The target's account through AssumeRole, clients in its Region.

    Raises botocore's ``ClientError``/``BotoCoreError`` when the role cannot be assumed, and
    ``TargetError`` when the credentials STS gave act in another account than the target's.
    """
    from chalicelib.targets import TargetError

    assumed = aws.assume(target.role_arn, target.region)
    if assumed.account != target.account:  # STS answered for another account: never act there
        raise TargetError(f"the role's credentials act in account {assumed.account}, not {target.account}")
    return Place(target.account, target.region, partition_of(target.region), target.label, target.name, assumed)


def caller_not_configured(exc: Exception) -> bool:
    """No Region, no credentials, no such profile: the caller's setup, the same for every target.

    Callers let these end the command (one line naming what to set) instead of blaming each target.
    """
    from botocore import exceptions as bc

    return isinstance(exc, bc.NoRegionError | bc.NoCredentialsError | bc.PartialCredentialsError | bc.ProfileNotFound)


def why_not(target: Target, exc: Exception) -> str:
    """One line naming the target, its role and why it could not be reached (never a credential)."""
    from chalicelib.redact import redact

    err = getattr(exc, "response", {}).get("Error", {}) if hasattr(exc, "response") else {}
    reason = f"{err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": ") if err else str(exc)
    return redact(f"target {target.label}: cannot act through {target.role_arn}: {reason}")
