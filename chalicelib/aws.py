"""boto3 clients for every adapter, honouring ``AWS_ENDPOINT_URL``.

``AWS_ENDPOINT_URL`` points every client at the embedded moto server (or any
other endpoint); unset, the clients talk to AWS. Retries use botocore's
``standard`` mode, which backs off on throttling and 5xx answers; when the
attempts are spent the error propagates so Lambda's own retries take over.
"""

from __future__ import annotations

import os
from functools import cache

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=30)


@cache
def client(service: str):
    """A cached client for ``service`` (one per process: cold start is a cost)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.client(service, endpoint_url=endpoint, config=_CONFIG)
