"""Drift against the real engine: a project started as declared is clean; recreated by hand
with another environment value or another image it drifts; put back, it is clean again."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from helpers import FIXTURES, require_docker
from napops.compliance.drift_io import engine_drift
from napops.core.dockerhost import Engine

pytestmark = pytest.mark.e2e
FILE = FIXTURES / "compliance" / "drift.yml"


def compose(project: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "-p", project, "-f", str(FILE), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env},
    )


@pytest.fixture
def project() -> Iterator[str]:
    require_docker()
    eng = Engine()
    base = eng.client.images.get("napops-local/debian:bookworm")
    base.tag("napops-test-compliance", "1.0")
    base.tag("napops-test-compliance", "2.0")
    name = f"napops-test-drift-{uuid.uuid4().hex[:6]}"
    compose(name, "up", "-d")
    yield name
    compose(name, "down", "-t", "0")


def models(project: str) -> dict:
    out = compose(project, "config", "--format", "json")
    return {project: json.loads(out.stdout)}


def test_drift_appears_and_goes(project: str) -> None:
    engine = Engine()
    declared = models(project)
    assert engine_drift(engine, declared) == []
    compose(project, "up", "-d", DRIFT_MODE="debug", DRIFT_IMAGE="napops-test-compliance:2.0")
    diffs = {(d.service, d.field): d.detail for d in engine_drift(engine, declared)}
    assert diffs == {
        ("app", "image"): "runs napops-test-compliance:2.0, declared napops-test-compliance:1.0",
        ("app", "environment"): "MODE differs from the file",
    }
    assert "debug" not in str(diffs)  # values are compared, never shown
    compose(project, "up", "-d")
    assert engine_drift(engine, declared) == []
    compose(project, "stop", "app")
    assert engine_drift(engine, declared) == []  # a project with nothing running is not here
