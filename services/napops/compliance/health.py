"""Health of the running containers of the estate's Compose projects, as the engine reports it.

cAdvisor exports no Docker health status and dockerd counts failed checks per host only, so
this is where a single unhealthy container is seen: one list call and one inspect per
container of a matching project (``Engine.inspect_running``), every few seconds. Only
containers with a Compose project label whose project matches the configured expression are
reported, so the series stay bounded by the estate's own services.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..core.dockerhost import COMPOSE_PROJECT, COMPOSE_SERVICE, Engine

STATUSES = ("healthy", "unhealthy", "starting", "none")
"""Docker's health states, and ``none`` for a container without a healthcheck."""


@dataclass(frozen=True)
class ContainerHealth:
    project: str
    service: str
    container: str
    status: str  # one of STATUSES
    failing_streak: int = 0  # consecutive failed checks (Docker's State.Health.FailingStreak)


def from_inspect(attrs: dict[str, Any]) -> ContainerHealth:
    """One container's health from ``docker inspect`` output."""
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    state = (attrs.get("State") or {}).get("Health") or {}
    health = state.get("Status")
    return ContainerHealth(
        project=labels.get(COMPOSE_PROJECT, ""),
        service=labels.get(COMPOSE_SERVICE, ""),
        container=str(attrs.get("Name", "")).lstrip("/"),
        status=health if health in STATUSES else "none",
        failing_streak=int(state.get("FailingStreak") or 0),
    )


def select(found: list[ContainerHealth], projects: re.Pattern[str]) -> list[ContainerHealth]:
    """The containers of the projects ``projects`` matches in full, sorted by name."""
    kept = [c for c in found if c.project and projects.fullmatch(c.project)]
    return sorted(kept, key=lambda c: c.container)


def read(engine: Engine, projects: re.Pattern[str]) -> list[ContainerHealth]:
    """The health of every running container of a matching project. Raises DockerError."""
    attrs = engine.inspect_running({COMPOSE_PROJECT: None})
    return select([from_inspect(a) for a in attrs], projects)
