"""HTTP routes: ``POST /alertmanager`` (notifications) and ``POST /watchdog`` (heartbeats).

This layer only translates: a request into a call of :class:`~.service.Relay`, its result or
error into an answer. Both routes need ``Authorization: Bearer <token>`` and a JSON body
(``Content-Type: application/json``, as Alertmanager sends). A notification is answered 200
only after it is committed to the outbox; every refusal is a JSON ``{"error", "reason"}`` and
stores nothing: 401 token, 415 not JSON, 400 bad body or channel hint, 413 too large (core
app), 503 outbox full or no configured channel (Alertmanager retries 5xx, so nothing is lost
to a full outbox).
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from ..core.http import json_error
from ..core.webhook import bearer_ok, require_json, unauthorised
from .errors import NoChannel, OutboxFull, PayloadError
from .service import Relay

Answer = tuple[Response, int]

REALM = "napops-relay"
STATUS = {PayloadError: 400, OutboxFull: 503, NoChannel: 503}
ROUTES = ("/alertmanager", "/watchdog")


def register(app: Flask, relay: Relay, token: str) -> None:
    """Add the relay's routes to ``app``."""

    def gate() -> Answer | None:
        """401 or 415 (counted by the relay), or None when the request may go on."""
        if not bearer_ok(request.headers.get("Authorization"), token):
            relay.refused(request.path, "auth", "missing or wrong bearer token")
            return unauthorised(REALM)
        not_json = require_json(request)
        if not_json is not None:
            relay.refused(request.path, "content_type", f"Content-Type {request.content_type}")
        return not_json

    @app.after_request
    def count_oversized(resp: Response) -> Response:
        # the core app refuses an oversized body before any route runs
        if resp.status_code == 413 and request.path in ROUTES:
            relay.refused(request.path, "too_large", "body over the limit")
        return resp

    @app.post("/alertmanager")
    def alertmanager() -> Answer:
        refusal = gate()
        if refusal is not None:
            return refusal
        try:
            stored = relay.receive_alerts(
                request.get_data(cache=False), request.args.get("channels")
            )
        except (PayloadError, OutboxFull, NoChannel) as exc:
            return json_error(STATUS[type(exc)], str(exc))
        status = "duplicate" if stored.duplicate else "stored"
        return jsonify({"status": status, "id": stored.message_id}), 200

    @app.post("/watchdog")
    def watchdog() -> Answer:
        refusal = gate()
        if refusal is not None:
            return refusal
        try:
            beat = relay.receive_heartbeat(request.get_data(cache=False))
        except PayloadError as exc:
            return json_error(400, str(exc))
        return jsonify({"status": "heartbeat" if beat else "ignored"}), 200
