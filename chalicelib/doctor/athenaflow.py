"""Athena: the workgroup, the Glue database and table, and a projection range that covers today."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from chalicelib import settings
from chalicelib.doctor.check import Check, Context, fail, ok

NAME = "athena"
TABLE = "alb_access_logs"
_DAY = re.compile(r"\d{4}/\d\d/\d\d")


def _missing(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in ("EntityNotFoundException", "InvalidRequestException")


def _covers_today(rng: str) -> str | None:
    """What is wrong with a ``projection.day.range`` (``2024/01/01,NOW``) for today, or None."""
    parts = [p.strip() for p in rng.split(",")]
    if len(parts) != 2:
        return f"projection.day.range {rng!r} is not START,END"
    today = f"{datetime.now(UTC):%Y/%m/%d}"
    start, end = parts
    if _DAY.fullmatch(start) and start > today:
        return f"projection.day.range starts {start}, after today"
    if end.upper().startswith("NOW"):
        return None if end.upper() in ("NOW", "NOW+0DAYS") or "+" in end else f"projection.day.range ends {end}"
    if _DAY.fullmatch(end) and end < today:
        return f"projection.day.range ended {end}: Athena sees no day after it"
    if not _DAY.fullmatch(end):
        return f"projection.day.range end {end!r} is not a yyyy/MM/dd day or NOW"
    return None


def athena(ctx: Context) -> Check:
    cfg = settings.athena()
    setup = f"{ctx.env_prefix()}opswatch athena setup --start-date <first day of logs>"
    try:
        wg = ctx.client("athena").get_work_group(WorkGroup=cfg.workgroup).get("WorkGroup")
    except ClientError as exc:
        if not _missing(exc):
            raise
        wg = None
    if not wg:
        return fail(NAME, f"no Athena workgroup {cfg.workgroup}", setup)
    if wg.get("State", "ENABLED") != "ENABLED":
        enable = f"aws athena update-work-group --work-group {cfg.workgroup} --state ENABLED"
        return fail(NAME, f"workgroup {cfg.workgroup} is {wg.get('State')}", enable)
    glue = ctx.client("glue")
    try:
        glue.get_database(Name=cfg.database)
    except ClientError as exc:
        if not _missing(exc):
            raise
        return fail(NAME, f"no Glue database {cfg.database}", setup)
    try:
        table = glue.get_table(DatabaseName=cfg.database, Name=TABLE)["Table"]
    except ClientError as exc:
        if not _missing(exc):
            raise
        return fail(NAME, f"no table {cfg.database}.{TABLE}", setup)
    params = table.get("Parameters") or {}
    if str(params.get("projection.enabled", "")).lower() != "true":
        return fail(NAME, f"{cfg.database}.{TABLE} has no partition projection", f"drop the table, then {setup}")
    rng = str(params.get("projection.day.range", ""))
    problem = _covers_today(rng)
    if problem:
        start = rng.split(",")[0].strip() or "2024/01/01"
        return fail(
            NAME,
            f"{cfg.database}.{TABLE}: {problem}",
            f"in Athena (workgroup {cfg.workgroup}): ALTER TABLE {cfg.database}.{TABLE} SET TBLPROPERTIES "
            f"('projection.day.range'='{start},NOW')",
        )
    return ok(NAME, f"workgroup {cfg.workgroup}, table {cfg.database}.{TABLE}, days {rng}")
