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

    return boto3.client(service, config=_config(attempts, timeout))


def _config(attempts: int | None, timeout: float):
    from botocore.config import Config

    attempts = attempts or int(os.environ.get("OPSWATCH_AWS_MAX_ATTEMPTS", "8"))
    return Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=min(5, timeout),
        read_timeout=timeout,
    )


SESSION_NAME = "opswatch"  # RoleSessionName: what CloudTrail shows in the target account


class Assumed:
    """Clients acting as another account's role, in that account's Region (from :func:`assume`).

    The endpoint settings apply as to :func:`client` (botocore reads ``AWS_ENDPOINT_URL`` for
    every session), so the same code runs against moto. Clients are made once per service.
    """

    def __init__(self, session, account: str, region: str) -> None:
        self.session, self.account, self.region = session, account, region
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(service, config=_config(None, 60))
        return self._clients[service]


def assume(role_arn: str, region: str) -> Assumed:
    """AssumeRole ``role_arn`` (session name ``opswatch``) and return clients in ``region`` acting as it.

    Raises botocore's ``ClientError`` when STS refuses (the role's trust policy does not name the
    caller, the role does not exist); the caller reports it for that target alone.
    """
    import boto3

    answer = client("sts").assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)
    creds = answer["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
    arn = str((answer.get("AssumedRoleUser") or {}).get("Arn") or "")
    account = arn.split(":")[4] if arn.count(":") >= 5 else ""  # unknown: the caller refuses to act
    return Assumed(session, account, region)
