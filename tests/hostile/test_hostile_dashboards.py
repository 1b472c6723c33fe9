"""Hostile dashboard and saved-query input: refused with its reason, in bounded memory and time."""

from __future__ import annotations

import boto3
import yaml

from tests.bounded import run_opswatch
from tests.faultproxy import FaultProxy

LB = "app/shop-prod/50dc6c495c0c9188"


def _spec(tmp_path, data: dict) -> str:
    p = tmp_path / "monitors.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False, width=10**9))
    return str(p)


def test_a_huge_query_and_an_injected_route_are_refused_in_bounded_memory(tmp_path):
    spec = _spec(
        tmp_path,
        {
            "dashboards": [{"name": "d", "load_balancers": [LB], "routes": ['/a" OR Namespace="AWS/EC2']}],
            "insights": [{"name": "q", "log_groups": ["/g"], "query": "fields a | " + "'|" * 2_000_000}],
        },
    )
    r = run_opswatch("monitors", "validate", "--spec", spec, seconds=60, address_space_mb=1024)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "no quote, backslash or control character" in r.stderr
    assert "the query has 4000011 characters; Logs Insights takes at most 10000" in r.stderr
    assert r.peak_rss_mb < 400, r.peak_rss_mb


def test_a_hand_made_dashboard_with_deep_json_is_left_alone(aws, tmp_path, monkeypatch):
    boto3.client("cloudwatch").put_dashboard(DashboardName="deep", DashboardBody='{"widgets": []}')
    proxy = FaultProxy(aws.endpoint)  # moto refuses to store such a body; CloudWatch's answer is changed instead
    deep = "[" * 100_000 + "]" * 100_000
    proxy.rewrite["GraniteServiceVersion20100801.GetDashboard"] = lambda a: {**a, "DashboardBody": deep}
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", proxy.endpoint)
    spec = _spec(tmp_path, {"dashboards": [{"name": "d", "load_balancers": [LB], "sections": ["traffic"]}]})
    try:
        r = run_opswatch("monitors", "plan", "--spec", spec, seconds=60, address_space_mb=1024)
    finally:
        proxy.close()
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr[-2000:]  # changes pending
    assert "+ dashboard d" in r.stdout and "deep" not in r.stdout
