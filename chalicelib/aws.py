"""boto3 clients for every adapter, honouring ``AWS_ENDPOINT_URL``.

``AWS_ENDPOINT_URL`` points every client at the embedded moto server (or any
other endpoint) and ``AWS_ENDPOINT_URL_<SERVICE>`` one service; botocore reads
both itself. Unset, the clients talk to AWS. Retries use botocore's
``standard`` mode, which backs off on throttling and 5xx answers; when the
attempts are spent the error propagates so Lambda's own retries take over.
"""

from __future__ import annotations

import os
from functools import cache


@cache
def client(service: str, attempts: int | None = None, timeout: float = 60):
    """A cached client for ``service`` (one per process: cold start is a cost).

    ``OPSWATCH_AWS_MAX_ATTEMPTS`` (default 8) bounds the attempts per call, the first included;
    ``attempts`` and ``timeout`` override it for calls that must not hold an alert back.
    """
    import boto3  # on the first client, not at import: commands that call no AWS never load it
    from botocore.config import Config

    attempts = attempts or int(os.environ.get("OPSWATCH_AWS_MAX_ATTEMPTS", "8"))
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=min(5, timeout),
        read_timeout=timeout,
    )
    return boto3.client(service, config=config)
