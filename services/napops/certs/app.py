"""``/probe?target=host:port&module=NAME``: one ad-hoc target probed now, its series in a
fresh registry (blackbox style), so nothing of it stays in /metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..core.http import json_error
from .metrics import CertsCollector
from .probe import Cache, Prober, Round
from .sources import endpoint_target


def register(app: Flask, prober: Prober, modules: Mapping[str, Mapping[str, Any]]) -> None:
    @app.get("/probe")
    def _probe() -> Response | tuple[Response, int]:
        target = request.args.get("target", "")
        module_name = request.args.get("module", "tls")
        if not target:
            return json_error(400, "query parameter 'target' (host:port) is required")
        module = modules.get(module_name)
        if module is None:
            known = ", ".join(sorted(modules))
            return json_error(400, f"unknown module {module_name!r} (modules: {known})")
        entry: dict[str, Any] = {"target": target, **module}
        if request.args.get("server_name"):
            entry["server_name"] = request.args["server_name"]
        t = endpoint_target(entry, float(prober.section["timeout_seconds"]))
        if t.problem is not None and t.problem.reason in ("invalid_target", "ipv6_unbracketed"):
            return json_error(400, t.problem.detail, code=t.problem.reason)
        store = prober.trust_store()
        result = prober.probe(t, store)
        cache = Cache()
        cache.put(Round([result], result.timestamp, result.duration, len(store.roots)))
        registry = CollectorRegistry()
        registry.register(CertsCollector(cache))
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
