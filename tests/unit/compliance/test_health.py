"""Container health as the compliance sidecar reads and exports it (no engine: inspect output
as Docker writes it)."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from napops.compliance.health import ContainerHealth, from_inspect, select
from napops.compliance.metrics import ComplianceMetrics

ESTATE = re.compile("napops-.+|stacks")


def inspect(name: str, project: str | None, service: str, health: str | None) -> dict[str, Any]:
    labels = {"com.docker.compose.service": service}
    if project is not None:
        labels["com.docker.compose.project"] = project
    state: dict[str, Any] = {"Status": "running", "Running": True}
    if health is not None:
        state["Health"] = {"Status": health, "FailingStreak": 3, "Log": []}
    return {"Name": f"/{name}", "Config": {"Labels": labels}, "State": state}


def test_from_inspect_reads_docker_health_and_a_missing_healthcheck_is_none() -> None:
    assert from_inspect(
        inspect("napops-prod-data-mariadb-1", "napops-prod-data", "mariadb", "unhealthy")
    ) == ContainerHealth(
        "napops-prod-data", "mariadb", "napops-prod-data-mariadb-1", "unhealthy", 3
    )
    assert from_inspect(inspect("stacks-loki-1", "stacks", "loki", "starting")).status == "starting"
    assert from_inspect(inspect("stacks-alloy-1", "stacks", "alloy", None)).status == "none"


def test_only_the_estates_projects_are_kept() -> None:
    found = [
        from_inspect(inspect("stacks-grafana-1", "stacks", "grafana", "healthy")),
        from_inspect(
            inspect("napops-prod-apps-backend-1", "napops-prod-apps", "backend", "healthy")
        ),
        from_inspect(inspect("someones-test-1", "someone", "test", "unhealthy")),
        from_inspect(inspect("loose", None, "", "unhealthy")),
        # a project that merely contains an estate name is not one of them
        from_inspect(inspect("x-stacks-1", "old-stacks", "x", "unhealthy")),
    ]
    kept = select(found, ESTATE)
    assert [c.container for c in kept] == ["napops-prod-apps-backend-1", "stacks-grafana-1"]


def test_exported_as_one_series_per_status_with_the_current_one_at_1() -> None:
    registry = CollectorRegistry()
    metrics = ComplianceMetrics(registry)
    metrics.snapshot.health = [
        ContainerHealth("stacks", "grafana", "stacks-grafana-1", "unhealthy", 4)
    ]
    text = generate_latest(registry).decode()
    lines = [
        line
        for line in text.splitlines()
        if line.startswith("napops_compliance_container_health_status{")
    ]
    values = {re.search(r'status="(\w+)"', line).group(1): line.rsplit(" ", 1)[1] for line in lines}  # type: ignore[union-attr]
    assert values == {"healthy": "0.0", "unhealthy": "1.0", "starting": "0.0", "none": "0.0"}
    assert all(
        'container="stacks-grafana-1"' in line and 'project="stacks"' in line for line in lines
    )
    streak = [
        line
        for line in text.splitlines()
        if line.startswith("napops_compliance_container_health_failing_streak{")
    ]
    assert len(streak) == 1 and streak[0].endswith(" 4.0") and "stacks-grafana-1" in streak[0]
    metrics.snapshot.health = []
    assert "napops_compliance_container_health_status{" not in generate_latest(registry).decode()
