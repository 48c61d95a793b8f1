"""Fixtures of the Engine tests against the real Docker Engine: the local engine, and a
throwaway container (a Compose-labelled `sleep`) removed after each test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from helpers import require_docker
from napops.core.dockerhost import COMPOSE_PROJECT, COMPOSE_SERVICE, Engine

IMAGE = "napops-local/debian:bookworm"


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    require_docker()
    eng = Engine()
    try:
        eng.client.images.get(IMAGE)
    except Exception:  # noqa: BLE001
        pytest.fail(f"{IMAGE} is missing: run `make images` first")
    yield eng
    eng.close()


@pytest.fixture
def box(engine: Engine) -> Iterator[str]:
    name = f"napops-test-engine-{uuid.uuid4().hex[:8]}"
    engine.client.containers.run(
        IMAGE,
        ["sleep", "300"],
        name=name,
        detach=True,
        labels={COMPOSE_PROJECT: "napops-test-engine", COMPOSE_SERVICE: name, "napops.backup": "x"},
        stop_signal="SIGKILL",
    )
    yield name
    engine.remove(name)
