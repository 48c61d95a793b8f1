"""``napops dev sink``: an SMTP server (aiosmtpd) and an HTTP server in one process.

SMTP accepts any sender, recipient and AUTH (like a mail catcher: the dev relay logs in with
its real configuration), plain text or STARTTLS-less. HTTP answers:

- ``POST /hooks/<integration>/<token>``: a Rocket.Chat incoming webhook; 200
  ``{"success": true}`` as Rocket.Chat answers, 400 with a reason for a body it would refuse,
  415 for a non-JSON content type, 404 for any other path;
- ``GET /inbox`` (``?since=<unix>&kind=email|rocketchat``): what arrived, as JSON;
- ``GET /healthz``: ``ok``.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from .inbox import KINDS, ChatPayloadError, Inbox, from_chat, from_email

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20


class _MailHandler:
    def __init__(self, inbox: Inbox):
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        record = self.inbox.add(from_email(envelope.content, envelope.mail_from, envelope.rcpt_tos))
        log.info("email %d: %s", record["id"], record["subject"], extra={"event": "sink_email"})
        return "250 OK: kept by the napops dev sink"


def _accept_any(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    return AuthResult(success=True)


def mail_server(inbox: Inbox, host: str, port: int) -> Controller:
    """The SMTP sink (not started). Any AUTH is accepted, without TLS."""
    return Controller(
        _MailHandler(inbox),
        hostname=host,
        port=port,
        authenticator=_accept_any,
        auth_require_tls=False,
        auth_exclude_mechanism=["CRAM-MD5"],
    )


def http_server(inbox: Inbox, host: str, port: int) -> ThreadingHTTPServer:
    """The Rocket.Chat webhook sink and the inbox reader (not started)."""

    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, doc: Any) -> None:
            body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            parts = path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "hooks" or not all(parts):
                self._json(404, {"success": False, "error": "Invalid integration id or token"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._json(413, {"success": False, "error": f"body over {MAX_BODY} bytes"})
                return
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                self._json(415, {"success": False, "error": "expected application/json"})
                return
            try:
                message = from_chat(self.rfile.read(length), path)
            except ChatPayloadError as exc:
                self._json(400, {"success": False, "error": str(exc)})
                return
            record = inbox.add(message)
            log.info("rocketchat %d", record["id"], extra={"event": "sink_rocketchat"})
            self._json(200, {"success": True})

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path == "/healthz":
                self._json(200, "ok")
                return
            if url.path != "/inbox":
                self._json(404, {"error": "not found; GET /inbox or /healthz"})
                return
            query = parse_qs(url.query)
            kind = query.get("kind", [None])[0]
            try:
                since = float(query.get("since", ["0"])[0])
            except ValueError:
                self._json(400, {"error": "since must be a number (unix seconds)"})
                return
            if kind is not None and kind not in KINDS:
                self._json(400, {"error": f"kind must be one of {', '.join(KINDS)}"})
                return
            self._json(200, inbox.read(since, kind))

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug(fmt, *args)

    return ThreadingHTTPServer((host, port), Handler)


def serve(inbox: Inbox, host: str, smtp_port: int, http_port: int) -> None:
    """Run both sinks until interrupted."""
    smtp = mail_server(inbox, host, smtp_port)
    smtp.start()
    web = http_server(inbox, host, http_port)
    log.info(
        "dev sinks: SMTP on %s:%d, Rocket.Chat webhooks and /inbox on %s:%d",
        host,
        smtp_port,
        host,
        http_port,
        extra={"event": "start"},
    )
    try:
        web.serve_forever()
    finally:
        web.server_close()
        smtp.stop()


def serve_in_thread(inbox: Inbox, host: str, smtp_port: int, http_port: int) -> Any:
    """Both sinks in this process (tests); returns a function that stops them."""
    smtp = mail_server(inbox, host, smtp_port)
    smtp.start()
    web = http_server(inbox, host, http_port)
    thread = threading.Thread(target=web.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        web.shutdown()
        web.server_close()
        smtp.stop()

    return stop
