"""The Flask app factory every sidecar uses, and the production WSGI server that runs it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], None]
"""A readiness check returns when the dependency is usable and raises when it is not."""


def json_error(status: int, reason: str, **extra: Any) -> tuple[Response, int]:
    """A 4xx/5xx answer with a JSON body that says why."""
    return jsonify({"error": status, "reason": reason, **extra}), status


def create_app(
    service: str,
    registry: CollectorRegistry,
    ready_checks: Mapping[str, ReadyCheck] | None = None,
    max_body_bytes: int = 1 << 20,
) -> Flask:
    """Build the sidecar's app with /metrics, /healthz and /readyz.

    ``ready_checks`` is read at every /readyz call, so a sidecar may add checks after
    creating the app. Bodies over ``max_body_bytes`` get 413; every error is JSON.
    """
    app = Flask(f"napops.{service}")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    checks: Mapping[str, ReadyCheck] = ready_checks if ready_checks is not None else {}

    @app.before_request
    def _limit_body() -> tuple[Response, int] | None:
        length = request.content_length
        if length is not None and length > max_body_bytes:
            return json_error(413, f"body of {length} bytes is over the {max_body_bytes} limit")
        return None

    @app.get("/metrics")
    def _metrics() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def _healthz() -> Response:
        return jsonify({"status": "ok", "service": service})

    @app.get("/readyz")
    def _readyz() -> tuple[Response, int]:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
                results[name] = f"failed: {exc}"
        ready = all(v == "ok" for v in results.values())
        body = {"status": "ready" if ready else "not ready", "checks": results}
        return jsonify(body), 200 if ready else 503

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        code = exc.code or 500
        if code == 413:
            return json_error(413, f"body is over the {max_body_bytes} byte limit")
        return json_error(code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal error; see the sidecar's log")

    return app


class Server:
    """waitress serving ``app``; ``run()`` blocks, ``close()`` (from another thread) stops it."""

    def __init__(self, app: Flask, host: str, port: int, threads: int = 8):
        from waitress import create_server

        self._server = create_server(app, host=host, port=port, threads=threads, ident="napops")
        self.started = time.time()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    def run(self) -> None:
        self._server.run()

    def close(self) -> None:
        """Stop listening and drop every connection, idle keep-alive ones included (a
        scraper's kept-alive connection must not keep the process from stopping)."""
        self._server.close()
        for channel in list(self._server._map.values()):
            channel.close()
