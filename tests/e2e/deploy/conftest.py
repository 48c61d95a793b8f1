"""Fixtures of the deploy e2e tests: registry with the app's versions, estate, deployer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_estate import Estate, build_and_push, drop_local, estate, registry
from prometheus_client import CollectorRegistry

from helpers import require_docker, require_tool
from napops.core.locks import Locks
from napops.deploy.engine import Deployer, Settings
from napops.deploy.metrics import DeployMetrics
from napops.deploy.state import State


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    require_docker()
    require_tool("docker-registry")
    with registry(tmp_path_factory.mktemp("registry")) as addr:
        imgs = build_and_push(addr)
        drop_local(*imgs.values())
        yield imgs
        drop_local(*imgs.values())


@pytest.fixture
def world(images: dict[str, str], tmp_path: Path) -> Iterator[Estate]:
    with estate(tmp_path / "estate", images["v1"]) as est:
        yield est


@pytest.fixture
def make_deployer(tmp_path: Path) -> Iterator[Callable[..., Deployer]]:
    made: list[Deployer] = []

    def make(
        section: dict[str, Any], docker: dict[str, Any] | None = None, state_dir: Path | None = None
    ) -> Deployer:
        where = state_dir or tmp_path / "state"
        registry = CollectorRegistry()
        dep = Deployer(
            Settings(section, docker or {}),
            State(where / "deploy.sqlite3"),
            DeployMetrics(registry),
            Locks(where / "locks", registry),
        )
        dep.registry = registry  # type: ignore[attr-defined]
        made.append(dep)
        return dep

    yield make
    for d in made:
        d.close()
