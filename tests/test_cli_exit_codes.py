"""Every ``opswatch`` command follows one exit-code table (README, "The opswatch command: exit codes").

The walk starts from the click group itself, so a new command cannot skip these checks: it must be
listed below as reading files (checked with a missing file, a truncated gzip and a binary file) or
not, and as calling AWS (checked with no Region and with no credentials) or not.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from chalicelib.cli.errors import EXIT_CHANGES, EXIT_FINDINGS, EXIT_USAGE, OpswatchCommand
from chalicelib.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SPEC = str(ROOT / "infra" / "monitors.yaml")

# Commands reading a local file: how to give it one ({path}). Binary input is checked where the input is
# text; ALB log files take any bytes line by line (a bad line is rejected, and counted), but a log file that is
# not text at all (a NUL byte, a head that is not UTF-8) is refused where it is queried or matched.
FILE_INPUTS: dict[str, list[list[str]]] = {
    "alb parse": [["{path}"]],
    "filters test": [["--pattern", "x", "--events", "{path}"]],
    "logs test-rules": [["{path}"]],
    "logs rules": [["--rules-file", "{path}"]],
    "logs subscribe": [["/g", "--rules-file", "{path}"]],
    "slack render": [["{path}"]],
    "slack send": [["{path}"]],
    "monitors validate": [["--spec", "{path}"]],
    "monitors plan": [["--spec", "{path}"]],
    "monitors apply": [["--spec", "{path}", "--yes"]],
    "monitors targets": [["--spec", "{path}"]],
    "alarms audit": [["--all-targets", "--spec", "{path}"]],
    "athena run": [["status_codes", "--engine", "local", "--logs", "{path}"]],
    "athena sql": [["SELECT 1", "--engine", "local", "--logs", "{path}"]],
    "doctor": [["--spec", "{path}"]],
}
TEXT_INPUTS = {"doctor", "filters test", "logs rules", "logs subscribe", "slack render", "slack send", "monitors validate",
               "monitors plan", "monitors apply", "monitors targets", "alarms audit", "logs test-rules", "athena run",
               "athena sql"}  # fmt: skip
# Commands calling AWS, with arguments that get them to their first call.
AWS_COMMANDS: dict[str, list[str]] = {
    "alb ship": ["s3://bucket/prefix/"],
    "alarms backtest": ["some-alarm"],
    "alarms audit": [],
    "logs subscribe": ["/some/group"],
    "logs unsubscribe": ["/some/group"],
    "monitors plan": ["--spec", EXAMPLE_SPEC],
    "monitors apply": ["--spec", EXAMPLE_SPEC, "--yes"],
    "athena setup": [],
    "athena run": ["status_codes"],
    "athena sql": ["SELECT 1"],
    "failed list": [],
    "failed replay": ["--yes"],
    "failed setup": [],
    "filters test": ["--pattern", "x", "--event", "x", "--remote"],
    "insights list": [],
    "insights show": ["some-query"],
    "insights run": ["some-query"],
    "doctor": [],
}
LOCAL_ONLY = {"alarms simulate", "athena list", "athena show", "logs rules", "logs test-rules", "alb parse",
              "slack render", "slack send", "monitors validate", "monitors targets", "policies"}  # fmt: skip


def leaf_commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    """Every command under ``group``, loaded as running it would (the top group loads its groups lazily)."""
    ctx = click.Context(group)
    out: dict[str, click.Command] = {}
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        path = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out.update(leaf_commands(cmd, path + " "))
        else:
            out[path] = cmd
    return out


COMMANDS = leaf_commands()


def test_every_command_is_classified_and_runs_inside_the_shared_handler():
    assert set(COMMANDS) == set(FILE_INPUTS) | set(AWS_COMMANDS) | LOCAL_ONLY
    assert all(isinstance(c, OpswatchCommand) for c in COMMANDS.values()), [
        n for n, c in COMMANDS.items() if not isinstance(c, OpswatchCommand)
    ]
    assert EXIT_CHANGES != EXIT_USAGE


def invoke(args: list[str]):
    result = CliRunner().invoke(cli, args, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"opswatch {' '.join(args)} raised {result.exception!r}"
    )
    return result


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_usage_errors_exit_2(name):
    r = invoke([*name.split(), "--no-such-option"])
    assert r.exit_code == EXIT_USAGE and "No such option" in r.output


def _inputs(tmp_path: Path) -> dict[str, Path]:
    lines = b"".join(b"line %d of a log\n" % i for i in range(5000))
    packed = gzip.compress(lines)
    truncated = tmp_path / "cut.log.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    binary = tmp_path / "image.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    return {"missing": tmp_path / "missing.log", "truncated gzip": truncated, "binary": binary}


@pytest.mark.parametrize("name", sorted(FILE_INPUTS))
def test_unreadable_inputs_exit_2_naming_the_input(tmp_path, name, monkeypatch):
    monkeypatch.setenv("OPSWATCH_STAGE", "local")
    for kind, path in _inputs(tmp_path).items():
        if kind == "binary" and name not in TEXT_INPUTS:
            continue
        for template in FILE_INPUTS[name]:
            args = [*name.split(), *(a.replace("{path}", str(path)) for a in template)]
            r = invoke(args)
            assert r.exit_code == EXIT_USAGE, f"{kind}: opswatch {' '.join(args)}: {r.exit_code}\n{r.output}"
            assert path.name in r.stderr, f"{kind}: opswatch {' '.join(args)} does not name its input: {r.stderr}"
            assert "Traceback" not in r.output


@pytest.fixture
def bare_aws(tmp_path, monkeypatch):
    """No AWS configuration at all, and a fresh boto3 session, so nothing resolved before is reused."""
    import boto3

    from chalicelib.aws import client

    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    for k, v in {
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never AWS itself
        "OPSWATCH_AWS_MAX_ATTEMPTS": "1",
        "OPSWATCH_STAGE": "local",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    client.cache_clear()
    yield monkeypatch
    client.cache_clear()


KEYS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}


@pytest.mark.parametrize(
    ("case", "extra", "said"),
    [
        ("no Region", KEYS, "no AWS Region"),
        ("no credentials", {"AWS_DEFAULT_REGION": "eu-west-1"}, "no AWS credentials"),
        ("no endpoint", {**KEYS, "AWS_DEFAULT_REGION": "eu-west-1"}, "http://127.0.0.1:9"),
    ],
)
def test_aws_configuration_errors_are_one_line_and_exit_2(bare_aws, case, extra, said):
    for k, v in extra.items():
        bare_aws.setenv(k, v)
    for name, args in AWS_COMMANDS.items():
        import boto3

        from chalicelib.aws import client

        bare_aws.setattr(boto3, "DEFAULT_SESSION", None)
        client.cache_clear()
        r = invoke([*name.split(), *args])
        err = r.stderr.strip()
        assert r.exit_code == EXIT_USAGE, f"{case}: opswatch {name}: exit {r.exit_code}\n{r.output}"
        assert "Traceback" not in err and said in err, f"{case}: opswatch {name}: {err}"
        assert len(err.splitlines()) == 1, f"{case}: opswatch {name}: {err}"
        assert "s3cr3t" not in r.output


def test_aws_region_alone_is_a_region(bare_aws):
    """The "no AWS Region" message says to set AWS_REGION; boto3 alone reads only AWS_DEFAULT_REGION."""
    for k, v in {**KEYS, "AWS_REGION": "eu-west-1"}.items():
        bare_aws.setenv(k, v)
    bare_aws.delenv("AWS_DEFAULT_REGION", raising=False)  # restored after the test
    for name in ("alarms audit", "insights list", "logs subscribe"):
        r = invoke([*name.split(), *AWS_COMMANDS[name]])
        assert r.exit_code == EXIT_USAGE and "no AWS Region" not in r.stderr, f"opswatch {name}: {r.stderr}"
        assert "http://127.0.0.1:9" in r.stderr, f"opswatch {name}: {r.stderr}"


def test_backtest_hours_out_of_range_is_a_usage_error():
    # 1e12 and inf were OverflowError and ValueError tracebacks, 0 and -1 ran, 100000 asked for 11 years.
    for hours in ("1e12", "inf", "nan", "0", "-1", "100000"):
        r = invoke(["alarms", "backtest", "some-alarm", "--hours", hours])
        assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output, (hours, r.output)
        assert "more than 0 and at most 336 (14 days)" in r.stderr, (hours, r.stderr)


def test_simulate_evaluation_periods_out_of_range_is_a_usage_error():
    # 10**8 took 2.5 GB of memory; 10**20 was an OverflowError traceback.
    for n in ("0", "8641", "100000000", "99999999999999999999"):
        args = ["alarms", "simulate", "--evaluation-periods", n, "--points", "X X X"]
        r = invoke(args)
        assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output, (n, r.output)
        assert f"--evaluation-periods {n}: expected 1 to 8,640" in r.stderr, (n, r.stderr)
    assert invoke(["alarms", "simulate", "--evaluation-periods", "8640", "--points", "X X X"]).exit_code == 0


def test_an_aws_refusal_is_one_line_without_the_secret_it_quotes():
    from botocore.exceptions import ClientError

    from chalicelib.cli.errors import describe_aws

    refused = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not for https://hooks.slack.com/services/T0/B0/abc123"}},
        "GetSecretValue",
    )
    said = describe_aws(refused)
    assert said == "AWS refused GetSecretValue: AccessDenied: not for https://hooks.slack.com/services/[redacted]"
    assert describe_aws(ValueError("not an AWS error")) is None


def test_sql_the_local_engine_cannot_read_is_bad_input_in_one_line(tmp_path):
    # "SELEC" was exit 1 (a failed query) with DuckDB's three-line message (the query and a caret).
    logs = tmp_path / "junk.log"
    logs.write_text("not an access-log entry\n")
    for sql, said in [
        ("SELEC", 'Parser Error: syntax error at or near "SELEC"'),
        ("SELECT nope FROM alb_access_logs", 'Binder Error: Referenced column "nope" not found'),
        ("SELECT * FROM no_such_table", "Catalog Error: Table with name no_such_table does not exist"),
    ]:
        r = invoke(["athena", "sql", sql, "--engine", "local", "--logs", str(logs)])
        [err] = [x for x in r.stderr.splitlines() if "not ALB access-log entries" not in x]
        assert r.exit_code == EXIT_USAGE, (sql, r.stderr)
        assert err.startswith("opswatch: the local engine cannot run the query: ") and said in err, (sql, err)
    # A query that reads and binds but fails on the data is a failed query: exit 1, still one line.
    r = invoke(["athena", "sql", "SELECT CAST('x' AS INTEGER)", "--engine", "local", "--logs", str(logs)])
    assert r.exit_code == EXIT_FINDINGS and r.stderr.splitlines()[-1].startswith("opswatch: the local engine refused")
    assert len(r.stderr.splitlines()) == 2


def test_a_spec_refused_whole_is_one_opswatch_line(tmp_path):
    # A missing spec lacked the "opswatch:" prefix; a NUL byte gave PyYAML's two-line message; an empty spec was valid.
    spec = tmp_path / "monitors.yaml"
    missing = invoke(["monitors", "validate", "--spec", str(tmp_path / "none.yaml")])
    assert missing.exit_code == EXIT_USAGE
    assert missing.stderr == f"opswatch: {tmp_path / 'none.yaml'}: cannot read: No such file or directory\n"
    spec.write_bytes(b"alarms: []\nmetric_filters: [\x00]\n")
    r = invoke(["monitors", "validate", "--spec", str(spec)])
    assert r.exit_code == EXIT_USAGE
    assert (
        r.stderr
        == f"opswatch: {spec}:2: not valid YAML: unacceptable character #x0000: special characters are not allowed\n"
    )
    for empty in ("", "{}\n", "null\n", "---\n", "# all commented out\n", "filter_prefix: shop\n", "targets: []\n"):
        spec.write_text(empty)
        for command in ("validate", "plan"):
            r = invoke(["monitors", command, "--spec", str(spec)])
            assert r.exit_code == EXIT_USAGE, (empty, r.output)
            assert r.stderr.startswith(f"opswatch: {spec}: the spec is empty: nothing to declare"), (empty, r.stderr)
            assert len(r.stderr.splitlines()) == 1
    spec.write_text("metric_filters: []\nalarms: []\n")  # emptying a stage on purpose names the lists
    assert invoke(["monitors", "validate", "--spec", str(spec)]).exit_code == 0


def test_athena_run_refuses_a_parameter_given_twice():
    # The last value was kept silently.
    r = invoke(["athena", "run", "top_5xx_paths", "--param", "limit=5", "--param", "limit=500"])
    assert r.exit_code == EXIT_USAGE
    assert r.stderr == "opswatch: --param limit is given twice ('5' and '500'): give it once\n"


def test_athena_run_refuses_an_integer_past_64_bits():
    # 2**64 was accepted and sent; Athena's BIGINT ends at 2**63 - 1.
    for limit in (str(2**63), str(2**64), "9" * 40):
        r = invoke(["athena", "run", "top_5xx_paths", "--param", f"limit={limit}"])
        assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output, (limit, r.output)
        assert r.stderr == (
            f"opswatch: parameter limit: must be at most 9,223,372,036,854,775,807 (a 64-bit integer), got {limit}\n"
        )


def test_an_empty_rules_list_is_an_error_not_every_rule():
    # --rules "" ran every rule (and would subscribe with all of them).
    for names in ("", " ", ",", " , "):
        for args in (["logs", "test-rules", "-"], ["logs", "subscribe", "/some/group"]):
            r = CliRunner().invoke(cli, [*args, "--rules", names], input="OOMKilled\n")
            assert r.exit_code == EXIT_USAGE, (args, names, r.output)
            assert (
                r.stderr
                == f"opswatch: --rules {names!r} names no rule: give rule names, or leave --rules out for every active rule\n"
            )


def test_the_local_engine_runs_one_query_and_reaches_no_file(tmp_path):
    # DROP, INSERT and COPY ran on the local table (COPY wrote a file), and "SELECT 1; DROP ..." dropped the DROP.
    logs = tmp_path / "junk.log"
    logs.write_text("not an access-log entry\n")
    written = tmp_path / "written.csv"
    for sql, said in [
        ("DROP TABLE alb_access_logs", "only a query (SELECT, WITH, UNION, VALUES) runs here, not DROP"),
        ("INSERT INTO alb_access_logs SELECT * FROM alb_access_logs", "not INSERT"),
        (f"COPY alb_access_logs TO '{written}'", "not COPY"),
        ("SET threads = 1", "not SET"),
        ("EXPLAIN SELECT 1", "not EXPLAIN"),
        ("SELECT 1; DROP TABLE alb_access_logs", "give one query, not 2 statements"),
        (f"SELECT * FROM read_csv('{logs}')", "file system operations are disabled"),
    ]:
        r = invoke(["athena", "sql", sql, "--engine", "local", "--logs", str(logs)])
        err = r.stderr.splitlines()[-1]
        assert r.exit_code == EXIT_USAGE and said in err and err.startswith("opswatch: "), (sql, r.stderr)
        assert len([x for x in r.stderr.splitlines() if "not ALB access-log entries" not in x]) == 1, r.stderr
    assert not written.exists()
    for sql in ("WITH a AS (SELECT 1 AS n) SELECT n FROM a", "SELECT 1 AS n UNION ALL SELECT 2", "VALUES (1)"):
        assert invoke(["athena", "sql", sql, "--engine", "local", "--logs", str(logs)]).exit_code == 0, sql
