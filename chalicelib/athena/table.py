"""The ``alb_access_logs`` table: its columns, its regular expression, and its DDL.

The regular expression is written in the syntax Java (Athena's RegexSerDe), RE2
(DuckDB, the local engine) and Python agree on: no possessive quantifiers, no
look-arounds, no named groups. Its groups are the table's columns, one for one
(``FIELDS`` and ``extra_fields``), and it matches every generation of ALB line
the project's parser accepts: lines ending at ``trace_id``, ``chosen_cert_arn``
or the error reason, unquoted (2020) and quoted target lists, classification
fields, ``conn_trace_id``, the transform fields, and fields AWS adds later
(kept whole in ``extra_fields``). A ``-`` or an absent field is NULL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chalicelib import settings
from chalicelib.alb.fields import FIELDS, FLOAT_FIELDS, INT_FIELDS
from chalicelib.athena.results import aligned  # the CLI's import place; the report imports results directly

__all__ = ["COLUMNS", "REGEX", "aligned", "column_type", "location", "render_ddl"]

# A "-" field takes no part in its group, so it is NULL in Athena (RegexSerDe), in the
# local engine and in the parser alike.
_Q = r'"(?:-|((?:[^"\\]|\\.)*))"'  # a quoted field (\" inside kept as written)
_B = r"(?:-|([^ ]*))"  # a bare field
_L = r'"?(?:-|([^ "]*|[^"]*))"?'  # a target list: quoted since 2021, bare in 2020

REGEX = (
    r"([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*):([0-9]*) (?:-|([^ ]*):([0-9]*)) "  # type time elb client target
    r"([-.0-9]*) ([-.0-9]*) ([-.0-9]*) "  # timings (-1: not dispatched)
    r"(?:-|([0-9]*)) (?:-|([0-9]*)) (?:-|([0-9]*)) (?:-|([0-9]*)) "  # elb and target status codes, bytes
    r'"(?:-|([^ "]*)) (?:-|((?:[^"\\]|\\.)*)) (?:-|([^ "]*))" '  # request: verb, URL (may hold spaces), proto
    + " ".join([_Q, _B, _B, _B, _Q])  # user_agent ssl_cipher ssl_protocol target_group_arn trace_id
    + "(?: "
    + " ".join([_Q, _Q])  # domain_name chosen_cert_arn
    + "(?: ?"  # AWS's own documented example has no space here ("-"1)
    + " ".join([_B, _B, _Q, _Q, _Q])  # matched_rule_priority request_creation_time actions redirect error
    + "(?: "
    + " ".join([_L, _L])  # target_port_list target_status_code_list
    + "(?: "
    + " ".join([_Q, _Q])  # classification classification_reason
    + "(?: "
    + _B  # conn_trace_id
    + "(?: "
    + " ".join([_Q, _Q, _Q])  # transformed_host transformed_uri request_transform_status
    + ")?)?)?)?)?)?"
    + r"(?: (.*))?"  # fields AWS adds later
)

COLUMNS: tuple[str, ...] = (*FIELDS, "extra_fields")
PARTITIONS = ("account", "region", "day")  # where the object is, not what the line says
_ACCOUNT = settings.ACCOUNT_ID
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")


def column_type(name: str) -> str:
    """The column's Athena type."""
    if name in FLOAT_FIELDS:
        return "double"
    if name in ("received_bytes", "sent_bytes"):
        return "bigint"
    if name in INT_FIELDS:
        return "int"
    return "string"


def _hive_literal(text: str) -> str:
    """Text inside a single-quoted DDL literal: Hive unescapes backslashes there."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def location(bucket: str, prefix: str, account: str | None = None, region: str | None = None) -> str:
    """Where ELB writes: one account's and Region's folder, or (neither given) the ``AWSLogs/`` of every account."""
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    if account is None:
        return f"s3://{bucket}/{prefix}AWSLogs/"
    return f"s3://{bucket}/{prefix}AWSLogs/{account}/elasticloadbalancing/{region}/"


def _values(name: str, values: str | Sequence[str], pattern: re.Pattern) -> list[str]:
    out = [values] if isinstance(values, str) else list(dict.fromkeys(values))
    if not out:
        raise ValueError(f"the table's {name} projection needs at least one value")
    for v in out:
        if not pattern.fullmatch(v):
            raise ValueError(f"{name} {v[:40]!r}: expected e.g. {'111122223333' if name == 'account' else 'eu-west-1'}")
    return out


def projection(name: str, values: str | Sequence[str], kind: str) -> str:
    """The TBLPROPERTIES of one of the ``account`` and ``region`` partition keys."""
    if kind == "injected":
        return f"    'projection.{name}.type' = 'injected',"
    if kind != "enum":
        raise ValueError(f"projection {kind!r}: expected enum or injected")
    listed = _values(name, values, _ACCOUNT if name == "account" else _REGION)
    return f"    'projection.{name}.type' = 'enum',\n    'projection.{name}.values' = '{','.join(listed)}',"


def render_ddl(
    database: str,
    bucket: str,
    prefix: str,
    accounts: str | Sequence[str],
    regions: str | Sequence[str],
    start_date: str,
    kind: str = "enum",
) -> list[str]:
    """The statements that create the database and the partition-projected table.

    The table spans a central bucket: ``account`` and ``region`` are partition keys beside
    ``day``, projected from the listed values (``enum``) or from each query's equality on
    them (``injected``, where the lists are not used). One account and one Region is the
    single-account stage of before, with two more columns.
    """
    from chalicelib.athena.catalog import SQL_DIR

    if not all(c.isalnum() or c == "_" for c in database):
        raise ValueError(f"database {database!r}: letters, digits and _ only")
    columns = ",\n".join(f"    {c} {column_type(c)}" for c in COLUMNS)
    root = location(bucket, prefix)
    values = {
        "database": database,
        "columns": columns,
        "regex": _hive_literal(REGEX),
        "location": root,
        "template": root + "${account}/elasticloadbalancing/${region}/${day}",
        "account_projection": projection("account", accounts, kind),
        "region_projection": projection("region", regions, kind),
        "start_date": start_date,
    }
    out = []
    for name in ("database.sql", "alb_access_logs.sql"):
        text = (SQL_DIR / name).read_text(encoding="utf-8")
        body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
        for key, value in values.items():
            body = body.replace("{" + key + "}", value)
        out.append(body.strip())
    return out
