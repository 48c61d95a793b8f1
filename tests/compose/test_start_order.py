"""Prometheus starts once Alertmanager is healthy: a notification Prometheus cannot send is
dropped, never retried (prometheus_notifications_dropped_total; tests/e2e/test_stack.py checks
the counter stays 0 after `make up`)."""

from __future__ import annotations

import pytest
from compose_render import ENVS, render

from helpers import require_docker


@pytest.mark.parametrize("env", ENVS)
def test_prometheus_waits_for_a_healthy_alertmanager(env: str) -> None:
    require_docker()
    prometheus = render("monitoring", env)["services"]["prometheus"]
    assert prometheus.get("depends_on", {}).get("alertmanager", {}).get("condition") == (
        "service_healthy"
    )
