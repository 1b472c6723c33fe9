"""``opswatch logs rules|test-rules`` and ``opswatch slack render`` for CloudWatch Logs events: output and exit codes."""

from __future__ import annotations

import gzip
import json

from chalicelib.logalerts.payload import encode
from tests.conftest import DATA, opswatch

REFERENCE = [json.loads(x) for x in (DATA / "logs" / "oom-and-timeouts.jsonl").read_text().splitlines()]


def cli(*args, stdin=None, **env):
    return opswatch(*args, stdin=stdin, OPSWATCH_STAGE="local", **env)


def test_rules_lists_builtin_and_configured_rules():
    user = json.dumps([{"name": "deadlock", "severity": "warning", "pattern": '"deadlock detected"'}])
    r = cli("logs", "rules", "--format", "json", OPSWATCH_LOG_ALERT_RULES=user)
    assert r.returncode == 0, r.stderr
    rules = [json.loads(x) for x in r.stdout.splitlines()]
    assert rules[0] == {
        "name": "linux-oom-killer",
        "severity": "critical",
        "description": "The Linux kernel (or systemd) killed a process to free memory.",
        "patterns": [rules[0]["patterns"][0]],
        "source": "built-in",
    }
    assert rules[-1]["name"] == "deadlock" and rules[-1]["source"] == "OPSWATCH_LOG_ALERT_RULES #1"
    text = cli("logs", "rules").stdout
    assert "lambda-memory-at-limit  [warning]" in text and "and:     Max Memory Used >= Memory Size" in text
    assert "subscription filter pattern (" in text and '?"JavaScript heap out of memory"' in text


def test_test_rules_over_gzip_and_plain_files(tmp_path):
    plain = tmp_path / "app.log"
    plain.write_text("\n".join(c["line"].replace("\n", " ") for c in REFERENCE) + "\n")
    zipped = tmp_path / "app.log.gz"
    zipped.write_bytes(gzip.compress(b"GET / 200\nOOMKilled\n"))
    r = cli("logs", "test-rules", str(plain), str(zipped), "--format", "json")
    assert r.returncode == 0, r.stderr
    hits = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(hits) == sum(c["is_event"] for c in REFERENCE) + 1  # each event once, no near miss
    assert hits[-1] == {
        "file": str(zipped),
        "line": 2,
        "rule": "kubernetes-oom-killed",
        "severity": "critical",
        "message": "OOMKilled",
    }
    assert r.stderr.startswith(f"{len(REFERENCE) + 2} lines: ")


def test_test_rules_exit_codes(tmp_path):
    assert cli("logs", "test-rules", "-", stdin="all is well\nbedroom zoom\n").returncode == 1
    r = cli("logs", "test-rules", "-", "--rules", "go-out-of-memory", stdin="OOMKilled\n")
    assert r.returncode == 1 and "no rule matched" in r.stdout
    assert cli("logs", "test-rules", str(tmp_path / "missing.log")).returncode == 2
    bad = json.dumps([{"name": "x", "severity": "info", "pattern": "{ $.a = }"}])
    r = cli("logs", "test-rules", "-", stdin="x\n", OPSWATCH_LOG_ALERT_RULES=bad)
    assert r.returncode == 2 and "rule 'x': invalid filter pattern at position" in r.stderr
    broken = tmp_path / "cut.gz"
    broken.write_bytes(gzip.compress(b"OOMKilled\n" * 1000)[:60])
    r = cli("logs", "test-rules", str(broken))
    assert r.returncode == 2 and "unreadable after line" in r.stderr


# A lone \r inside a line (a progress bar, a Windows tool), CRLF endings and blank lines: the numbers stay the
# file's own, as an editor or `sed -n 5p` counts them.
RAGGED = b"starting\rstill starting\r\n\n\nOOMKilled\r\nfine\n\nkilled: OOMKilled again\n"


def test_test_rules_reports_the_files_own_line_numbers(tmp_path):
    for name, data in {"ragged.log": RAGGED, "ragged.log.gz": gzip.compress(RAGGED)}.items():
        f = tmp_path / name
        f.write_bytes(data)
        r = cli("logs", "test-rules", str(f), "--rules", "kubernetes-oom-killed", "--format", "json")
        assert r.returncode == 0, r.stderr
        assert [(h["line"], h["message"]) for h in map(json.loads, r.stdout.splitlines())] == [
            (4, "OOMKilled"),
            (7, "killed: OOMKilled again"),
        ]
        assert r.stderr.startswith("7 lines: 2 x kubernetes-oom-killed")
    r = cli("logs", "test-rules", "-", stdin="OOMKilled\n")
    assert r.stdout.splitlines()[-1].startswith("1 line: ")  # not "1 lines"


def test_test_rules_cuts_a_huge_line_and_says_so(tmp_path):
    from chalicelib.cli.lines import MAX_LINE

    f = tmp_path / "huge.log"
    f.write_bytes(b"x" * (3 * MAX_LINE) + b" OOMKilled\nOOMKilled\n")
    r = cli("logs", "test-rules", str(f), "--rules", "kubernetes-oom-killed")
    assert r.returncode == 0 and f"{f}:1: longer than {MAX_LINE:,} bytes, cut there" in r.stderr
    assert r.stdout.splitlines()[0].startswith(f"{f}:2: kubernetes-oom-killed")


def test_test_rules_refuses_an_endless_binary_file_at_once():
    import subprocess
    import sys

    # /dev/zero: one endless line of NUL bytes; judged binary on its first bytes, not drained forever.
    r = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli.main", "logs", "test-rules", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        r.returncode == 2 and r.stderr == "opswatch: /dev/zero: binary data (a NUL byte in line 1); is it a log file?\n"
    )


def test_slack_render_shows_the_log_alert_as_the_lambda_posts_it(tmp_path):
    f = tmp_path / "event.json"
    messages = ["JavaScript heap out of memory <!channel>", "GET / 200"]
    f.write_text(
        json.dumps(
            encode(
                {
                    "messageType": "DATA_MESSAGE",
                    "owner": "123456789012",
                    "logGroup": "/ecs/web",
                    "logStream": "web/1",
                    "subscriptionFilters": ["opswatch-log-alerts"],
                    "logEvents": [
                        {"id": str(i), "timestamp": 1764213129000, "message": m} for i, m in enumerate(messages)
                    ],
                }
            )
        )
    )
    r = cli("slack", "render", str(f), AWS_REGION="eu-west-1")
    assert r.returncode == 0, r.stderr
    [payload] = [json.loads(x) for x in r.stdout.splitlines()]
    assert payload["text"].startswith("CRITICAL node-heap-out-of-memory: 1 event in /ecs/web")
    assert "<!channel>" not in r.stdout and "eu-west-1.console.aws.amazon.com" in r.stdout
    nothing = cli("slack", "render", str(DATA / "events" / "aws-lambda-go__cloudwatch-logs-event.json"))
    assert nothing.returncode == 0 and nothing.stdout == "" and "nothing to post" in nothing.stderr


def test_test_rules_refuses_a_file_that_is_not_text(tmp_path):
    # A PNG and a log with a NUL byte deep inside were read as lines (each with U+FFFD), and a rule could match.
    png = tmp_path / "shot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\nOOMKilled\n")
    nul = tmp_path / "nul.log.gz"
    nul.write_bytes(gzip.compress(b"fine\n" * 5000 + b"OOMKilled\x00\n"))
    for f, said in [(png, "not UTF-8 text (line 1)"), (nul, "binary data (a NUL byte in line 5,001)")]:
        r = cli("logs", "test-rules", str(f))
        assert r.returncode == 2 and r.stdout == "", r
        assert r.stderr == f"opswatch: {f}: {said}; is it {'compressed or binary' if f is png else 'a log file'}?\n"
    # A stray byte past the file's head is a log line's own business: replaced, and the file is read.
    stray = tmp_path / "stray.log"
    stray.write_bytes(b"fine\n" * 5000 + b"caf\xe9 OOMKilled\n")
    r = cli("logs", "test-rules", str(stray), "--rules", "kubernetes-oom-killed")
    assert r.returncode == 0 and f"{stray}:5001: kubernetes-oom-killed" in r.stdout, r.stderr
