"""What ``opswatch doctor`` says about a hostile Slack secret: a bounded one-line reason, never its value.

Secrets Manager holds up to 64 KiB; the checks judge whatever is there (deep JSON, thousands of keys,
binary-looking text) in a child process under memory and time bounds.
"""

from __future__ import annotations

import json

from tests.bounded import run_code

CASES = {
    "deep": "[" * 32000 + "]" * 32000,
    "many-keys": json.dumps({f"key{i}-SECRETPART": "x" for i in range(4000)}),
    "binary": "\x00\xff" * 30000,
    "huge-url": json.dumps({"webhook_url": "ftp://SECRETPART" + "a" * 60000}),
}


def test_hostile_secrets_get_a_short_reason_and_never_their_value():
    code = """
import json
from chalicelib.doctor.slackflow import _judge
for name, value in json.loads(sys.stdin.read()).items():
    print(json.dumps([name, _judge(value, "webhook", "opswatch/prod/slack")]))
"""
    r = run_code(code, seconds=30, address_space_mb=1024, stdin=json.dumps(CASES).encode())
    assert r.returncode == 0, r.stderr
    said = dict(json.loads(line) for line in r.stdout.splitlines())
    assert said["deep"] == "the secret opswatch/prod/slack is JSON nested too deeply to read"
    assert said["binary"] == 'the secret opswatch/prod/slack is not JSON (expected {"webhook_url": ...})'
    assert said["many-keys"].endswith("not 'webhook_url' (webhook mode)")
    assert said["huge-url"].startswith("the secret opswatch/prod/slack (webhook_url) is not a webhook URL")
    for reason in said.values():
        assert len(reason) < 800 and "a" * 100 not in reason
    assert "SECRETPART" not in said["huge-url"]
    assert r.peak_rss_mb < 300, r.peak_rss_mb
