"""``opswatch filters test``: the TestMetricFilter contract, locally and remotely."""

from __future__ import annotations

import json
import os
import subprocess
import sys

APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'


def cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=os.environ.copy(),
    )


def test_json_output_is_the_test_metric_filter_response(tmp_path):
    f = tmp_path / "events.log"
    f.write_text('{"elb_status_code": 502}\n{"elb_status_code": 200}\n\nnot json\n{"elb_status_code": 504}\n')
    r = cli("filters", "test", "--pattern", "{ $.elb_status_code >= 500 }", "--events", str(f), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "matches": [
            {"eventNumber": 1, "eventMessage": '{"elb_status_code": 502}', "extractedValues": {}},
            {
                "eventNumber": 5,
                "eventMessage": '{"elb_status_code": 504}',
                "extractedValues": {},
            },  # its line in the file
        ]
    }


def test_events_from_options_and_stdin_with_extracted_values():
    r = cli(
        "filters",
        "test",
        "--pattern",
        "[..., status_code = 4*, bytes]",
        "--event",
        APACHE,
        "--event",
        "x y",
        "--format",
        "json",
    )
    [m] = json.loads(r.stdout)["matches"]
    assert m["eventNumber"] == 1 and m["extractedValues"]["$status_code"] == "404"
    r = cli("filters", "test", "--pattern", "ERROR", "--events", "-", stdin="ok\nERROR here\n")
    assert "MATCH  2: ERROR here" in r.stdout and "1 of 2 events matched" in r.stdout


def test_no_match_exits_1_and_bad_pattern_exits_2():
    assert cli("filters", "test", "--pattern", "ERROR", "--event", "fine").returncode == 1
    r = cli("filters", "test", "--pattern", "{ $.a = }", "--event", "x")
    assert r.returncode == 2 and "position 9" in r.stderr
    assert cli("filters", "test", "--pattern", "ERROR").returncode == 2


def test_remote_calls_test_metric_filter_and_reports_its_error(aws):
    r = cli("filters", "test", "--pattern", "ERROR", "--event", "ERROR x", "--remote")
    # moto has no TestMetricFilter: the call is made and its refusal is reported plainly.
    assert r.returncode == 2
    assert "CloudWatch Logs TestMetricFilter failed" in r.stderr


def test_events_are_numbered_by_their_line_in_the_file(tmp_path):
    # A lone \r is part of its line (not a second event); blank lines are not events but keep their numbers.
    f = tmp_path / "events.log"
    f.write_bytes(b"ERROR one\rcontinued\r\n\n\nfine\nERROR two\n")
    r = cli("filters", "test", "--pattern", "ERROR", "--events", str(f), "--format", "json")
    assert [(m["eventNumber"], m["eventMessage"]) for m in json.loads(r.stdout)["matches"]] == [
        (1, "ERROR one\rcontinued"),
        (5, "ERROR two"),
    ]
    r = cli("filters", "test", "--pattern", "ERROR", "--events", str(f))
    lines = r.stdout.splitlines()
    assert (
        lines[0] == "MATCH  1: ERROR one\\rcontinued"
        and lines[1] == "no     4: fine"
        and lines[2] == "MATCH  5: ERROR two"
    )
    assert lines[-1] == "2 of 3 events matched"


def test_a_gzip_events_file_is_read_and_a_binary_one_refused(tmp_path):
    import gzip

    f = tmp_path / "events.log.gz"
    f.write_bytes(gzip.compress(b"ok\nERROR here\n"))
    r = cli("filters", "test", "--pattern", "ERROR", "--events", str(f))
    assert r.returncode == 0 and "MATCH  2: ERROR here" in r.stdout and "1 of 2 events matched" in r.stdout
    b = tmp_path / "image.png"
    b.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    r = cli("filters", "test", "--pattern", "ERROR", "--events", str(b))
    assert (
        r.returncode == 2
        and r.stderr.strip() == f"opswatch: {b}:1: not UTF-8 text (byte 0); is it compressed or binary?"
    )
    r = cli("filters", "test", "--pattern", "ERROR", "--event", "x")
    assert r.stdout.splitlines()[-1] == "0 of 1 event matched"  # not "1 events"


def test_hints_for_a_malformed_json_event_and_a_pattern_without_its_brace():
    r = cli("filters", "test", "--pattern", "{ $.status = 500 }", "--event", '{"status": 500', "--event", "[1]",
            "--event", '{"status": 500}')  # fmt: skip
    lines = r.stdout.splitlines()
    assert (
        lines[0]
        == 'no     1: {"status": 500   (not valid JSON at character 15: a JSON pattern matches JSON objects only)'
    )
    assert lines[1] == "no     2: [1]   (not a JSON object: a JSON pattern matches JSON objects only)"
    assert lines[2] == 'MATCH  3: {"status": 500}' and r.returncode == 0
    r = cli("filters", "test", "--pattern", "{ $.status = 500 }", "--event", "{bad", "--format", "json")
    assert json.loads(r.stdout) == {"matches": []} and r.returncode == 1
    assert "opswatch: hint: event 1: not valid JSON at character 2" in r.stderr
    for pattern in ("$.status = 500 }", "$.status = 500"):
        r = cli("filters", "test", "--pattern", pattern, "--event", '{"status": 500}')
        assert r.returncode == 1
        assert "read as unstructured terms, not as a JSON pattern" in r.stderr and "'{ $.status = 500 }'" in r.stderr
    r = cli("filters", "test", "--pattern", "ERROR", "--event", "ERROR")
    assert r.stderr == ""  # no hint where none helps
