"""The ALB flow: the bucket tells ``alb_logs``, ELB may write, load balancers log there, the group exists."""

from __future__ import annotations

import fnmatch
import json
import re
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from chalicelib import settings
from chalicelib.doctor.check import Check, Context, fail, function_policy, ok, principal_of, skip, source_arn_of, warn

ELB_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
STALE_AFTER = timedelta(minutes=15)  # ELB writes a load balancer's log every 5 minutes
# Elastic Load Balancing's own account per Region (Regions opened before August 2022), as the infra template
# maps them; later Regions know only the service principal.
ELB_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-south-1": "718504428378",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "eu-south-1": "635631232127",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}


def _prefix() -> str:
    p = settings.athena().log_prefix.strip("/")
    return p + "/" if p else ""


def bucket_notification(ctx: Context) -> Check:
    name = "bucket-notification"
    alb = settings.alb()
    fn = ctx.function("alb_logs")
    if fn is None:
        return fail(name, f"no function {ctx.function_name('alb_logs')}", ctx.deploy_fix())
    try:
        conf = ctx.client("s3").get_bucket_notification_configuration(Bucket=alb.bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchBucket":
            return fail(name, f"no bucket {alb.bucket}", "create the stage's resources stack (see the stack check)")
        raise
    entries = conf.get("LambdaFunctionConfigurations", [])
    malformed = None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        malformed = f"LambdaFunctionConfigurations is a {type(entries).__name__} of other things"
    else:
        missing = [i for i, e in enumerate(entries, 1) if not e.get("LambdaFunctionArn") or not e.get("Events")]
        if missing:
            malformed = f"entry {missing[0]} of LambdaFunctionConfigurations has no function ARN or no events"
    if malformed:
        return fail(
            name,
            f"{alb.bucket}'s notification configuration is not what S3 returns: {malformed}",
            ctx.deploy_fix() + " (it rewrites the bucket's notification)",
        )
    ours = [e for e in entries if e.get("LambdaFunctionArn") in (fn["FunctionArn"], fn["FunctionArn"] + ":$LATEST")]
    created = [e for e in ours if any(str(ev).startswith("s3:ObjectCreated:") for ev in e.get("Events") or [])]
    if not created:
        others = sorted({str(e.get("LambdaFunctionArn", "?")).rsplit(":", 1)[-1] for e in entries})
        elsewhere = f" (it notifies {', '.join(others)})" if others else " (it notifies no function)"
        return fail(
            name,
            f"{alb.bucket} sends no ObjectCreated event to {fn['FunctionName']}{elsewhere}",
            ctx.deploy_fix() + " (it puts the notification back; a stack that replaced it must keep it)",
        )
    if alb.key_suffix:
        suffixes = {
            r.get("Value")
            for e in created
            for r in ((e.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
            if str(r.get("Name", "")).lower() == "suffix"
        }
        if alb.key_suffix not in suffixes:
            return fail(
                name,
                f"the notification has no suffix filter {alb.key_suffix!r} (OPSWATCH_ALB_KEY_SUFFIX)",
                ctx.deploy_fix(),
            )
    bucket_arn = f"arn:{ctx.partition}:s3:::{alb.bucket}"
    allowed = [
        st
        for st in function_policy(ctx, "alb_logs")
        if st.get("Effect", "Allow") == "Allow"
        and principal_of(st) == "s3.amazonaws.com"
        and source_arn_of(st) in (None, bucket_arn)
    ]
    if not allowed:
        return fail(
            name,
            f"{fn['FunctionName']}'s resource policy does not let S3 ({alb.bucket}) invoke it",
            ctx.deploy_fix() + " (it adds the permission)",
        )
    return ok(name, f"{alb.bucket} -> {fn['FunctionName']} on ObjectCreated, and S3 may invoke it")


def _statements(policy: dict) -> list[dict]:
    st = policy.get("Statement", [])
    return [s for s in (st if isinstance(st, list) else [st]) if isinstance(s, dict)]


def _listed(value) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]


def _grants(st: dict, principal: str, kind: str, resource: str) -> bool:
    if st.get("Effect") != "Allow":
        return False
    p = st.get("Principal")
    principals = _listed(p.get(kind)) if isinstance(p, dict) else _listed(p)
    if principal not in principals and "*" not in principals:
        return False
    if not any(a in ("s3:PutObject", "s3:*", "*") for a in _listed(st.get("Action"))):
        return False
    return any(fnmatch.fnmatchcase(resource, r) for r in _listed(st.get("Resource")))


def bucket_policy(ctx: Context) -> Check:
    name = "bucket-policy"
    bucket = settings.alb().bucket
    fix = (
        f"the stack's bucket policy grants it: aws cloudformation deploy ... "
        f"--stack-name opswatch-{ctx.stage}-resources "
        f"(or add s3:PutObject on arn:{ctx.partition}:s3:::{bucket}/{_prefix()}AWSLogs/{ctx.account}/* for "
        f"{ELB_SERVICE})"
    )
    try:
        raw = ctx.client("s3").get_bucket_policy(Bucket=bucket)["Policy"]
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "NoSuchBucketPolicy":
            return fail(name, f"{bucket} has no bucket policy: Elastic Load Balancing cannot write to it", fix)
        if code == "NoSuchBucket":
            return fail(name, f"no bucket {bucket}", fix)
        raise
    try:
        policy = json.loads(raw)
    except ValueError as exc:
        return fail(name, f"{bucket}'s policy is not JSON ({exc})", fix)
    if not isinstance(policy, dict):
        return fail(name, f"{bucket}'s policy is not a JSON object", fix)
    resource = f"arn:{ctx.partition}:s3:::{bucket}/{_prefix()}AWSLogs/{ctx.account}/elasticloadbalancing/x.log.gz"
    statements = _statements(policy)
    by_service = any(_grants(s, ELB_SERVICE, "Service", resource) for s in statements)
    elb_account = ELB_ACCOUNTS.get(ctx.region)
    by_account = bool(elb_account) and any(
        _grants(s, f"arn:{ctx.partition}:iam::{elb_account}:root", "AWS", resource)
        or _grants(s, elb_account, "AWS", resource)
        for s in statements
    )
    if by_service or by_account:
        who = " and ".join(
            w for w, yes in ((ELB_SERVICE, by_service), (f"ELB's account {elb_account}", by_account)) if yes
        )
        return ok(name, f"{bucket}: {who} may write access logs under {_prefix()}AWSLogs/{ctx.account}/")
    return fail(
        name,
        f"{bucket}'s policy lets neither {ELB_SERVICE}"
        + (f" nor ELB's account {elb_account}" if elb_account else "")
        + f" put objects under {_prefix()}AWSLogs/{ctx.account}/",
        fix,
    )


class UnknownLoadBalancer(LookupError):
    """A load balancer named on the command line does not exist in the Region."""


def resolve(elbv2, refs: list[str]) -> list[dict]:
    """The load balancers named (a name or an ARN each); raises ``UnknownLoadBalancer`` naming the first missing."""
    out = []
    for ref in refs:
        key = {"LoadBalancerArns": [ref]} if ref.startswith("arn:") else {"Names": [ref]}
        try:
            out += elbv2.describe_load_balancers(**key)["LoadBalancers"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("LoadBalancerNotFound", "ValidationError"):
                raise UnknownLoadBalancer(ref) from None
            raise
    return out


def _load_balancers(ctx: Context) -> list[dict]:
    if ctx.load_balancers is not None:
        return ctx.load_balancers
    if ctx.load_balancer_refs:
        return resolve(ctx.client("elbv2"), ctx.load_balancer_refs)
    out = []
    for page in ctx.client("elbv2").get_paginator("describe_load_balancers").paginate():
        out += [lb for lb in page.get("LoadBalancers", []) if lb.get("Type") == "application"]
    return out


def _newest(ctx: Context, lb: dict, bucket: str, prefix: str) -> datetime | None:
    """The newest access-log object of the load balancer, looked for in today's and yesterday's folders."""
    _, _, rest = lb["LoadBalancerArn"].partition(":loadbalancer/")
    marker = rest.replace("/", ".") + "_"  # app/NAME/ID -> app.NAME.ID_, as in the object's name
    s3 = ctx.client("s3")
    newest = None
    now = datetime.now(UTC)
    for day in (now, now - timedelta(days=1)):
        folder = f"{prefix}AWSLogs/{ctx.account}/elasticloadbalancing/{ctx.region}/{day:%Y/%m/%d}/"
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=folder, PaginationConfig={"MaxItems": 5000}
        ):
            for obj in page.get("Contents", []):
                if marker in obj["Key"] and (newest is None or obj["LastModified"] > newest):
                    newest = obj["LastModified"]
        if newest:
            break
    return newest


def access_logs(ctx: Context) -> Check:
    name = "access-logs"
    bucket, prefix = settings.alb().bucket, settings.athena().log_prefix.strip("/")
    lbs = _load_balancers(ctx)
    if not lbs:
        return skip(name, f"no Application Load Balancer in {ctx.region} (or pass --load-balancer)")
    elbv2 = ctx.client("elbv2")
    problems, stale, good = [], [], []
    for lb in lbs:
        attrs = {
            a["Key"]: a.get("Value", "")
            for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
        }
        lb_name = lb["LoadBalancerName"]
        if attrs.get("access_logs.s3.enabled") != "true":
            problems.append((lb, f"{lb_name}: access logging is off"))
        elif attrs.get("access_logs.s3.bucket") != bucket:
            problems.append((lb, f"{lb_name}: logs go to {attrs.get('access_logs.s3.bucket')!r}, not {bucket}"))
        elif attrs.get("access_logs.s3.prefix", "").strip("/") != prefix:
            problems.append(
                (
                    lb,
                    f"{lb_name}: prefix {attrs.get('access_logs.s3.prefix', '')!r}, "
                    f"the stage expects {prefix!r} (OPSWATCH_ALB_PREFIX)",
                )
            )
        else:
            newest = _newest(ctx, lb, bucket, prefix + "/" if prefix else "")
            if newest is None or datetime.now(UTC) - newest > STALE_AFTER:
                age = "no log object today or yesterday" if newest is None else f"newest log object {newest:%H:%M}"
                stale.append(f"{lb_name}: {age}")
            else:
                good.append(lb_name)
    if problems:
        arn = problems[0][0]["LoadBalancerArn"]
        attrs = f"Key=access_logs.s3.enabled,Value=true Key=access_logs.s3.bucket,Value={bucket}" + (
            f" Key=access_logs.s3.prefix,Value={prefix}" if prefix else ""
        )
        return fail(
            name,
            "; ".join(p for _, p in problems),
            f"aws elbv2 modify-load-balancer-attributes --load-balancer-arn {arn} --attributes {attrs}",
        )
    if stale:
        return warn(
            name,
            "; ".join(stale) + " (more than 15 minutes: ELB writes every 5 minutes while there is traffic)",
            f"check the load balancer has traffic, and that ELB may write to {bucket} (see bucket-policy)",
        )
    return ok(name, f"{', '.join(good)}: logging to {bucket}, recent objects")


def log_groups_of_template(ctx: Context, template: str) -> Check:
    """A templated destination (``/opswatch/alb/{account}``): the groups made so far, and their retention."""
    from chalicelib.settings import placeholders

    name = "log-group"
    prefix = template.split("{", 1)[0]
    pattern = re.compile(
        "".join(re.escape(part) if i % 2 == 0 else ".+" for i, part in enumerate(re.split(r"\{|\}", template)))
    )
    found = [
        g
        for page in ctx.client("logs").get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)
        for g in page["logGroups"]
        if pattern.fullmatch(g["logGroupName"])
    ]
    shown = ", ".join("{" + p + "}" for p in placeholders(template))
    if not found:
        return warn(
            name,
            f"no log group matches {template} yet ({shown} from each object's key)",
            "each is created, tagged opswatch:stage, when its first object ships",
        )
    forever = [g["logGroupName"] for g in found if not g.get("retentionInDays")]
    if forever:
        return warn(
            name,
            f"{len(forever)} of {len(found)} groups of {template} never expire their events: {', '.join(forever[:3])}",
            f"aws logs put-retention-policy --log-group-name {forever[0]} --retention-in-days 30 (each of them)",
        )
    return ok(name, f"{len(found)} groups of {template}, each with a retention")


def log_group(ctx: Context) -> Check:
    name = "log-group"
    group = settings.alb().log_group
    if "{" in group:
        return log_groups_of_template(ctx, group)
    groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    found = next((g for g in groups if g["logGroupName"] == group), None)
    if found is None:
        return fail(
            name,
            f"no log group {group}",
            f"it is in the stage's stack (see the stack check), or: aws logs create-log-group --log-group-name {group}",
        )
    if not found.get("retentionInDays"):
        return warn(
            name,
            f"{group} never expires its events (you pay to store them forever)",
            f"aws logs put-retention-policy --log-group-name {group} --retention-in-days 30",
        )
    return ok(name, f"{group}, retention {found['retentionInDays']} days")
