"""Local partner endpoints for the webhook tests: a real threaded HTTP server that checks every signature with
the Standard Webhooks library, plus endpoints that fail, redirect or answer slowly, and a DingTalk robot."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook, WebhookVerificationError
from werkzeug import Request, Response


@dataclass
class Received:
    path: str
    webhook_id: str
    body: str
    signatures: int
    verified_by: list[str]  # which of the path's secrets verified it


@dataclass
class Receivers:
    server: HTTPServer
    slow_seconds: float = 2.0
    secrets: dict[str, list[str]] = field(default_factory=dict)  # path -> secrets its receiver holds
    received: list[Received] = field(default_factory=list)
    robot_messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def _record(self, request: Request) -> None:
        body = request.get_data(as_text=True)
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = []
        for secret in self.secrets.get(request.path, []):
            try:
                Webhook(secret).verify(body, headers)
                verified.append(secret)
            except WebhookVerificationError:
                pass
        signatures = len(headers.get("webhook-signature", "").split())
        with self.lock:
            self.received.append(Received(request.path, headers.get("webhook-id", ""), body, signatures, verified))

    def ok(self, request: Request) -> Response:
        self._record(request)
        return Response("thanks", status=200)

    def fail(self, request: Request) -> Response:
        self._record(request)
        return Response('{"error":"database is down"}', status=500)

    def redirect(self, request: Request) -> Response:
        self._record(request)
        return Response("", status=302, headers={"Location": self.url("/moved")})

    def slow(self, request: Request) -> Response:
        self._record(request)
        time.sleep(self.slow_seconds)
        return Response("late", status=200)

    def robot(self, request: Request) -> Response:
        with self.lock:
            self.robot_messages.append(json.loads(request.get_data(as_text=True)))
        return Response(json.dumps({"errcode": 0, "errmsg": "ok"}), content_type="application/json")


def start_receivers() -> Receivers:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    receivers = Receivers(server)
    server.expect_request("/fail").respond_with_handler(receivers.fail)
    server.expect_request("/redirect").respond_with_handler(receivers.redirect)
    server.expect_request("/slow").respond_with_handler(receivers.slow)
    server.expect_request("/dingtalk").respond_with_handler(receivers.robot)
    for name in ("a", "b", "c", "d", "moved"):
        server.expect_request(f"/{name}" if name == "moved" else f"/ok/{name}").respond_with_handler(receivers.ok)
    server.start()
    return receivers
