"""DynamoDB's conditional writes, atomic in the embedded moto server as they are in DynamoDB.

moto's threaded server runs requests side by side and its DynamoDB backend checks a
condition and writes the item in two steps, so two concurrent conditional updates of one
item can both succeed. DynamoDB never allows that, and opswatch's once-only claims
(cooldowns, Slack threads, checkpoints) rely on it. One lock around moto's item writes
gives the embedded server the same guarantee.
"""

from __future__ import annotations

import functools
import threading

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def atomic(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, atomic)
