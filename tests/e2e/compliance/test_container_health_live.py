"""Container health from the real engine: a container whose healthcheck fails shows up as
unhealthy in napops_compliance_container_health_status, by name, beside a healthy one of the
same project; a container of a project outside the estate is not reported; a container that
turns healthy again is reported healthy."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.compliance import start_compliance

from helpers import ROOT, require_docker, wait_for

pytestmark = pytest.mark.e2e

IMAGE = "napops-local/debian:bookworm"


def run_box(name: str, project: str, health_cmd: str) -> None:
    subprocess.run(
        [
            "docker", "run", "-d", "--name", name,
            "--label", f"com.docker.compose.project={project}",
            "--label", f"com.docker.compose.service={name.rsplit('-', 1)[-1]}",
            "--health-cmd", health_cmd, "--health-interval", "1s", "--health-retries", "1",
            "--health-timeout", "2s",
            IMAGE, "sleep", "300",
        ],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip


def samples(url: str, name: str) -> list[tuple[dict[str, str], float]]:
    text = requests.get(f"{url}/metrics", timeout=5).text
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def health(url: str) -> dict[tuple[str, str], float]:
    """(container, status) -> value of napops_compliance_container_health_status."""
    return {
        (labels["container"], labels["status"]): value
        for labels, value in samples(url, "napops_compliance_container_health_status")
    }


def streak(url: str, container: str) -> float | None:
    found = samples(url, "napops_compliance_container_health_failing_streak")
    return next((v for labels, v in found if labels["container"] == container), None)


def test_an_unhealthy_container_shows_up_in_the_metric(tmp_path: Path) -> None:
    require_docker()
    tag = uuid.uuid4().hex[:8]
    project = f"napops-alerts-health-{tag}"  # an estate project name (napops-.+)
    sick, fine = f"{project}-sick", f"{project}-fine"
    outsider = f"alerts-outsider-{tag}-box"
    flag = "/tmp/ok"
    boxes = [sick, fine, outsider]
    try:
        run_box(sick, project, f"test -e {flag}")
        run_box(fine, project, "true")
        run_box(outsider, f"alerts-outsider-{tag}", "false")
        proc, url = start_compliance(
            tmp_path,
            "unix:///var/run/docker.sock",
            ROOT / "compose" / "policy.yml",
            health={"interval_seconds": 1},
        )
        try:
            wait_for(
                lambda: health(url).get((sick, "unhealthy")) == 1,
                timeout=60,
                what=f"{sick} reported unhealthy",
            )
            seen = health(url)
            assert seen[(sick, "healthy")] == 0 and seen[(sick, "none")] == 0
            assert (streak(url, sick) or 0) >= 1
            wait_for(lambda: health(url).get((fine, "healthy")) == 1, timeout=30, what="fine")
            assert health(url)[(fine, "unhealthy")] == 0
            assert not any(c == outsider for c, _ in health(url)), "outside the estate"
            # its check passes again: healthy at the next reading
            subprocess.run(["docker", "exec", sick, "touch", flag], check=True, timeout=30)
            wait_for(
                lambda: health(url).get((sick, "healthy")) == 1,
                timeout=60,
                what=f"{sick} healthy again",
            )
            assert health(url)[(sick, "unhealthy")] == 0
            assert streak(url, sick) == 0
        finally:
            proc.terminate()
            proc.wait(20)
    finally:
        subprocess.run(["docker", "rm", "-f", *boxes], capture_output=True, timeout=60)
