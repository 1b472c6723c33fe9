"""A loopback Slack: incoming webhooks and ``chat.postMessage``, recorded, with faults on demand.

The demo and the tests post to it with the real slack-sdk clients:

- ``POST /services/T.../B.../...`` answers ``ok`` (200) like an incoming webhook;
- ``POST /api/chat.postMessage`` checks the bearer token and answers
  ``{"ok": true, "channel": ..., "ts": ...}`` (a ``thread_ts`` makes it a reply);
- ``POST /api/chat.update`` replaces a posted message, named by its ``ts``;
- ``files_upload_v2``'s three calls (upload URL, the upload, completion) record a ``file``;
- ``fail(status, times, retry_after)`` makes the next calls answer 429 (with
  ``Retry-After``) or 5xx, to test retries;
- the webhook answers 400 ``invalid_blocks`` to a message whose blocks break
  Slack's limits, as Slack does;
- ``POST /actions/...`` is a click's ``response_url`` (``response_url_for``): recorded as
  ``response_url``; with ``replace_original`` it replaces the webhook message it names.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

WEBHOOK_PATH = "/services/T0000000/B0000000/opswatchlocal"
TOKEN = "xoxb-opswatch-local"
RESPONSE_PATH = "/actions/"  # where a click's response_url points, as Slack's https://hooks.slack.com/actions/…


@dataclass
class Posted:
    kind: str  # webhook | chat.postMessage | chat.update | file | response_url
    body: dict
    at: float = field(default_factory=time.time)

    def readable(self) -> str:
        """The message roughly as a person sees it in Slack, for terminals."""
        lines = [f"[{self.body.get('channel') or 'webhook'}] {self.body.get('text', '')}"]
        blocks = [b for a in self.body.get("attachments") or [] for b in a.get("blocks") or []]
        for b in blocks + list(self.body.get("blocks") or []):
            if b.get("type") == "header":
                lines.append("  " + b["text"]["text"])
            elif b.get("type") == "section" and "text" in b:
                lines += ["  " + ln for ln in b["text"]["text"].splitlines()]
            elif b.get("type") == "section":
                lines.append("  " + "   ".join(f["text"].replace("\n", ": ") for f in b.get("fields", [])))
            elif b.get("type") == "context":
                lines.append("  " + " · ".join(e["text"] for e in b.get("elements", [])))
        return "\n".join(lines)


def _body(ctype: str, raw: str) -> dict:
    """A Web API request's arguments, JSON or form-encoded (slack-sdk sends either)."""
    if ctype.startswith("application/json"):
        return json.loads(raw or "{}")
    body = {k: v[0] for k, v in parse_qs(raw).items()}
    for k in ("attachments", "blocks"):
        if isinstance(body.get(k), str):
            body[k] = json.loads(body[k])
    return body


def _too_big(body: dict) -> bool:
    blocks = [b for a in body.get("attachments") or [] for b in a.get("blocks") or []] + list(body.get("blocks") or [])
    if len(blocks) > 50:
        return True
    for b in blocks:
        text = (b.get("text") or {}).get("text", "")
        if b.get("type") == "section" and len(text) > 3000:
            return True
        if b.get("type") == "header" and len(text) > 150:
            return True
    return False


class SlackServer:
    def __init__(self) -> None:
        self.messages: list[Posted] = []
        self.uploads: dict[str, dict] = {}  # files_upload_v2: id -> filename, length, bytes
        self.requests = 0
        self.usergroups: dict[str, list[str]] = {}  # usergroups.users.list: group id -> member user ids
        self._faults: list[tuple[int, int | None]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: str, ctype: str = "text/plain", headers: dict | None = None):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw_bytes = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                raw = raw_bytes.decode("utf-8", "replace")
                with server._lock:
                    server.requests += 1
                    fault = server._faults.pop(0) if server._faults else None
                if fault:
                    status, retry_after = fault
                    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                    return self._reply(status, "rate_limited" if status == 429 else "server_error", headers=headers)
                if self.path == WEBHOOK_PATH:
                    body = json.loads(raw or "{}")
                    if not body.get("text") and not body.get("blocks") and not body.get("attachments"):
                        return self._reply(400, "no_text")
                    if _too_big(body):
                        return self._reply(400, "invalid_blocks")
                    server.messages.append(Posted("webhook", body))
                    return self._reply(200, "ok")
                if self.path.startswith(RESPONSE_PATH):  # a click's response_url: ephemeral replies, updates
                    body = json.loads(raw or "{}")
                    if not body.get("text") and not body.get("blocks") and not body.get("delete_original"):
                        return self._reply(400, "no_text")
                    if _too_big(body):
                        return self._reply(400, "invalid_blocks")
                    server.messages.append(Posted("response_url", {**body, "response_url": self.path}))
                    return self._reply(200, json.dumps({"ok": True}), "application/json")
                if self.path.startswith("/api/usergroups.users.list"):
                    if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                        return self._reply(200, json.dumps({"ok": False, "error": "invalid_auth"}), "application/json")
                    body = _body(self.headers.get("Content-Type", ""), raw)
                    group = body.get("usergroup")
                    if group not in server.usergroups:
                        return self._reply(
                            200, json.dumps({"ok": False, "error": "no_such_subteam"}), "application/json"
                        )
                    answer = {"ok": True, "users": server.usergroups[group]}
                    return self._reply(200, json.dumps(answer), "application/json")
                if self.path.startswith("/api/files.getUploadURLExternal"):
                    body = _body(self.headers.get("Content-Type", ""), raw)
                    file_id = f"F{len(server.uploads):08d}"
                    server.uploads[file_id] = {"filename": body.get("filename"), "length": int(body.get("length", 0))}
                    answer = {"ok": True, "upload_url": f"{server.base}/upload/{file_id}", "file_id": file_id}
                    return self._reply(200, json.dumps(answer), "application/json")
                if self.path.startswith("/upload/"):
                    file_id = self.path.rsplit("/", 1)[-1]
                    server.uploads.setdefault(file_id, {})["bytes"] = raw_bytes
                    return self._reply(200, "OK")
                if self.path.startswith("/api/files.completeUploadExternal"):
                    body = _body(self.headers.get("Content-Type", ""), raw)
                    files = json.loads(body["files"]) if isinstance(body.get("files"), str) else body.get("files", [])
                    for f in files:
                        server.messages.append(
                            Posted("file", {**server.uploads.get(f["id"], {}), **body, "id": f["id"], "files": files})
                        )
                    answer = {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
                    return self._reply(200, json.dumps(answer), "application/json")
                if self.path.startswith("/api/chat.update"):
                    if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                        return self._reply(200, json.dumps({"ok": False, "error": "invalid_auth"}), "application/json")
                    body = _body(self.headers.get("Content-Type", ""), raw)
                    if not any(m.body.get("ts") == body.get("ts") for m in server.messages):
                        return self._reply(
                            200, json.dumps({"ok": False, "error": "message_not_found"}), "application/json"
                        )
                    server.messages.append(Posted("chat.update", body))
                    return self._reply(
                        200,
                        json.dumps({"ok": True, "channel": body.get("channel"), "ts": body["ts"]}),
                        "application/json",
                    )
                if self.path.startswith("/api/chat.postMessage"):
                    if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                        return self._reply(200, json.dumps({"ok": False, "error": "invalid_auth"}), "application/json")
                    body = _body(self.headers.get("Content-Type", ""), raw)
                    if not body.get("channel"):
                        return self._reply(
                            200, json.dumps({"ok": False, "error": "channel_not_found"}), "application/json"
                        )
                    if _too_big(body):
                        return self._reply(
                            200, json.dumps({"ok": False, "error": "invalid_blocks"}), "application/json"
                        )
                    ts = f"{time.time():.6f}"
                    while any(m.body.get("ts") == ts for m in server.messages):  # unique, as Slack's are
                        ts = f"{float(ts) + 0.000001:.6f}"
                    body["ts"] = ts  # recorded with the message, so a reply or an update can name it
                    server.messages.append(Posted("chat.postMessage", body))
                    return self._reply(
                        200, json.dumps({"ok": True, "channel": body["channel"], "ts": ts}), "application/json"
                    )
                return self._reply(404, "no_service")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def webhook_url(self) -> str:
        return self.base + WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        return self.base + "/api/"

    def response_url(self, name: str = "T0000000/1/opswatchlocal") -> str:
        """A click's ``response_url`` on this endpoint (as ``https://hooks.slack.com/actions/…`` on Slack)."""
        return self.base + RESPONSE_PATH + name

    def fail(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """The next ``times`` calls answer ``status`` (429 carries ``Retry-After``)."""
        with self._lock:
            self._faults += [(status, retry_after)] * times

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
