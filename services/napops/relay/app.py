"""HTTP routes: ``POST /alertmanager`` (notifications) and ``POST /watchdog`` (heartbeats).

Both need ``Authorization: Bearer <token>``. A notification is answered 200 only after it
is committed to the outbox; every refusal is a JSON ``{"error", "reason"}`` and stores
nothing: 401 token, 400 bad body or channel hint, 413 too large (core app), 503 outbox full
or no configured channel (Alertmanager retries 5xx, so nothing is lost to a full outbox).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request

from ..core.http import json_error
from ..core.webhook import bearer_ok
from .errors import NoChannel, OutboxFull, PayloadError
from .payload import parse
from .routing import parse_hint
from .service import Relay

log = logging.getLogger(__name__)

Answer = tuple[Response, int]


def register(app: Flask, relay: Relay, token: str) -> None:
    """Add the relay's routes to ``app``."""
    metrics = relay.metrics

    def refuse(status: int, reason_label: str, reason: str) -> Answer:
        metrics.rejected.labels(reason_label).inc()
        log.warning(
            "refused %s: %s", request.path, reason, extra={"event": "refused", "status": status}
        )
        resp, code = json_error(status, reason)
        if status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="napops-relay"'
        return resp, code

    @app.after_request
    def count_oversized(resp: Response) -> Response:
        # the core app refuses an oversized body before any route runs; count it here
        if resp.status_code == 413 and request.path in ("/alertmanager", "/watchdog"):
            metrics.rejected.labels("too_large").inc()
        return resp

    @app.post("/alertmanager")
    def alertmanager() -> Answer:
        if not bearer_ok(request.headers.get("Authorization"), token):
            return refuse(401, "auth", "missing or wrong bearer token")
        try:
            hint = parse_hint(request.args.get("channels"))
            data = parse(request.get_data(cache=False))
        except PayloadError as exc:
            return refuse(400, "payload", str(exc))
        try:
            stored = relay.accept(data, hint)
        except OutboxFull as exc:
            return refuse(503, "outbox_full", str(exc))
        except NoChannel as exc:
            return refuse(503, "channels", str(exc))
        metrics.received.labels("alertmanager").inc()
        if stored.duplicate:
            metrics.duplicates.inc()
        log.info(
            "stored %s group %s (%s)",
            data["status"],
            data["groupKey"],
            "duplicate" if stored.duplicate else "new",
            extra={"event": "stored", "message_id": stored.message_id, "dup": stored.duplicate},
        )
        status = "duplicate" if stored.duplicate else "stored"
        return jsonify({"status": status, "id": stored.message_id}), 200

    @app.post("/watchdog")
    def watchdog() -> Answer:
        if not bearer_ok(request.headers.get("Authorization"), token):
            return refuse(401, "auth", "missing or wrong bearer token")
        try:
            data = parse(request.get_data(cache=False))
        except PayloadError as exc:
            return refuse(400, "payload", str(exc))
        metrics.received.labels("watchdog").inc()
        # A resolved Watchdog means Prometheus stopped evaluating it: that is no heartbeat.
        beat = any(a["status"] == "firing" for a in data["alerts"])
        if beat and relay.watchdog is not None:
            relay.watchdog.heartbeat(relay.clock())
        return jsonify({"status": "heartbeat" if beat else "ignored"}), 200
