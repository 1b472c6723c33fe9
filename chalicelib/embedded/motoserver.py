"""Start a moto server in its own process on a free loopback port.

The server also answers the CloudWatch Logs calls moto lacks (``motologs``), makes DynamoDB's
conditional writes atomic (``motoatomic``) and imports Chalice's REST API document (``motoapigw``).

Everything opswatch does then goes over real HTTP to it: boto3 is pointed at it
through ``AWS_ENDPOINT_URL`` (see ``environment``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass

# The child's stderr goes to a file, never an unread pipe: once a pipe's buffer fills,
# moto blocks mid-request. werkzeug's per-request log lines are switched off too.
_CHILD = """
import logging, os, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
from chalicelib.embedded import motoapigw, motoatomic, motologs
motologs.install()  # the Logs calls moto lacks: query definitions, StopQuery
motoatomic.install()  # conditional writes atomic, as DynamoDB's are
motoapigw.install()  # ImportRestApi without info.description, as Chalice sends it
s = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
s.start()
print(s.get_host_and_port()[1], flush=True)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the port was all the parent reads
sys.stdin.read()  # live until the parent closes our stdin or exits
"""


@dataclass
class MotoServer:
    process: subprocess.Popen
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self, region: str = "us-east-1") -> dict[str, str]:
        """Variables that point boto3 (and Chalice) at this server with dummy credentials."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }

    def reset(self) -> None:
        """Forget every resource (moto's reset API), for isolation between tests."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start(timeout: float = 60.0) -> MotoServer:
    """Start moto and wait until it answers; raise with its stderr if it does not."""
    with tempfile.TemporaryFile(mode="w+") as errors:  # the child keeps its own handle to it
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")},
        )
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            proc.kill()
            proc.wait()
            errors.seek(0)
            raise RuntimeError(f"moto server did not start: {errors.read()[-2000:]}")
    server = MotoServer(proc, int(line))
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=2).read()
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"moto server on port {server.port} did not answer") from None
            time.sleep(0.1)
