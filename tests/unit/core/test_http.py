"""The shared Flask app: /metrics, /healthz, /readyz, body limit, JSON errors."""

from __future__ import annotations

import platform

import pytest
from flask import request
from prometheus_client import CollectorRegistry

import napops
from napops.core.http import create_app
from napops.core.metrics import register_build_info


@pytest.fixture()
def registry() -> CollectorRegistry:
    reg = CollectorRegistry()
    register_build_info(reg, "demo")
    return reg


def test_metrics_and_health(registry: CollectorRegistry) -> None:
    client = create_app("demo", registry).test_client()
    labels = {"service": "demo", "version": napops.__version__, "python": platform.python_version()}
    assert registry.get_sample_value("napops_build_info", labels) == 1.0
    body = client.get("/metrics").get_data(as_text=True)
    assert 'napops_build_info{python="' in body and 'service="demo"' in body
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "demo"}


def test_readyz_reports_each_check(registry: CollectorRegistry) -> None:
    state = {"up": False}

    def dependency() -> None:
        if not state["up"]:
            raise ConnectionError("refused")

    checks = {"dep": dependency}
    client = create_app("demo", registry, checks).test_client()
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "not ready", "checks": {"dep": "failed: refused"}}
    state["up"] = True
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.get_json()["checks"] == {"dep": "ok"}


def test_body_over_limit_gets_413_json(registry: CollectorRegistry) -> None:
    app = create_app("demo", registry, max_body_bytes=100)

    @app.post("/echo")
    def echo() -> str:
        return str(len(request.get_data()))

    client = app.test_client()
    assert client.post("/echo", data=b"x" * 100).get_data(as_text=True) == "100"
    resp = client.post("/echo", data=b"x" * 101)
    assert resp.status_code == 413
    assert resp.get_json()["reason"] == "body of 101 bytes is over the 100 limit"


def test_unknown_route_and_crash_are_json(registry: CollectorRegistry) -> None:
    app = create_app("demo", registry)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail")

    client = app.test_client()
    resp = client.get("/nowhere")
    assert resp.status_code == 404 and resp.get_json()["error"] == 404
    resp = client.get("/boom")
    assert resp.status_code == 500
    assert "secret detail" not in resp.get_data(as_text=True)


def test_a_sidecar_may_render_metrics_itself(registry: CollectorRegistry) -> None:
    import gzip

    from prometheus_client import generate_latest

    from napops.core.http import set_metrics_renderer

    def render(compressed: bool) -> bytes:
        cached = b"demo_cached 1.0\n"
        if compressed:  # two gzip members: a fresh one and a cached one
            return gzip.compress(generate_latest(registry)) + gzip.compress(cached)
        return generate_latest(registry) + cached

    app = create_app("demo", registry)
    set_metrics_renderer(app, render)
    client = app.test_client()
    plain = client.get("/metrics")
    assert "Content-Encoding" not in plain.headers
    body = plain.get_data(as_text=True)
    assert "napops_build_info{" in body and body.endswith("demo_cached 1.0\n")
    packed = client.get("/metrics", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()).decode() == body
