"""The local engine: the same named queries on DuckDB, over local files or S3 objects, for free.

Lines are loaded through the table's own regular expression (``table.REGEX``, run
by DuckDB's vectorised RE2), which the tests prove gives the parser's values on
every reference line; ``day`` is derived from ``time``. Lines the expression does
not match are counted and reported, never dropped silently. Queries are written
in Athena's (Trino) dialect and translated by sqlglot. CLI-only: DuckDB and
sqlglot never enter a Lambda function.
"""

from __future__ import annotations

import gzip
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chalicelib.athena.table import COLUMNS, REGEX, column_type

GZIP_MAGIC = b"\x1f\x8b"
_DUCK_TYPES = {"double": "DOUBLE", "int": "INTEGER", "bigint": "BIGINT", "string": "VARCHAR"}


class LocalError(RuntimeError):
    """Logs that cannot be read, or SQL the local engine cannot run; the message says which."""


@dataclass
class Loaded:
    files: int
    lines: int
    rows: int
    unmatched: int  # lines that are not ALB access-log entries (counted, reported)


def _files(paths: list[str], workdir: Path) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.startswith("s3://"):
            out += _download(p, workdir)
            continue
        path = Path(p)
        if path.is_dir():
            out += sorted(f for f in path.rglob("*") if f.is_file())
        elif path.is_file():
            out.append(path)
        else:
            raise LocalError(f"{p}: no such file or folder")
    return out


def _download(url: str, workdir: Path) -> list[Path]:
    from chalicelib.aws import client

    bucket, _, prefix = url[len("s3://") :].partition("/")
    s3 = client("s3")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            target = workdir / f"{len(out):06d}_{Path(obj['Key']).name}"
            s3.download_file(bucket, obj["Key"], str(target))
            out.append(target)
    return out


def connect():
    import duckdb

    return duckdb.connect()


def load(con, paths: list[str]) -> Loaded:
    """Create ``alb_access_logs`` (the Athena table's columns and types, plus ``day``) from ``paths``."""
    with tempfile.TemporaryDirectory(prefix="opswatch-athena-") as tmp:
        files = _files(paths, Path(tmp))
        reads = []
        for f in files:
            with open(f, "rb") as fh:
                gz = fh.read(2) == GZIP_MAGIC
            if gz:
                try:  # a truncated or corrupt object: say which, rather than fail half-way in DuckDB
                    with gzip.open(f) as z:
                        while z.read(1 << 20):
                            pass
                except (OSError, EOFError) as exc:
                    raise LocalError(f"{f}: not readable gzip: {exc}") from None
            reads.append((str(f), "gzip" if gz else "none"))
        con.execute("CREATE OR REPLACE TABLE raw_lines (line VARCHAR)")
        for path, compression in reads:
            con.execute(
                "INSERT INTO raw_lines SELECT line FROM read_csv(?, columns={'line': 'VARCHAR'}, delim=?, quote='', "
                "escape='', header=false, auto_detect=false, compression=?, max_line_size=16777216)",
                [path, "\x00", compression],
            )
    names = ", ".join(f"'{c}'" for c in COLUMNS)
    typed = ",\n".join(f"TRY_CAST(NULLIF(s.{c}, '') AS {_DUCK_TYPES[column_type(c)]}) AS {c}" for c in COLUMNS)
    con.execute(
        f"""CREATE OR REPLACE TABLE alb_access_logs AS
        SELECT {typed}, strftime(CAST(NULLIF(s.time, '') AS TIMESTAMP), '%Y/%m/%d') AS day
        FROM (SELECT regexp_extract(line, $1, [{names}]) AS s FROM raw_lines WHERE regexp_full_match(line, $1))""",
        [REGEX],
    )
    lines = con.execute("SELECT count(*) FROM raw_lines WHERE trim(line) <> ''").fetchone()[0]
    rows = con.execute("SELECT count(*) FROM alb_access_logs").fetchone()[0]
    return Loaded(len(files), lines, rows, lines - rows)


def translate(sql: str) -> str:
    """Athena's (Trino) dialect to DuckDB's."""
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        return sqlglot.transpile(sql, read="trino", write="duckdb")[0]
    except ParseError as exc:
        raise LocalError(f"cannot read the SQL: {exc}") from None


def run(con, sql: str, params: list[object]) -> tuple[list[str], list[tuple]]:
    """Run Athena-dialect ``sql`` with positional ``params``; returns (column names, rows)."""
    import duckdb

    try:
        cur = con.execute(translate(sql), params)
    except duckdb.Error as exc:
        raise LocalError(f"the local engine refused the query: {exc}") from None
    return [d[0] for d in cur.description], cur.fetchall()
