"""Blue-green deploys on the real engine, behind the project's nginx edge, under load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deploy_estate import Estate, section_for, start_load

from napops.deploy.engine import Deployer
from napops.deploy.state import Deployment, new_id

pytestmark = pytest.mark.e2e


def deployment(image: str, trigger: str = "test") -> Deployment:
    return Deployment(new_id(), "backend", "e2e", image, trigger)


def assert_no_failures(result: dict[str, Any]) -> None:
    totals = result["totals"]
    for kind in ("keepalive_retry", "keepalive_noretry", "fresh"):
        assert totals[kind]["requests"] > 50, (kind, totals)
        assert totals[kind].get("failed", 0) == 0, (kind, totals[kind], result["samples"])


def versions_over_time(result: dict[str, Any]) -> list[dict[str, int]]:
    return list(result["seconds"].values())


def test_v1_to_v2_under_load_zero_failed_and_responses_switch(
    world: Estate, images: dict[str, str], make_deployer: Callable[..., Deployer], tmp_path: Path
) -> None:
    deployer = make_deployer(section_for(world))
    load = start_load(world, tmp_path)
    dep = deployer.run(deployment(images["v2"]))
    result = load.stop()
    print(result["totals"], result["samples"], dep.figures)
    for st in dep.steps:
        print(round(st["at"] - load.started, 2), st["step"], st["outcome"])
    assert dep.state == "succeeded", (dep.reason, dep.steps)
    assert_no_failures(result)
    seconds = versions_over_time(result)
    assert set(seconds[0]) == {"v1"} and set(seconds[-1]) == {"v2"}, seconds
    (only,) = world.containers()
    assert only["Names"] == f"{world.prefix}apps-backend-1" and only["Image"] == images["v2"]


def test_compose_up_afterwards_neither_undoes_the_deploy_nor_duplicates(
    world: Estate, images: dict[str, str], make_deployer: Callable[..., Deployer]
) -> None:
    deployer = make_deployer(section_for(world, verify_seconds=1))
    dep = deployer.run(deployment(images["v2"]))
    assert dep.state == "succeeded", dep.reason
    # the stack file still names v1: a later `up` must adopt the deployed container as is
    world.compose("apps", "up", "-d", "--wait", env={"APP_IMAGE": images["v1"]})
    (only,) = world.containers()
    assert only["Names"] == f"{world.prefix}apps-backend-1" and only["Image"] == images["v2"]
    assert world.get() == "v2"
    kept = world.inspect(f"{world.prefix}apps-backend-1")
    env = dict(e.split("=", 1) for e in kept["Config"]["Env"])
    assert env["DEPLOY_TEST"] == "kept" and env["APP_VERSION"] == "v2"
    assert kept["Config"]["Labels"]["napops.test"] == "deploy"
    assert kept["HostConfig"]["ReadonlyRootfs"] and kept["HostConfig"]["CapDrop"] == ["ALL"]
    assert kept["HostConfig"]["Memory"] == 96 * 1024 * 1024
    aliases = kept["NetworkSettings"]["Networks"][world.network]["Aliases"]
    assert {"backend", "api-backend"} <= set(aliases)


def test_failed_health_gate_under_load_leaves_blue_serving(
    world: Estate, images: dict[str, str], make_deployer: Callable[..., Deployer], tmp_path: Path
) -> None:
    deployer = make_deployer(section_for(world, health_timeout_seconds=15))
    before = world.inspect(f"{world.prefix}apps-backend-1")["Id"]
    load = start_load(world, tmp_path)
    dep = deployer.run(deployment(images["v3"]))
    result = load.stop()
    assert dep.state == "failed"
    assert "health gate" in (dep.reason or "") and "503" in (dep.reason or ""), dep.reason
    assert_no_failures(result)
    assert all(set(s) == {"v1"} for s in versions_over_time(result))
    (only,) = world.containers()
    assert world.inspect(only["ID"])["Id"] == before  # blue untouched, green removed
    assert not [s for s in dep.steps if s["step"] == "switch"]


def test_rollback_in_the_verification_window_under_load(
    world: Estate, images: dict[str, str], make_deployer: Callable[..., Deployer], tmp_path: Path
) -> None:
    # v4 passes the health gate, then its health check fails 6 s after start
    deployer = make_deployer(section_for(world, verify_seconds=30))
    load = start_load(world, tmp_path)
    dep = deployer.run(deployment(images["v4"]))
    result = load.stop()
    print(result["totals"], dep.figures)
    assert dep.state == "rolled_back", (dep.reason, dep.steps)
    # Docker's check of v4 fails (HTTP 500, or a timeout on a busy machine)
    assert (dep.reason or "").startswith("verification failed: green became unhealthy"), dep.reason
    assert_no_failures(result)
    seconds = versions_over_time(result)
    assert set(seconds[-1]) == {"v1"}, seconds
    assert "v4" in set().union(*seconds)  # v4 did serve before the rollback
    (only,) = world.containers()
    assert only["Image"] == images["v1"] and only["State"] == "running"
    assert world.get() == "v1"
    assert "rollback_seconds" in dep.figures
