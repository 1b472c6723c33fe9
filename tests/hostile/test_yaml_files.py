"""Hostile YAML in the files people write (monitors spec, rules file): alias bombs and deep nesting.

Refused with one line naming the file, exit 2, in bounded memory and time.
"""

from __future__ import annotations

from tests.bounded import run_opswatch

# "Billion laughs": 9 levels of 9 aliases, a few hundred bytes that expand to 9**9 values.
_BOMB = "\n".join(
    [f"l0: &l0 [{', '.join(['x'] * 9)}]"]
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["{key}: *l8"]
)
_DEEP = "{key}: " + "[" * 50_000 + "]" * 50_000


def test_an_alias_bomb_in_a_monitors_spec_is_refused_in_bounded_memory(tmp_path):
    spec = tmp_path / "monitors.yaml"
    spec.write_text(_BOMB.format(key="metric_filters"))
    r = run_opswatch("monitors", "validate", "--spec", str(spec), seconds=60, address_space_mb=1024)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert f"{spec}: refused: more than 200,000 values once its aliases (*name) are expanded" in r.stderr
    assert r.peak_rss_mb < 200, r.peak_rss_mb


def test_deeply_nested_yaml_in_a_monitors_spec_is_refused_without_a_traceback(tmp_path):
    spec = tmp_path / "monitors.yaml"
    spec.write_text(_DEEP.format(key="alarms"))
    r = run_opswatch("monitors", "validate", "--spec", str(spec), seconds=60, address_space_mb=1024)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert f"{spec}: refused: nested too deeply" in r.stderr


def test_an_alias_bomb_or_deep_yaml_in_a_rules_file_is_refused(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("hello\n")
    for name, text, why in (
        ("bomb.yaml", _BOMB.format(key="rules"), "more than 200,000 values"),
        ("deep.yaml", _DEEP.format(key="rules"), "nested too deeply"),
    ):
        rules = tmp_path / name
        rules.write_text(text)
        r = run_opswatch("logs", "test-rules", "--rules-file", str(rules), str(log), seconds=60, address_space_mb=1024)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
        assert f"{rules}: refused: {why}" in r.stderr
        assert len(r.stderr) < 2000 and r.peak_rss_mb < 200, (len(r.stderr), r.peak_rss_mb)


def test_a_rule_that_is_a_huge_value_gets_a_short_message(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("hello\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - [" + ", ".join(["x"] * 100_000) + "]\n")
    r = run_opswatch("logs", "test-rules", "--rules-file", str(rules), str(log), seconds=60)
    assert r.returncode == 2 and "a rule must be a mapping" in r.stderr, r.stderr[-2000:]
    assert len(r.stderr) < 2000, len(r.stderr)


def test_a_huge_monitors_spec_is_refused_before_it_is_read_whole(tmp_path):
    spec = tmp_path / "monitors.yaml"
    spec.write_text('alarms: "' + " " * 50_000_000 + '"\n')  # 50 MB took over a minute and hundreds of MB
    r = run_opswatch("monitors", "validate", "--spec", str(spec), seconds=60, address_space_mb=1024)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert f"{spec}: larger than 4,194,304 bytes, more than any monitors spec needs" in r.stderr
    assert r.peak_rss_mb < 100, r.peak_rss_mb
