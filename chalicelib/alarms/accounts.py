"""Alarms of every account: whose alarm events are taken, and what each account is called.

Member accounts forward their "CloudWatch Alarm State Change" events to the
monitoring account's default bus (``infra/member-account.yaml``); the event's
``account`` is the member's. The bus policy is the gate (``aws:PrincipalOrgID``
or the listed accounts); the function checks again, so a bus policy opened too
wide never reaches Slack:

- the function's own account is always taken;
- so is an account in ``OPSWATCH_MEMBER_ACCOUNTS``;
- with ``OPSWATCH_ORGANIZATION_ID``, an account AWS Organizations places in that
  organization (``DescribeAccount``: its ARN holds the organization id); one it
  does not know is refused. When Organizations cannot be asked (the monitoring
  account is neither the management account nor a delegated administrator, or
  the call fails), the event is taken on the bus policy's word and counted
  (``AccountMembershipUnverified``);
- with neither set, only the own account: a single-account stage behaves as it
  always did, and a bus policy opened by mistake posts nothing.

A refused event is logged, counted (``AlarmEventsRefused``) and never posted.

An account's name comes from ``OPSWATCH_ACCOUNT_NAMES``, else (with an
organization id) from ``DescribeAccount``, cached in the state table for a day,
else the id alone. A failed lookup falls back to the id and is counted
(``AccountNamesUnavailable``); it never holds the alert back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache

from chalicelib import settings

PREFIX = "account#"
CACHE_SECONDS = 86400
TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    unverified: bool = False  # taken on the bus policy's word


@dataclass(frozen=True)
class _Described:
    found: bool
    name: str | None = None
    organization: str | None = None


@dataclass
class Accounts:
    own: str | None
    org: settings.OrgSettings
    lookups: bool = True  # may ask Organizations (the Lambda); False: the static map only (``slack render``)
    counts: dict[str, int] = field(default_factory=dict)
    _seen: dict[str, _Described | None] = field(default_factory=dict)

    def check(self, account: object) -> Verdict:
        if not isinstance(account, str) or not settings.ACCOUNT_ID.fullmatch(account):
            return Verdict(False, f"the event's account {str(account)[:40]!r} is not a 12-digit account id")
        if account == self.own:
            return Verdict(True, "this account")
        if account in self.org.member_accounts:
            return Verdict(True, "in OPSWATCH_MEMBER_ACCOUNTS")
        org_id = self.org.organization_id
        if org_id:
            described = self._describe(account)
            if described is None:
                self._count("AccountMembershipUnverified")
                return Verdict(True, f"taken on the bus policy's word: Organizations could not confirm {org_id}", True)
            if described.found and described.organization == org_id:
                return Verdict(True, f"in organization {org_id}")
            return Verdict(False, f"account {account} is not in organization {org_id}")
        return Verdict(
            False,
            f"account {account} is not this account"
            + (f" ({self.own})" if self.own else "")
            + " and neither OPSWATCH_MEMBER_ACCOUNTS nor OPSWATCH_ORGANIZATION_ID takes it",
        )

    def name(self, account: str | None) -> str | None:
        """The account's name, or None (then the id is all the message shows)."""
        if not account:
            return None
        if account in self.org.account_names:
            return self.org.account_names[account]
        if not (self.lookups and self.org.organization_id):
            return None
        described = self._describe(account)
        if described is None or not described.found:
            self._count("AccountNamesUnavailable")
            return None
        return described.name

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def _describe(self, account: str) -> _Described | None:
        """Organizations' word on ``account`` (cached), or None when it could not be had."""
        if account in self._seen:
            return self._seen[account]
        got = _cached(account) if self.lookups else None
        if got is None and self.lookups:
            got = _ask_organizations(account)
            if got is not None and got.found:  # a refusal is not kept: an account that joins is taken at once
                _remember(account, got)
        self._seen[account] = got
        return got


@cache
def _logger():
    """Powertools' logger, made on the first lookup: ``slack render`` names accounts without loading it (or boto)."""
    from aws_lambda_powertools import Logger

    return Logger(service="opswatch-alarms")


def _cached(account: str) -> _Described | None:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib import state

    try:
        item = state.dynamodb().get_item(TableName=state.table_name(), Key={state.KEY: {"S": PREFIX + account}})
    except (ClientError, BotoCoreError) as exc:
        _logger().warning(f"account cache unavailable: {exc}", extra={"account": account})
        return None
    item = item.get("Item") or {}
    expires = int(item.get(state.TTL_ATTRIBUTE, {}).get("N", "0") or 0)
    if not item or expires <= time.time():  # TTL deletes late: an expired item is not trusted
        return None
    return _Described(
        item.get("found", {}).get("BOOL", False),
        item.get("name", {}).get("S"),
        item.get("organization", {}).get("S"),
    )


def _remember(account: str, got: _Described) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib import state

    item = {
        state.KEY: {"S": PREFIX + account},
        "found": {"BOOL": got.found},
        state.TTL_ATTRIBUTE: {"N": str(int(time.time()) + CACHE_SECONDS)},
    }
    if got.name:
        item["name"] = {"S": got.name}
    if got.organization:
        item["organization"] = {"S": got.organization}
    try:
        state.dynamodb().put_item(TableName=state.table_name(), Item=item)
    except (ClientError, BotoCoreError) as exc:
        _logger().warning(f"account name not cached: {exc}", extra={"account": account})


def _ask_organizations(account: str) -> _Described | None:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.aws import client

    try:
        got = client("organizations", attempts=1, timeout=TIMEOUT_SECONDS).describe_account(AccountId=account)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "AccountNotFoundException":
            return _Described(False)
        _logger().warning(f"Organizations DescribeAccount failed ({code}); the account id stands for its name")
        return None
    except BotoCoreError as exc:
        _logger().warning(f"Organizations DescribeAccount failed ({type(exc).__name__}); the id stands for its name")
        return None
    acct = got.get("Account") or {}
    arn = str(acct.get("Arn") or "")  # arn:aws:organizations::<management>:account/o-xxxxxxxxxx/<account>
    parts = arn.split(":account/", 1)[-1].split("/")
    org_id = parts[0] if len(parts) == 2 and parts[0].startswith("o-") else None
    name = acct.get("Name")
    return _Described(True, name[: settings.MAX_ACCOUNT_NAME] if isinstance(name, str) else None, org_id)


def own_account(context=None) -> str | None:
    """The function's account: from its ARN in Lambda, else ``OPSWATCH_ACCOUNT_ID``, else STS."""
    arn = getattr(context, "invoked_function_arn", None)
    if isinstance(arn, str) and arn.count(":") >= 4:
        return arn.split(":")[4]
    if settings.account_id():
        return settings.account_id()
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.aws import client

    try:
        return client("sts", attempts=2, timeout=5).get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        _logger().warning(f"own account unknown ({type(exc).__name__}): only listed accounts are taken")
        return None


def for_lambda(context=None) -> Accounts:
    return Accounts(own_account(context), settings.org())


def static() -> Accounts:
    """Names from ``OPSWATCH_ACCOUNT_NAMES`` only, no AWS call: what ``opswatch slack render`` shows."""
    return Accounts(settings.account_id(), settings.org(), lookups=False)
