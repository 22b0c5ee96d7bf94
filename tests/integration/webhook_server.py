"""A real HTTP receiver for the in-app webhook: ``http.server`` on 127.0.0.1 in a thread,
recording each request and checking its ``X-CS-App-Signature`` the way the product would (an
HMAC-SHA256 of the raw body with the shared secret, compared in constant time)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class WebhookRequest:
    path: str
    headers: Message  # looked up without regard to case, as HTTP headers are
    body: bytes
    signature_valid: bool

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.requests: list[WebhookRequest] = []
        self.status = 200  # what the receiver answers
        self.lock = threading.Lock()

    def verify(self, body: bytes, header: str | None) -> bool:
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return header is not None and hmac.compare_digest(expected, header)


@contextmanager
def webhook_server(secret: str) -> Iterator[tuple[WebhookReceiver, str]]:
    """``with webhook_server(secret) as (receiver, url):``"""
    receiver = WebhookReceiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            valid = receiver.verify(body, self.headers.get("X-CS-App-Signature"))
            with receiver.lock:
                receiver.requests.append(WebhookRequest(self.path, self.headers, body, valid))
                status = receiver.status if valid else 401
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"refused")

        def log_message(self, *args: Any) -> None:
            """Quiet: the tests read ``receiver.requests``."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}/hooks/cs-app"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
