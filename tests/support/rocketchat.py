"""A stand-in for Rocket.Chat's incoming webhook (Rocket.Chat cannot run here).

Records the JSON bodies posted to the integration path, in Rocket.Chat's format (``text``,
``attachments``); ``fail = True`` answers 500 like a broken server, ``stop()`` refuses
connections.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from helpers import LoopbackServer

WEBHOOK_PATH = "/hooks/INTEGRATION/SECRETTOKEN"


class RocketChatReceiver(LoopbackServer):
    """Records posts to the incoming-webhook path; ``fail=True`` answers 500 like a broken RC."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[dict[str, Any]] = []
        self.fail = False
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != WEBHOOK_PATH or receiver.fail:
                    self.send_response(404 if self.path != WEBHOOK_PATH else 500)
                    self.end_headers()
                    self.wfile.write(b'{"success":false}')
                    return
                with receiver._lock:
                    receiver.posts.append(json.loads(raw.decode("utf-8")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"success":true}')

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def texts(self) -> list[str]:
        with self._lock:
            return [p["text"] for p in self.posts]

    def config(self) -> dict[str, Any]:
        return {"webhook_url": self.url, "timeout_seconds": 5}
