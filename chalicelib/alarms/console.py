"""Links to an alarm in the AWS console, for each partition.

>>> alarm_url("aws", "us-east-1", "High 5xx")
'https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/High%205xx'
>>> alarm_url("aws-cn", "cn-north-1", "x")
'https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#alarmsV2:alarm/x'
"""

from __future__ import annotations

import re
from urllib.parse import quote

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")

_HOSTS = {
    "aws": "https://{region}.console.aws.amazon.com",
    "aws-us-gov": "https://console.amazonaws-us-gov.com",
    "aws-cn": "https://console.amazonaws.cn",
}


def alarm_url(partition: str, region: str | None, name: str) -> str | None:
    """The console page of one alarm; ``None`` when the region is unknown."""
    if not region or not _REGION.fullmatch(region):
        return None
    host = _HOSTS.get(partition, _HOSTS["aws"]).format(region=region)
    return f"{host}/cloudwatch/home?region={region}#alarmsV2:alarm/{quote(name, safe='')}"
