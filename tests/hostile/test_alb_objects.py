"""Hostile ALB log objects: gzip bombs and huge lines keep memory flat and time bounded.

The same reader serves ``opswatch alb parse``, ``opswatch alb ship`` (the Lambda's
pipeline) and ``opswatch athena --engine local``; each runs here in a child process
under an address-space limit and a wall-clock limit (``tests/bounded.py``), on:

- a 48 KB gzip of nothing but newlines (about 50 million empty lines);
- a 1 MB compressed chunk of ALB lines with 16 KB request URLs (about 160:1);
- a single line of 300 MB.

Before the bounded reader, the first took ``alb parse`` to 492 MB and 420 s, and the
second to over 1 GB: each dies here on the memory limit.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib

import pytest

from tests.alb_lines import line
from tests.bounded import run_code

MEMORY_MB = 200  # address space of each child: the interpreter and imports take about 60
SECONDS = 90
RSS_MB = 120  # peak resident memory each run must stay under


def _gzip_of(blocks) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return b"".join([*(c.compress(b) for b in blocks), c.flush()])


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile-alb")
    newline_mib = 49  # 49 MiB of newlines compress to about 48 KB
    (d / "newlines.log.gz").write_bytes(_gzip_of(b"\n" * (1 << 20) for _ in range(newline_mib)))
    (d / "crlf.log.gz").write_bytes(_gzip_of(b"\r\n" * (1 << 19) for _ in range(newline_mib)))  # half the lines
    # Request URLs are whoever sends the requests' to choose: 16 KB of them, varied a little per line.
    rng = random.Random(17)
    c = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    out, size, n, raw = [], 0, 0, 0
    while size < 1_000_000:
        path = "".join(f"{rng.getrandbits(32):08x}/" + "a" * 1600 for _ in range(10))[:16_000]
        b = (line(1_764_000_000 + n, path=path) + "\n").encode()
        piece = c.compress(b)
        out.append(piece)
        size, n, raw = size + len(piece), n + 1, raw + len(b)
    out.append(c.flush())
    (d / "urls.log.gz").write_bytes(b"".join(out))
    (d / "one-line.log.gz").write_bytes(_gzip_of([*(b"x" * (1 << 20) for _ in range(300)), b"\nlast\n"]))
    return {
        "dir": d,
        "newlines": newline_mib << 20,
        "url_lines": n,
        "url_ratio": raw / sum(map(len, out)),
    }


# ``opswatch alb parse`` with its standard output counted, not kept: 160 MB of JSON would
# otherwise land in the test's own memory.
_PARSE = """
import io, json, runpy
class Counted(io.RawIOBase):
    lines = size = 0
    def writable(self):
        return True
    def write(self, b):
        self.lines += bytes(b).count(b"\\n")
        self.size += len(b)
        return len(b)
counted = Counted()
sys.stdout = io.TextIOWrapper(io.BufferedWriter(counted))
sys.argv = ["opswatch", "alb", "parse", {path!r}]
code = 0
try:
    runpy.run_module("chalicelib.cli.main", run_name="__main__")
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("RESULT", json.dumps({{"code": code, "lines": counted.lines}}), file=sys.stderr)
"""


def parse(path) -> tuple[dict, list[str], float]:
    r = run_code(_PARSE.format(path=str(path)), seconds=SECONDS, address_space_mb=MEMORY_MB)
    lines = r.stderr.splitlines()
    result = [ln for ln in lines if ln.startswith("RESULT ")]
    assert result, r.stderr[-2000:]
    return json.loads(result[0][7:]), [ln for ln in lines if not ln.startswith("RESULT ")], r.peak_rss_mb


@pytest.mark.parametrize(("name", "per_mib"), [("newlines.log.gz", 1 << 20), ("crlf.log.gz", 1 << 19)])
def test_alb_parse_a_gzip_of_newlines(objects, name, per_mib):
    path = objects["dir"] / name
    assert path.stat().st_size < 60_000
    result, err, peak = parse(path)
    assert peak < RSS_MB and result == {"code": 1, "lines": 0}
    listed = [ln for ln in err if ln.endswith(": empty line")]
    assert len(listed) == 1000 and listed[0] == f"{path}:1: empty line" and listed[-1] == f"{path}:1000: empty line"
    more = objects["newlines"] // (1 << 20) * per_mib - 1000
    assert err[-1] == f"{path}: {more:,} more rejected lines not listed (at most 1,000 are listed per file)"


def test_alb_parse_a_megabyte_of_lines_with_16_kb_urls(objects):
    assert objects["url_ratio"] > 100
    result, err, peak = parse(objects["dir"] / "urls.log.gz")
    assert peak < RSS_MB and not err
    assert result == {"code": 0, "lines": objects["url_lines"]}


def test_alb_parse_a_single_line_of_300_mb(objects):
    path = objects["dir"] / "one-line.log.gz"
    result, err, peak = parse(path)
    assert peak < RSS_MB and result == {"code": 1, "lines": 0}
    assert err[0] == (
        f"{path}:1: line over the length limit: {300 << 20} bytes, over 1048576; only the first 1048576 are kept"
    )
    assert err[1].startswith(f"{path}:2: ") and len(err) == 2


_LOCAL = """
sys.argv = ["opswatch", "athena", "sql", "SELECT count(*) AS n FROM alb_access_logs", "--engine", "local",
            "--logs", {path!r}, "--format", "csv"]
import runpy
runpy.run_module("chalicelib.cli.main", run_name="__main__")
"""


@pytest.mark.parametrize(("name", "lines"), [("newlines.log.gz", 0), ("one-line.log.gz", 2)])
def test_athena_local_reads_the_same_objects_in_flat_memory(objects, name, lines):
    # DuckDB maps more address space than the reader needs: the bound here is on resident memory.
    r = run_code(_LOCAL.format(path=str(objects["dir"] / name)), seconds=SECONDS, address_space_mb=1024)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["n", "0"]
    assert r.peak_rss_mb < 160
    if lines:
        assert f"{lines} of {lines} lines are not ALB access-log entries" in r.stderr


_SHIP = """
import gzip, json, time
import boto3
from chalicelib.alb.keys import classify
from chalicelib.alb.pipeline import ship_object
from chalicelib.alb.reader import file_chunks
obj, _ = classify("b", {key!r})
logs = boto3.client("logs")
with open({path!r}, "rb") as fh:
    r = ship_object(obj, file_chunks(fh), logs, "/opswatch/hostile")
stored = logs.get_log_events(logGroupName="/opswatch/hostile", logStreamName="rejected/" + obj.stream_name,
                             startFromHead=True, limit=10000)["events"]
print(json.dumps({{**r.as_dict(), "stored": len(stored)}}))
"""


def test_alb_ship_of_a_gzip_of_newlines_ships_a_capped_sample_and_counts_the_rest(objects, aws):
    from tests.alb_lines import key

    r = run_code(
        _SHIP.format(path=str(objects["dir"] / "newlines.log.gz"), key=key("bomb")),
        seconds=SECONDS,
        address_space_mb=400,  # boto3 maps more than the reader uses; resident memory is bounded below
    )
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    n = objects["newlines"]
    assert report["balanced"] and report["lines"] == n and report["rejected"] == n
    assert report["reject_reasons"] == {"empty line": n}
    assert report["rejects_cap"] == 1000 and report["rejects_over_cap"] == n - 1000
    assert report["stored"] == 1000
    assert r.peak_rss_mb < 160


def test_alb_ship_says_how_many_rejected_lines_past_the_cap_were_counted_but_not_shipped(aws, s3, logs):
    from tests.alb_lines import key
    from tests.conftest import opswatch

    s3.create_bucket(Bucket="junk-logs")
    body = "\n".join([*(f"junk {i}" for i in range(1200)), *(line(path=f"ok/{i}") for i in range(10))])
    k = key("junk")
    s3.put_object(Bucket="junk-logs", Key=k, Body=gzip.compress(body.encode()))
    r = opswatch("alb", "ship", "s3://junk-logs/AWSLogs/", OPSWATCH_ALB_LOG_GROUP="/opswatch/junk")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "lines: 1210 lines, 10 shipped, 0 filtered, 1200 rejected, 0 refused" in r.stdout
    assert (
        "200 rejected lines counted but not shipped to the rejected/ stream (at most 1000 are shipped per object)"
        in r.stdout
    )
    stream = "rejected/" + k.rsplit("/", 1)[-1].removesuffix(".log.gz")
    got = logs.get_log_events(logGroupName="/opswatch/junk", logStreamName=stream, startFromHead=True, limit=10000)
    lines = [json.loads(e["message"])["line"] for e in got["events"]]
    assert sorted(lines) == list(range(1, 1001))  # the first 1,000, each once


def test_a_binary_line_ships_at_most_a_mebibyte_of_text_to_the_rejected_stream():
    # Not UTF-8: the line is shipped as \xNN escapes, four characters a byte. Cut at 1 MiB of text.
    from chalicelib.alb.pipeline import reject_messages

    text = (bytes(range(128, 256)) * 8192).decode("utf-8", "backslashreplace")  # 1 MiB of bytes, 4 MiB of text
    parts = [json.loads(m) for m in reject_messages("s3://b/k", 7, text, "not UTF-8 text: byte 1 is 0x80")]
    raw = "".join(p["raw"] for p in parts)
    assert len(raw.encode()) == 1 << 20 and text.startswith(raw)
    assert all(p["truncated"] and p["line"] == 7 for p in parts)
    assert sum(len(json.dumps(p)) for p in parts) < 1.5 * (1 << 20)  # what CloudWatch ingests


def test_alb_ship_of_a_single_line_of_300_mb_ships_its_first_mebibyte(objects, aws):
    from tests.alb_lines import key

    r = run_code(
        _SHIP.format(path=str(objects["dir"] / "one-line.log.gz"), key=key("one-line")),
        seconds=SECONDS,
        address_space_mb=400,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["balanced"] and report["lines"] == 2 and report["rejected"] == 2
    assert report["reject_reasons"]["line over the length limit"] == 1
    assert 20 < report["stored"] < 40  # 1 MiB of the line in parts, and the line after it
    assert r.peak_rss_mb < 160, r.peak_rss_mb
