"""The stage's DynamoDB state table: what must outlive one invocation.

One table per stage (``OPSWATCH_STATE_TABLE``, default ``opswatch-<stage>-state``,
created by ``infra/opswatch-resources.yaml``): partition key ``id`` (string) and
TTL on ``expiration`` (epoch seconds), the names Powertools idempotency's DynamoDB
persistence uses by default, so idempotency records can share the table. Each
kind of item prefixes its id with its kind (``cooldown#...``).

State calls get few attempts and a short timeout: state guards against
repeats, and must never hold an alert back for long.
"""

from __future__ import annotations

from chalicelib import settings
from chalicelib.aws import client

KEY = "id"
TTL_ATTRIBUTE = "expiration"
ATTEMPTS = 3
TIMEOUT_SECONDS = 5


def dynamodb():
    return client("dynamodb", attempts=ATTEMPTS, timeout=TIMEOUT_SECONDS)


def table_name() -> str:
    return settings.state_table()


def create_table(name: str | None = None) -> str:
    """Create the table as the infra template does (the embedded default and tests)."""
    name = name or table_name()
    ddb = client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=name)
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    return name
