"""Which S3 objects are ALB access logs, and the ship filter's grammar."""

from __future__ import annotations

import pytest

from chalicelib.alb.keys import classify, event_key
from chalicelib.alb.shipfilter import FilterError, compile_filter
from tests.alb_lines import key


def test_alb_access_log_key():
    obj, why = classify("b", key())
    assert why is None
    assert obj.load_balancer == "app/my-loadbalancer/50dc6c495c0c9188"
    assert obj.stream_name.endswith("_10.0.0.1_abc") and ":" not in obj.stream_name


@pytest.mark.parametrize(
    ("k", "why"),
    [
        ("AWSLogs/123456789012/ELBAccessLogTestFile", "test object"),
        (
            "AWSLogs/1/elasticloadbalancing/us-east-1/2024/10/04/123456789012_elasticloadbalancing_us-east-1_conn_log.my-lb.50dc_20241004T1705Z_10.0.0.1_x.log.gz",
            "connection log",
        ),
        (
            "AWSLogs/1/elasticloadbalancing/us-east-1/2024/10/04/123456789012_elasticloadbalancing_us-east-1_net.my-nlb.50dc_20241004T1705Z_x.log.gz",
            "Network Load Balancer",
        ),
        (
            "AWSLogs/1/elasticloadbalancing/us-east-1/2024/10/04/123456789012_elasticloadbalancing_us-east-1_my-clb_20241004T1705Z_10.0.0.1_x.log",
            "Classic Load Balancer",
        ),
        ("AWSLogs/1/elasticloadbalancing/us-east-1/2024/10/04/health_check_log.log.gz", "health-check"),
        ("notes/readme.txt", "not named like an ALB access log"),
    ],
)
def test_other_objects_are_skipped_with_a_reason(k, why):
    obj, reason = classify("b", k)
    assert obj is None and why in reason


def test_event_keys_are_url_decoded():
    assert event_key("my+logs/caf%C3%A9%2B1.log.gz") == "my logs/café+1.log.gz"


def test_filter_semantics():
    f = compile_filter('elb_status_code >= 500 || target_processing_time > 1 && request_verb = "POST"')
    assert f({"elb_status_code": 502})
    assert not f({"elb_status_code": 200, "target_processing_time": 2, "request_verb": "GET"})
    assert f({"elb_status_code": 200, "target_processing_time": 2, "request_verb": "POST"})
    assert not f({"elb_status_code": None, "target_processing_time": None})
    assert compile_filter("target_ip = null")({"target_ip": None})
    assert compile_filter("") is None and compile_filter(None) is None


@pytest.mark.parametrize(
    ("expr", "msg"),
    [
        ("status >= 500", "unknown field 'status'"),
        ("elb_status_code >> 5", "cannot read condition"),
        ('request_verb > "GET"', "strings can only be compared"),
        ("target_ip < null", "null can only be compared"),
    ],
)
def test_filter_errors_name_the_part(expr, msg):
    with pytest.raises(FilterError, match=msg):
        compile_filter(expr)
