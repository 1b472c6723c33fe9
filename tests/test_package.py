"""The real deployment package: ``chalice package`` builds it, and it stays small and free of the SDK.

The Lambda runtime brings boto3; a package that ships its own botocore (and pyathena's fsspec
and tzdata) is thirteen times larger, and every function unpacks it on a cold start.
The dependencies are built once per ``requirements.txt`` and reused (``build/chalice-deployments/``).
"""

from __future__ import annotations

import sys
import zipfile

import pytest

from bench.package import FORBIDDEN, LIMIT_BYTES, build


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return build(tmp_path_factory.mktemp("package"))


def test_the_package_is_at_most_3_mb(package):
    assert package.size <= LIMIT_BYTES, f"{package.size:,} bytes, {package.files:,} files"


def test_the_package_holds_none_of_the_runtimes_sdk(package):
    assert package.forbidden() == [], sorted(package.top_level)
    assert not set(FORBIDDEN) & package.distributions()


def test_the_package_holds_every_function_and_what_it_needs(package):
    """What the functions import at run time is there, and so are the named queries the report reads."""
    assert {"app.py", "chalicelib", "aws_lambda_powertools", "slack_sdk", "orjson", "yaml"} <= package.top_level
    with zipfile.ZipFile(package.path) as zf:
        names = set(zf.namelist())
    assert "chalicelib/athena/boto.py" in names
    assert "chalicelib/athena/sql/queries/top_5xx_paths.sql" in names


def test_chalice_picks_the_runtime_of_the_python_that_runs_it(package):
    """The README's claim: the functions run on the Lambda runtime matching the build's Python."""
    assert package.runtimes == {f"python{sys.version_info.major}.{sys.version_info.minor}"}
