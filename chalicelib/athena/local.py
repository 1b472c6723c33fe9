"""The local engine: the same named queries on DuckDB, over local files or S3 objects, for free.

Lines are loaded through the project's parser, which the tests prove gives the
table's regular expression's values on every reference line, and which is the
faster of the two here (1,000,000 lines: about 13 s, against 27 s for DuckDB's
RE2 extracting 38 groups). ``day`` is derived from ``time``; ``account`` and
``region`` come from where the object lies (``AWSLogs/ACCOUNT/elasticloadbalancing/REGION/``,
or its file name, as ELB names it), as Athena's projected partitions do, so a
central bucket's copy answers per account and Region alike. Lines that are not
access-log entries are counted and reported, never dropped silently. Queries are written
in Athena's (Trino) dialect and translated by sqlglot. CLI-only: DuckDB and
sqlglot never enter a Lambda function.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chalicelib.athena.table import COLUMNS, column_type

_FOLDERS = re.compile(r"(?:^|/)AWSLogs/(?P<account>[^/]*)/elasticloadbalancing/(?P<region>[^/]*)/")
_FILE = re.compile(r"^(?:[0-9]{6}_)?(?P<account>[0-9]{12})_elasticloadbalancing_(?P<region>[a-z0-9-]+)_")
_DUCK_TYPES = {"double": "DOUBLE", "int": "INTEGER", "bigint": "BIGINT", "string": "VARCHAR"}


class LocalError(RuntimeError):
    """Logs that cannot be read, or SQL the local engine cannot run; the message says which."""


class LogsUnreadable(LocalError):
    """A log path that does not exist or cannot be read whole (a truncated gzip): bad input, not a failed query."""


class QueryInvalid(LocalError):
    """SQL the engine cannot read or bind (a typo, an unknown column or table): bad input, not a failed query."""


class QueryStopped(LocalError):
    """The query ran past its time limit and DuckDB was interrupted."""


DEFAULT_TIMEOUT = 300.0  # seconds: a query on a laptop's logs that runs longer is most likely a runaway join


@dataclass
class Loaded:
    files: int
    lines: int
    rows: int
    unmatched: int  # lines that are not ALB access-log entries (counted, reported)


def origin(name: str) -> tuple[str | None, str | None]:
    """The (account, region) a log object's key or path names, as the table's partitions read it; else Nones."""
    from chalicelib.alb.keys import ACCOUNT_ID, REGION_NAME

    m = _FOLDERS.search(name) or _FILE.search(name.rsplit("/", 1)[-1])
    if m and ACCOUNT_ID.fullmatch(m["account"]) and REGION_NAME.fullmatch(m["region"]):
        return m["account"], m["region"]
    return None, None


def _files(paths: list[str], workdir: Path) -> list[tuple[Path, str]]:
    """Each file to read, with the name its account and Region are read from (the S3 key, or the path)."""
    out: list[tuple[Path, str]] = []
    for p in paths:
        if p.startswith("s3://"):
            out += _download(p, workdir)
            continue
        path = Path(p)
        if path.is_dir():
            out += [(f, f.as_posix()) for f in sorted(f for f in path.rglob("*") if f.is_file())]
        elif path.is_file():
            out.append((path, path.as_posix()))
        else:
            raise LogsUnreadable(f"{p}: no such file or folder")
    return out


def _download(url: str, workdir: Path) -> list[tuple[Path, str]]:
    from chalicelib.aws import client

    bucket, _, prefix = url[len("s3://") :].partition("/")
    s3 = client("s3")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            target = workdir / f"{len(out):06d}_{Path(obj['Key']).name}"
            s3.download_file(bucket, obj["Key"], str(target))
            out.append((target, obj["Key"]))
    return out


def connect():
    import duckdb

    return duckdb.connect()


def load(con, paths: list[str]) -> Loaded:
    """Create ``alb_access_logs`` (the Athena table's columns and types, plus ``day``) from ``paths``."""
    import orjson

    from chalicelib.alb.parser import ParseError, parse_line
    from chalicelib.alb.reader import BlankLines, CutLine, LongLine, StreamStatus, file_chunks, iter_lines
    from chalicelib.textsniff import Sniffer

    lines = rows = 0
    with tempfile.TemporaryDirectory(prefix="opswatch-athena-") as tmp:
        files = _files(paths, Path(tmp))
        records = Path(tmp) / "records.ndjson"
        with open(records, "wb") as out:
            for f, name in files:
                account, region = origin(name)
                status = StreamStatus()
                sniffer = Sniffer(head=False)  # a NUL byte: a stray byte in a request is a line's own business
                try:
                    fh = open(f, "rb")  # noqa: SIM115 (closed below)
                except OSError as exc:
                    raise LogsUnreadable(f"{f}: cannot read: {exc.strerror}") from None
                with fh:
                    for raw in iter_lines(file_chunks(fh), status, runs=True):
                        if reason := sniffer.reason(raw, raw.count if raw.__class__ is BlankLines else 1):
                            raise LogsUnreadable(f"{f}: {reason}")
                        if not raw.strip():
                            continue
                        lines += 1
                        if raw.__class__ is LongLine or raw.__class__ is CutLine:
                            continue  # over the length limit, or cut by a damaged stream: counted as not an entry
                        try:
                            rec = parse_line(raw.decode("utf-8"))
                        except (UnicodeDecodeError, ParseError):
                            continue  # counted below as not an access-log entry
                        rec["extra_fields"] = " ".join(rec.get("extra_fields") or []) or None
                        rec["account"], rec["region"] = account, region
                        out.write(orjson.dumps(rec))
                        out.write(b"\n")
                        rows += 1
                if status.error:
                    raise LogsUnreadable(f"{f}: {status.error}")
        names = (*COLUMNS, "account", "region")
        columns = "{" + ", ".join(f"'{c}': '{_DUCK_TYPES[column_type(c)]}'" for c in names) + "}"
        con.execute(
            f"""CREATE OR REPLACE TABLE alb_access_logs AS
            SELECT *, strftime(CAST(time AS TIMESTAMP), '%Y/%m/%d') AS day
            FROM read_json(?, format='newline_delimited', columns={columns})""",
            [str(records)],
        )
    lock(con)
    return Loaded(len(files), lines, rows, lines - rows)


def lock(con) -> None:
    """From now on the connection reaches no file and no setting: a query reads the loaded table, nothing else.

    The SQL given to ``athena sql`` is checked to be one query, but DuckDB's own functions
    (``read_csv``, ``COPY``, ``ATTACH``, ``INSTALL``) would reach the disk from one; the
    configuration is locked so that no later statement can turn access back on.
    """
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def quiet_sqlglot() -> None:
    """sqlglot warns on stderr, over several lines, about statements it keeps as text (EXPLAIN, SHOW):
    opswatch says what it refuses in its own one line."""
    import logging

    logging.getLogger("sqlglot").setLevel(logging.ERROR)


def translate(sql: str) -> str:
    """Athena's (Trino) dialect to DuckDB's; exactly one query (SELECT, WITH, UNION, VALUES), nothing else.

    Athena runs DDL and DML too, but the local engine's table is a copy of the logs made for
    reading: a DROP, an INSERT or a second statement after the first (which would be dropped
    silently) is refused as bad input.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    quiet_sqlglot()
    try:
        statements = [s for s in sqlglot.parse(sql, read="trino") if s is not None]
    except (ParseError, TokenError) as exc:
        raise QueryInvalid(f"cannot read the SQL: {_first_line(str(exc))}") from None
    if len(statements) != 1:
        raise QueryInvalid(f"give one query, not {len(statements)} statements")
    [statement] = statements
    if isinstance(statement, exp.Condition) and not isinstance(statement, exp.Query):
        return sql  # a bare expression ("SELEC" reads as a column): no statement at all, DuckDB says where
    if not isinstance(statement, exp.Query | exp.Values):
        kind = statement.key.upper() if statement.key != "command" else str(statement.this).upper()
        raise QueryInvalid(f"only a query (SELECT, WITH, UNION, VALUES) runs here, not {kind}")
    return statement.sql(dialect="duckdb")


def run(con, sql: str, params: list[object], timeout: float | None = DEFAULT_TIMEOUT) -> tuple[list[str], list[tuple]]:
    """Run Athena-dialect ``sql`` with positional ``params``; returns (column names, rows).

    DuckDB runs the query in C without giving the interpreter a chance to see Ctrl-C, so the query
    runs on a worker thread while this one waits: Ctrl-C here, or ``timeout`` seconds passing,
    interrupts the connection (``interrupt()`` is DuckDB's thread-safe way to stop a running query).
    Ctrl-C is raised again as ``KeyboardInterrupt`` once the query has stopped; the time limit
    raises :class:`QueryStopped`.
    """
    import signal
    import threading

    import duckdb

    translated = translate(sql)
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            cur = con.execute(translated, params)
            outcome["result"] = ([d[0] for d in cur.description], cur.fetchall())
        except BaseException as exc:  # handed to the waiting thread, which decides what it means
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="opswatch-duckdb", daemon=True)
    # start() waits for the thread to run, and Ctrl-C landing in that wait would leave the thread on its way
    # into DuckDB unseen (a process leaving with a thread inside DuckDB aborts): Ctrl-C is held until the
    # thread is known to be running, then delivered where it is handled.
    hold = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    if hold:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        try:
            worker.start()
        finally:
            if hold:  # a Ctrl-C held meanwhile is raised here, inside the handling below
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        worker.join(timeout)
    except KeyboardInterrupt:
        _stop(con, worker)
        raise
    if worker.is_alive():
        _stop(con, worker)
        if "error" in outcome:  # interrupted, as asked (a query finishing in that instant keeps its rows)
            raise QueryStopped(f"query stopped after {timeout:g} s (--timeout)")
    error = outcome.get("error")
    if isinstance(error, duckdb.ParserException | duckdb.SyntaxException | duckdb.BinderException
                  | duckdb.CatalogException | duckdb.PermissionException):  # fmt: skip
        raise QueryInvalid(f"the local engine cannot run the query: {_first_line(str(error))}") from None
    if isinstance(error, duckdb.Error):
        raise LocalError(f"the local engine refused the query: {_first_line(str(error))}") from None
    if error is not None:
        raise error
    return outcome["result"]  # type: ignore[return-value]


def _stop(con, worker) -> None:
    """Interrupt until the worker ends: an interrupt sent before DuckDB started the query would be lost."""
    while worker.is_alive():
        con.interrupt()
        worker.join(0.05)


_MESSAGE_LIMIT = 300  # characters of an engine message quoted back: a long query can make a long message


def _first_line(message: str) -> str:
    """The first line of an engine's message, bounded and printable (DuckDB adds the query and a caret below)."""
    from chalicelib.printable import shown

    first = shown(message.strip().split("\n", 1)[0])
    return first if len(first) <= _MESSAGE_LIMIT else first[: _MESSAGE_LIMIT - 1] + "…"
