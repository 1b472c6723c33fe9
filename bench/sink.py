"""A loopback CloudWatch Logs endpoint for the benchmarks: accepts every call, counts what it was sent.

Shared by the shipping benchmark (events received) and the organization's cost table (events, calls
and the bytes PutLogEvents bills), so both count the same way.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chalicelib.cwlogs.batches import EVENT_OVERHEAD  # what PutLogEvents bills per event beyond its message


class LogsSink(BaseHTTPRequestHandler):
    events = 0
    billed = 0
    calls = 0
    lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        with cls.lock:
            cls.events = cls.billed = cls.calls = 0

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("X-Amz-Target", "").endswith("PutLogEvents"):
            events = json.loads(body)["logEvents"]
            with LogsSink.lock:
                LogsSink.calls += 1
                LogsSink.events += len(events)
                LogsSink.billed += sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in events)
        out = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def start_sink() -> ThreadingHTTPServer:
    """A sink on a free loopback port, serving in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), LogsSink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
