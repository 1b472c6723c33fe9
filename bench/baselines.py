"""The approaches opswatch's ALB parser is measured against, each producing typed JSON.

(a) the Athena DDL's regular expression with ``re``, a dict and ``json.dumps``, giving the
    same JSON as ``opswatch alb parse`` (numbers typed, ``-`` as null, every field);
(b) ``csv.reader(delimiter=' ')``, a dict and ``json.dumps``, common in Python forwarders;
(c) gunzip and line iteration alone: the ceiling no parser can pass.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

from chalicelib.alb.fields import FIELDS, FLOAT_FIELDS, INT_FIELDS
from chalicelib.alb.parser import HEAD_NAMES

ATHENA_SQL = Path(__file__).resolve().parent.parent / "athena_sql" / "aws_published_table.sql"


def athena_regex() -> str:
    """The ``input.regex`` of the project's Athena DDL, as Hive reads it."""
    sql = ATHENA_SQL.read_text()
    m = re.search(r"'input\.regex'\s*=\s*'(.*?)'\s*\)", sql, re.S)
    return re.sub(r"\\(.)", r"\1", m.group(1))  # the SQL literal's escapes: \" and \\


def _typed(rec: dict) -> dict:
    for k in INT_FIELDS:
        v = rec.get(k)
        rec[k] = int(v) if v not in (None, "", "-") else None
    for k in FLOAT_FIELDS:
        v = rec.get(k)
        rec[k] = float(v) if v not in (None, "", "-") else None
    return rec


# What the Athena regex leaves in its last group: the three transform fields, when present.
_TRANSFORM = re.compile(r' "([^"]*)" "([^"]*)" "([^"]*)"')
_NAMES = FIELDS[:34]


def _same_output(g: tuple) -> dict:
    """The Athena regex's groups as the record opswatch gives: every field, "-" as null, numbers typed."""
    rec = {k: (None if v == "-" or v == "" else v) for k, v in zip(_NAMES, g, strict=False)}
    if rec["request_proto"]:
        rec["request_proto"] = rec["request_proto"].rstrip() or None
        if rec["request_proto"] == "-":
            rec["request_proto"] = None
    t = _TRANSFORM.match(g[34]) if g[34] else None
    for k, v in zip(FIELDS[34:], t.groups() if t else (None, None, None), strict=True):
        rec[k] = None if v == "-" or v == "" else v
    return _typed(rec)


def regex_doc(rx: re.Pattern, line: str) -> str | None:
    """One line as baseline (a) renders it: compact JSON, UTF-8, as orjson writes it."""
    m = rx.match(line)
    return json.dumps(_same_output(m.groups()), separators=(",", ":"), ensure_ascii=False) if m else None


def regex_records(path: Path):
    rx = re.compile(athena_regex())
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = regex_doc(rx, line.rstrip("\n"))
            if doc is not None:
                yield doc


# csv splits host:port tokens and the request as one field each; map by position.
_CSV_NAMES = (*HEAD_NAMES, "request", *FIELDS[17:])


def csv_records(path: Path):
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter=" "):
            rec = dict(zip(_CSV_NAMES, row, strict=False))
            rec["client_ip"], _, rec["client_port"] = rec.pop("client").rpartition(":")
            rec["target_ip"], _, rec["target_port"] = rec.pop("target").rpartition(":")
            parts = [*rec.pop("request").split(" ", 2), "", ""]
            rec["request_verb"], rec["request_url"], rec["request_proto"] = parts[:3]
            yield json.dumps(_typed(rec))


def line_iteration(path: Path):
    with gzip.open(path, "rb") as fh:
        yield from fh
