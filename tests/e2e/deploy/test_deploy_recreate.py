"""Stateful services: recreate after a backup taken through a sidecar's HTTP job API (the
core job routes the backup sidecar serves), a clear refusal without one, and a failed health
gate that brings the previous image back, with the downtime measured."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from deploy_estate import Estate, section_for

from helpers import free_port, wait_for
from napops.deploy.engine import Deployer
from napops.deploy.state import Deployment, new_id

pytestmark = pytest.mark.e2e

TOKEN = "backup-api-token-0123456789"
# a sidecar built on the core toolkit with one job, as the backup sidecar offers its jobs
BACKUP = textwrap.dedent(
    """
    import pathlib, sys, time
    from napops.core import sidecar

    def setup(ctx):
        def dump(run):
            time.sleep(0.5)
            pathlib.Path(ctx.section["marker"]).write_text(str(time.time()))
            return {"dumped": 1}
        ctx.add_job("frontend-dump", dump)

    SECTION = {"type": "object", "properties": {"marker": {"type": "string"}}}
    sys.exit(sidecar.run("backupdemo", SECTION, setup, sys.argv[1:]))
    """
)


@pytest.fixture
def backup_api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port, marker = free_port(), tmp_path / "dumped"
    env = {
        **os.environ,
        "NAPOPS__LISTEN__PORT": str(port),
        "NAPOPS__STATE_DIR": str(tmp_path / "backup-state"),
        "NAPOPS__API__TOKEN": TOKEN,
        "NAPOPS__BACKUPDEMO__MARKER": str(marker),
    }
    proc = subprocess.Popen([sys.executable, "-c", BACKUP], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(url + "/healthz", timeout=2).ok, what="the backup API")
        yield url, marker
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def frontend(image: str, **options: bool) -> Deployment:
    return Deployment(new_id(), "frontend", "e2e", image, "test", options=dict(options))


def recreate_section(world: Estate, backup: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    section = section_for(world, health_timeout_seconds=30)
    section["services"]["frontend"] = {
        "stack": "apps",
        "strategy": "recreate",
        "backup_job": "frontend-dump",
        "health_timeout_seconds": 30,
    }
    if backup:
        section["backup"] = backup
    return section


def test_recreate_without_backup_is_refused_unless_no_backup(
    world: Estate, images: dict[str, str], make_deployer: Callable[..., Deployer]
) -> None:
    before = world.inspect(f"{world.prefix}apps-frontend-1")["Id"]
    refused = make_deployer(recreate_section(world)).run(frontend(images["v2"]))
    assert refused.state == "failed" and "--no-backup" in (refused.reason or ""), refused.reason
    assert world.inspect(f"{world.prefix}apps-frontend-1")["Id"] == before
    # a version that never becomes healthy: the previous image comes back
    back = make_deployer(recreate_section(world)).run(frontend(images["v3"], no_backup=True))
    assert back.state == "rolled_back", (back.reason, back.steps)
    assert "previous image restored" in (back.reason or "")
    (only,) = world.containers("frontend")
    assert only["Image"] == images["v1"] and only["State"] == "running"
    assert only["Names"] == f"{world.prefix}apps-frontend-1"
    assert back.figures["downtime_seconds"] > 0


def test_recreate_takes_a_backup_first_and_measures_the_downtime(
    world: Estate,
    images: dict[str, str],
    make_deployer: Callable[..., Deployer],
    backup_api: tuple[str, Path],
) -> None:
    url, marker = backup_api
    deployer = make_deployer(recreate_section(world, {"url": url, "token": TOKEN}))
    started = time.time()
    dep = deployer.run(frontend(images["v2"]))
    assert dep.state == "succeeded", (dep.reason, dep.steps)
    steps = [s["step"] for s in dep.steps]
    assert steps.index("backup") < steps.index("drain"), steps
    assert float(marker.read_text()) > started  # the job really ran, before the stop
    (only,) = world.containers("frontend")
    assert only["Image"] == images["v2"] and only["Names"] == f"{world.prefix}apps-frontend-1"
    kept = world.inspect(only["ID"])
    assert "frontend" in kept["NetworkSettings"]["Networks"][world.network]["Aliases"]
    assert dep.figures["downtime_seconds"] > 0
    # the backend was not touched: a recreate of one service leaves the others serving
    assert world.get() == "v1"
