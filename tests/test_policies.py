"""The functions' IAM policy files are generated from one description each, and kept up to date."""

from __future__ import annotations

import json

from chalicelib import policies
from tests.conftest import opswatch


def test_every_policy_file_is_what_the_description_generates():
    assert policies.stale() == [], "run `opswatch policies --write`"


def test_resources_follow_the_stage_settings():
    files = {p.name: json.loads(t) for p, t in policies.generate().items()}
    for stage in ("local", "dev", "prod"):
        alb = {s["Sid"]: s for s in files[f"policy-{stage}-alb.json"]["Statement"]}
        assert alb["ReadAlbLogObjects"]["Resource"] == [f"arn:aws:s3:::opswatch-{stage}-alb-logs/*"]
        assert alb["ShippingProgress"]["Resource"] == [f"arn:aws:dynamodb:*:*:table/opswatch-{stage}-state"]
        assert alb["KeepFailedEvents"]["Resource"] == [f"arn:aws:sqs:*:*:opswatch-{stage}-failed"]
        # No function may touch another stage's resources, nor anything beyond what it names (the
        # ALB destination log group is set once for every stage in config.json).
        shared = (
            "arn:aws:glue:*:*:catalog",
            "arn:aws:logs:*:*:log-group:/opswatch/alb",
            "arn:aws:logs:*:*:log-group:/opswatch/alb:*",
        )
        for kind in ("alb", "alarms", "logalerts", "monitors", "athena"):
            for st in files[f"policy-{stage}-{kind}.json"]["Statement"]:
                for r in st["Resource"]:
                    assert r == "*" or stage in r or r in shared, (kind, r)
                    if r == "*":
                        assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in st["Action"])


def test_a_stale_file_is_reported_and_rewritten(tmp_path, monkeypatch):
    chalice = tmp_path / ".chalice"
    chalice.mkdir()
    for p in policies.CHALICE.iterdir():
        (chalice / p.name).write_text(p.read_text())
    monkeypatch.setattr(policies, "CHALICE", chalice)
    path = chalice / "policy-prod-alb.json"
    doc = json.loads(path.read_text())
    doc["Statement"][0]["Action"].append("s3:DeleteObject")  # a hand edit widening the policy
    path.write_text(json.dumps(doc))
    assert policies.stale() == ["policy-prod-alb.json: out of date"]
    assert policies.write() == ["policy-prod-alb.json"]
    assert policies.stale() == []


def test_the_cli_checks():
    r = opswatch("policies")
    assert r.returncode == 0 and "every policy file is up to date" in r.stdout
