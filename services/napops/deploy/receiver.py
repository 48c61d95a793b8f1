"""HTTP routes: the Gitea webhook (``POST /hooks/gitea``) and the deployments API.

Webhook checks, in order, each refusal a JSON reason with nothing queued: body size (413),
Content-Type JSON (415), an event type this receiver handles and a delivery id (400), JSON
(400), a secret configured for the repository and a matching ``X-Gitea-Signature`` (401).
Then a delivery id seen before is answered 200 ``duplicate``; an event no rule matches 202
``ignored`` with the reason; a match 202 ``queued`` with the deployment id. The deploy runs in
the background: Gitea waits at most 5 s.

``GET /deployments[?service=&limit=]``, ``GET /deployments/<id>``, ``GET /live``;
``POST /deployments`` ``{"service", "image", "environment"?, "no_backup"?}`` and
``POST /rollbacks`` ``{"service", "environment"?}`` need the bearer token (409 when the
service is being deployed and ``on_busy`` is refuse).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from ..core.http import json_error
from ..core.webhook import bearer_ok, body_within, require_json, signature_ok
from .engine import Busy, Deployer
from .metrics import DeployMetrics
from .rules import EVENTS, BadEvent, NoMatch, event_of, image_reference_ok, match
from .state import Deployment, State, new_id

log = logging.getLogger(__name__)

Answer = tuple[Response, int]


def repository_of(kind: str, payload: dict[str, Any]) -> str | None:
    if kind == "package":
        pkg = payload.get("package") or {}
        repo = (pkg.get("repository") or {}).get("full_name")
        return str(repo) if repo else None
    repo = (payload.get("repository") or {}).get("full_name")
    return str(repo) if repo else None


def read_secret(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def register(
    app: Flask,
    section: dict[str, Any],
    state: State,
    deployer: Deployer,
    metrics: DeployMetrics,
) -> None:
    hook = section.get("webhook", {})
    limit = int(hook.get("max_body_bytes", 262144))
    secrets: dict[str, str] = hook.get("secrets", {})
    default_env = "staging"

    def refuse(status: int, event: str, outcome: str, reason: str) -> Answer:
        metrics.webhooks.labels(event, outcome).inc()
        log.warning(
            "webhook refused: %s", reason, extra={"event": "webhook_refused", "status": status}
        )
        return json_error(status, reason)

    @app.post("/hooks/gitea")
    def gitea() -> Answer:
        kind = request.headers.get("X-Gitea-Event-Type", "").strip()
        event = kind if kind in EVENTS else "other"
        body = body_within(request, limit)
        if body is None:
            return refuse(413, event, "too_large", f"body larger than {limit} bytes")
        bad = require_json(request)
        if bad is not None:
            metrics.webhooks.labels(event, "unsupported_media_type").inc()
            return bad
        if kind not in EVENTS:
            shown = kind or "none"
            return refuse(
                400,
                event,
                "bad_request",
                f"unknown event type {shown!r} (handled: {', '.join(EVENTS)})",
            )
        delivery = request.headers.get("X-Gitea-Delivery", "").strip()
        if not delivery:
            return refuse(400, event, "bad_request", "missing X-Gitea-Delivery header")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return refuse(400, event, "bad_request", f"body is not JSON: {exc}")
        if not isinstance(payload, dict):
            return refuse(400, event, "bad_request", "body is not a JSON object")
        repo = repository_of(kind, payload)
        secret = read_secret(secrets[repo]) if repo in secrets else None
        if repo is None or secret is None:
            return refuse(
                401,
                event,
                "bad_signature",
                f"no webhook secret is configured for repository {repo!r}",
            )
        if not signature_ok(body, request.headers.get("X-Gitea-Signature"), secret):
            return refuse(401, event, "bad_signature", "missing or wrong X-Gitea-Signature")
        if not state.first_delivery(delivery):
            metrics.webhooks.labels(event, "duplicate").inc()
            log.info(
                "delivery %s seen before: ignored", delivery, extra={"event": "webhook_duplicate"}
            )
            return jsonify({"status": "duplicate", "delivery": delivery}), 200
        try:
            target = match(event_of(kind, payload), section.get("rules", []))
        except BadEvent as exc:
            return refuse(400, event, "bad_request", str(exc))
        except NoMatch as exc:
            metrics.webhooks.labels(event, "ignored").inc()
            log.info("delivery %s ignored: %s", delivery, exc, extra={"event": "webhook_ignored"})
            return jsonify({"status": "ignored", "reason": str(exc), "delivery": delivery}), 202
        if not image_reference_ok(target.image):
            metrics.webhooks.labels(event, "ignored").inc()
            reason = f"rule {target.rule} gives {target.image!r}, not an image reference"
            return jsonify({"status": "ignored", "reason": reason, "delivery": delivery}), 202
        dep = Deployment(
            new_id(), target.service, target.environment, target.image, "webhook", delivery=delivery
        )
        metrics.webhooks.labels(event, "queued").inc()
        try:
            deployer.submit(dep)
        except Busy as exc:
            dep.state, dep.reason = "refused", str(exc)
            state.save(dep)
            return jsonify({"status": "refused", "deployment": dep.id, "reason": str(exc)}), 202
        return jsonify({"status": "queued", "deployment": dep.id, "image": dep.image}), 202

    def authorised() -> bool:
        token = section.get("token")
        return isinstance(token, str) and bearer_ok(request.headers.get("Authorization"), token)

    def unauthorised() -> Answer:
        resp, code = json_error(401, "missing or wrong bearer token")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="napops-deploy"'
        return resp, code

    def request_body() -> dict[str, Any] | Answer:
        bad = require_json(request)
        if bad is not None:
            return bad
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return json_error(400, "body is not a JSON object")
        return data

    def start(dep: Deployment) -> Answer:
        try:
            deployer.settings.service(dep.service)
            deployer.settings.environment(dep.environment)
        except Exception as exc:  # noqa: BLE001 - DeployFailed: unknown service/environment
            return json_error(400, str(exc))
        try:
            deployer.submit(dep)
        except Busy as exc:
            return json_error(409, str(exc))
        return jsonify({"status": "queued", "deployment": dep.id, "image": dep.image}), 202

    @app.post("/deployments")
    def create() -> Answer:
        if not authorised():
            return unauthorised()
        data = request_body()
        if isinstance(data, tuple):
            return data
        service, image = data.get("service"), data.get("image")
        env = data.get("environment") or default_env
        if not isinstance(service, str) or not service:
            return json_error(400, "At 'service': required string")
        if not isinstance(image, str) or not image_reference_ok(image):
            return json_error(400, f"At 'image': {image!r} is not an image reference")
        options = {"no_backup": bool(data.get("no_backup"))}
        dep = Deployment(new_id(), service, str(env), image, "api", options=options)
        return start(dep)

    @app.post("/rollbacks")
    def rollback() -> Answer:
        if not authorised():
            return unauthorised()
        data = request_body()
        if isinstance(data, tuple):
            return data
        service = data.get("service")
        env = str(data.get("environment") or default_env)
        if not isinstance(service, str) or not service:
            return json_error(400, "At 'service': required string")
        live = state.live_of(service, env)
        previous = live.get("previous")
        if not previous:
            return json_error(409, f"no previous image of {service} in {env} is recorded")
        dep = Deployment(new_id(), service, env, previous, "rollback", options={"no_backup": True})
        return start(dep)

    @app.get("/deployments")
    def listing() -> Answer:
        try:
            limit = max(1, min(500, int(request.args.get("limit", "50"))))
        except ValueError:
            return json_error(400, "At 'limit': not an integer")
        deps = state.recent(limit, request.args.get("service") or None)
        return jsonify({"deployments": [d.as_dict() for d in deps]}), 200

    @app.get("/deployments/<dep_id>")
    def one(dep_id: str) -> Answer:
        dep = state.get(dep_id)
        if dep is None:
            return json_error(404, f"no deployment {dep_id!r}")
        return jsonify(dep.as_dict()), 200

    @app.get("/live")
    def live() -> Answer:
        return jsonify({"live": state.live()}), 200
