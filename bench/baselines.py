"""The approaches opswatch's ALB parser is measured against, each producing typed JSON.

(a) the Athena DDL's regular expression with ``re``, a dict and ``json.dumps``;
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
    return m.group(1).replace('\\"', '"')


def _typed(rec: dict) -> dict:
    for k in INT_FIELDS:
        v = rec.get(k)
        rec[k] = int(v) if v not in (None, "", "-") else None
    for k in FLOAT_FIELDS:
        v = rec.get(k)
        rec[k] = float(v) if v not in (None, "", "-") else None
    return rec


def regex_records(path: Path):
    rx = re.compile(athena_regex())
    names = FIELDS[:34]
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            m = rx.match(line.rstrip("\n"))
            if m:
                yield json.dumps(_typed(dict(zip(names, m.groups(), strict=False))))


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
