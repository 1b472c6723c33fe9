"""Monitors as code: the drift ``opswatch monitors plan`` would show for the spec given."""

from __future__ import annotations

from chalicelib.doctor.check import Check, Context, ok, skip, warn

NAME = "monitors"


def monitors(ctx: Context) -> Check:
    from chalicelib.monitors.plan import make_plan

    if ctx.spec is None:
        return skip(NAME, "no --spec given: the drift of your monitors spec is not checked")
    if ctx.spec.spec.targets:  # they live in other accounts: the stage's account holds none of them
        n = len(ctx.spec.spec.targets)
        return skip(
            NAME,
            f"{ctx.spec_path} applies to {n} target account{'s' if n != 1 else ''} through their roles: "
            f"opswatch monitors plan --spec {ctx.spec_path} shows their drift",
        )
    plan = make_plan(ctx.spec, ctx.client("logs"), ctx.client("cloudwatch"), ctx.partition, ctx.region, ctx.account)
    create = sum(c.action == "create" for c in plan.pending)
    update = sum(c.action == "update" for c in plan.pending)
    stale = len(plan.stale)
    if create or update:
        labels = ", ".join(c.label for c in plan.pending[:5]) + (" ..." if len(plan.pending) > 5 else "")
        return warn(
            NAME,
            f"{ctx.spec_path}: {create} to create, {update} to change ({labels})"
            + (f"; {stale} managed but not in the spec" if stale else ""),
            f"{ctx.env_prefix()}opswatch monitors plan --spec {ctx.spec_path}, then the same with apply",
        )
    found = f"{ctx.spec_path}: live alarms and filters match the spec"
    if stale:
        return warn(
            NAME,
            found + f"; {stale} managed by opswatch but not in the spec",
            f"{ctx.env_prefix()}opswatch monitors apply --spec {ctx.spec_path} --prune",
        )
    return ok(NAME, found)
