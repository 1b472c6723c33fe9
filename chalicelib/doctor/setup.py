"""Where the checks run, and the resources stack every other piece sits in."""

from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib import settings
from chalicelib.doctor.check import Check, Context, fail, ok, stage_settings_line, warn

GOOD_STACK = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
BUSY_SUFFIX = "_IN_PROGRESS"


def stack_name(stage: str) -> str:
    return f"opswatch-{stage}-resources"


def identity(ctx: Context) -> Check:
    """The account and Region in use, against the ones the stage is placed in."""
    found = f"account {ctx.account}, Region {ctx.region} as {ctx.caller}; stage {ctx.stage}: {stage_settings_line()}"
    placed_account, placed_region = settings.account_id(), settings.region()
    wrong = []
    if placed_account and placed_account != ctx.account:
        wrong.append(f"account {placed_account}")
    if placed_region and placed_region != ctx.region:
        wrong.append(f"Region {placed_region}")
    if wrong:
        return fail(
            "identity",
            f"stage {ctx.stage} is placed in {' and '.join(wrong)}, but these credentials reach account "
            f"{ctx.account}, Region {ctx.region}",
            f"use credentials and a Region of the stage's (AWS_PROFILE, AWS_REGION), or place the stage: "
            f"`opswatch policies --write --stage {ctx.stage} --account {ctx.account} --region {ctx.region}`",
        )
    if not (placed_account and placed_region):
        return warn(
            "identity",
            found + f"; stage {ctx.stage} names no account and Region (no policies, no deploy)",
            f"opswatch policies --write --stage {ctx.stage} --account {ctx.account} --region {ctx.region}",
        )
    return ok("identity", found)


def _expected_names(ctx: Context) -> dict[str, str]:
    """Each stack resource's physical name, as the stage's settings derive it."""
    alb = settings.alb()
    names = {
        "AlbLogBucket": alb.bucket,
        "AlbLogGroup": alb.log_group,
        "AlarmTopic": ctx.arn("sns", settings.slack().alarm_topic),
        "StateTable": settings.state_table(),
        "FailedQueue": settings.failed_queue(),
        "AthenaWorkGroup": settings.athena().workgroup,
        "GlueDatabase": settings.athena().database,
    }
    if "{" in alb.log_group:  # a template (one group per account): the stack's group is not where lines go
        del names["AlbLogGroup"]
    return names


def _same(logical: str, physical: str, want: str) -> bool:
    if logical == "FailedQueue":  # a queue's physical id is its URL
        return physical.rstrip("/").rsplit("/", 1)[-1] == want
    return physical == want


def stack(ctx: Context) -> Check:
    name = stack_name(ctx.stage)
    deploy = (
        f"aws cloudformation deploy --template-file infra/opswatch-resources.yaml --stack-name {name} "
        f"--parameter-overrides Stage={ctx.stage}"
    )
    cfn = ctx.client("cloudformation")
    try:
        [st] = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ValidationError":  # CloudFormation's "does not exist"
            return fail("stack", f"no stack {name} in {ctx.region}", deploy)
        raise
    status = st.get("StackStatus", "")
    if status.endswith(BUSY_SUFFIX):
        return warn("stack", f"{name} is {status}", "wait for the stack operation to end, then run doctor again")
    if status not in GOOD_STACK:
        return fail(
            "stack",
            f"{name} is {status}: {st.get('StackStatusReason') or 'see its events'}",
            f"aws cloudformation describe-stack-events --stack-name {name}; then {deploy}",
        )
    resources = cfn.describe_stack_resources(StackName=name)["StackResources"]
    physical = {r.get("LogicalResourceId", ""): r.get("PhysicalResourceId", "") for r in resources}
    wrong = [
        f"{logical} is {physical[logical]!r}, settings say {want!r}"
        for logical, want in _expected_names(ctx).items()
        if physical.get(logical) and not _same(logical, physical[logical], want)
    ]
    if wrong:
        return fail(
            "stack",
            f"{name}: " + "; ".join(wrong),
            "make .chalice/config.json's names (OPSWATCH_ALB_BUCKET, OPSWATCH_ALARM_TOPIC, ...) match the stack's, "
            f"or redeploy it: {deploy}",
        )
    return ok("stack", f"{name} {status}, {len(resources)} resources named as the settings derive")
