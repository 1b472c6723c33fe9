"""awslogs payloads built to exhaust the log_alerts function (128 MB): refused or cut, counted, memory flat.

Each payload goes through ``handle_logs_event`` in a child process (``tests/bounded.py``), which reports
its peak RSS: the bound asserted is the function's own memory. Before the bounds, the first payload (a
few KB of gzip, 1.4 million empty events) took the decoding past 500 MB.
"""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from chalicelib.logalerts.payload import MAX_DECODED_BYTES, MAX_EVENTS, MAX_VALUES, PayloadError, decode
from tests.bounded import run_code

FUNCTION_MB = 128  # log_alerts' memory (Chalice's default: .chalice/config.json sets none)

HEAD = '{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/ecs/shop","logStream":"s","subscriptionFilters":["f"],'


def _event(decoded: bytes) -> dict:
    return {"awslogs": {"data": base64.b64encode(gzip.compress(decoded, 9)).decode()}}


def _handle_in_child(event: dict, tmp_path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    code = f"""
import json
from chalicelib.logalerts.handler import handle_logs_event
result = handle_logs_event(json.load(open({str(path)!r})))
print("RESULT", json.dumps({{k: result.get(k) for k in ("status", "reason", "events")}}))
print("MALFORMED", json.dumps(result.get("malformed", [])[:1]))
"""
    env = {"OPSWATCH_LOG_ALERT_COOLDOWN_SECONDS": "0", "OPSWATCH_STAGE": "local"}
    return run_code(code, seconds=120, address_space_mb=2048, env=env)


def _line(got, mark: str):
    return json.loads(next(ln for ln in got.stdout.splitlines() if ln.startswith(mark + " "))[len(mark) + 1 :])


def test_many_tiny_events_are_refused_before_decoding(tmp_path):
    decoded = (HEAD + '"logEvents":[' + ",".join(["{}"] * 1_400_000) + "]}").encode()
    event = _event(decoded)
    assert len(event["awslogs"]["data"]) < 250_000  # fits one Lambda invocation
    got = _handle_in_child(event, tmp_path)
    assert got.returncode == 0, got.stderr[-2000:]
    answer = _line(got, "RESULT")
    assert answer["status"] == "undecodable"
    assert f"more than {MAX_VALUES} values" in answer["reason"]
    assert "PayloadsUndecodable" in got.stdout
    assert got.peak_rss_mb < FUNCTION_MB, got.peak_rss_mb


def test_gzip_bomb_stops_at_the_decoded_bound(tmp_path):
    event = _event(b" " * (200 * 1024 * 1024))  # 200 MB of spaces, ~200 KB of gzip
    got = _handle_in_child(event, tmp_path)
    assert got.returncode == 0, got.stderr[-2000:]
    answer = _line(got, "RESULT")
    assert answer["status"] == "undecodable"
    assert f"decompresses to more than {MAX_DECODED_BYTES} bytes" in answer["reason"]
    assert got.peak_rss_mb < FUNCTION_MB, got.peak_rss_mb


def test_events_past_the_limit_are_left_out_and_counted(tmp_path):
    events = [{"id": str(i), "timestamp": 1, "message": f"GET /api/items/{i} 200"} for i in range(MAX_EVENTS + 5000)]
    got = _handle_in_child(_event((HEAD + '"logEvents":' + json.dumps(events) + "}").encode()), tmp_path)
    assert got.returncode == 0, got.stderr[-2000:]
    answer = _line(got, "RESULT")
    assert answer == {"status": "done", "reason": None, "events": MAX_EVENTS}
    assert _line(got, "MALFORMED") == [f"5000 events past the limit of {MAX_EVENTS} per payload left out"]
    emf = [json.loads(ln) for ln in got.stdout.splitlines() if ln.startswith('{"_aws"')]
    assert [doc["EventsOverLimit"] for doc in emf if "EventsOverLimit" in doc] in ([5000], [[5000.0]], [5000.0])
    assert got.peak_rss_mb < FUNCTION_MB, got.peak_rss_mb


def test_the_worst_shape_under_the_bounds_still_fits(tmp_path):
    """Just under MAX_VALUES, every value a separate object: the most memory a decodable payload can take."""
    values = MAX_VALUES - 100
    decoded = (
        HEAD
        + '"logEvents":[{"id":"1","timestamp":1,"message":"m","x":['
        + ",".join(['{"k":"ab"}'] * (values // 2))
        + "]}]}"
    ).encode()
    assert len(decoded) < MAX_DECODED_BYTES
    got = _handle_in_child(_event(decoded), tmp_path)
    assert got.returncode == 0, got.stderr[-2000:]
    assert _line(got, "RESULT")["status"] == "done"
    assert got.peak_rss_mb < FUNCTION_MB, got.peak_rss_mb


def test_decode_names_the_bound_it_refuses():
    with pytest.raises(PayloadError, match="refused after gunzip: JSON nested deeper than 64 levels"):
        decode(_event((HEAD + '"logEvents":' + "[" * 100_000 + "]" * 100_000 + "}").encode()))


def test_an_unclosed_string_of_escaped_quotes_is_refused_in_linear_time(tmp_path):
    """``"\\"\\"\\"…`` never closes: a string-skipping regex that rescans from every quote takes quadratic time."""
    decoded = (HEAD + '"logEvents":"' + '\\"' * 3_000_000).encode()
    assert len(decoded) < MAX_DECODED_BYTES
    got = _handle_in_child(_event(decoded), tmp_path)  # within the child's 120 s; quadratic would take hours
    assert got.returncode == 0, got.stderr[-2000:]
    answer = _line(got, "RESULT")
    assert answer["status"] == "undecodable" and "not JSON after gunzip" in answer["reason"]
    assert got.peak_rss_mb < FUNCTION_MB, got.peak_rss_mb
