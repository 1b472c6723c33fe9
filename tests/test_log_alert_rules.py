"""Log-alert rules on real lines, the derived subscription pattern, payload decoding and the Slack message."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from chalicelib.filters import compile_pattern
from chalicelib.logalerts.alerts import collect
from chalicelib.logalerts.payload import LogBatch, LogEvent, PayloadError, decode, encode
from chalicelib.logalerts.prefilter import anchors_of_regex, derive
from chalicelib.logalerts.render import render_alert
from chalicelib.logalerts.rules import RuleError, active_rules, builtin_rules, load_file, rule_from_dict
from chalicelib.slack.message import SlackMessage
from tests.conftest import DATA

REFERENCE = [json.loads(line) for line in (DATA / "logs" / "oom-and-timeouts.jsonl").read_text().splitlines()]
RULES = active_rules()

# The rule each reference line's kind is expected to fire. Decisions where the reference's kind and our
# rule differ: node-problem-detector forwards the kernel's "Memory cgroup out of memory" line, which is the
# Linux OOM killer's own wording, so the Linux rule (not the Kubernetes one) names it.
EXPECTED = {
    "linux_oom_killer": {"linux-oom-killer"},
    "java": {"java-out-of-memory"},
    "python": {"python-memory-error"},
    "node": {"node-heap-out-of-memory"},
    "go": {"go-out-of-memory"},
    "aws_lambda": {"lambda-out-of-memory", "lambda-memory-at-limit", "lambda-timeout"},
    "ecs": {"ecs-container-oom"},
    "kubernetes": {"kubernetes-oom-killed", "linux-oom-killer"},
    "dotnet": {"dotnet-out-of-memory"},
    "ruby": {"ruby-no-memory"},
    "php": {"php-memory-exhausted"},
}


@pytest.mark.parametrize("case", REFERENCE, ids=[f"{c['kind']}-{i}" for i, c in enumerate(REFERENCE)])
def test_reference_line_alerts_exactly_when_it_is_an_event(case):
    fired = {r.name for r in RULES.matching(case["line"])}
    if case["is_event"]:
        assert len(fired) == 1, fired  # one line, one message: no two rules claim the same line
        assert fired <= EXPECTED[case["kind"]], (case["line"], fired)
    else:
        # Near misses, including the reference's judgement calls: a REPORT line below its limit, exit 137
        # without OOMKilled (Kubernetes and Lambda), a task that exited without saying why.
        assert not fired, (case["line"], fired)


@pytest.mark.parametrize(
    "line",
    [
        "Setting oom_score_adj to -999 for pid 4211",
        "JVM arguments [-Xmx2g, -XX:+HeapDumpOnOutOfMemoryError, -XX:HeapDumpPath=/tmp]",
        "registered io.netty.OutOfMemoryErrorHandler",
        "installed MemoryErrorHandler for worker 3",
        "booked the bedroom for the zoom call",
        "REPORT RequestId: 1\tDuration: 10.1 ms\tBilled Duration: 11 ms\tMemory Size: 1024 MB\tMax Memory Used: 1023 MB",
        "",
        "\x00\x01\x02 binary \xff",
    ],
)
def test_near_misses_do_not_alert(line):
    assert RULES.matching(line) == []


def test_report_line_at_or_over_its_limit_alerts_and_names_the_rule():
    line = "REPORT RequestId: 9\tDuration: 5.0 ms\tBilled Duration: 5 ms\tMemory Size: 256 MB\tMax Memory Used: 256 MB"
    assert [r.name for r in RULES.matching(line)] == ["lambda-memory-at-limit"]
    assert [r.name for r in RULES.matching(line.replace("Used: 256", "Used: 257"))] == ["lambda-memory-at-limit"]


def test_every_builtin_rule_is_a_cloudwatch_pattern_and_its_samples_hold():
    for rule in builtin_rules():
        assert rule.patterns and rule.sample_matches and rule.sample_misses
        for p in rule.patterns:
            assert compile_pattern(p.text).text == p.text  # the engine accepts it as CloudWatch would
        rule.verify_samples()
    assert [r.name for r in builtin_rules() if r.check] == ["lambda-memory-at-limit"]  # code only where needed


def test_derived_pattern_lets_through_every_sample_and_reference_event():
    derived = derive(RULES)
    assert derived.broad_rules == () and 0 < len(derived.pattern) <= 1024
    subscription = compile_pattern(derived.pattern)
    for rule in RULES.rules:
        for sample in rule.sample_matches:
            assert subscription.match(sample) is not None, (rule.name, sample)
    for case in REFERENCE:
        if case["is_event"]:
            assert subscription.match(case["line"]) is not None, case["line"]
    assert subscription.match("GET /health 200 OK") is None  # ordinary lines never reach the Lambda


def test_derived_pattern_falls_back_to_every_event_and_names_the_rule():
    rules = active_rules(json.dumps([{"name": "json-5xx", "severity": "info", "pattern": "{ $.status >= 500 }"}]))
    derived = derive(rules)
    assert derived.pattern == "" and derived.broad_rules == ("json-5xx",)


@pytest.mark.parametrize(
    ("regex", "anchors"),
    [
        (r"deadlock detected", ["deadlock detected"]),
        (r"^ERROR\s[0-9]{3}$", ["ERROR"]),
        (r"colou?r", ["colo"]),
        (r"a+bc|xyz", ["abc", "xyz"]),
        (r"10\.10\.0\.1", ["10.10.0.1"]),
        (r"(?i)timeout", None),  # case-insensitive: no literal is safe
        (r"\d+", None),
        (r"payment (failed|declined) for", ["payment "]),
    ],
)
def test_regex_anchors(regex, anchors):
    assert anchors_of_regex(regex) == anchors


def test_user_rules_from_config_and_yaml_file(tmp_path):
    spec = tmp_path / "rules.yaml"
    spec.write_text(
        """
rules:
  - name: payments-deadlock
    severity: critical
    description: Postgres gave up on a transaction
    pattern: '"deadlock detected"'
    channel: '#payments'
    mention: here
    samples:
      match: ['ERROR:  deadlock detected']
      no_match: ['no deadlock here']
  - name: java-out-of-memory      # replaces the built-in rule of that name
    severity: warning
    regex: 'OutOfMemoryError: (Java heap|Metaspace)'
"""
    )
    env = json.dumps([{"name": "slow-query", "severity": "info", "regex": r"duration: \d{4,} ms"}])
    rules = active_rules(env, str(spec), disabled=("lambda-timeout",))
    names = [r.name for r in rules.rules]
    assert "lambda-timeout" not in names and names[-3:] == ["slow-query", "payments-deadlock", "java-out-of-memory"]
    java = rules.by_names(["java-out-of-memory"]).rules[0]
    assert java.severity == "warning" and not java.builtin
    assert java.matches("java.lang.OutOfMemoryError: Metaspace") and not java.matches("OutOfMemoryError: GC")
    assert [p.text for p in java.patterns] == ['"OutOfMemoryError: "']  # the prefilter derived from the regex
    slow = rules.by_names(["slow-query"]).rules[0]
    assert slow.matches("duration: 12000 ms") and not slow.matches("duration: 12 ms")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"name": "x", "severity": "critical", "pattern": "{ $.status >= }"},
            "rule 'x': invalid filter pattern at position",
        ),
        ({"name": "x", "severity": "critical", "pattern": "%a(b)%"}, "rule 'x': invalid filter pattern at position 3"),
        ({"name": "x", "severity": "critical", "regex": "a(b"}, "rule 'x': regex does not compile at position 2"),
        ({"name": "x", "severity": "critical", "regex": r"\d+"}, "no literal text in the regex"),
        # Repeated groups, or \b with a repetition, stay on Python's re, which backtracks: refused.
        (
            {"name": "x", "severity": "info", "regex": "oom(a+)+b"},
            "cannot run in linear time (a group repeated without",
        ),
        ({"name": "x", "severity": "info", "regex": "oom(x|y)*z"}, "Write a repeated group out (x(a|b)*y as x[ab]*y"),
        (
            {"name": "x", "severity": "info", "regex": r"\boom\b.*killed"},
            "cannot run in linear time (assertion \\b) and repeats",
        ),
        ({"name": "x", "severity": "info", "regex": r"(oom)\1+"}, "(back-reference \\1)"),
        ({"name": "x", "severity": "urgent", "pattern": "a"}, "severity must be one of critical, warning, info"),
        ({"name": "x", "severity": "info"}, "needs a pattern"),
        ({"name": "x y", "severity": "info", "pattern": "a"}, "name must be 1-64 letters"),
        ({"name": "x", "severity": "info", "pattern": "a", "colour": "red"}, "unknown key(s) colour"),
        ({"name": "x", "severity": "info", "pattern": "a", "mention": "@bob"}, "mention '@bob'"),
        ({"name": "x", "severity": "info", "pattern": "a", "samples": {"match": ["b"]}}, "samples.match[1] does not"),
        (
            {"name": "x", "severity": "info", "pattern": "a", "samples": {"no_match": ["xa"]}},
            "samples.no_match[1] matches",
        ),
        ({"name": "x", "severity": "info", "pattern": ""}, "pattern 1 must be non-empty text"),
        ("just a string", "a rule must be a mapping"),
    ],
)
def test_malformed_user_rules_are_refused_with_name_and_reason(rule, message):
    with pytest.raises(RuleError) as err:
        rule_from_dict(rule, "rules.yaml #1")
    assert str(err.value).startswith("rules.yaml #1") and message in str(err.value)


def test_a_rules_file_is_read_within_a_bound_not_whole(tmp_path):
    # "[" + 2 MB of spaces + "]" is valid JSON (no rules): it must be refused by its size, not read and parsed whole.
    big = tmp_path / "rules.json"
    big.write_text("[" + " " * 2 * 1024 * 1024 + "]")
    with pytest.raises(RuleError, match=r"rules.json: larger than 1,048,576 characters"):
        load_file(str(big))


def test_rule_files_and_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [name: x")
    with pytest.raises(RuleError, match="not valid YAML"):
        load_file(str(bad))
    with pytest.raises(RuleError, match="cannot read the rules file"):
        load_file(str(tmp_path / "missing.json"))
    dup = json.dumps([{"name": "a", "severity": "info", "pattern": "x"}] * 2)
    with pytest.raises(RuleError, match="'a' is already defined at OPSWATCH_LOG_ALERT_RULES #1"):
        active_rules(dup)
    with pytest.raises(RuleError, match="OPSWATCH_LOG_ALERT_RULES is not JSON"):
        active_rules("[{")
    with pytest.raises(RuleError, match="no built-in rule named nope"):
        active_rules(disabled=("nope",))


def _payload(events, group="/ecs/shop-api", stream="web/1", kind="DATA_MESSAGE") -> dict:
    return {
        "messageType": kind,
        "owner": "123456789012",
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": ["opswatch-log-alerts"],
        "logEvents": [{"id": str(i), "timestamp": ts, "message": m} for i, (ts, m) in enumerate(events)],
    }


def test_reference_payloads_decode():
    event = json.loads((DATA / "events" / "aws-lambda-go__cloudwatch-logs-event.json").read_text())
    batch = decode(event)
    assert (batch.owner, batch.log_group, batch.log_stream) == ("123456789123", "testLogGroup", "testLogStream")
    assert [e.message for e in batch.events] == ["[ERROR] First test message", "[ERROR] Second test message"]
    control = json.loads(
        (DATA / "events" / "thirdparty-unidentified-repo__cwl_control_message_base64gzip_and_decoded.json").read_text()
    )
    assert decode({"awslogs": {"data": control["data"]}}).control


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ({}, "not a CloudWatch Logs subscription event"),
        ({"awslogs": {"data": ""}}, "missing or not text"),
        ({"awslogs": {"data": "%%%not base64"}}, "not base64"),
        ({"awslogs": {"data": base64.b64encode(b"plain text").decode()}}, "not gzip"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b'{"a": 1}')[:-12]).decode()}}, "truncated gzip"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"\xff\xfe not json")).decode()}}, "not JSON"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"[1, 2]")).decode()}}, "no messageType"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b" " * (65 * 1024 * 1024))).decode()}}, "more than"),
    ],
)
def test_undecodable_payloads_say_which_step_failed(event, why):
    with pytest.raises(PayloadError, match=why.replace("[", r"\[").replace("]", r"\]")):
        decode(event)


def test_a_malformed_event_is_left_out_with_its_reason_and_the_rest_still_count():
    batch = decode(
        encode(
            {
                "messageType": "DATA_MESSAGE",
                "logEvents": [
                    {"timestamp": 1},
                    {"message": "m", "timestamp": "1"},
                    {"id": "3", "timestamp": 5, "message": "OOMKilled"},
                ],
            }
        )
    )
    assert [e.message for e in batch.events] == ["OOMKilled"]
    assert batch.malformed == ("logEvents[0] has no message text", "logEvents[1] has no integer timestamp")


def test_one_alert_per_log_group_and_rule_across_groups():
    a = LogBatch(
        "1",
        "/ecs/shop-api",
        "web/1",
        (),
        tuple(
            LogEvent(str(i), 1_000 + i, m)
            for i, m in enumerate(
                [
                    "fatal error: out of memory",
                    "GET / 200",
                    "JavaScript heap out of memory",
                    "fatal error: out of memory",
                ]
            )
        ),
        False,
    )
    b = LogBatch("1", "/aws/lambda/thumbs", "s", (), (LogEvent("x", 5, "Task timed out after 3.00 seconds"),), False)
    c = LogBatch("1", "/ecs/shop-api", "web/2", (), (LogEvent("y", 900, "fatal error: out of memory"),), False)
    got = collect([a, b, c], RULES)
    assert (got.events, got.matched) == (6, 5)
    summary = [(x.log_group, x.rule.name, x.count, x.first_ms, x.first_stream) for x in got.alerts]
    assert summary == [
        ("/aws/lambda/thumbs", "lambda-timeout", 1, 5, "s"),
        ("/ecs/shop-api", "node-heap-out-of-memory", 1, 1002, "web/1"),
        ("/ecs/shop-api", "go-out-of-memory", 3, 900, "web/2"),
    ]
    assert got.alerts[2].streams == {"web/1": 2, "web/2": 1}


def _texts(msg: SlackMessage) -> str:
    payload = msg.payload("#alerts")
    blocks = payload["attachments"][0]["blocks"]
    out = [payload["text"]]
    for b in blocks:
        out += [b["text"]["text"]] if "text" in b else []
        out += [f["text"] for f in b.get("fields", [])] + [e["text"] for e in b.get("elements", [])]
    return "\n".join(out)


def test_message_is_readable_escaped_and_within_limits():
    evil = "<!channel> java.lang.OutOfMemoryError: Java heap space " + "x" * 5000
    events = [
        (1764213129000 + i * 1000, evil if i == 0 else "java.lang.OutOfMemoryError: Metaspace") for i in range(10_000)
    ]
    batch = decode(encode(_payload(events, group="/app/<!here>", stream="pod-1")))
    [alert] = collect([batch], RULES).alerts
    msg = render_alert(alert, "eu-west-1", "<!here>", held=37, held_since=1764212000000, cooldown_seconds=900)
    text = _texts(msg)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "/app/&lt;!here&gt;" in text
    assert text.startswith("CRITICAL java-out-of-memory: 10000 events in /app/&lt;!here&gt;, 2025-11-27 03:12:09 UTC")
    assert "<!here> *CRITICAL* · A JVM ran out of memory" in text  # the one mention, from the route
    assert "First 3 of 10000" in text and "x" * 600 not in text  # three samples, each cut
    assert "→ 05:58:48" in text  # first → last, the date said once
    assert "`pod-1` (10000)" in text
    assert "37 events of this rule here held back by the cooldown (15 minutes) since 2025-11-27 02:53:20 UTC" in text
    assert "eu-west-1.console.aws.amazon.com" in text and "log-events/pod-1$3Fstart$3D1764213129000" in text
    assert (
        "logs-insights$3FqueryDetail$3D~(end~'2025-11-27T05*3a59*3a48.000Z~start~'2025-11-27T03*3a07*3a09.000Z" in text
    )
    payload = msg.payload("#alerts")
    assert len(json.dumps(payload)) < 40_000 and len(payload["attachments"][0]["blocks"]) <= 50


def test_message_says_when_cooldown_state_was_unavailable():
    batch = decode(encode(_payload([(5_000, "OOMKilled")])))
    [alert] = collect([batch], RULES).alerts
    text = _texts(render_alert(alert, None, state_error="ResourceNotFoundException"))
    assert "cooldown state unavailable (ResourceNotFoundException)" in text
    assert "console.aws" not in text  # no region, no links rather than wrong ones


def test_a_regex_nested_past_the_limit_is_refused_in_one_line():
    # A thousand nested groups were a RecursionError traceback from re's parser (and `logs rules` crashed).
    deep = "(" * 1000 + "oom" + ")" * 1000
    with pytest.raises(RuleError, match="regex does not compile at position 1: groups nested deeper than 50 levels"):
        rule_from_dict({"name": "deep", "severity": "info", "pattern": '"oom"', "regex": deep}, "test")
    assert rule_from_dict({"name": "ok", "severity": "info", "regex": r"\(" * 100 + "oom"}, "test")  # not groups
