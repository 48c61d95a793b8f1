"""`estate networks --create` (make compose-networks) against the real engine: it creates the
networks a hosts.yml lists, `--internal` where asked, is idempotent, and refuses an existing
network whose `internal` disagrees. A scratch compose folder names networks of this test's
own (estate-tool-e2e-<pid>-...), removed at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import ROOT, require_docker

pytestmark = pytest.mark.e2e

TOOL = ROOT / "compose" / "bin" / "estate"
PREFIX = f"estate-tool-e2e-{os.getpid()}"
OPEN, INTERNAL = f"{PREFIX}-data", f"{PREFIX}-probe"


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def compose_dir(tmp_path: Path) -> Iterator[Path]:
    require_docker()
    (tmp_path / "env" / "dev").mkdir(parents=True)
    (tmp_path / "stacks").mkdir()
    socket = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    (tmp_path / "hosts.yml").write_text(
        "environments:\n  dev:\n    hosts:\n      local:\n"
        f"        docker_host: {socket}\n        stacks: [x]\n"
        f"        networks: [{OPEN}]\n        internal_networks: [{INTERNAL}]\n"
    )
    yield tmp_path
    for name in (OPEN, INTERNAL):
        docker("network", "rm", name)


def create(compose_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), "--compose-dir", str(compose_dir)]
        + ["networks", "--env", "dev", "--create"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def internal(name: str) -> str:
    proc = docker("network", "inspect", "-f", "{{.Internal}}", name)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_creates_the_listed_networks_once(compose_dir: Path) -> None:
    first = create(compose_dir)
    assert first.returncode == 0, first.stderr
    assert f"created {OPEN} on " in first.stdout
    assert f"created {INTERNAL} on " in first.stdout and "(--internal)" in first.stdout
    assert (internal(OPEN), internal(INTERNAL)) == ("false", "true")
    again = create(compose_dir)
    assert again.returncode == 0, again.stderr
    assert f"exists  {OPEN}" in again.stdout and "created" not in again.stdout


def test_an_existing_network_that_disagrees_is_an_error(compose_dir: Path) -> None:
    assert docker("network", "create", INTERNAL).returncode == 0  # not internal
    proc = create(compose_dir)
    assert proc.returncode == 1
    assert f"{INTERNAL} on " in proc.stderr and "internal=false, expected true" in proc.stderr
    assert "Traceback" not in proc.stderr
