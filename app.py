"""opswatch's Lambda functions: triggers wired to handlers, nothing else.

Logic lives in ``chalicelib``; the same services back the ``opswatch`` CLI.
"""

from chalice import Chalice

from chalicelib import settings
from chalicelib.alb.handler import handle_s3_event

app = Chalice(app_name="opswatch")

_alb = settings.alb()
_suffix = {"suffix": _alb.key_suffix} if _alb.key_suffix else {}


@app.on_s3_event(bucket=_alb.bucket, events=["s3:ObjectCreated:*"], name="alb_logs", **_suffix)
def alb_logs(event):
    """ALB access-log objects landing in S3 -> CloudWatch Logs, with counts as metrics."""
    return handle_s3_event(event.to_dict())
