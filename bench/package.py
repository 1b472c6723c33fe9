"""Build the real Lambda deployment package with ``chalice package`` and say what it holds.

Used by ``make bench`` (size and file count) and by ``tests/test_package.py`` (the limits).
``chalice package`` builds the dependencies from ``requirements.txt`` once per set of
requirements and keeps them in the project's ``.chalice/deployments/``; the copy built here
links that folder to ``build/chalice-deployments/`` (git-ignored), so they are reused from
one build to the next. The project's own code is put in fresh on every build, so reusing
that folder never hides a change.
The Terraform format is used because CloudFormation cannot attach the S3 trigger of
an existing bucket; the zip is the same one ``chalice deploy`` uploads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_BYTES = 3_000_000
# The Lambda runtime ships these (boto3 and what it needs); a package that brings its own pays for them twice.
FORBIDDEN = ("boto3", "botocore", "s3transfer", "fsspec", "tzdata")


@dataclass(frozen=True)
class Package:
    path: Path
    size: int  # bytes of the zip
    files: int
    top_level: frozenset[str]  # first path components: packages, modules, *.dist-info
    runtimes: frozenset[str] = frozenset()  # the Lambda runtimes chalice chose for the functions

    def distributions(self) -> set[str]:
        """Top-level importable names and the distributions whose metadata is in the zip, lower-case.

        >>> sorted(Package(Path("x"), 0, 0, frozenset({"boto3-1.34.0.dist-info", "six.py", "yaml"})).distributions())
        ['boto3', 'six', 'yaml']
        """
        names = set()
        for name in self.top_level:
            if name.endswith((".dist-info", ".data")):
                name = name.split("-", 1)[0]  # wheel metadata: <name>-<version>.dist-info
            names.add(name.split(".", 1)[0].lower().replace("-", "_"))
        return names

    def forbidden(self) -> list[str]:
        have = self.distributions()
        return [name for name in FORBIDDEN if name in have]


def build(out: Path, stage: str = "local") -> Package:
    """``chalice package --stage <stage>`` of a copy of the project into ``out``; returns what the zip holds."""
    project = out / "project"
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / ".chalice", project / ".chalice", ignore=shutil.ignore_patterns("deployed", "deployments"))
    cache = ROOT / "build" / "chalice-deployments"
    cache.mkdir(parents=True, exist_ok=True)
    (project / ".chalice" / "deployments").symlink_to(cache, target_is_directory=True)
    chalice = Path(sys.executable).parent / "chalice"
    env = dict(os.environ, AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    subprocess.run(
        [str(chalice), "package", "--pkg-format", "terraform", "--stage", stage, str(out / "package")],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return inspect(out / "package" / "deployment.zip")


def inspect(path: Path) -> Package:
    with zipfile.ZipFile(path) as zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
    template = path.parent / "chalice.tf.json"
    runtimes = set()
    if template.exists():
        functions = json.loads(template.read_text())["resource"]["aws_lambda_function"]
        runtimes = {f["runtime"] for f in functions.values()}
    top = frozenset(n.split("/", 1)[0] for n in names)
    return Package(path, path.stat().st_size, len(names), top, frozenset(runtimes))
