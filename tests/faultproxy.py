"""A loopback HTTP proxy in front of the moto server that fails chosen AWS calls on demand.

Real HTTP all the way: botocore sees genuine 400 Throttling / 500 answers and
applies its own retry policy, which is what the tests check.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.fail_target: str | None = None  # e.g. "Logs_20140328.PutLogEvents"
        self.fail_times = 0  # how many matching calls fail; -1 for every one
        self.status = 400
        self.error_type = "ThrottlingException"
        self.seen: list[str] = []
        self.requests: list[tuple[str, dict, bytes]] = []  # (path, headers, body) of every request, in order
        self.rewrite: dict[str, object] = {}  # target -> function(JSON answer) -> JSON answer
        self.delay: dict[str, float] = {}  # target -> seconds to wait before answering
        self.answer: dict[str, object] = {}  # target -> function(request body) -> (status, headers, body): a stand-in
        self.pass_first = 0  # let this many matching calls through before failing fail_times of them
        # Forward the call, then drop the connection without answering: the caller cannot know the outcome.
        self.drop_target: str | None = None
        self.drop_times = 0
        # Requests whose path holds the key: send the headers and half the body, then close (a cut stream).
        self.cut_path: str | None = None
        self.cut_times = 0
        self.answer_path: dict[str, object] = {}  # path substring -> function(body) -> (status, headers, body)
        # Request-body substring -> the same: for query-protocol APIs (STS), whose action is in the body.
        self.answer_body: dict[bytes, object] = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                proxy.seen.append(target)
                proxy.requests.append((self.path, dict(self.headers), body))
                if target in proxy.delay:
                    time.sleep(proxy.delay[target])
                by_path = next((fn for part, fn in proxy.answer_path.items() if part in self.path), None)
                by_path = by_path or next((fn for part, fn in proxy.answer_body.items() if part in body), None)
                if target in proxy.answer or by_path:  # an API the upstream lacks, answered here
                    status, headers, data = (by_path or proxy.answer[target])(body)
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                with proxy.lock:
                    fail = False
                    if proxy.fail_target and target == proxy.fail_target:
                        if proxy.pass_first > 0:
                            proxy.pass_first -= 1
                        elif proxy.fail_times != 0:
                            proxy.fail_times -= 1 if proxy.fail_times > 0 else 0
                            fail = True
                    drop = proxy.drop_target == target and proxy.drop_times > 0
                    if drop:
                        proxy.drop_times -= 1
                    cut = bool(proxy.cut_path) and proxy.cut_path in self.path and proxy.cut_times > 0
                    if cut and self.command == "GET":
                        proxy.cut_times -= 1
                    else:
                        cut = False
                if fail:
                    payload = json.dumps({"__type": proxy.error_type, "message": "injected by the test"}).encode()
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                req = urllib.request.Request(
                    proxy.upstream + self.path, data=body or None, headers=headers, method=self.command
                )
                try:
                    resp = urllib.request.urlopen(req, timeout=60)
                    status, rheaders, data = resp.status, resp.headers, resp.read()
                except urllib.error.HTTPError as exc:
                    status, rheaders, data = exc.code, exc.headers, exc.read()
                if drop:  # the call landed upstream; its answer never reaches the caller
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if target in proxy.rewrite and status == 200:  # a genuine answer, changed as the test says
                    data = json.dumps(proxy.rewrite[target](json.loads(data))).encode()
                self.send_response(status)
                for k, v in rheaders.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if cut:  # the full length announced, half the body sent, then the connection closed
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
