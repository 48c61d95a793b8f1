"""Blue-green deploys on the real engine, behind the project's nginx edge, under load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import section_for
from estate import Estate, start_load

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
